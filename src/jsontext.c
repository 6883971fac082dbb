/* jsontext.c — member and element spans of validated JSON text, and JSON
 * string escaping for the writers. */
#include "jsontext.h"

#include <jansson.h>
#include <string.h>

static const char *skip_ws(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++;
    return s;
}

/* Returns the end of the string literal starting at s (which is '"'). */
static const char *skip_string(const char *s, const char *end)
{
    for (s++; s < end; s++) {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s + 1;
    }
    return NULL;
}

/* Returns the end of the value starting at s, or NULL. */
static const char *skip_value(const char *s, const char *end)
{
    if (s >= end)
        return NULL;
    if (*s == '"')
        return skip_string(s, end);
    if (*s == '{' || *s == '[') {
        int depth = 0;
        while (s < end) {
            if (*s == '"') {
                s = skip_string(s, end);
                if (!s)
                    return NULL;
                continue;
            }
            if (*s == '{' || *s == '[')
                depth++;
            else if (*s == '}' || *s == ']') {
                if (--depth == 0)
                    return s + 1;
            }
            s++;
        }
        return NULL;
    }
    /* number, true, false, null */
    while (s < end && !strchr(",]} \t\r\n", *s))
        s++;
    return s;
}

int jsontext_members(const char *s, size_t n,
                     void (*fn)(struct json_span, struct json_span, void *),
                     void *ctx)
{
    const char *end = s + n;
    s = skip_ws(s, end);
    if (s >= end || *s != '{')
        return -1;
    s = skip_ws(s + 1, end);
    if (s < end && *s == '}')
        return 0;
    while (s < end) {
        if (*s != '"')
            return -1;
        const char *kend = skip_string(s, end);
        if (!kend)
            return -1;
        struct json_span key = {s, (size_t)(kend - s)};
        s = skip_ws(kend, end);
        if (s >= end || *s != ':')
            return -1;
        s = skip_ws(s + 1, end);
        const char *vend = skip_value(s, end);
        if (!vend)
            return -1;
        fn(key, (struct json_span){s, (size_t)(vend - s)}, ctx);
        s = skip_ws(vend, end);
        if (s < end && *s == ',')
            s = skip_ws(s + 1, end);
        else if (s < end && *s == '}')
            return 0;
        else
            return -1;
    }
    return -1;
}

int jsontext_elements(const char *s, size_t n,
                      void (*fn)(struct json_span, void *), void *ctx)
{
    const char *end = s + n;
    s = skip_ws(s, end);
    if (s >= end || *s != '[')
        return -1;
    s = skip_ws(s + 1, end);
    if (s < end && *s == ']')
        return 0;
    while (s < end) {
        const char *vend = skip_value(s, end);
        if (!vend)
            return -1;
        fn((struct json_span){s, (size_t)(vend - s)}, ctx);
        s = skip_ws(vend, end);
        if (s < end && *s == ',')
            s = skip_ws(s + 1, end);
        else if (s < end && *s == ']')
            return 0;
        else
            return -1;
    }
    return -1;
}

bool jsontext_key_is(struct json_span key, const char *name)
{
    size_t len = strlen(name);
    if (!memchr(key.p, '\\', key.n))
        return key.n == len + 2 && memcmp(key.p + 1, name, len) == 0;
    /* Rare: an escaped key.  Let jansson decode it. */
    json_t *k = json_loadb(key.p, key.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool same = k && json_is_string(k) && json_string_length(k) == len &&
                memcmp(json_string_value(k), name, len) == 0;
    json_decref(k);
    return same;
}

void jsontext_put_string(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    grow((void **)&b->data, &b->cap, b->len + n + 3, 1);
    buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\b': buf_puts(b, "\\b"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            buf_puts(b, u);
        }
        }
    }
    buf_put(b, s + run, n - run);
    buf_putc(b, '"');
}
