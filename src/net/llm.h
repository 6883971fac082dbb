/* llm.h — LLM rerankers over OpenAI-compatible chat completions, as a scorer.
 *
 * Two modes (facts in shared/reference/rerank-apis.md §12–§14):
 *
 *   listwise   RankGPT: the window's passages go to the model numbered
 *              [1]..[m] in RankGPT's multi-turn prompt; its answer
 *              ("[3] > [1] > [2]") reorders the window.  Windows of `window`
 *              passages slide from the bottom of the list to the top,
 *              `step` at a time, so the best passages bubble up.  The input
 *              order is the initial ranking.  Scores are rank-derived:
 *              score = n - rank + 1 (rank 1 is the best), so n .. 1.
 *   pointwise  one request per passage asking whether it answers the query
 *              (RankGPT's relevance-generation prompt), max_tokens 1, with
 *              the top-20 log-probabilities of the answer token:
 *              score = P(yes) / (P(yes) + P(no)), each summed over the
 *              spellings yes/Yes/YES and no/No/NO (rank_llm), 0 when neither
 *              is among them.  Without logprobs in the answer, the answer
 *              text decides: yes → 1, no → 0, anything else → 0.5.
 *
 * Keys come from the environment only.  RERANK_LLM_API_KEY wins over
 * OPENAI_API_KEY; OPENAI_API_KEY is sent only to the default OpenAI endpoint
 * (url NULL), never to a custom url, so it cannot leak to a local or
 * third-party server.  The default endpoint without a key is an error at
 * creation (except for a dry run, which sends nothing); a custom url may run
 * keyless.  Timeouts, retries, Retry-After and key redaction are http.c's.
 *
 * Left to others: option parsing and printing (main.c, through `notify` and
 * `on_body`), what to do with a failed group (main.c). */
#ifndef RERANK_LLM_H
#define RERANK_LLM_H

#include <stdbool.h>
#include <stddef.h>

#include "scorer.h"
#include "util.h"

#define LLM_DEFAULT_URL "https://api.openai.com/v1/chat/completions"
#define LLM_DEFAULT_MODEL "gpt-4o-mini"

enum llm_mode { LLM_LISTWISE, LLM_POINTWISE };

struct llm_options {
    enum llm_mode mode;
    const char *url;     /* chat completions endpoint; NULL: LLM_DEFAULT_URL */
    const char *model;   /* NULL: LLM_DEFAULT_MODEL at the default endpoint,
                            no model field with a custom url (llama.cpp and
                            vLLM then use the model they serve) */
    const char *cacert;  /* PEM bundle; NULL: the system store */
    int window;          /* listwise: passages per request, >= 2 (20) */
    int step;            /* listwise: window stride, 1..window (10) */
    int passage_words;   /* each passage cut to its first N whitespace-
                            separated words, >= 1 (300, RankGPT's) */
    int retries;         /* per request, for transient HTTP failures, and
                            again for malformed listwise answers (3) */
    double timeout;      /* seconds per attempt (60) */
    int concurrency;     /* pointwise requests in flight (4); listwise
                            windows depend on each other and go one by one */
    bool verbose;        /* a line per request (method, URL, status, time);
                            in a dry run, a line per request that would go */
    bool quiet;          /* no line per retry */
    bool dry_run;        /* send nothing: report the requests (see below)
                            and score in input order (n .. 1) */
    /* Receives each line (already redacted, no "rerank: " prefix, no
     * newline): retries, warnings (an answer left unusable), dry-run
     * reports.  NULL drops them. */
    void (*notify)(void *ctx, const char *line);
    /* Dry run only: receives each request that would be sent, its label
     * ("llm for query q1, window 81-100") and its JSON body (compact, no
     * key: headers are not part of it).  NULL: not called. */
    void (*on_body)(void *ctx, const char *label, const char *body);
    void *notify_ctx;    /* passed to notify and on_body */
    /* Not on the command line; tests shorten them. */
    double backoff;         /* first retry delay, seconds, doubling */
    double backoff_max;     /* cap on that delay */
    double retry_after_max; /* cap on a server's Retry-After */
};

/* Fills the defaults: listwise, window 20, step 10, 300 words, 3 retries,
 * 60 s, 4 in flight, backoff 1 s up to 30 s, Retry-After up to 60 s; the
 * rest NULL/0/false. */
void llm_options_init(struct llm_options *o);

/* Creates the scorer, or NULL with e filled (bad url, numbers or model name,
 * a missing key for the default endpoint, a key with control bytes). */
struct scorer *llm_scorer_new(const struct llm_options *o, struct err *e);

/* Estimated prompt tokens of a request: for each message, ceil(bytes of its
 * content / 4) + 3, plus 3 for the reply's priming (OpenAI's rule of thumb
 * of ~4 characters a token, and its per-message overhead).  What the dry
 * run reports. */
size_t llm_estimate_tokens(const size_t *content_bytes, size_t n_messages);

/* Reads a listwise answer for a window of m passages the way RankGPT and
 * rank_llm do: only the text after the last "</think>" counts; superscript,
 * subscript, circled, dingbat and full-width digits count as digits; every
 * maximal digit run is an id (1-based); repeats and ids outside 1..m are
 * dropped; the ids never named follow in their previous order.  Fills
 * perm[0..m) with a permutation of 0..m-1 (perm[r] = the window position
 * ranked r-th) and returns how many ids came from the answer: 0 means the
 * answer held no usable ranking (perm is then the identity). */
size_t llm_parse_permutation(const char *text, size_t m, size_t *perm);

struct http_client;

/* Reads one chat-completion answer body as the scorer does.  Listwise: the
 * ranking of a window of m passages into perm[0..m), returning how many ids
 * came from the answer (see llm_parse_permutation).  Pointwise: the score
 * into *score, returning 1 when the answer decided it (log-probabilities,
 * yes or no), 0 when it was scored 0.5.  -1 with e (redacted through http)
 * when the body is not a chat completion.  Exposed for the fuzz target. */
long llm_parse_answer(enum llm_mode mode, const struct http_client *http,
                      const char *body, size_t len, size_t m, size_t *perm,
                      double *score, struct err *e);

#endif
