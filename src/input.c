/* input.c — line reader with line numbers and a length limit, JSON Lines
 * and plain-line parsing, and group assembly (see input.h).
 *
 * A line that starts the next group has already been read when the current
 * group ends; it is kept as text ("pending") and parsed again when the next
 * group is asked for, so that every string of a group lives in that group's
 * arena and nothing outlives it. */
#include "input.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsontext.h"

struct input {
    struct input_options o;
    char *const *files;
    int n_files, next_file;
    FILE *f;
    const char *name;          /* current file's name for diagnostics */
    long lineno;
    enum input_mode mode;      /* of the current file, once detected */
    char rbuf[1 << 16];
    size_t rpos, rlen;
    bool at_eof;
    struct buf line;
    bool too_long;
    struct buf pending;        /* a read line that starts the next group */
    const char *pending_name;
    long pending_lineno;
    bool has_pending;
    long skipped;
    bool io_failed;
};

struct input *input_open(char *const *files, int n_files,
                         const struct input_options *o, struct err *e)
{
    for (int i = 0; i < n_files; i++) {
        if (strcmp(files[i], "-") != 0 && access(files[i], R_OK) != 0)
            return err_set(e, "%s: %s", files[i], strerror(errno)), NULL;
    }
    /* jansson reports a failed allocation as a syntax error ("invalid
     * token": a huge valid line would read as invalid JSON) or crashes on
     * it; through xmalloc it is reported as what it is, out of memory, as
     * every other allocation is (util.h). */
    json_set_alloc_funcs(xmalloc, free);
    struct input *in = xcalloc(1, sizeof *in);
    in->o = *o;
    in->files = files;
    in->n_files = n_files;
    return in;
}

long input_skipped(const struct input *in)
{
    return in->skipped;
}

bool input_io_failed(const struct input *in)
{
    return in->io_failed;
}

void input_close(struct input *in)
{
    if (!in)
        return;
    if (in->f && in->f != stdin)
        fclose(in->f);
    buf_free(&in->line);
    buf_free(&in->pending);
    free(in);
}

/* Opens the next input file.  Returns 1, 0 when there are no more, -1. */
static int open_next(struct input *in, struct err *e)
{
    if (in->f && in->f != stdin)
        fclose(in->f);
    in->f = NULL;
    if (in->next_file >= (in->n_files ? in->n_files : 1))
        return 0;
    const char *path = in->n_files ? in->files[in->next_file] : "-";
    in->next_file++;
    if (strcmp(path, "-") == 0) {
        in->f = stdin;
        in->name = "<stdin>";
    } else {
        in->f = fopen(path, "rb");
        in->name = path;
        if (!in->f) {
            in->io_failed = true;
            return err_set(e, "%s: %s", path, strerror(errno));
        }
    }
    in->lineno = 0;
    in->rpos = in->rlen = 0;
    in->at_eof = false;
    in->mode = in->o.mode;
    return 1;
}

/* Reads the next line of the stream into in->line (without its newline or
 * a final CR).  A line whose content (CR excluded) is longer than max_line
 * is consumed to its end but only its first max_line bytes kept, with
 * in->too_long set.  Returns 1, 0 at the end of all inputs, -1 on a read
 * error. */
