/* fuzz_http.h — the HTTP client the answer-parsing targets share
 * (fuzz_api.c, fuzz_llm.c).  It never connects: it carries FUZZ_SECRET as
 * a key to redact, and the targets check that no message shows any piece
 * of it. */
#ifndef RERANK_FUZZ_HTTP_H
#define RERANK_FUZZ_HTTP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"

#define FUZZ_SECRET "sk-fuzz-0123456789abcdef"

static inline struct http_client *fuzz_http_client(void)
{
    struct http_options o;
    http_options_init(&o);
    const char *secrets[] = {FUZZ_SECRET, NULL};
    o.secrets = secrets;
    struct err e;
    struct http_client *http = http_client_new(&o, &e);
    if (!http) {
        fprintf(stderr, "fuzz: %s\n", e.msg);
        abort();
    }
    return http;
}

/* Whether text shows any piece of 6 or more bytes of FUZZ_SECRET (what
 * http_redact promises never to let through). */
static inline bool fuzz_shows_secret(const char *text)
{
    const char *k = FUZZ_SECRET;
    for (size_t i = 0; i + 6 <= strlen(k); i++)
        if (memmem(text, strlen(text), k + i, 6))
            return true;
    return false;
}

#endif
