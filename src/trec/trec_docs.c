/* trec_docs.c — document collections (TSV or JSONL) looked up by docid
 * through an on-disk offset index, so that an 8.8M-passage MS MARCO
 * collection costs one sequential pass the first time and then a binary
 * search plus one pread per document, in bounded memory.
 *
 * Index file (native byte order; rebuilt rather than trusted when anything
 * disagrees):
 *   header (64 bytes): magic "RRXIDX1\n", byte-order mark 0x01020304,
 *     entry size 16, collection size, mtime seconds and nanoseconds,
 *     entry count, collection format, reserved
 *   entries (count × 16 bytes): { FNV-1a-64 hash of docid, byte offset of
 *     the document's line }, sorted by (hash, offset)
 * Each lookup re-reads the line and compares the docid, so a collision or a
 * stale entry can only cost a read, never return the wrong document; offsets
 * are bounds-checked against the collection size before any read.
 * Where the index lives and when it is rebuilt is described in trec.h. */
#include "trec/trec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define RRX_MAGIC "RRXIDX1\n"
#define RRX_BOM 0x01020304u

struct rrx_header {
    char magic[8];
    uint32_t bom, entry_size;
    uint64_t coll_size;
    int64_t mtime_sec, mtime_nsec;
    uint64_t n_entries;
    uint32_t format, reserved32;
    uint64_t reserved;
};
_Static_assert(sizeof(struct rrx_header) == 64, "index header is 64 bytes");

struct rrx_entry {
    uint64_t hash, offset;
};

struct trec_docs {
    int fd;                         /* the collection */
    struct stat st;
    const struct rrx_entry *entries; /* (info.n_docs) in the mapping */
    void *map;
    size_t map_len;
    char *line;                     /* pread buffer */
    size_t line_cap;
    char *path, *index_path;
    struct trec_docs_info info;
};

static uint64_t docid_hash(const char *s, size_t n)
{
    return hash_bytes(s, n, 0);
}

static json_t *json_first(json_t *obj, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(obj, *keys);
        if (v)
            return v;
    }
    return NULL;
}

/* The docid of a JSONL document as text (integers in decimal; buf holds 32
 * bytes), or NULL when it has none. */
