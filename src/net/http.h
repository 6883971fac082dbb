/* http.h — HTTP for the network scorers, LLM clients and model downloads.
 *
 * A thin layer over libcurl's multi interface: http_run() takes an array of
 * requests and runs them with at most `concurrency` in flight, retrying what
 * is transient (connection errors, timeouts, 408, 429, 5xx but 501) with
 * capped exponential backoff and jitter, or after the server's Retry-After
 * (delta-seconds or HTTP-date, capped).  400, 401, 403, 404, 422 and every
 * other status are final.  TLS peers are always verified; proxies come from
 * the environment as libcurl reads them (http_proxy, https_proxy, no_proxy).
 *
 * Left to callers: building bodies and headers, and deciding what a final
 * status means.  Downloads to a file may resume a dropped transfer with a
 * range request and report progress.  This module never prints: a line per
 * retry and, when asked, a line per finished request go to callbacks, and
 * every text that may reach the user (those lines and each request's
 * `error`) has first been through http_redact() with the client's secrets,
 * so an API key never appears. */
#ifndef RERANK_HTTP_H
#define RERANK_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "util.h"

struct http_options {
    double timeout;         /* seconds per attempt, whole transfer; > 0 */
    double connect_timeout; /* seconds; 0: the smaller of timeout and 10 */
    int retries;            /* attempts after the first; >= 0 */
    double backoff;         /* first computed delay, seconds; doubles per retry */
    double backoff_max;     /* cap on the computed delay (before jitter) */
    double retry_after_max; /* cap on a server's Retry-After */
    int concurrency;        /* transfers in flight; >= 1 */
    size_t max_response;    /* body cap in bytes; a larger body fails */
    const char *cacert;     /* PEM bundle to verify peers; NULL: system store */
    const char *const *secrets; /* NULL-terminated texts never to show (copied) */
    const char *secret_url; /* a URL whose userinfo is secret too: its password
                               (or a lone user name), also percent-decoded,
                               and the base64 form Basic auth sends; may be NULL */
    /* One line per retry ("cohere request 2/3: HTTP 503; retry 1 of 3 in
     * 1.4 s"), without prefix or newline; NULL to drop them. */
    void (*on_retry)(void *ctx, const char *line);
    /* One line per finished request: method, URL, status, size, latency,
     * retries; NULL when not verbose. */
    void (*on_trace)(void *ctx, const char *line);
    void *ctx;
};

/* Defaults for what has no natural zero: timeout 60 s, 3 retries, backoff
 * 1 s doubling up to 30 s, Retry-After up to 60 s, 4 in flight, 64 MiB. */
void http_options_init(struct http_options *o);

struct http_request {
    /* Set by the caller; nothing is copied, all must outlive http_run(). */
    const char *method;         /* "GET" or "POST" (a JSON body) */
    const char *url;            /* http:// or https:// */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated;
                                   may be NULL */
    const char *body;           /* POST body and its length */
    size_t body_len;
    const char *label;          /* names the request in lines and errors;
                                   NULL: method and URL */
    FILE *dest;                 /* when set, a 2xx body is written here (a
                                   regular file, opened for update, emptied
                                   before each retry) instead of `response`,
                                   which keeps an error body; GETs follow
                                   redirects */
    bool resume;                /* with dest: a retry keeps the bytes already
                                   written and asks for the rest (Range); a
                                   server answering 200 starts the file over */
    size_t max_bytes;           /* body cap; 0: the client's max_response */
    double timeout;             /* seconds per attempt; 0: the client's */
    double stall;               /* > 0: no limit on the whole attempt (large
                                   downloads); one receiving less than 1 byte/s
                                   for this many seconds fails instead */
    bool keep_headers;          /* fill resp_headers (see http_header) */
    /* With dest: called at most 5 times a second while the body arrives,
     * with the bytes in dest and the expected total (-1: unknown). */
    void (*progress)(void *ctx, long long have, long long total);
    void *progress_ctx;

