/* safetensors.c — mmap and validation of untrusted .safetensors files.
 *
 * Everything about the header is checked before the first tensor byte is
 * touched: the header length against the file size and a cap, the JSON
 * syntax (no duplicate names), each entry's dtype, shape and data_offsets
 * (inside the data area, begin <= end, byte size == product(shape) * dtype
 * size, all with overflow-checked arithmetic), and that no two tensors
 * share bytes.  Interpreting the bytes is the caller's business. */
#include "models/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Real headers are a few hundred KB at most; the reference implementation
 * refuses more than 100 MB, and so do we. */
#define HEADER_MAX ((uint64_t)100 << 20)

static const struct {
    const char *name;
    enum st_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F32", ST_F32, 4},   {"F16", ST_F16, 2},   {"BF16", ST_BF16, 2},
    {"F64", ST_F64, 8},   {"I8", ST_I8, 1},     {"I16", ST_I16, 2},
    {"I32", ST_I32, 4},   {"I64", ST_I64, 8},   {"U8", ST_U8, 1},
    {"U16", ST_U16, 2},   {"U32", ST_U32, 4},   {"U64", ST_U64, 8},
    {"BOOL", ST_BOOL, 1}, {"F8_E4M3", ST_F8_E4M3, 1},
    {"F8_E5M2", ST_F8_E5M2, 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

const char *safetensors_dtype_name(enum st_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dtype == dt)
            return dtypes[i].name;
    return "?";
}

size_t safetensors_dtype_size(enum st_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dtype == dt)
            return dtypes[i].size;
    return 0;
}

/* A JSON integer in [0, SIZE_MAX] into *out; 0, or -1 when it is not one. */
static int json_to_size(const json_t *j, size_t *out)
{
    if (!json_is_integer(j))
        return -1;
    json_int_t v = json_integer_value(j);
    if (v < 0 || (uintmax_t)v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Fills t from one header entry; data_len is the size of the data area.
 * Returns 0, or -1 with e saying what is wrong (the caller adds the names). */
static int parse_entry(struct st_tensor *t, const json_t *entry,
                       const unsigned char *data, size_t data_len,
                       size_t *begin_out, struct err *e)
{
    if (!json_is_object(entry))
        return err_set(e, "entry is not an object");

    const char *dt = json_string_value(json_object_get(entry, "dtype"));
    if (!dt)
        return err_set(e, "missing or non-string \"dtype\"");
    size_t i;
    for (i = 0; i < N_DTYPES; i++)
        if (strcmp(dt, dtypes[i].name) == 0)
            break;
    if (i == N_DTYPES)
        return err_set(e, "unknown dtype \"%.40s\"", dt);
    t->dtype = dtypes[i].dtype;

    const json_t *shape = json_object_get(entry, "shape");
    if (!json_is_array(shape))
        return err_set(e, "missing or non-array \"shape\"");
    if (json_array_size(shape) > ST_MAX_DIMS)
        return err_set(e, "%zu dimensions (at most %d supported)",
                       json_array_size(shape), ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(shape);
    size_t n = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (json_to_size(json_array_get(shape, (size_t)d), &t->shape[d]))
            return err_set(e, "shape[%d] is not a non-negative integer", d);
        if (size_mul(n, t->shape[d], &n))
            return err_set(e, "element count overflows");
    }
    t->n_elems = n;
    if (size_mul(n, dtypes[i].size, &t->n_bytes))
        return err_set(e, "byte size overflows");

    const json_t *off = json_object_get(entry, "data_offsets");
    size_t begin, end;
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        json_to_size(json_array_get(off, 0), &begin) ||
        json_to_size(json_array_get(off, 1), &end))
        return err_set(e, "\"data_offsets\" must be two non-negative integers");
    if (begin > end)
        return err_set(e, "data_offsets [%zu, %zu] begin past end", begin, end);
    if (end > data_len)
        return err_set(e, "data_offsets [%zu, %zu] past the end of the data "
                       "area (%zu bytes)", begin, end, data_len);
    if (end - begin != t->n_bytes)
        return err_set(e, "data_offsets [%zu, %zu] hold %zu bytes but %s "
                       "shape needs %zu", begin, end, end - begin, dt,
                       t->n_bytes);
    t->data = data + begin;
    *begin_out = begin;
    return 0;
}

struct span {
    size_t begin, end, index;
};

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Validates the parsed header and fills st->tensors.  0, or -1 with e. */
static int parse_header(struct safetensors *st, const json_t *root,
                        const unsigned char *data, size_t data_len,
                        struct err *e)
{
    if (!json_is_object(root))
        return err_set(e, "header is not a JSON object");
    size_t cap = json_object_size(root);
    st->tensors = xcalloc(cap, sizeof *st->tensors);
    struct span *spans = xcalloc(cap, sizeof *spans);
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach((json_t *)root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                rc = err_set(e, "\"__metadata__\" is not an object");
                break;
            }
            continue;
        }
        struct st_tensor *t = &st->tensors[st->n_tensors];
        size_t begin = 0;
        if (parse_entry(t, val, data, data_len, &begin, e)) {
            rc = err_prefix(e, "tensor %.200s", key);
            break;
        }
        t->name = xstrdup(key);
        spans[st->n_tensors] = (struct span){begin, begin + t->n_bytes,
                                             st->n_tensors};
        st->n_tensors++;
    }
    if (rc == 0) {
        qsort(spans, st->n_tensors, sizeof *spans, span_cmp);
        for (size_t i = 1; i < st->n_tensors; i++)
            if (spans[i].begin < spans[i - 1].end) {
                rc = err_set(e, "tensors %.200s and %.200s overlap",
                             st->tensors[spans[i - 1].index].name,
                             st->tensors[spans[i].index].name);
                break;
            }
    }
    free(spans);
    return rc;
}

int safetensors_open(struct safetensors *st, const char *path, struct err *e)
{
    memset(st, 0, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        err_set(e, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return err_set(e, "%s: not a regular file", path);
    }
    if (sb.st_size < 8) {
        close(fd);
        return err_set(e, "%s: %lld bytes, too short for a safetensors "
                       "header", path, (long long)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return err_set(e, "%s: mmap: %s", path, strerror(errno));
    st->map = map;
    st->map_len = len;
    st->path = xstrdup(path);

    const unsigned char *p = map;
    uint64_t n_header = 0;
    for (int i = 7; i >= 0; i--)
        n_header = n_header << 8 | p[i];
    if (n_header > len - 8 || n_header > HEADER_MAX) {
        err_set(e, "%s: header length %llu exceeds the file (%zu bytes) or "
                "the %llu-byte limit", path, (unsigned long long)n_header, len,
                (unsigned long long)HEADER_MAX);
        safetensors_close(st);
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)n_header,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        err_set(e, "%s: header is not valid JSON: %s (byte %d)", path,
                jerr.text, jerr.position);
        safetensors_close(st);
        return -1;
    }
    int rc = parse_header(st, root, p + 8 + n_header,
                          len - 8 - (size_t)n_header, e);
    json_decref(root);
    if (rc) {
        err_prefix(e, "%s", path);
        safetensors_close(st);
        return -1;
    }
    return 0;
}

const struct st_tensor *safetensors_find(const struct safetensors *st,
                                         const char *name)
{
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

void safetensors_close(struct safetensors *st)
{
    if (st->map)
        munmap(st->map, st->map_len);
    for (size_t i = 0; i < st->n_tensors; i++)
        free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    memset(st, 0, sizeof *st);
}