static int read_line(struct input *in, struct err *e)
{
    for (;;) {
        if (!in->f) {
            int r = open_next(in, e);
            if (r <= 0)
                return r;
        }
        in->line.len = 0;
        in->too_long = false;
        bool got = false;
        /* One byte more than the limit: a final CR is not content. */
        size_t keep = in->o.max_line < SIZE_MAX ? in->o.max_line + 1 : SIZE_MAX;
        for (;;) {
            if (in->rpos == in->rlen) {
                if (in->at_eof)
                    break;
                /* read(2), not fread: on a pipe it returns what has
                 * arrived, so a group is scored as soon as its last line
                 * is in, not when a buffer fills. */
                ssize_t got_n;
                do
                    got_n = read(fileno(in->f), in->rbuf, sizeof in->rbuf);
                while (got_n < 0 && errno == EINTR);
                in->rpos = 0;
                in->rlen = got_n > 0 ? (size_t)got_n : 0;
                if (got_n < 0) {
                    in->io_failed = true;
                    return err_set(e, "%s:%ld: read error: %s", in->name,
                                   in->lineno + 1, strerror(errno));
                }
                if (got_n == 0) {
                    in->at_eof = true;
                    break;
                }
            }
            got = true;
            char *start = in->rbuf + in->rpos;
            size_t avail = in->rlen - in->rpos;
            char *nl = memchr(start, '\n', avail);
            size_t take = nl ? (size_t)(nl - start) : avail;
            size_t room = keep > in->line.len ? keep - in->line.len : 0;
            if (take > room)
                in->too_long = true;
            buf_put(&in->line, start, take < room ? take : room);
            in->rpos += take + (nl ? 1 : 0);
            if (nl)
                break;
        }
        if (got) {
            in->lineno++;
            if (!in->too_long && in->line.len && in->line.data[in->line.len - 1] == '\r')
                in->line.data[--in->line.len] = 0;
            if (in->line.len > in->o.max_line) {
                in->too_long = true;
                in->line.data[in->line.len = in->o.max_line] = 0;
            }
            if (!in->line.data)
                buf_put(&in->line, "", 0);
            return 1;
        }
        /* End of this file: go on with the next one. */
        if (in->f != stdin)
            fclose(in->f);
        in->f = NULL;
    }
}

/* One parsed input line.  Strings point into `root` or into the line. */
struct parsed {
    enum { P_BLANK, P_CANDIDATE, P_GROUP } kind;
    json_t *root;
    const char *qid;
    bool qid_is_int;
    char qid_buf[32];
    const char *query;
    size_t query_len;   /* the query may hold U+0000 */
    /* candidate lines */
    const char *docid;
    bool docid_is_int;
    char docid_buf[32];
    const char *text;
    size_t text_len;
    /* group lines */
    json_t *documents;
};

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\f\v", s[i]))
            return false;
    return true;
}

/* Reads an id field (qid or docid): a non-empty string or an integer.
 * Returns 1 when present, 0 when absent, -1 (with e) when malformed. */
static int get_id(json_t *v, const char *key, const char **out, bool *is_int,
                  char buf[32], struct err *e)
{
    if (!v)
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return err_set(e, "\"%s\" is empty", key);
        if (memchr(json_string_value(v), 0, json_string_length(v)))
            return err_set(e, "\"%s\" contains U+0000", key);
        *out = json_string_value(v);
        *is_int = false;
        return 1;
    }
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = buf;
        *is_int = true;
        return 1;
    }
    return err_set(e, "\"%s\" must be a string or an integer", key);
}

/* Finds the first of keys present in obj; sets *which to its name. */
static json_t *get_alias(json_t *obj, const char *const *keys, const char **which)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(obj, *keys);
        if (v) {
            *which = *keys;
            return v;
        }
    }
    return NULL;
}

/* Reads a document object's id (NULL when it has none) and text.  Returns 0
 * or -1 with e. */
static int get_doc_fields(json_t *obj, struct parsed *p, struct err *e)
{
    const char *key = "docid";
    p->docid = NULL;
    p->docid_is_int = false;
    json_t *id = get_alias(obj, docid_keys, &key);
    if (get_id(id, key, &p->docid, &p->docid_is_int, p->docid_buf, e) < 0)
        return -1;
    json_t *text = get_alias(obj, text_keys, &key);
    if (!text)
        return err_set(e, "missing \"text\" (or \"document\", \"passage\", \"contents\")");
    if (!json_is_string(text))
        return err_set(e, "\"%s\" must be a string", key);
    p->text = json_string_value(text);
    p->text_len = json_string_length(text);
    return 0;
}

/* Parses one line of the current file.  Returns 0 or -1 with e (without the
 * file:line prefix, which the caller adds).  p->root must be released. */
