/* output.c — the JSON Lines, TSV and TREC writers (see output.h).
 *
 * JSON Lines keeps every field of the input object byte for byte, copied
 * from the original text (src/jsontext.c), replaces "score" and "rank", and
 * adds "qid", "query", "docid" and "text" when the object lacks them.
 * Candidates without text (the part of a TREC run below --depth, which is
 * never looked up) are written without it. */
#include "output.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsontext.h"
#include "tokenizers/tokenizer.h"

int output_format_parse(const char *s, enum output_format *out)
{
    if (strcmp(s, "jsonl") == 0)
        *out = FORMAT_JSONL;
    else if (strcmp(s, "tsv") == 0)
        *out = FORMAT_TSV;
    else if (strcmp(s, "trec") == 0)
        *out = FORMAT_TREC;
    else
        return -1;
    return 0;
}

/* qsort has no context argument in C11; the comparators read these. */
static const struct candidate *sort_cands;

/* Higher score first; NaN last; ties by input position (stable). */
static int cmp_score(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = sort_cands[i].score, y = sort_cands[j].score;
    bool xn = isnan(x), yn = isnan(y);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x != y)
        return x > y ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* trec_eval's order: higher score first, ties by docid descending. */
static int cmp_trec(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = sort_cands[i].score, y = sort_cands[j].score;
    if (x != y)
        return x > y ? -1 : 1;
    int c = strcmp(sort_cands[j].docid, sort_cands[i].docid);
    return c ? c : (i < j ? -1 : i > j);
}

static void put_id(struct buf *b, const char *id, bool is_int)
{
    if (is_int)
        buf_puts(b, id);
    else
        jsontext_put_string(b, id, strlen(id));
}

struct member_ctx {
    struct buf *b;
    bool no_text;
    bool skipped;   /* "skipped" is replaced too */
    bool first;
    bool has_qid, has_query, has_docid, has_text;
};

static bool key_in(struct json_span key, const char *const *names)
{
    for (; *names; names++)
        if (jsontext_key_is(key, *names))
            return true;
    return false;
}

static void copy_member(struct json_span key, struct json_span value, void *ctx)
{
    struct member_ctx *m = ctx;
    static const char *const replaced[] = {"score", "rank", NULL};
    if (key_in(key, replaced) || (m->no_text && key_in(key, text_keys)) ||
        (m->skipped && jsontext_key_is(key, "skipped")))
        return;
    m->has_qid |= jsontext_key_is(key, "qid");
    m->has_query |= jsontext_key_is(key, "query");
    m->has_docid |= jsontext_key_is(key, "docid");
    m->has_text |= jsontext_key_is(key, "text");
    if (!m->first)
        buf_putc(m->b, ',');
    m->first = false;
    buf_put(m->b, key.p, key.n);
    buf_putc(m->b, ':');
    buf_put(m->b, value.p, value.n);
}

static void put_key(struct member_ctx *m, const char *key)
{
    if (!m->first)
        buf_putc(m->b, ',');
    m->first = false;
    buf_printf(m->b, "\"%s\":", key);
}

static void write_jsonl(struct writer *w, const struct group *g,
                        const struct candidate *c, long rank)
{
    struct member_ctx m = {.b = &w->out, .no_text = w->no_text,
                           .skipped = g->skipped && !g->error, .first = true};
    buf_putc(&w->out, '{');
    if (c->raw)
        jsontext_members(c->raw, strlen(c->raw), copy_member, &m);
    if (g->qid && !m.has_qid) {
        put_key(&m, "qid");
        put_id(&w->out, g->qid, g->qid_is_int);
    }
    if (!m.has_query) {
        put_key(&m, "query");
        jsontext_put_string(&w->out, g->query, group_query_len(g));
    }
    if (!m.has_docid) {
        put_key(&m, "docid");
        put_id(&w->out, c->docid, c->docid_is_int);
    }
    if (!w->no_text && !m.has_text && c->text) {
        put_key(&m, "text");
        jsontext_put_string(&w->out, c->text, c->text_len);
    }
    if (g->error) {
        put_key(&m, "error");
        jsontext_put_string(&w->out, g->error, strlen(g->error));
    } else {
        char num[32];
        format_score(num, c->score);
        put_key(&m, "score");
        buf_puts(&w->out, num);
        put_key(&m, "rank");
        buf_printf(&w->out, "%ld", rank);
        if (g->skipped) {
            put_key(&m, "skipped");
            buf_puts(&w->out, "true");
        }
    }
    buf_puts(&w->out, "}\n");
}