static const char *json_docid(json_t *obj, char buf[32])
{
    json_t *v = json_first(obj, docid_keys);
    if (json_is_string(v)) /* an id holding U+0000 is no id */
        return strlen(json_string_value(v)) == json_string_length(v)
                   ? json_string_value(v) : NULL;
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* Parses one collection line (len bytes, no newline) and sets *id, *id_len
 * to its docid.  For JSONL, *obj gets the parsed object (a new reference the
 * caller releases; *id may point into it); for TSV *obj is NULL.  Returns 0,
 * or -1 with e holding the reason without the place (the caller adds it). */
static int parse_doc_line(enum trec_docs_format fmt, const char *line,
                          size_t len, const char **id, size_t *id_len,
                          char idbuf[32], json_t **obj, struct err *e)
{
    *obj = NULL;
    if (fmt == TREC_DOCS_TSV) {
        const char *tab = memchr(line, '\t', len);
        if (!tab)
            return err_set(e, "expected docid<TAB>text");
        if (tab == line)
            return err_set(e, "empty docid");
        if (utf8_invalid_at(line, len) >= 0)
            return err_set(e, "invalid UTF-8");
        *id = line;
        *id_len = (size_t)(tab - line);
        return 0;
    }
    json_error_t je;
    json_t *o = json_loadb(line, len, JSON_ALLOW_NUL, &je);
    if (!o)
        return err_set(e, "%s", je.text);
    int rc = 0;
    const char *docid = json_is_object(o) ? json_docid(o, idbuf) : NULL;
    json_t *text = json_is_object(o) ? json_first(o, text_keys) : NULL;
    json_t *title = json_is_object(o) ? json_object_get(o, "title") : NULL;
    if (!json_is_object(o))
        rc = err_set(e, "expected a JSON object");
    else if (!docid || !*docid || !json_is_string(text)) {
        bool no_id = !docid || !*docid;
        struct buf keys = {0};
        keys_describe(&keys, no_id ? docid_keys : text_keys);
        rc = no_id ? err_set(e, "missing docid (%s, a non-empty string or integer)", keys.data)
                   : err_set(e, "missing document text (%s, a string)", keys.data);
        buf_free(&keys);
    } else if (title && !json_is_string(title) && !json_is_null(title))
        rc = err_set(e, "\"title\" must be a string");
    if (rc) {
        json_decref(o);
        return -1;
    }
    *id = docid;
    *id_len = strlen(docid);
    *obj = o;
    return 0;
}

/* Reads the line starting at offset into d->line (NUL-terminated, newline
 * and a trailing CR removed); returns its length, or -1 with e set. */
static ssize_t read_line_at(struct trec_docs *d, uint64_t offset, struct err *e)
{
    uint64_t size = (uint64_t)d->st.st_size;
    if (offset >= size)
        return err_set(e, "%s: index entry points past the end of %s; delete "
                       "the index to rebuild it", d->index_path, d->path);
    size_t len = 0;
    for (;;) {
        if (d->line_cap - len < 8192 + 1)
            grow((void **)&d->line, &d->line_cap, len + 8192 + 1, 1);
        size_t want = d->line_cap - len - 1;
        if (want > size - offset - len)
            want = (size_t)(size - offset - len);
        ssize_t n = want ? pread(d->fd, d->line + len, want, (off_t)(offset + len)) : 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_setk(e, ERR_IO, "%s: read error: %s", d->path, strerror(errno));
        }
        char *nl = memchr(d->line + len, '\n', (size_t)n);
        if (nl) {
            len = (size_t)(nl - d->line);
            break;
        }
        len += (size_t)n;
        if (n == 0 || offset + len >= size)
            break;
    }
    if (len && d->line[len - 1] == '\r')
        len--;
    d->line[len] = 0;
    return (ssize_t)len;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const struct rrx_entry *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->offset > b->offset) - (a->offset < b->offset);
}

/* 1-based line number of the line starting at byte offset (error paths). */
static long line_of_offset(int fd, uint64_t offset)
{
    char buf[65536];
    long line = 1;
    uint64_t pos = 0;
    while (pos < offset) {
        size_t want = offset - pos < sizeof buf ? (size_t)(offset - pos) : sizeof buf;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n <= 0)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            line += buf[i] == '\n';
        pos += (uint64_t)n;
    }
    return line;
}

/* Copies the docid of the line at offset into out (malloc'd); -1 on error. */
static int docid_at(struct trec_docs *d, uint64_t offset, char **out,
                    struct err *e)
{
    ssize_t len = read_line_at(d, offset, e);
    if (len < 0)
        return -1;
    const char *id;
    size_t id_len;
    char idbuf[32];
    json_t *obj;
    if (parse_doc_line(d->info.format, d->line, (size_t)len, &id, &id_len,
                       idbuf, &obj, e))
        return err_prefix(e, "%s:%ld", d->path, line_of_offset(d->fd, offset));
    *out = xstrndup(id, id_len);
    json_decref(obj);
    return 0;
}

/* Fails when two entries with equal hashes name the same docid. */
static int entries_check_duplicates(struct trec_docs *d,
                                    const struct rrx_entry *v, size_t n,
                                    struct err *e)
{
    for (size_t i = 1; i < n; i++) {
        if (v[i].hash != v[i - 1].hash)
            continue;
        for (size_t j = i; j-- > 0 && v[j].hash == v[i].hash;) {
            char *a, *b;
            if (docid_at(d, v[j].offset, &a, e))
                return -1;
            if (docid_at(d, v[i].offset, &b, e)) {
                free(a);
                return -1;
            }
            int same = strcmp(a, b) == 0;
            if (same)
                err_set(e, "%s:%ld: docid \"%s\" also on line %ld", d->path,
                        line_of_offset(d->fd, v[i].offset), b,
                        line_of_offset(d->fd, v[j].offset));
            free(a);
            free(b);
            if (same)
                return -1;
        }
    }
    return 0;
}