static int parse_line(struct input *in, const char *s, size_t n,
                      struct parsed *p, struct err *e)
{
    memset(p, 0, sizeof *p);
    if (is_blank(s, n)) {
        p->kind = P_BLANK;
        return 0;
    }
    if (in->mode == INPUT_AUTO) {
        const char *c = s;
        while (*c == ' ' || *c == '\t')
            c++;
        in->mode = *c == '{' ? INPUT_JSONL : INPUT_LINES;
    }
    if (in->mode == INPUT_LINES) {
        if (!in->o.query)
            return err_set(e, "plain-text input needs --query (or give JSON Lines)");
        if (memchr(s, 0, n))
            return err_set(e, "line contains a NUL byte");
        long bad = utf8_invalid_at(s, n);
        if (bad >= 0)
            return err_set(e, "invalid UTF-8 at byte %ld", bad + 1);
        p->kind = P_CANDIDATE;
        p->query = in->o.query;
        p->query_len = strlen(in->o.query);
        p->text = s;
        p->text_len = n;
        return 0;
    }

    json_error_t je;
    /* \u0000 is valid JSON: the tokenizers treat it as the references do. */
    p->root = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!p->root)
        return err_set(e, "invalid JSON: %s (column %d)", je.text, je.column);
    if (!json_is_object(p->root))
        return err_set(e, "expected a JSON object");
    if (get_id(json_object_get(p->root, "qid"), "qid", &p->qid, &p->qid_is_int,
               p->qid_buf, e) < 0)
        return -1;
    json_t *q = json_object_get(p->root, "query");
    if (q && !json_is_string(q))
        return err_set(e, "\"query\" must be a string");
    p->query = q ? json_string_value(q) : in->o.query;
    if (!p->query)
        return err_set(e, "missing \"query\"");
    p->query_len = q ? json_string_length(q) : strlen(p->query);

    json_t *docs = json_object_get(p->root, "documents");
    if (docs) {
        if (!json_is_array(docs))
            return err_set(e, "\"documents\" must be an array");
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) {
            if (json_is_object(d)) {
                struct parsed dp;
                if (get_doc_fields(d, &dp, e) < 0)
                    return err_prefix(e, "documents[%zu]", i);
            } else if (!json_is_string(d)) {
                return err_set(e, "documents[%zu] must be a string or an object", i);
            }
        }
        p->kind = P_GROUP;
        p->documents = docs;
        return 0;
    }
    p->kind = P_CANDIDATE;
    return get_doc_fields(p->root, p, e);
}

static const char *gdup(struct group *g, const char *s)
{
    return arena_strndup(&g->arena, s, strlen(s));
}

static void start_group(struct input *in, struct group *g, struct parsed *p,
                        const char *name, long lineno)
{
    g->qid = p->qid ? gdup(g, p->qid) : NULL;
    g->qid_is_int = p->qid_is_int;
    g->query = arena_strndup(&g->arena, p->query, p->query_len);
    g->query_len = p->query_len;
    g->source = name;
    g->first_line = lineno;
}

static bool same_group(const struct group *g, const struct parsed *p)
{
    if (p->qid)
        return g->qid && strcmp(g->qid, p->qid) == 0;
    return !g->qid && g->query_len == p->query_len &&
           memcmp(g->query, p->query, p->query_len) == 0;
}

static void add_candidate(struct input *in, struct group *g, const char *name,
                          long lineno, const char *docid, bool docid_is_int,
                          const char *text, size_t text_len, const char *raw,
                          size_t raw_len)
{
    struct candidate *c = group_add(g);
    char num[48];
    if (!docid) {
        /* Plain lines are named by line number (file:line with several
         * inputs); JSON documents without an id by position in the group. */
        if (in->mode == INPUT_LINES && in->n_files > 1)
            snprintf(num, sizeof num, "%s:%ld", name, lineno);
        else if (in->mode == INPUT_LINES)
            snprintf(num, sizeof num, "%ld", lineno);
        else
            snprintf(num, sizeof num, "%zu", g->n_cands);
        docid = num;
    }
    c->docid = gdup(g, docid);
    c->docid_is_int = docid_is_int;
    c->text = arena_strndup(&g->arena, text, text_len);
    c->text_len = text_len;
    c->raw = raw ? arena_strndup(&g->arena, raw, raw_len) : NULL;
    c->source = name;
    c->line = lineno;
}

struct spans {
    struct json_span *v;
    size_t n, cap;
};