/* TSV fields cannot hold tabs or newlines: those become spaces. */
static void put_tsv_field(struct buf *b, const char *s, size_t n)
{
    size_t start = b->len;
    buf_put(b, s, n);
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\t' || b->data[i] == '\n' || b->data[i] == '\r')
            b->data[i] = ' ';
}

static void write_tsv(struct writer *w, const struct group *g,
                      const struct candidate *c, long rank)
{
    if (g->qid)
        put_tsv_field(&w->out, g->qid, strlen(g->qid));
    buf_putc(&w->out, '\t');
    put_tsv_field(&w->out, c->docid, strlen(c->docid));
    buf_putc(&w->out, '\t');
    if (g->error) {
        buf_puts(&w->out, "\t");
    } else {
        char num[32];
        format_score(num, c->score);
        buf_printf(&w->out, "%ld\t%s", rank, num);
    }
    if (!w->no_text) {
        buf_putc(&w->out, '\t');
        if (c->text)
            put_tsv_field(&w->out, c->text, c->text_len);
    }
    buf_putc(&w->out, '\n');
}

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
            return true;
    return false;
}

static int write_trec(struct writer *w, const struct group *g,
                      const struct candidate *c, long rank, struct err *e)
{
    char qid[32];
    const char *q = g->qid;
    if (!q) {
        snprintf(qid, sizeof qid, "%ld", g->ordinal);
        q = qid;
    }
    if (has_space(q))
        return err_setk(e, ERR_INPUT,
                        "%s:%ld: qid \"%s\" contains white space, which TREC output cannot carry",
                        g->source, g->first_line, q);
    if (has_space(c->docid))
        return err_setk(e, ERR_INPUT,
                        "%s:%ld: docid \"%s\" contains white space, which TREC output cannot carry",
                        c->source, c->line, c->docid);
    char num[32];
    format_score(num, c->score);
    buf_printf(&w->out, "%s Q0 %s %ld %s %s\n", q, c->docid, rank, num, w->run_tag);
    return 0;
}

static int flush_out(struct writer *w, struct err *e)
{
    errno = 0;
    if (w->out.len && fwrite(w->out.data, 1, w->out.len, w->f) != w->out.len)
        goto fail;
    w->out.len = 0;
    if (fflush(w->f) != 0)
        goto fail;
    return 0;
fail:
    w->out.len = 0;
    w->io_error = true;
    w->broken_pipe = errno == EPIPE;
    return err_setk(e, ERR_IO, "write error: %s", strerror(errno ? errno : EIO));
}

int writer_group(struct writer *w, const struct group *g, struct err *e)
{
    size_t n = g->n_cands;
    grow((void **)&w->order, &w->cap_order, n, sizeof *w->order);
    for (size_t i = 0; i < n; i++)
        w->order[i] = i;
    if (g->error && w->format == FORMAT_TREC)
        return 0; /* a run file has no way to say "not scored" */
    if (!g->error && n) { /* qsort(NULL, 0) is undefined */
        sort_cands = g->cands;
        qsort(w->order, n, sizeof *w->order,
              w->format == FORMAT_TREC ? cmp_trec : cmp_score);
        /* Best first, so the kept ones are a prefix. */
        while (w->has_min_score && n && !(g->cands[w->order[n - 1]].score >= w->min_score))
            n--;
        if (w->top_k > 0 && (size_t)w->top_k < n)
            n = (size_t)w->top_k;
    }
    w->out.len = 0;
    for (size_t r = 0; r < n; r++) {
        const struct candidate *c = &g->cands[w->order[r]];
        switch (w->format) {
        case FORMAT_JSONL:
            write_jsonl(w, g, c, (long)r + 1);
            break;
        case FORMAT_TSV:
            write_tsv(w, g, c, (long)r + 1);
            break;
        case FORMAT_TREC:
            if (write_trec(w, g, c, (long)r + 1, e) < 0) {
                w->out.len = 0;
                return -1;
            }
            break;
        }
    }
    return flush_out(w, e);
}