/* One pass over the collection: the sorted entries in *out (caller frees),
 * their count in *n.  Line-numbered errors for malformed lines. */
static int index_scan(struct trec_docs *d, struct rrx_entry **out, size_t *n,
                      struct err *e)
{
    FILE *f = fopen(d->path, "rb");
    if (!f)
        return err_setk(e, ERR_IO, "%s: %s", d->path, strerror(errno));
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    struct rrx_entry *v = NULL;
    size_t nv = 0, cap = 0;
    char *line = NULL;
    size_t line_cap = 0;
    uint64_t offset = 0;
    long lineno = 0;
    int rc = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        uint64_t start = offset;
        offset += (uint64_t)got;
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (strspn(line, " \t") >= len)
            continue;
        if (memchr(line, 0, len)) {
            rc = err_set(e, "%s:%ld: NUL byte in line", d->path, lineno);
            break;
        }
        const char *id;
        size_t id_len;
        char idbuf[32];
        json_t *obj;
        if (parse_doc_line(d->info.format, line, len, &id, &id_len, idbuf, &obj, e)) {
            rc = err_prefix(e, "%s:%ld", d->path, lineno);
            break;
        }
        grow((void **)&v, &cap, nv + 1, sizeof *v);
        v[nv++] = (struct rrx_entry){docid_hash(id, id_len), start};
        json_decref(obj);
    }
    if (!rc && ferror(f))
        rc = err_set(e, "%s: read error: %s", d->path, strerror(errno));
    free(line);
    fclose(f);
    struct stat now;
    if (!rc && (fstat(d->fd, &now) || now.st_size != d->st.st_size ||
                offset != (uint64_t)d->st.st_size ||
                now.st_mtim.tv_sec != d->st.st_mtim.tv_sec ||
                now.st_mtim.tv_nsec != d->st.st_mtim.tv_nsec))
        rc = err_set(e, "%s: changed while it was being indexed", d->path);
    if (!rc && nv) /* qsort(NULL, 0) is undefined */
        qsort(v, nv, sizeof *v, cmp_entry);
    if (!rc)
        rc = entries_check_duplicates(d, v, nv, e);
    if (rc) {
        free(v);
        return -1;
    }
    *out = v;
    *n = nv;
    return 0;
}

/* Writes the index for entries v to path via a temporary file and rename.
 * Returns 0, or -1 with errno meaningful (EACCES etc.) and e set. */
static int index_write(const struct trec_docs *d, const char *path,
                       const struct rrx_entry *v, size_t n, struct err *e)
{
    struct buf tmp = {0};
    buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int saved = errno;
        err_set(e, "%s: %s", tmp.data, strerror(errno));
        buf_free(&tmp);
        errno = saved;
        return -1;
    }
    struct rrx_header h = {
        .bom = RRX_BOM,
        .entry_size = sizeof(struct rrx_entry),
        .coll_size = (uint64_t)d->st.st_size,
        .mtime_sec = d->st.st_mtim.tv_sec,
        .mtime_nsec = d->st.st_mtim.tv_nsec,
        .n_entries = n,
        .format = d->info.format,
    };
    memcpy(h.magic, RRX_MAGIC, 8);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp.data);
        buf_free(&tmp);
        return err_set(e, "%s: %s", path, strerror(errno));
    }
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 &&
              (n == 0 || fwrite(v, sizeof *v, n, f) == n);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.data, path) != 0) {
        int saved = errno;
        err_set(e, "%s: %s", path, strerror(errno));
        unlink(tmp.data);
        buf_free(&tmp);
        errno = saved;
        return -1;
    }
    buf_free(&tmp);
    return 0;
}

