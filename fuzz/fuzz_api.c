/* fuzz_api — what rerank APIs answer (src/net/api.c, src/net/http.c): the answer
 * body of every provider's wire format for a request of three documents
 * (each document covered exactly once, a finite score each), the error
 * text pulled from a failed answer's body, and a Retry-After value.
 *
 * The input is the body.  Messages go through the client's redaction with
 * a key set, and must never show any 6-byte piece of it. */
#include <math.h>

#include "fuzz.h"
#include "net/api.h"
#include "fuzz_http.h"

static struct http_client *http;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    http = fuzz_http_client();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    const char *name;
    for (size_t p = 0; (name = api_provider_name(p)); p++) {
        double scores[3];
        struct err e = {0};
        if (api_parse_answer(name, http, body, size, 3, scores, &e) == 0) {
            for (int i = 0; i < 3; i++)
                if (!isfinite(scores[i]))
                    abort();
        } else if (!e.msg[0] || fuzz_shows_secret(e.msg)) {
            abort();
        }
    }
    char *msg = http_error_message(http, body, size);
    if (msg && fuzz_shows_secret(msg))
        abort();
    free(msg);
    char *text = strndup(body, size);
    double seconds;
    if (http_parse_retry_after(text, 1700000000, &seconds) == 0 &&
        (!isfinite(seconds) || seconds < 0))
        abort();
    free(text);
    return 0;
}
