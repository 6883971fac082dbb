/* trec.c — readers for TREC run files, qrels and queries (TSV, JSONL, classic
 * TREC topics), and the group source that joins a run with its queries and
 * documents.  The collection index lives in trec_docs.c.
 *
 * Runs are held whole in memory (about 40 bytes per ranked line) because a
 * query's lines need not be contiguous and trec_eval's ordering needs them
 * all; each topic's documents are sorted once, at read time, into trec_eval
 * order (score descending, then docid descending by strcmp). */
#include "trec/trec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- Small helpers ------------------------------------------------------ */

/* A string → index map with open addressing; keys are borrowed. */
struct trec_strmap {
    const char **keys;
    size_t *vals;
    size_t n, cap;              /* cap is a power of two, or 0 */
};

static uint64_t strmap_hash(const char *s)
{
    return hash_mix64(hash_bytes(s, strlen(s), 0));
}

/* Index of key, or SIZE_MAX. */
static size_t strmap_get(const struct trec_strmap *m, const char *key)
{
    if (!m || !m->cap)
        return SIZE_MAX;
    for (size_t i = strmap_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return SIZE_MAX;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

/* Inserts key → val unless key is there; returns the value now stored. */
static size_t strmap_put(struct trec_strmap *m, const char *key, size_t val)
{
    if (2 * (m->n + 1) > m->cap) {
        struct trec_strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        m->keys = xcalloc(m->cap, sizeof *m->keys);
        m->vals = xcalloc(m->cap, sizeof *m->vals);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                strmap_put(m, old.keys[i], old.vals[i]);
        free(old.keys);
        free(old.vals);
    }
    size_t i = strmap_hash(key) & (m->cap - 1);
    for (; m->keys[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return val;
}

static void strmap_free(struct trec_strmap *m)
{
    if (!m)
        return;
    free(m->keys);
    free(m->vals);
    free(m);
}

/* Line reader over a FILE with line numbers; strips "\n" and "\r\n". */
struct lines {
    FILE *f;
    const char *path;
    char *line;
    size_t cap, len;
    long lineno;
};

/* path "-" is standard input, named "<stdin>" in messages (r->path). */
static int lines_open(struct lines *r, const char *path, struct err *e)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    if (strcmp(path, "-") == 0) {
        r->path = "<stdin>";
        r->f = stdin;
        return 0;
    }
    r->f = fopen(path, "rb");
    if (!r->f)
        return err_setk(e, ERR_IO, "%s: %s", path, strerror(errno));
    return 0;
}

/* Returns 1 with the next line in r->line (NUL-terminated, r->len bytes),
 * 0 at end of file, -1 on a read error or a NUL byte. */
static int lines_next(struct lines *r, struct err *e)
{
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0) {
        if (ferror(r->f))
            return err_setk(e, ERR_IO, "%s: read error: %s", r->path, strerror(errno));
        return 0;
    }
    r->lineno++;
    if (r->lineno == 1 && n >= 2 && (unsigned char)r->line[0] == 0x1f &&
        (unsigned char)r->line[1] == 0x8b)
        return err_setk(e, ERR_INPUT, "%s: gzip-compressed data; decompress it first "
                        "(zcat FILE.gz | rerank ... -)", r->path);
    size_t len = (size_t)n;
    if (len && r->line[len - 1] == '\n')
        len--;
    if (len && r->line[len - 1] == '\r')
        len--;
    r->line[len] = 0;
    r->len = len;
    if (strlen(r->line) != len)
        return err_set(e, "%s:%ld: NUL byte in line", r->path, r->lineno);
    if (utf8_invalid_at(r->line, len) >= 0)
        return err_set(e, "%s:%ld: invalid UTF-8", r->path, r->lineno);
    return 1;
}

static void lines_close(struct lines *r)
{
    if (r->f && r->f != stdin)
        fclose(r->f);
    free(r->line);
    memset(r, 0, sizeof *r);
}

/* Splits s in place at runs of spaces and tabs into at most max fields;
 * returns the number of fields found (max + 1 when there are more). */
static size_t split_ws(char *s, char **fields, size_t max)
{
    size_t n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            return n;
        if (n == max)
            return max + 1;
        fields[n++] = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        if (*s)
            *s++ = 0;
    }
}

/* A line to skip: blank, or a `#` comment. */
static bool line_is_skipped(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return !*s || *s == '#';
}

/* ---- Run files ---------------------------------------------------------- */

static int cmp_trec_order(const void *pa, const void *pb)
{
    const struct trec_doc *a = pa, *b = pb;
    if (a->score > b->score)
        return -1;
    if (a->score < b->score)
        return 1;
    return strcmp(b->docid, a->docid);
}

static int cmp_doc_ptr_docid(const void *pa, const void *pb)
{
    const struct trec_doc *a = *(const struct trec_doc *const *)pa;
    const struct trec_doc *b = *(const struct trec_doc *const *)pb;
    int c = strcmp(a->docid, b->docid);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* Fails when a docid occurs twice in t, naming the later line. */
static int topic_check_duplicates(const struct trec_run *run,
                                  const struct trec_topic_run *t,
                                  struct err *e)
{
    const struct trec_doc **p = xreallocarray(NULL, t->n_docs, sizeof *p);
    for (size_t i = 0; i < t->n_docs; i++)
        p[i] = &t->docs[i];
    qsort(p, t->n_docs, sizeof *p, cmp_doc_ptr_docid);
    int rc = 0;
    for (size_t i = 1; i < t->n_docs && !rc; i++)
        if (strcmp(p[i]->docid, p[i - 1]->docid) == 0)
            rc = err_set(e, "%s:%ld: document \"%s\" listed twice for query "
                         "\"%s\" (first on line %ld)", run->path, p[i]->line,
                         p[i]->docid, t->qid, p[i - 1]->line);
    free(p);
    return rc;
}

int trec_run_read(struct trec_run *run, const char *path, struct err *e)
{
    memset(run, 0, sizeof *run);
    run->path = arena_strndup(&run->arena, path, strlen(path));
    struct lines r;
    if (lines_open(&r, path, e))
        return -1;
    path = r.path;
    run->map = xcalloc(1, sizeof *run->map);
    const char *last_tag = NULL;
    size_t cur = SIZE_MAX;
    int rc, status = 0;
    while ((rc = lines_next(&r, e)) > 0) {
        if (line_is_skipped(r.line))
            continue;
        char *f[6];
        size_t nf = split_ws(r.line, f, 6);
        if (nf != 6) {
            status = err_set(e, "%s:%ld: expected 6 fields (qid Q0 docid rank "
                             "score tag), found %s%zu", path, r.lineno,
                             nf > 6 ? "more than " : "", nf > 6 ? (size_t)6 : nf);
            break;
        }
        char *end;
        errno = 0;
        double score = strtod(f[4], &end);
        if (end == f[4] || *end || !isfinite(score)) {
            status = err_set(e, "%s:%ld: score \"%s\" is not a finite number",
                             path, r.lineno, f[4]);
            break;
        }
        if (cur == SIZE_MAX || strcmp(run->topics[cur].qid, f[0]) != 0) {
            cur = strmap_get(run->map, f[0]);
            if (cur == SIZE_MAX) {
                cur = (size_t)(trec_run_topic(run, f[0]) - run->topics);
                run->topics[cur].first_line = r.lineno;
            }
        }
        struct trec_topic_run *t = &run->topics[cur];
        grow((void **)&t->docs, &t->cap_docs, t->n_docs + 1, sizeof *t->docs);
        t->docs[t->n_docs++] = (struct trec_doc){
            .docid = arena_strndup(&run->arena, f[2], strlen(f[2])),
            .score = score,
            .line = r.lineno,
        };
        if (!last_tag || strcmp(last_tag, f[5]) != 0)
            last_tag = arena_strndup(&run->arena, f[5], strlen(f[5]));
        run->n_lines++;
    }
    lines_close(&r);
    if (rc < 0 || status < 0)
        return -1;
    run->tag = last_tag ? last_tag : "";
    for (size_t i = 0; i < run->n_topics; i++) {
        struct trec_topic_run *t = &run->topics[i];
        if (topic_check_duplicates(run, t, e))
            return -1;
        trec_topic_sort(t);
    }
    return 0;
}

void trec_topic_sort(struct trec_topic_run *t)
{
    qsort(t->docs, t->n_docs, sizeof *t->docs, cmp_trec_order);
}

struct trec_topic_run *trec_run_topic(struct trec_run *run, const char *qid)
{
    if (!run->map)
        run->map = xcalloc(1, sizeof *run->map);
    size_t i = strmap_get(run->map, qid);
    if (i != SIZE_MAX)
        return &run->topics[i];
    grow((void **)&run->topics, &run->cap_topics, run->n_topics + 1, sizeof *run->topics);
    struct trec_topic_run *t = &run->topics[run->n_topics];
    memset(t, 0, sizeof *t);
    t->qid = arena_strndup(&run->arena, qid, strlen(qid));
    strmap_put(run->map, t->qid, run->n_topics++);
    return t;
}

void trec_run_free(struct trec_run *run)
{
    for (size_t i = 0; i < run->n_topics; i++)
        free(run->topics[i].docs);
    free(run->topics);
    strmap_free(run->map);
    arena_free(&run->arena);
    memset(run, 0, sizeof *run);
}

const struct trec_topic_run *trec_run_find(const struct trec_run *run,
                                           const char *qid)
{
    size_t i = strmap_get(run->map, qid);
    return i == SIZE_MAX ? NULL : &run->topics[i];
}

/* ---- Qrels -------------------------------------------------------------- */

/* Judgments carry their line while reading, for duplicate messages. */
struct judged_line {
    struct trec_judgment j;
    long line;
};

static int cmp_judged_line(const void *pa, const void *pb)
{
    const struct judged_line *a = pa, *b = pb;
    int c = strcmp(a->j.docid, b->j.docid);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

static int cmp_qrels_topic(const void *pa, const void *pb)
{
    return strcmp(((const struct trec_qrels_topic *)pa)->qid,
                  ((const struct trec_qrels_topic *)pb)->qid);
}

int trec_qrels_read(struct trec_qrels *q, const char *path, struct err *e)
{
    memset(q, 0, sizeof *q);
    q->path = arena_strndup(&q->arena, path, strlen(path));
    struct lines r;
    if (lines_open(&r, path, e))
        return -1;
    path = r.path;
    struct trec_strmap map = {0};
    struct judged_line **tmp = NULL;   /* per topic, while reading */
    size_t *n_tmp = NULL, cap_tmp = 0, cap_n = 0;
    int rc, status = 0;
    while ((rc = lines_next(&r, e)) > 0) {
        if (line_is_skipped(r.line))
            continue;
        char *f[4];
        size_t nf = split_ws(r.line, f, 4);
        if (nf != 4) {
            status = err_set(e, "%s:%ld: expected 4 fields (qid iter docid rel), "
                             "found %s%zu", path, r.lineno,
                             nf > 4 ? "more than " : "", nf > 4 ? (size_t)4 : nf);
            break;
        }
        char *end;
        errno = 0;
        long rel = strtol(f[3], &end, 10);
        if (end == f[3] || *end || errno || rel < -127 || rel > 127) {
            status = err_set(e, "%s:%ld: relevance \"%s\" is not an integer in "
                             "-127..127", path, r.lineno, f[3]);
            break;
        }
        size_t t = strmap_get(&map, f[0]);
        if (t == SIZE_MAX) {
            grow((void **)&q->topics, &q->cap_topics, q->n_topics + 1,
                 sizeof *q->topics);
            grow((void **)&tmp, &cap_tmp, q->n_topics + 1, sizeof *tmp);
            grow((void **)&n_tmp, &cap_n, q->n_topics + 1, sizeof *n_tmp);
            t = q->n_topics++;
            memset(&q->topics[t], 0, sizeof q->topics[t]);
            q->topics[t].qid = arena_strndup(&q->arena, f[0], strlen(f[0]));
            tmp[t] = NULL;
            n_tmp[t] = 0;
            strmap_put(&map, q->topics[t].qid, t);
        }
        struct trec_qrels_topic *qt = &q->topics[t];
        grow((void **)&tmp[t], &qt->cap, n_tmp[t] + 1, sizeof *tmp[t]);
        tmp[t][n_tmp[t]++] = (struct judged_line){
            .j = {arena_strndup(&q->arena, f[2], strlen(f[2])), (int)rel},
            .line = r.lineno,
        };
    }
    lines_close(&r);
    free(map.keys);
    free(map.vals);
    for (size_t t = 0; t < q->n_topics; t++) {
        struct trec_qrels_topic *qt = &q->topics[t];
        qsort(tmp[t], n_tmp[t], sizeof *tmp[t], cmp_judged_line);
        qt->j = xreallocarray(NULL, n_tmp[t], sizeof *qt->j);
        qt->n = qt->cap = n_tmp[t];
        for (size_t i = 0; i < n_tmp[t]; i++) {
            qt->j[i] = tmp[t][i].j;
            if (i && !status && strcmp(tmp[t][i].j.docid, tmp[t][i - 1].j.docid) == 0)
                status = err_set(e, "%s:%ld: document \"%s\" judged twice for "
                                 "query \"%s\" (first on line %ld)", path,
                                 tmp[t][i].line, tmp[t][i].j.docid, qt->qid,
                                 tmp[t][i - 1].line);
        }
        free(tmp[t]);
    }
    free(tmp);
    free(n_tmp);
    if (rc < 0 || status < 0)
        return -1;
    if (q->n_topics) /* qsort(NULL, 0) is undefined */
        qsort(q->topics, q->n_topics, sizeof *q->topics, cmp_qrels_topic);
    return 0;
}

void trec_qrels_free(struct trec_qrels *q)
{
    for (size_t i = 0; i < q->n_topics; i++)
        free(q->topics[i].j);
    free(q->topics);
    arena_free(&q->arena);
    memset(q, 0, sizeof *q);
}

const struct trec_qrels_topic *trec_qrels_find(const struct trec_qrels *q,
                                               const char *qid)
{
    struct trec_qrels_topic key = {.qid = qid};
    return bsearch(&key, q->topics, q->n_topics, sizeof *q->topics,
                   cmp_qrels_topic);
}

static int cmp_judgment(const void *pa, const void *pb)
{
    return strcmp(((const struct trec_judgment *)pa)->docid,
                  ((const struct trec_judgment *)pb)->docid);
}

const struct trec_judgment *trec_qrels_judgment(const struct trec_qrels_topic *t,
                                                const char *docid)
{
    struct trec_judgment key = {.docid = docid};
    return bsearch(&key, t->j, t->n, sizeof *t->j, cmp_judgment);
}

/* ---- Queries ------------------------------------------------------------ */

int trec_topic_field_parse(const char *s, enum trec_topic_field *f,
                           struct err *e)
{
    static const char *names[] = {"title", "desc", "narr"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *f = (enum trec_topic_field)i;
            return 0;
        }
    return err_set(e, "topic field \"%s\": expected title, desc or narr", s);
}

/* Adds one query; fails on a repeated qid. */
static int queries_add(struct trec_queries *q, const char *qid, size_t qid_len,
                       const char *text, size_t text_len, long line,
                       struct err *e)
{
    if (!qid_len)
        return err_set(e, "%s:%ld: empty query id", q->path, line);
    const char *id = arena_strndup(&q->arena, qid, qid_len);
    size_t prev = strmap_get(q->map, id);
    if (prev != SIZE_MAX)
        return err_set(e, "%s:%ld: query \"%s\" defined twice (first on line "
                       "%ld)", q->path, line, id, q->lines[prev]);
    grow((void **)&q->qids, &q->cap, q->n + 1, sizeof *q->qids);
    q->texts = xreallocarray(q->texts, q->cap, sizeof *q->texts);
    q->lines = xreallocarray(q->lines, q->cap, sizeof *q->lines);
    q->text_lens = xreallocarray(q->text_lens, q->cap, sizeof *q->text_lens);
    q->qids[q->n] = id;
    q->texts[q->n] = arena_strndup(&q->arena, text, text_len);
    q->text_lens[q->n] = text_len;
    q->lines[q->n] = line;
    strmap_put(q->map, id, q->n);
    q->n++;
    return 0;
}

static int queries_read_tsv(struct trec_queries *q, struct lines *r,
                            struct err *e)
{
    int rc;
    while ((rc = lines_next(r, e)) > 0) {
        if (!r->len)
            continue;
        char *tab = strchr(r->line, '\t');
        if (!tab)
            return err_set(e, "%s:%ld: expected qid<TAB>text", q->path, r->lineno);
        if (queries_add(q, r->line, (size_t)(tab - r->line), tab + 1,
                        r->len - (size_t)(tab + 1 - r->line), r->lineno, e))
            return -1;
    }
    return rc;
}

/* The first of keys present in obj, or NULL; *which gets its name. */
static json_t *json_first(json_t *obj, const char *const *keys,
                          const char **which)
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

/* Writes the text form of a JSON string or integer id into buf (32 bytes
 * for integers); returns the text or NULL when v is neither. */
static const char *json_id_text(json_t *v, char buf[32])
{
    if (json_is_string(v)) /* an id holding U+0000 is no id */
        return strlen(json_string_value(v)) == json_string_length(v)
                   ? json_string_value(v) : NULL;
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

static int queries_read_jsonl(struct trec_queries *q, struct lines *r,
                              struct err *e)
{
    static const char *const query_keys[] = {"query", "text", NULL};
    int rc;
    while ((rc = lines_next(r, e)) > 0) {
        if (!r->line[strspn(r->line, " \t")])
            continue;
        json_error_t je;
        json_t *obj = json_loadb(r->line, r->len, JSON_ALLOW_NUL, &je);
        if (!obj)
            return err_set(e, "%s:%ld: %s", q->path, r->lineno, je.text);
        const char *k;
        char buf[32];
        json_t *id = json_is_object(obj) ? json_first(obj, query_id_keys, &k) : NULL;
        json_t *text = json_is_object(obj) ? json_first(obj, query_keys, &k) : NULL;
        const char *qid = id ? json_id_text(id, buf) : NULL;
        int st = 0;
        if (!json_is_object(obj))
            st = err_set(e, "%s:%ld: expected a JSON object", q->path, r->lineno);
        else if (!qid)
            st = err_set(e, "%s:%ld: missing query id (\"qid\", \"_id\" or "
                         "\"id\", a string or integer)", q->path, r->lineno);
        else if (!json_is_string(text))
            st = err_set(e, "%s:%ld: missing query text (\"query\" or \"text\", "
                         "a string)", q->path, r->lineno);
        else
            st = queries_add(q, qid, strlen(qid), json_string_value(text),
                             json_string_length(text), r->lineno, e);
        json_decref(obj);
        if (st)
            return -1;
    }
    return rc;
}

/* Collapses whitespace runs of s[0..n) to single spaces, trimmed, into b. */
static void put_collapsed(struct buf *b, const char *s, size_t n)
{
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = b->len > 0;
            continue;
        }
        if (space)
            buf_putc(b, ' ');
        space = false;
        buf_putc(b, c);
    }
}

/* Line number of position pos in text, counting from *known_pos whose line is
 * *known_line (both advanced, so sequential calls stay linear). */
static long line_at(const char *text, size_t pos, size_t *known_pos,
                    long *known_line)
{
    for (; *known_pos < pos; (*known_pos)++)
        if (text[*known_pos] == '\n')
            (*known_line)++;
    return *known_line;
}

/* Case-insensitive search for needle in [s, end). */
static const char *find_tag(const char *s, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; s + n <= end; s++)
        if (strncasecmp(s, needle, n) == 0)
            return s;
    return NULL;
}

/* Content of <tag> inside [s, end): from after the tag to the next `<` that
 * opens or closes a tag; label prefixes such as "Number:" are stripped.
 * Returns false when the tag is absent. */
static bool topic_field(const char *s, const char *end, const char *tag,
                        const char *label, const char **out, size_t *n)
{
    const char *p = find_tag(s, end, tag);
    if (!p)
        return false;
    p += strlen(tag);
    const char *q = p;
    while (q < end && !(*q == '<' && q + 1 < end &&
                        (q[1] == '/' || (q[1] >= 'a' && q[1] <= 'z') ||
                         (q[1] >= 'A' && q[1] <= 'Z'))))
        q++;
    while (p < q && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    size_t ln = strlen(label);
    if ((size_t)(q - p) >= ln && strncasecmp(p, label, ln) == 0)
        p += ln;
    *out = p;
    *n = (size_t)(q - p);
    return true;
}

static int queries_read_topics(struct trec_queries *q, struct lines *r,
                               enum trec_topic_field field, struct err *e)
{
    static const char *const tags[] = {"<title>", "<desc>", "<narr>"};
    static const char *const labels[] = {"Topic:", "Description:", "Narrative:"};
    /* Topic files are small (kilobytes): read them whole. */
    struct buf all = {0};
    int rc;
    while ((rc = lines_next(r, e)) > 0) {
        buf_put(&all, r->line, r->len);
        buf_putc(&all, '\n');
    }
    if (rc < 0) {
        buf_free(&all);
        return -1;
    }
    const char *text = all.data ? all.data : "", *end = text + all.len;
    size_t known_pos = 0;
    long known_line = 1;
    struct buf qid = {0}, body = {0};
    const char *p = text;
    int st = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (p == end)
            break;
        long line = line_at(text, (size_t)(p - text), &known_pos, &known_line);
        if (strncasecmp(p, "<top>", 5) != 0) {
            st = err_set(e, "%s:%ld: expected <top>", q->path, line);
            break;
        }
        const char *close = find_tag(p + 5, end, "</top>");
        if (!close) {
            st = err_set(e, "%s:%ld: <top> without </top>", q->path, line);
            break;
        }
        const char *s, *num;
        size_t n, n_num;
        qid.len = body.len = 0;
        if (!topic_field(p + 5, close, "<num>", "Number:", &num, &n_num)) {
            st = err_set(e, "%s:%ld: topic without <num>", q->path, line);
            break;
        }
        put_collapsed(&qid, num, n_num);
        if (!qid.len || memchr(qid.data, ' ', qid.len)) {
            st = err_set(e, "%s:%ld: <num> must hold one topic number", q->path,
                         line_at(text, (size_t)(num - text), &known_pos, &known_line));
            break;
        }
        if (!topic_field(p + 5, close, tags[field], labels[field], &s, &n)) {
            st = err_set(e, "%s:%ld: topic %s has no %s", q->path, line,
                         qid.data, tags[field]);
            break;
        }
        put_collapsed(&body, s, n);
        if (queries_add(q, qid.data, qid.len, body.data ? body.data : "",
                        body.len, line, e)) {
            st = -1;
            break;
        }
        p = close + 6;
    }
    buf_free(&qid);
    buf_free(&body);
    buf_free(&all);
    return st;
}

int trec_queries_read(struct trec_queries *q, const char *path,
                      enum trec_topic_field field, struct err *e)
{
    memset(q, 0, sizeof *q);
    q->path = arena_strndup(&q->arena, path, strlen(path));
    q->map = xcalloc(1, sizeof *q->map);
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_setk(e, ERR_IO, "%s: %s", path, strerror(errno));
    int c;
    while ((c = getc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    fclose(f);
    q->format = c == '{' ? TREC_QUERIES_JSONL
              : c == '<' ? TREC_QUERIES_TOPICS : TREC_QUERIES_TSV;
    struct lines r;
    if (lines_open(&r, path, e))
        return -1;
    int rc = q->format == TREC_QUERIES_JSONL ? queries_read_jsonl(q, &r, e)
           : q->format == TREC_QUERIES_TOPICS ? queries_read_topics(q, &r, field, e)
           : queries_read_tsv(q, &r, e);
    lines_close(&r);
    return rc < 0 ? -1 : 0;
}

void trec_queries_free(struct trec_queries *q)
{
    free(q->qids);
    free(q->texts);
    free(q->text_lens);
    free(q->lines);
    strmap_free(q->map);
    arena_free(&q->arena);
    memset(q, 0, sizeof *q);
}

const char *trec_queries_find(const struct trec_queries *q, const char *qid,
                              size_t *len)
{
    size_t i = strmap_get(q->map, qid);
    if (i != SIZE_MAX && len)
        *len = q->text_lens[i];
    return i == SIZE_MAX ? NULL : q->texts[i];
}

/* ---- Group source ------------------------------------------------------- */

struct trec_source {
    const struct trec_run *run;
    const struct trec_queries *queries;
    struct trec_docs *docs;
    struct trec_source_opts opts;
    size_t next_topic;
    const struct trec_doc *tail;    /* (n_tail) of the last group */
    size_t n_tail;
    struct trec_source_stats stats;
};

struct trec_source *trec_source_open(const struct trec_run *run,
                                     const struct trec_queries *queries,
                                     struct trec_docs *docs,
                                     const struct trec_source_opts *opts)
{
    struct trec_source *s = xcalloc(1, sizeof *s);
    s->run = run;
    s->queries = queries;
    s->docs = docs;
    if (opts)
        s->opts = *opts;
    if (!s->opts.depth)
        s->opts.depth = 100;
    return s;
}

static void source_warn(struct trec_source *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void source_warn(struct trec_source *s, const char *fmt, ...)
{
    if (!s->opts.warn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->opts.warn(s->opts.warn_ctx, msg);
}

int trec_source_next(struct trec_source *s, struct group *g, struct err *e)
{
    s->tail = NULL;
    s->n_tail = 0;
    const struct trec_topic_run *t = NULL;
    const char *query = NULL;
    size_t query_len = 0;
    while (s->next_topic < s->run->n_topics) {
        t = &s->run->topics[s->next_topic++];
        query = trec_queries_find(s->queries, t->qid, &query_len);
        if (query)
            break;
        s->stats.n_missing_queries++;
        source_warn(s, "%s:%ld: query \"%s\" is not in %s; skipped",
                    s->run->path, t->first_line, t->qid, s->queries->path);
        t = NULL;
    }
    if (!t)
        return 0;
    group_reset(g);
    g->qid = arena_strndup(&g->arena, t->qid, strlen(t->qid));
    g->query = arena_strndup(&g->arena, query, query_len);
    g->query_len = query_len;
    g->source = s->run->path;
    g->first_line = t->first_line;
    g->ordinal = (long)++s->stats.n_groups;
    size_t top = t->n_docs < s->opts.depth ? t->n_docs : s->opts.depth;
    for (size_t i = 0; i < top; i++) {
        const struct trec_doc *d = &t->docs[i];
        const char *text;
        size_t len;
        int rc = trec_docs_get(s->docs, d->docid, &g->arena, &text, &len, e);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            s->stats.n_missing_docs++;
            source_warn(s, "%s:%ld: document \"%s\" is not in %s; left out",
                        s->run->path, d->line, d->docid,
                        trec_docs_info(s->docs)->path);
            continue;
        }
        struct candidate *c = group_add(g);
        c->docid = arena_strndup(&g->arena, d->docid, strlen(d->docid));
        c->text = text;
        c->text_len = len;
        c->source = s->run->path;
        c->line = d->line;
        c->first_score = d->score;
        c->has_first_score = true;
        s->stats.n_candidates++;
    }
    s->tail = t->docs + top;
    s->n_tail = t->n_docs - top;
    s->stats.n_tail += s->n_tail;
    return 1;
}

void trec_source_tail(const struct trec_source *s, const struct trec_doc **docs,
                      size_t *n)
{
    *docs = s->tail;
    *n = s->n_tail;
}

const struct trec_source_stats *trec_source_stats(const struct trec_source *s)
{
    return &s->stats;
}

void trec_source_free(struct trec_source *s)
{
    free(s);
}