/* Maps the index at path when it matches the collection.  Returns 1 when
 * mapped, 0 when absent or not matching (to be rebuilt). */
static int index_map(struct trec_docs *d, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(struct rrx_header))
        m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    const struct rrx_header *h = m;
    size_t want;
    bool ok = memcmp(h->magic, RRX_MAGIC, 8) == 0 && h->bom == RRX_BOM &&
              h->entry_size == sizeof(struct rrx_entry) &&
              h->coll_size == (uint64_t)d->st.st_size &&
              h->mtime_sec == d->st.st_mtim.tv_sec &&
              h->mtime_nsec == d->st.st_mtim.tv_nsec &&
              h->format == (uint32_t)d->info.format &&
              h->n_entries <= SIZE_MAX &&
              size_mul((size_t)h->n_entries, sizeof(struct rrx_entry), &want) == 0 &&
              size_add(want, sizeof *h, &want) == 0 &&
              want == (size_t)st.st_size;
    if (!ok) {
        munmap(m, (size_t)st.st_size);
        return 0;
    }
    d->map = m;
    d->map_len = (size_t)st.st_size;
    d->entries = (const struct rrx_entry *)((const char *)m + sizeof *h);
    d->info.n_docs = h->n_entries;
    return 1;
}

/* The cache-directory index path for the collection (malloc'd), creating
 * the directory when create is set; NULL with e set when there is no usable
 * cache directory. */
static char *cache_index_path(const char *coll, bool create, struct err *e)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    struct buf dir = {0};
    if (xdg && xdg[0] == '/')
        buf_printf(&dir, "%s/rerank", xdg);
    else if (home && home[0] == '/')
        buf_printf(&dir, "%s/.cache/rerank", home);
    else {
        err_set(e, "no cache directory for the index: set XDG_CACHE_HOME or HOME");
        return NULL;
    }
    /* mkdir -p, one component at a time. */
    for (char *p = dir.data + 1; create; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(dir.data, 0755) != 0 && errno != EEXIST) {
                err_set(e, "%s: %s", dir.data, strerror(errno));
                buf_free(&dir);
                return NULL;
            }
            *p = c;
            if (!c)
                break;
        }
    }
    char *abs = realpath(coll, NULL);
    const char *name = strrchr(coll, '/') ? strrchr(coll, '/') + 1 : coll;
    const char *key = abs ? abs : coll;
    buf_printf(&dir, "/%s-%016llx.rrx", name,
               (unsigned long long)hash_bytes(key, strlen(key), 0));
    free(abs);
    return dir.data;
}

static void docs_set_index_path(struct trec_docs *d, char *path)
{
    free(d->index_path);
    d->index_path = path;
    d->info.index_path = path;
}

/* Builds the index (sidecar, else cache directory) and maps it. */
static int index_build(struct trec_docs *d, const char *sidecar, struct err *e)
{
    struct rrx_entry *v = NULL;
    size_t n = 0;
    if (index_scan(d, &v, &n, e))
        return -1;
    docs_set_index_path(d, xstrdup(sidecar));
    int rc = index_write(d, sidecar, v, n, e);
    if (rc && (errno == EACCES || errno == EPERM || errno == EROFS)) {
        char *cached = cache_index_path(d->path, true, e);
        if (cached) {
            docs_set_index_path(d, cached);
            rc = index_write(d, cached, v, n, e);
        }
    }
    free(v);
    if (rc)
        return -1;
    if (!index_map(d, d->index_path))
        return err_set(e, "%s: index written but unreadable", d->index_path);
    d->info.built = true;
    return 0;
}