static void put_ids(struct buf *b, const struct ids *a)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < a->n; i++)
        buf_printf(b, i ? ",%d" : "%d", (int)a->v[i]);
    buf_putc(b, ']');
}

/* {"qid":..,"docid":.. of a --tokenize line (the qid when there is one). */
static void put_ids_head(struct buf *b, const struct group *g,
                         const struct candidate *c)
{
    buf_putc(b, '{');
    if (g->qid) {
        buf_puts(b, "\"qid\":");
        put_id(b, g->qid, g->qid_is_int);
        buf_putc(b, ',');
    }
    buf_puts(b, "\"docid\":");
    put_id(b, c->docid, c->docid_is_int);
}

void writer_id_lists(struct writer *w, const struct group *g,
                     const struct candidate *c, size_t n,
                     const char *const *keys, const struct ids *const *lists)
{
    put_ids_head(&w->out, g, c);
    for (size_t i = 0; i < n; i++) {
        buf_printf(&w->out, ",\"%s\":", keys[i]);
        put_ids(&w->out, lists[i]);
    }
    buf_puts(&w->out, "}\n");
}

void writer_encoding(struct writer *w, const struct group *g,
                     const struct candidate *c, long window,
                     const struct encoding *enc)
{
    put_ids_head(&w->out, g, c);
    if (window >= 0)
        buf_printf(&w->out, ",\"window\":%ld", window);
    buf_puts(&w->out, ",\"input_ids\":");
    put_ids(&w->out, &enc->input_ids);
    buf_puts(&w->out, ",\"token_type_ids\":");
    put_ids(&w->out, &enc->type_ids);
    buf_puts(&w->out, "}\n");
}

int writer_flush(struct writer *w, struct err *e)
{
    return flush_out(w, e);
}

int writer_finish(struct writer *w, struct err *e)
{
    if (flush_out(w, e) < 0)
        return -1;
    errno = 0;
    if (ferror(w->f) || (w->sync && fsync(fileno(w->f)) != 0) || fclose(w->f) != 0) {
        w->f = NULL;
        w->io_error = true;
        w->broken_pipe = errno == EPIPE;
        return err_setk(e, ERR_IO, "write error: %s", strerror(errno ? errno : EIO));
    }
    w->f = NULL;
    return 0;
}

void writer_free(struct writer *w)
{
    buf_free(&w->out);
    free(w->order);
}

FILE *out_file_open(struct out_file *of, const char *path, struct err *e)
{
    memset(of, 0, sizeof *of);
    const char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path) + 1 : 0;
    struct buf t = {0};
    buf_printf(&t, "%.*s.%s.XXXXXX", (int)dir, path, path + dir);
    int fd = mkstemp(t.data);
    if (fd < 0) {
        err_setk(e, ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                 strerror(errno));
        buf_free(&t);
        return NULL;
    }
    mode_t mask = umask(0);
    umask(mask);
    FILE *f = fchmod(fd, 0666 & ~mask) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        err_setk(e, ERR_IO, "%s: %s", t.data, strerror(errno));
        close(fd);
        unlink(t.data);
        buf_free(&t);
        return NULL;
    }
    of->path = xstrdup(path);
    of->tmp = t.data;
    return f;
}

int out_file_commit(struct out_file *of, struct err *e)
{
    if (rename(of->tmp, of->path) != 0)
        return err_setk(e, ERR_IO, "%s: cannot replace it with %s: %s", of->path, of->tmp,
                        strerror(errno));
    free(of->tmp);
    of->tmp = NULL;
    return 0;
}

void out_file_free(struct out_file *of)
{
    if (of->tmp)
        unlink(of->tmp);
    free(of->tmp);
    free(of->path);
    memset(of, 0, sizeof *of);
}