static void collect_span(struct json_span s, void *ctx)
{
    struct spans *sp = ctx;
    grow((void **)&sp->v, &sp->cap, sp->n + 1, sizeof *sp->v);
    sp->v[sp->n++] = s;
}

static void find_documents(struct json_span key, struct json_span value, void *ctx)
{
    if (jsontext_key_is(key, "documents"))
        *(struct json_span *)ctx = value;
}

/* Fills g from a group line (already validated by parse_line). */
static void fill_group(struct input *in, struct group *g, struct parsed *p,
                       const char *line, size_t len, const char *name, long lineno)
{
    start_group(in, g, p, name, lineno);
    struct json_span docs = {0};
    struct spans elems = {0};
    jsontext_members(line, len, find_documents, &docs);
    jsontext_elements(docs.p, docs.n, collect_span, &elems);
    size_t i;
    json_t *d;
    json_array_foreach(p->documents, i, d) {
        if (json_is_string(d)) {
            add_candidate(in, g, name, lineno, NULL, false, json_string_value(d),
                          json_string_length(d), NULL, 0);
        } else {
            struct parsed dp;
            get_doc_fields(d, &dp, NULL);
            add_candidate(in, g, name, lineno, dp.docid, dp.docid_is_int, dp.text,
                          dp.text_len, elems.v[i].p, elems.v[i].n);
        }
    }
    free(elems.v);
}

enum { LINE_ADDED, LINE_ENDS_GROUP, LINE_GROUP_DONE, LINE_BAD, LINE_BLANK };

/* Parses one line and adds it to g when it belongs there.  Returns one of
 * the LINE_ codes; LINE_BAD fills e with "file:line: why". */
static int take_line(struct input *in, struct group *g, const char *s, size_t n,
                     const char *name, long lineno, struct err *e)
{
    struct parsed p;
    int rc;
    if (parse_line(in, s, n, &p, e) < 0) {
        err_prefix(e, "%s:%ld", name, lineno);
        rc = LINE_BAD;
    } else if (p.kind == P_BLANK) {
        rc = LINE_BLANK;
    } else if (p.kind == P_GROUP) {
        if (g->query) {
            rc = LINE_ENDS_GROUP;
        } else {
            fill_group(in, g, &p, s, n, name, lineno);
            rc = LINE_GROUP_DONE;
        }
    } else if (g->query && !same_group(g, &p)) {
        rc = LINE_ENDS_GROUP;
    } else {
        if (!g->query)
            start_group(in, g, &p, name, lineno);
        add_candidate(in, g, name, lineno, p.docid, p.docid_is_int, p.text,
                      p.text_len, p.root ? s : NULL, n);
        rc = LINE_ADDED;
    }
    json_decref(p.root);
    return rc;
}

int input_next_group(struct input *in, struct group *g, struct err *e)
{
    group_reset(g);
    if (in->has_pending) {
        in->has_pending = false;
        int rc = take_line(in, g, in->pending.data, in->pending.len,
                           in->pending_name, in->pending_lineno, e);
        if (rc == LINE_GROUP_DONE)
            return 1;
    }
    for (;;) {
        int r = read_line(in, e);
        if (r < 0)
            return -1;
        if (r == 0)
            return g->query ? 1 : 0;
        int rc;
        if (in->too_long) {
            err_set(e, "%s:%ld: line is longer than %zu bytes (see --max-line-bytes)",
                    in->name, in->lineno, in->o.max_line);
            rc = LINE_BAD;
        } else
            rc = take_line(in, g, in->line.data, in->line.len, in->name,
                           in->lineno, e);
        switch (rc) {
        case LINE_BAD:
            if (!in->o.skip_invalid)
                return -1;
            in->skipped++;
            if (in->o.on_skip)
                in->o.on_skip(e->msg, in->o.ctx);
            break;
        case LINE_ENDS_GROUP:
            in->pending.len = 0;
            buf_put(&in->pending, in->line.data, in->line.len);
            in->pending_name = in->name;
            in->pending_lineno = in->lineno;
            in->has_pending = true;
            return 1;
        case LINE_GROUP_DONE:
            return 1;
        default:
            break;
        }
    }
}