struct trec_docs *trec_docs_open(const char *path, struct err *e)
{
    struct trec_docs *d = xcalloc(1, sizeof *d);
    d->path = xstrdup(path);
    d->info.path = d->path;
    d->fd = open(path, O_RDONLY);
    if (d->fd < 0) {
        err_setk(e, ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(d->fd, &d->st) != 0 || !S_ISREG(d->st.st_mode)) {
        err_set(e, "%s: not a regular file", path);
        goto fail;
    }
    /* The format follows from the first non-blank byte. */
    char head[4096];
    ssize_t n = pread(d->fd, head, sizeof head, 0), i = 0;
    while (i < n && strchr(" \t\r\n", head[i]))
        i++;
    d->info.format = i < n && head[i] == '{' ? TREC_DOCS_JSONL : TREC_DOCS_TSV;

    struct buf sidecar = {0};
    buf_printf(&sidecar, "%s.rrx", path);
    int rc = 0;
    if (index_map(d, sidecar.data)) {
        docs_set_index_path(d, xstrdup(sidecar.data));
    } else {
        struct err ignored;
        char *cached = cache_index_path(path, false, &ignored);
        if (cached && index_map(d, cached))
            docs_set_index_path(d, cached);
        else {
            free(cached);
            rc = index_build(d, sidecar.data, e);
        }
    }
    buf_free(&sidecar);
    if (rc == 0)
        return d;
fail:
    trec_docs_free(d);
    return NULL;
}

void trec_docs_free(struct trec_docs *d)
{
    if (!d)
        return;
    if (d->map)
        munmap(d->map, d->map_len);
    if (d->fd >= 0)
        close(d->fd);
    free(d->line);
    free(d->path);
    free(d->index_path);
    free(d);
}

const struct trec_docs_info *trec_docs_info(const struct trec_docs *d)
{
    return &d->info;
}

/* Copies the text of a parsed line into a: after the tab (TSV), or title, a
 * space and text (JSONL; title only when non-empty). */
static void doc_text(const char *line, size_t len, json_t *obj,
                     struct arena *a, const char **text, size_t *out_len)
{
    if (!obj) {
        const char *tab = memchr(line, '\t', len);
        size_t n = len - (size_t)(tab + 1 - line);
        *text = arena_strndup(a, tab + 1, n);
        *out_len = n;
        return;
    }
    json_t *t = json_first(obj, text_keys), *title = json_object_get(obj, "title");
    size_t nt = json_string_length(t);
    size_t nh = json_is_string(title) ? json_string_length(title) : 0;
    size_t total = nh ? nh + 1 + nt : nt;
    char *p = arena_alloc(a, total + 1);
    if (nh) {
        memcpy(p, json_string_value(title), nh);
        p[nh] = ' ';
        memcpy(p + nh + 1, json_string_value(t), nt);
    } else {
        memcpy(p, json_string_value(t), nt);
    }
    p[total] = 0;
    *text = p;
    *out_len = total;
}

int trec_docs_get(struct trec_docs *d, const char *docid, struct arena *a,
                  const char **text, size_t *len, struct err *e)
{
    size_t id_len = strlen(docid);
    uint64_t h = docid_hash(docid, id_len);
    size_t lo = 0, hi = (size_t)d->info.n_docs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->entries[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < d->info.n_docs && d->entries[i].hash == h; i++) {
        ssize_t n = read_line_at(d, d->entries[i].offset, e);
        if (n < 0)
            return -1;
        const char *id;
        size_t n_id;
        char idbuf[32];
        json_t *obj;
        if (parse_doc_line(d->info.format, d->line, (size_t)n, &id, &n_id,
                           idbuf, &obj, e))
            return err_prefix(e, "%s: byte %llu (index %s may be stale; delete "
                              "it to rebuild)", d->path,
                              (unsigned long long)d->entries[i].offset,
                              d->index_path);
        bool match = n_id == id_len && memcmp(id, docid, id_len) == 0;
        if (match)
            doc_text(d->line, (size_t)n, obj, a, text, len);
        json_decref(obj);
        if (match)
            return 1;
    }
    return 0;
}
