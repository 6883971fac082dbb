/* api.h — hosted and self-hosted rerank APIs as a scorer.
 *
 * One scorer per run: api_scorer_new() checks the options and the key before
 * any request; score() sends the group's documents (split into requests of
 * at most `batch` documents, sent concurrently through http.c), checks that
 * every answer covers its documents exactly once with finite scores, and
 * writes the service's scores, untouched, to g->cands[i].score.
 *
 * Keys come from the environment only.  RERANK_API_KEY wins over the
 * provider's own variable (COHERE_API_KEY, ...), so that a key meant for
 * rerank overrides one exported for other tools; the provider's variable is
 * sent only to the provider's own endpoint, never to an --api-url, so a
 * Cohere key cannot leak to a local or third-party server.  A hosted
 * provider at its own endpoint without a key is an error at creation;
 * self-hosted servers (tei, or any --api-url) may run without one.
 *
 * Left to others: option parsing (main.c), what to do with a failed group
 * (main.c, --keep-going), and printing: lines go to `notify`. */
#ifndef RERANK_API_H
#define RERANK_API_H

#include <stdbool.h>

#include "scorer.h"
#include "util.h"

struct api_options {
    const char *provider; /* "cohere", "cohere-v2", "jina", "voyage",
                             "mixedbread", "together", "pinecone", "tei" */
    const char *url;      /* endpoint; NULL: the provider's own */
    const char *model;    /* NULL: the provider's default at its own
                             endpoint, no model field with an --api-url */
    const char *cacert;   /* PEM bundle; NULL: the system store */
    int batch;            /* documents per request; 0: the provider's limit */
    int concurrency;      /* requests in flight; >= 1 */
    int retries;          /* retries per request; >= 0 */
    double timeout;       /* seconds per attempt; > 0 */
    bool verbose;         /* a line per request (method, URL, status, time) */
    bool quiet;           /* no line per retry */
    /* Receives each line (already redacted, no "rerank: " prefix, no
     * newline); NULL drops them. */
    void (*notify)(void *ctx, const char *line);
    void *notify_ctx;
    /* Not on the command line; tests shorten them. */
    double backoff;         /* first retry delay, seconds, doubling */
    double backoff_max;     /* cap on that delay */
    double retry_after_max; /* cap on a server's Retry-After */
};

/* Fills the defaults: 4 in flight, 3 retries, 60 s timeout, backoff 1 s up
 * to 30 s, Retry-After honoured up to 60 s; provider and the rest NULL/0. */
void api_options_init(struct api_options *o);

/* Creates the scorer, or NULL with e filled (unknown provider, bad URL or
 * numbers, missing key for a hosted provider, a key with control bytes). */
struct scorer *api_scorer_new(const struct api_options *o, struct err *e);

/* The i-th provider name, NULL past the end (for --help and errors). */
const char *api_provider_name(size_t i);

struct http_client;

/* Reads one answer body of `provider`'s wire format to a request of m
 * documents into scores[0..m) (request order), as the scorer does: every
 * document covered exactly once with a finite score.  Messages go through
 * http's redaction.  0, or -1 with e.  (The scorer's own path; exposed for
 * the fuzz target.) */
int api_parse_answer(const char *provider, const struct http_client *http,
                     const char *body, size_t len, size_t m, double *scores,
                     struct err *e);

#endif
