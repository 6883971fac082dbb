/* util.c — allocation, error text, buffers, arenas, score formatting. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

static void err_vset(struct err *e, enum err_kind kind, const char *fmt, va_list ap)
{
    if (e) {
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        e->kind = kind;
    }
}

int err_set(struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, ERR_UNSPECIFIED, fmt, ap);
    va_end(ap);
    return -1;
}

int err_setk(struct err *e, enum err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, kind, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
    if (e) {
        char old[sizeof e->msg];
        memcpy(old, e->msg, sizeof old);
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n + 3 < sizeof e->msg) {
            size_t room = sizeof e->msg - (size_t)n - 3; /* ": " and the NUL */
            size_t len = strnlen(old, room);
            memcpy(e->msg + n, ": ", 2);
            memcpy(e->msg + n + 2, old, len);
            e->msg[n + 2 + len] = 0;
        }
    }
    return -1;
}

static void oom(void)
{
    fputs("rerank: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xreallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (size_mul(count, size, &n))
        oom();
    return xrealloc(p, n);
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void grow(void **buf, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            oom();
        c *= 2;
    }
    *buf = xreallocarray(*buf, c, elem_size);
    *cap = c;
}

int size_mul(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

int size_add(size_t a, size_t b, size_t *out)
{
    if (a > SIZE_MAX - b)
        return -1;
    *out = a + b;
    return 0;
}

char *read_file(const char *path, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        err_set(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_put(&b, chunk, n);
    if (ferror(f)) {
        err_set(e, "%s: read error: %s", path, strerror(errno));
        fclose(f);
        buf_free(&b);
        return NULL;
    }
    fclose(f);
    buf_putc(&b, 0);
    *len = b.len - 1;
    return b.data;
}

const char *env_nonempty(const char *name)
{
    const char *v = name ? getenv(name) : NULL;
    return v && v[0] ? v : NULL;
}

bool has_control_byte(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

char *one_line(const char *text, size_t len, size_t max)
{
    size_t n = len;
    if (n > max) {
        n = max;
        while (n && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = xmalloc(n + 4);
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? ' ' : text[i];
    memcpy(out + n, n < len ? "..." : "", n < len ? 4 : 1);
    return out;
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Rewrites buf, %g text in exponent form ("-1.2e+02"), as the same digits
 * without the exponent ("-120") when that is no longer.  %g uses exponents
 * for small numbers only below 1e-4, where the plain form is always longer. */
static void plain_if_no_longer(char buf[32])
{
    const char *e = strchr(buf, 'e');
    if (!e || e[1] == '-')
        return;
    long exp = strtol(e + 1, NULL, 10);
    size_t len = strlen(buf);
    if (exp < 0 || (size_t)exp + 1 > len)   /* exp + 1 digits at least */
        return;
    char digits[32], out[64];
    size_t n = 0, k = 0;
    for (const char *p = buf; p < e; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    if (buf[0] == '-')
        out[k++] = '-';
    size_t int_digits = (size_t)exp + 1;    /* value = d.ddd x 10^exp */
    for (size_t i = 0; i < int_digits; i++)
        out[k++] = i < n ? digits[i] : '0';
    if (n > int_digits) {
        out[k++] = '.';
        for (size_t i = int_digits; i < n; i++)
            out[k++] = digits[i];
    }
    if (k <= len) {
        memcpy(buf, out, k);
        buf[k] = 0;
    }
}

void format_score(char buf[32], double x)
{
    float f = (float)x;
    if ((double)f == x) {
        for (int p = 1; p <= 9; p++) {
            snprintf(buf, 32, "%.*g", p, x);
            if (strtof(buf, NULL) == f)
                break;
        }
    } else {
        for (int p = 15; p <= 17; p++) {
            snprintf(buf, 32, "%.*g", p, x);
            if (strtod(buf, NULL) == x)
                break;
        }
    }
    plain_if_no_longer(buf);
}

void buf_put(struct buf *b, const void *p, size_t n)
{
    grow((void **)&b->data, &b->cap, b->len + n + 1, 1);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_put(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    grow((void **)&b->data, &b->cap, b->len + (size_t)n + 1, 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[];
};

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 65536 ? n : 65536;
        c = xmalloc(sizeof *c + size);
        c->used = 0;
        c->size = size;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_reset(struct arena *a)
{
    struct arena_chunk *c = a->head;
    if (!c)
        return;
    /* Keep the oldest chunk (the tail) and drop the rest. */
    while (c->next) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

void arena_free(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

uint64_t hash_fnv_extend(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = hash_fnv_step(h, s[i]);
    return h;
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    return hash_fnv_extend(HASH_FNV_BASIS ^ seed, p, n);
}

size_t utf8_char_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0], min, cp;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

long utf8_invalid_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = utf8_char_len(s + i, n - i);
        if (len == 0)
            return (long)i;
        i += len;
    }
    return -1;
}

bool rust_is_whitespace(int32_t c)
{
    if (c < 0x80)
        return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

bool rust_is_word_char(int32_t c)
{
    if (c < 0x80)
        return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
               (c >= '0' && c <= '9') || c == '_';
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
               (c >= 0x1F130 && c <= 0x1F149) ||
               (c >= 0x1F150 && c <= 0x1F169) ||
               (c >= 0x1F170 && c <= 0x1F189);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **dir_names(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = xcalloc(1, sizeof *v);
    size_t n = 0, cap = 1;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        grow((void **)&v, &cap, n + 2, sizeof *v);
        v[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    v[n] = NULL;
    qsort(v, n, sizeof *v, cmp_names);
    return v;
}

void dir_names_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}
