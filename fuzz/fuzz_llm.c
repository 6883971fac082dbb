/* fuzz_llm — what an LLM answers (src/net/llm.c): a chat completion read as the
 * listwise scorer reads it (RankGPT's "[3] > [1] > [2]" for a window of 20
 * passages, digits in every Unicode form, text after </think>) and as the
 * pointwise scorer reads it (top log-probabilities of yes/no, else the
 * answer's first word).
 *
 * The input is the body.  The ranking must be a permutation of the window;
 * the score a probability; messages never show the key. */
#include <math.h>

#include "fuzz.h"
#include "fuzz_http.h"
#include "net/llm.h"

#define WINDOW 20

static struct http_client *http;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    http = fuzz_http_client();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    size_t perm[WINDOW];
    double score = -1;
    struct err e = {0};
    long n = llm_parse_answer(LLM_LISTWISE, http, body, size, WINDOW, perm, &score, &e);
    if (n < 0) {
        if (!e.msg[0] || fuzz_shows_secret(e.msg))
            abort();
    } else {
        unsigned char seen[WINDOW] = {0};
        if (n > WINDOW)
            abort();
        for (size_t i = 0; i < WINDOW; i++) {
            if (perm[i] >= WINDOW || seen[perm[i]])
                abort();
            seen[perm[i]] = 1;
        }
    }
    n = llm_parse_answer(LLM_POINTWISE, http, body, size, 1, perm, &score, &e);
    if (n >= 0 && !(score >= 0 && score <= 1))
        abort();
    return 0;
}