    /* Filled by http_run(). */
    bool ok;                    /* a 2xx status and the whole body received */
    long status;                /* final HTTP status; 0 when none arrived */
    struct buf response;        /* final body, NUL-terminated (len excludes
                                   it); caller frees with buf_free */
    bool timed_out;             /* the last attempt ran out of time */
    int n_retries;              /* retries made */
    double seconds;             /* from the first attempt to the last answer */
    char error[512];            /* "" when ok; else a redacted phrase such as
                                   "HTTP 503 after 3 retries" */
    struct buf resp_headers;    /* keep_headers: the last attempt's header
                                   lines, every response of its redirect chain;
                                   caller frees with buf_free */
};

struct http_client;

/* Validates the options and creates a client (its connection cache is kept
 * across http_run calls).  NULL with e filled on failure. */
struct http_client *http_client_new(const struct http_options *o, struct err *e);
void http_client_free(struct http_client *c);

/* Runs the n requests, at most `concurrency` at a time, each with its own
 * retries, and fills their result fields.  Returns how many are not ok;
 * -1 with e filled only when the transfers could not be run at all. */
int http_run(struct http_client *c, struct http_request *reqs, size_t n,
             struct err *e);

/* The value of response header `name` (case-insensitive) in r's
 * resp_headers, from the last response of the redirect chain that sent it,
 * blanks trimmed, into out (cut to cap - 1 bytes).  Returns whether found. */
bool http_header(const struct http_request *r, const char *name, char *out, size_t cap);

/* A copy of text in which every run of 6 or more bytes that occurs inside one
 * of the client's secrets (a whole key, a key cut short by someone else's
 * truncation such as jansson's "near '...'", or any other piece of it), and
 * every whole secret shorter than that, is replaced by "[redacted]".  c may
 * be NULL (nothing to redact).  Caller frees. */
char *http_redact(const struct http_client *c, const char *text);

/* text[0..len) as one line (control bytes as spaces) of at most max bytes
 * plus "..." when cut, redacted BEFORE it is cut, so that a secret
 * straddling the cut shows no part of itself.  Caller frees. */
char *http_one_line(const struct http_client *c, const char *text, size_t len, size_t max);

/* printf-style formatting, then http_redact: the text of any message that
 * may hold a server's words.  Caller frees; NULL when out of memory. */
char *http_redactv(const struct http_client *c, const char *fmt, va_list ap);

/* Formats, redacts and stores a message in e; returns -1. */
int http_err_set(const struct http_client *c, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The service's own error text from an error body, in the order of
 * rerank-apis.md §14 (error.message, message, detail — FastAPI's list of
 * problems as compact JSON —, error as a string, else the raw body unless
 * it is HTML), redacted and then cut to one line of at most about 300
 * bytes; NULL when there is none.  Caller frees. */
char *http_error_message(const struct http_client *c, const char *body, size_t len);

/* Picks the API key from the environment: own_var (RERANK_API_KEY,
 * RERANK_LLM_API_KEY) wins when set; the provider's variable is used only
 * when the request goes to the provider's own endpoint (custom false), so a
 * vendor key never reaches another server.  Sets *key (NULL: none) and
 * *key_var.  Returns 0, or -1 with e when the key holds a control byte. */
int http_pick_key(const char *own_var, const char *provider_var, bool custom,
                  const char **key, const char **key_var, struct err *e);

/* host[:port] of url, for messages (the url itself when unparsable); caller
 * frees. */
char *http_url_host(const char *url);

/* Whether url is usable as an endpoint: http:// or https://, no spaces or
 * control bytes. */
bool http_url_ok(const char *url);

/* Seconds to wait per a Retry-After value: delta-seconds or an HTTP-date
 * (then relative to `now`, never negative).  0, or -1 when unparsable. */
int http_parse_retry_after(const char *value, time_t now, double *seconds);

/* True for the statuses that http_run retries. */
bool http_status_is_transient(long status);

#endif
