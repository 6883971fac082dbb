/* jsontext.h — walking and writing JSON as text.
 *
 * The writers keep every input field byte for byte (a number spelled 0.1
 * stays 0.1), so they copy members out of the original text instead of
 * re-serialising a parsed tree.  These functions walk text that jansson has
 * already accepted as valid JSON; on anything else they stop (return -1). */
#ifndef RERANK_JSONTEXT_H
#define RERANK_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct json_span {
    const char *p;
    size_t n;
};

/* Calls fn(key, value, ctx) for each member of the object text s[0..n), in
 * order; key is the quoted key as written (quotes included), value the
 * member's value text.  Returns 0, or -1 if s is not an object. */
int jsontext_members(const char *s, size_t n,
                     void (*fn)(struct json_span key, struct json_span value,
                                void *ctx),
                     void *ctx);

/* Calls fn(element, ctx) for each element of the array text s[0..n). */
int jsontext_elements(const char *s, size_t n,
                      void (*fn)(struct json_span elem, void *ctx), void *ctx);

/* Whether the quoted key text equals name (escapes in the key decoded). */
bool jsontext_key_is(struct json_span key, const char *name);

/* Appends s[0..n) to b as a JSON string literal, quotes included. */
void jsontext_put_string(struct buf *b, const char *s, size_t n);

#endif
