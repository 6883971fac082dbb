/* http.c — libcurl multi-interface runner with retries and redaction.
 *
 * Each request becomes a transfer that moves WAITING → RUNNING → WAITING
 * (after a transient failure, with a due time) ... → DONE.  One loop starts
 * due transfers while fewer than `concurrency` run, drives curl, and sleeps
 * in curl_multi_poll until a socket is ready or the next retry falls due.
 * Every attempt gets a fresh easy handle; connections and DNS answers are
 * cached by the multi handle, which the client keeps across calls.
 *
 * What the retry policy is (see http.h) lives here; what a status means for
 * a particular API is the caller's business. */
#include "net/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define REDACTED "[redacted]"
#define REDACT_MIN 6 /* bytes of a secret that are never shown */

struct http_client {
    CURLM *multi;
    struct http_options o;
    char **secrets; /* NULL-terminated copies; o.secrets points here */
    uint64_t rng;   /* jitter state */
};

enum transfer_state { T_WAITING, T_RUNNING, T_DONE };

struct transfer {
    struct http_request *req;
    enum transfer_state state;
    CURL *easy;                 /* the running attempt's handle */
    struct curl_slist *headers;
    int attempts;               /* attempts started */
    double due;                 /* monotonic time the next attempt may start */
    double first_start;
    size_t max_bytes;
    bool too_big, write_failed;
    int write_errno;
    char retry_after[64];       /* the last response's headers, "" if none */
    char retry_after_ms[32];
    char content_range[96];
    enum { SINK_UNSET, SINK_DEST, SINK_RESPONSE } sink; /* where this response's
                                   body goes: decided at its first byte */
    long long offset;           /* bytes in dest when the attempt started */
    bool restart;               /* a resumed body came back at the wrong
                                   offset: the retry starts the file over */
    double last_progress;
    char errbuf[CURL_ERROR_SIZE];
};

void http_options_init(struct http_options *o)
{
    memset(o, 0, sizeof *o);
    o->timeout = 60;
    o->retries = 3;
    o->backoff = 1;
    o->backoff_max = 30;
    o->retry_after_max = 60;
    o->concurrency = 4;
    o->max_response = (size_t)64 << 20;
}

/* Standard padded base64 of s[0..n); caller frees. */
static char *base64_encode(const char *s, size_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct buf b = {0};
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        buf_putc(&b, abc[v >> 18 & 63]);
        buf_putc(&b, abc[v >> 12 & 63]);
        buf_putc(&b, i + 1 < n ? abc[v >> 6 & 63] : '=');
        buf_putc(&b, i + 2 < n ? abc[v & 63] : '=');
    }
    buf_putc(&b, 0);
    return b.data;
}

/* Adds to the NULL-terminated list *v (of *n) the secrets of url's
 * userinfo: the password as written and percent-decoded (or, with no
 * password, the user name, often a token), and the base64 "user:password"
 * that Basic authentication sends. */
static void url_secrets(const char *url, char ***v, size_t *n)
{
    CURLU *u = curl_url();
    char *user = NULL, *pass = NULL, *raw = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
        curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
        curl_url_get(u, pass ? CURLUPART_PASSWORD : CURLUPART_USER, &raw, 0);
    }
    if (user || pass) {
        struct buf basic = {0};
        buf_printf(&basic, "%s:%s", user ? user : "", pass ? pass : "");
        const char *add[] = {raw, pass ? pass : user};
        *v = xrealloc(*v, (*n + 4) * sizeof **v);
        for (size_t i = 0; i < 2; i++)
            if (add[i] && add[i][0])
                (*v)[(*n)++] = xstrdup(add[i]);
        (*v)[(*n)++] = base64_encode(basic.data, basic.len);
        (*v)[*n] = NULL;
        buf_free(&basic);
    }
    curl_free(user);
    curl_free(pass);
    curl_free(raw);
    curl_url_cleanup(u);
}

struct http_client *http_client_new(const struct http_options *o, struct err *e)
{
    if (!(o->timeout > 0) || !isfinite(o->timeout))
        return err_set(e, "timeout must be a positive number of seconds"), NULL;
    if (o->connect_timeout < 0 || !isfinite(o->connect_timeout))
        return err_set(e, "connect timeout must not be negative"), NULL;
    if (o->retries < 0)
        return err_set(e, "retries must not be negative"), NULL;
    if (o->concurrency < 1)
        return err_set(e, "concurrency must be at least 1"), NULL;
    if (!(o->backoff >= 0) || !(o->backoff_max >= 0) || !(o->retry_after_max >= 0))
        return err_set(e, "backoff limits must not be negative"), NULL;
    if (o->max_response == 0)
        return err_set(e, "response size limit must be positive"), NULL;
    if (o->cacert && access(o->cacert, R_OK) != 0)
        return err_set(e, "cannot read the CA bundle %s: %s", o->cacert, strerror(errno)), NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return err_set(e, "cannot initialise libcurl"), NULL;

    struct http_client *c = xcalloc(1, sizeof *c);
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        curl_global_cleanup();
        return err_set(e, "cannot initialise libcurl"), NULL;
    }
    c->o = *o;
    size_t n = 0;
    while (o->secrets && o->secrets[n])
        n++;
    c->secrets = xcalloc(n + 1, sizeof *c->secrets);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (o->secrets[i][0])
            c->secrets[k++] = xstrdup(o->secrets[i]);
    if (o->secret_url)
        url_secrets(o->secret_url, &c->secrets, &k);
    c->o.secrets = (const char *const *)c->secrets;
    c->o.cacert = o->cacert ? xstrdup(o->cacert) : NULL;
    c->rng = hash_mix64((uint64_t)getpid() ^ (uint64_t)(now_seconds() * 1e9));
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi);
    for (char **s = c->secrets; *s; s++)
        free(*s);
    free(c->secrets);
    free((char *)c->o.cacert);
    free(c);
    curl_global_cleanup();
}

/* The length of the run at text[0..n) that must not be shown: the longest
 * one of REDACT_MIN or more bytes found anywhere inside a secret, or a whole
 * secret shorter than that; 0 when there is none. */
static size_t secret_run(const struct http_client *c, const char *text, size_t n)
{
    size_t hit = 0;
    for (char *const *s = c ? c->secrets : NULL; s && *s; s++) {
        size_t k = strlen(*s);
        if (k < REDACT_MIN) {
            if (k <= n && k > hit && memcmp(text, *s, k) == 0)
                hit = k;
            continue;
        }
        for (size_t j = 0; j < k && k - j > hit; j++) {
            size_t m = 0;
            while (m < n && j + m < k && text[m] == (*s)[j + m])
                m++;
            if (m >= REDACT_MIN && m > hit)
                hit = m;
        }
    }
    return hit;
}

char *http_redact(const struct http_client *c, const char *text)
{
    struct buf b = {0};
    size_t n = strlen(text), i = 0;
    while (i < n) {
        size_t hit = secret_run(c, text + i, n - i);
        if (hit) {
            buf_puts(&b, REDACTED);
            i += hit;
        } else {
            buf_putc(&b, text[i++]);
        }
    }
    buf_putc(&b, 0);
    return b.data;
}

char *http_one_line(const struct http_client *c, const char *text, size_t len, size_t max)
{
    /* Redact a window long enough to hold any secret that starts before the
     * cut, then cut what is left. */
    size_t longest = 0;
    for (char *const *s = c ? c->secrets : NULL; s && *s; s++)
        longest = strlen(*s) > longest ? strlen(*s) : longest;
    size_t n = len > max && len - max > longest ? max + longest : len;
    char *flat = one_line(text, n, n);
    char *red = http_redact(c, flat);
    char *out = one_line(red, strlen(red), max);
    if (n < len && strlen(red) <= max) {
        size_t k = strlen(out);
        out = xrealloc(out, k + 4);
        memcpy(out + k, "...", 4);
    }
    free(red);
    free(flat);
    return out;
}

int http_parse_retry_after(const char *value, time_t now, double *seconds)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        errno = 0;
        double d = strtod(value, &end);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (errno || *end || !isfinite(d))
            return -1;
        *seconds = d;
        return 0;
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    *seconds = t > now ? difftime(t, now) : 0;
    return 0;
}

bool http_status_is_transient(long status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599 && status != 501);
}

/* Transport failures worth another attempt: the server may answer later.
 * Name resolution, TLS verification and our own write errors are not. */
static bool curl_is_transient(CURLcode res)
{
    switch (res) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* A uniform double in [0, 1) from the client's xorshift state. */
static double rng_uniform(struct http_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (double)(c->rng >> 11) * (1.0 / 9007199254740992.0);
}

/* The URL as shown to the user: without a password in its userinfo.  Caller
 * frees (the result still goes through http_redact before it is shown). */
static char *display_url(const char *url)
{
    CURLU *u = curl_url();
    char *shown = NULL, *out;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK) {
        out = xstrdup(shown);
        curl_free(shown);
    } else {
        out = xstrdup(url);
    }
    curl_url_cleanup(u);
    return out;
}

/* Formats, redacts and hands one line to cb. */
static void emit(const struct http_client *c, void (*cb)(void *, const char *),
                 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void emit(const struct http_client *c, void (*cb)(void *, const char *),
                 const char *fmt, ...)
{
    if (!cb)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *line;
    if (vasprintf(&line, fmt, ap) < 0)
        line = NULL;
    va_end(ap);
    if (!line)
        return;
    char *red = http_redact(c, line);
    cb(c->o.ctx, red);
    free(red);
    free(line);
}

/* The label of a request in lines and errors; caller frees. */
static char *request_label(const struct http_request *r)
{
    if (r->label)
        return xstrdup(r->label);
    char *u = display_url(r->url);
    struct buf b = {0};
    buf_printf(&b, "%s %s", r->method, u);
    free(u);
    return b.data;
}

/* Where a response's body goes: dest for a 2xx when there is one (starting
 * the file over when a resumed request got the whole body, 200, or failing
 * the attempt when a 206 starts elsewhere than asked), else `response`. */
static bool choose_sink(struct transfer *t)
{
    struct http_request *r = t->req;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    t->sink = r->dest && code >= 200 && code <= 299 ? SINK_DEST : SINK_RESPONSE;
    if (t->sink != SINK_DEST || t->offset == 0)
        return true;
    if (code == 206) {
        long long start = -1;
        if (sscanf(t->content_range, "bytes %lld-", &start) != 1 || start != t->offset) {
            t->restart = true;
            return false;
        }
        return true;
    }
    if (fflush(r->dest) != 0 || ftruncate(fileno(r->dest), 0) != 0 ||
        fseeko(r->dest, 0, SEEK_SET) != 0) {
        t->write_failed = true;
        t->write_errno = errno;
        return false;
    }
    t->offset = 0;
    return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    struct http_request *r = t->req;
    size_t len = size * n;
    if (t->sink == SINK_UNSET && !choose_sink(t))
        return 0;
    bool to_dest = t->sink == SINK_DEST;
    size_t have = to_dest ? (size_t)ftello(r->dest) : r->response.len;
    if (len > t->max_bytes || have > t->max_bytes - len) {
        t->too_big = true;
        return 0;
    }
    if (to_dest) {
        if (fwrite(p, 1, len, r->dest) != len) {
            t->write_failed = true;
            t->write_errno = errno;
            return 0;
        }
    } else {
        buf_put(&r->response, p, len);
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct transfer *t = ud;
    struct http_request *r = t->req;
    double now = now_seconds();
    if (t->sink != SINK_DEST || now - t->last_progress < 0.2)
        return 0;
    t->last_progress = now;
    r->progress(r->progress_ctx, (long long)ftello(r->dest),
                dltotal > 0 ? t->offset + (long long)dltotal : -1);
    return 0;
}

/* Copies `value` of header line p into out when its name is `name`. */
static void take_header(const char *p, size_t len, const char *name,
                        char *out, size_t cap)
{
    size_t k = strlen(name);
    if (len <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
        return;
    p += k + 1;
    len -= k + 1;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, p, len);
    out[len] = 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct transfer *t = ud;
    size_t len = size * n;
    if (t->req->keep_headers)
        buf_put(&t->req->resp_headers, p, len);
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 100 Continue or a redirect). */
        t->retry_after[0] = t->retry_after_ms[0] = t->content_range[0] = 0;
        t->sink = SINK_UNSET;
        return len;
    }
    take_header(p, len, "Retry-After", t->retry_after, sizeof t->retry_after);
    take_header(p, len, "retry-after-ms", t->retry_after_ms, sizeof t->retry_after_ms);
    take_header(p, len, "Content-Range", t->content_range, sizeof t->content_range);
    return len;
}

bool http_header(const struct http_request *r, const char *name, char *out, size_t cap)
{
    bool found = false;
    size_t k = strlen(name);
    const char *p = r->resp_headers.data, *end = p ? p + r->resp_headers.len : NULL;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        if (len > k && p[k] == ':' && strncasecmp(p, name, k) == 0) {
            take_header(p, len, name, out, cap);
            found = true;
        }
        p += len;
    }
    if (!found && cap)
        out[0] = 0;
    return found;
}

/* Seconds as curl's milliseconds, clamped to 23 days to fit a 32-bit long. */
static long to_ms(double seconds)
{
    return seconds < 2e6 ? (long)(seconds * 1000) : 2000000000L;
}

/* Creates and adds the easy handle for the transfer's next attempt. */
static int transfer_start(struct http_client *c, struct transfer *t, struct err *e)
{
    struct http_request *r = t->req;
    CURL *h = curl_easy_init();
    if (!h)
        return err_set(e, "cannot create a curl handle");
    double timeout = r->timeout > 0 ? r->timeout : c->o.timeout;
    t->offset = 0;
    if (r->dest && r->resume) {
        /* Continue after what earlier attempts wrote. */
        if (fflush(r->dest) != 0 || fseeko(r->dest, 0, SEEK_END) != 0) {
            curl_easy_cleanup(h);
            return err_set(e, "cannot seek in the output file: %s", strerror(errno));
        }
        t->offset = (long long)ftello(r->dest);
    }
    double connect = c->o.connect_timeout > 0 ? c->o.connect_timeout
                                              : (timeout < 10 ? timeout : 10);
    bool https = strncasecmp(r->url, "https:", 6) == 0;
    bool post = strcmp(r->method, "POST") == 0;

    struct curl_slist *hl = NULL;
    if (post) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        hl = curl_slist_append(hl, "Accept: application/json");
    }
    hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
    for (const char *const *hp = r->headers; hp && *hp; hp++)
        hl = curl_slist_append(hl, *hp);
    if (!hl) {
        curl_easy_cleanup(h);
        return err_set(e, "out of memory for request headers");
    }

    t->errbuf[0] = 0;
    t->too_big = t->write_failed = t->restart = false;
    t->retry_after[0] = t->retry_after_ms[0] = t->content_range[0] = 0;
    t->sink = SINK_UNSET;
    t->last_progress = 0;
    r->resp_headers.len = 0;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)t);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* A redirect never downgrades https to http. */
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
    if (r->stall > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)ceil(r->stall));
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to_ms(timeout));
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, to_ms(connect));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->o.cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->o.cacert);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "rerank/" RERANK_VERSION);
    if (!r->resume) /* byte ranges count the bytes as stored */
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)t);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (t->offset > 0) {
        char range[32];
        snprintf(range, sizeof range, "%lld-", t->offset);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    if (r->dest && r->progress) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)t);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        curl_slist_free_all(hl);
        curl_easy_cleanup(h);
        return err_set(e, "cannot start a transfer");
    }
    if (t->attempts == 0)
        t->first_start = now_seconds();
    t->attempts++;
    t->easy = h;
    t->headers = hl;
    t->state = T_RUNNING;
    return 0;
}

/* Empties the previous attempt's body before a retry (but for what a
 * resumable download keeps).  0, or -1 with the reason in the request's
 * error. */
static int transfer_discard_body(struct transfer *t)
{
    struct http_request *r = t->req;
    r->response.len = 0;
    if (!r->dest || (r->resume && !t->restart))
        return 0;
    if (fflush(r->dest) != 0 || ftruncate(fileno(r->dest), 0) != 0 ||
        fseeko(r->dest, 0, SEEK_SET) != 0) {
        snprintf(r->error, sizeof r->error, "cannot empty the output file for a retry: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Seconds before the next attempt: the server's Retry-After when it sent
 * one (capped), else capped exponential backoff with "equal jitter" (half
 * fixed, half random), so that parallel clients spread out. */
static double retry_delay(struct http_client *c, const struct transfer *t, bool *from_server)
{
    double d;
    *from_server = false;
    if (t->retry_after_ms[0] && http_parse_retry_after(t->retry_after_ms, time(NULL), &d) == 0) {
        d /= 1000;
        *from_server = true;
    } else if (t->retry_after[0] && http_parse_retry_after(t->retry_after, time(NULL), &d) == 0) {
        *from_server = true;
    }
    if (*from_server)
        return d < c->o.retry_after_max ? d : c->o.retry_after_max;
    d = c->o.backoff * ldexp(1.0, t->attempts - 1);
    if (d > c->o.backoff_max)
        d = c->o.backoff_max;
    return d * (0.5 + 0.5 * rng_uniform(c));
}

/* Handles the end of a running attempt: DONE with results filled, or back
 * to WAITING with a due time after a transient failure. */
static void transfer_finish(struct http_client *c, struct transfer *t, CURLcode res)
{
    struct http_request *r = t->req;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(c->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    t->easy = NULL;
    t->headers = NULL;

    /* What went wrong, as a phrase; empty on success. */
    char what[CURL_ERROR_SIZE + 64] = "";
    bool transient = false;
    if (t->restart) {
        snprintf(what, sizeof what, "the server resumed at another offset than asked");
        transient = true;
    } else if (t->too_big) {
        snprintf(what, sizeof what, "response larger than %zu bytes", t->max_bytes);
    } else if (t->write_failed) {
        snprintf(what, sizeof what, "cannot write the response: %s", strerror(t->write_errno));
    } else if (res != CURLE_OK) {
        snprintf(what, sizeof what, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(res));
        transient = curl_is_transient(res);
        status = 0;
    } else if (status < 200 || status > 299) {
        snprintf(what, sizeof what, "HTTP %ld", status);
        transient = http_status_is_transient(status);
    }

    r->status = status;
    r->timed_out = res == CURLE_OPERATION_TIMEDOUT;
    r->n_retries = t->attempts - 1;
    char *label = request_label(r);
    if (what[0] && transient && t->attempts <= c->o.retries) {
        bool from_server;
        double d = retry_delay(c, t, &from_server);
        long long kept = r->dest && r->resume && !t->restart ? (long long)ftello(r->dest) : 0;
        if (transfer_discard_body(t) == 0) {
            char resuming[64] = "";
            if (kept > 0)
                snprintf(resuming, sizeof resuming, "; resuming after %lld bytes", kept);
            emit(c, c->o.on_retry, "%s: %s%s; retry %d of %d in %.2f s%s", label, what,
                 resuming, t->attempts, c->o.retries, d, from_server ? " (Retry-After)" : "");
            t->due = now_seconds() + d;
            t->state = T_WAITING;
            free(label);
            return;
        }
        what[0] = 0; /* r->error already says why */
    }

    r->seconds = now_seconds() - t->first_start;
    r->ok = !what[0] && !r->error[0];
    if (what[0]) {
        char full[sizeof what + 32];
        if (r->n_retries)
            snprintf(full, sizeof full, "%s after %d %s", what, r->n_retries,
                     r->n_retries == 1 ? "retry" : "retries");
        else
            snprintf(full, sizeof full, "%s", what);
        char *red = http_redact(c, full);
        snprintf(r->error, sizeof r->error, "%s", red);
        free(red);
    }
    if (!r->dest || r->response.len)
        buf_putc(&r->response, 0), r->response.len--;
    if (c->o.on_trace) {
        char *u = display_url(r->url);
        size_t got = r->dest ? (size_t)ftello(r->dest) : r->response.len;
        const char *plural = r->n_retries == 1 ? "retry" : "retries";
        if (status)
            emit(c, c->o.on_trace, "%s %s: HTTP %ld, %zu bytes in %.3f s, %d %s", r->method,
                 u, status, got, r->seconds, r->n_retries, plural);
        else
            emit(c, c->o.on_trace, "%s %s: no answer (%s) in %.3f s, %d %s", r->method, u,
                 r->error, r->seconds, r->n_retries, plural);
        free(u);
    }
    t->state = T_DONE;
    free(label);
}

int http_run(struct http_client *c, struct http_request *reqs, size_t n, struct err *e)
{
    struct transfer *ts = xcalloc(n ? n : 1, sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        struct http_request *r = &reqs[i];
        r->ok = false;
        r->timed_out = false;
        r->status = 0;
        r->response.len = 0;
        r->n_retries = 0;
        r->seconds = 0;
        r->error[0] = 0;
        ts[i].req = r;
        ts[i].state = T_WAITING;
        ts[i].max_bytes = r->max_bytes ? r->max_bytes : c->o.max_response;
    }

    size_t done = 0, running = 0;
    int rc = 0;
    while (done < n) {
        /* Start what is due, in request order, while there is room. */
        double now = now_seconds(), wake = INFINITY;
        for (size_t k = 0; k < n; k++) {
            struct transfer *t = &ts[k];
            if (t->state != T_WAITING)
                continue;
            if (t->due > now) {
                wake = fmin(wake, t->due);
                continue;
            }
            if (running >= (size_t)c->o.concurrency)
                continue; /* a finishing transfer wakes the poll */
            if (transfer_start(c, t, e) != 0) {
                rc = -1;
                goto out;
            }
            running++;
        }

        int still;
        if (curl_multi_perform(c->multi, &still) != CURLM_OK) {
            rc = err_set(e, "curl_multi_perform failed");
            goto out;
        }
        CURLMsg *m;
        int left;
        bool finished = false;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct transfer *t;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            transfer_finish(c, t, m->data.result);
            running--;
            if (t->state == T_DONE)
                done++;
            finished = true;
        }
        if (done == n || finished)
            continue;

        /* Sleep until a socket is ready, curl's own timer fires, or the
         * next retry is due (curl_multi_poll takes the soonest). */
        long ms = 1000;
        if (isfinite(wake))
            ms = (long)fmax(0, fmin(1000, ceil((wake - now_seconds()) * 1000)));
        if (curl_multi_poll(c->multi, NULL, 0, (int)ms, NULL) != CURLM_OK) {
            rc = err_set(e, "curl_multi_poll failed");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        rc += !reqs[i].ok;
out:
    for (size_t i = 0; i < n; i++) {
        if (ts[i].easy) {
            curl_multi_remove_handle(c->multi, ts[i].easy);
            curl_easy_cleanup(ts[i].easy);
            curl_slist_free_all(ts[i].headers);
        }
    }
    free(ts);
    return rc;
}

char *http_error_message(const struct http_client *c, const char *body, size_t len)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *err = json_object_get(root, "error"), *v;
    char *text = NULL;
    const char *p = NULL;
    size_t n = 0;
    if (json_is_string(v = json_object_get(err, "message")) ||
        json_is_string(v = json_object_get(root, "message")) ||
        json_is_string(v = json_object_get(root, "detail")) || json_is_string(v = err)) {
        p = json_string_value(v);
        n = json_string_length(v);
    } else if ((v = json_object_get(root, "detail"))) {
        p = text = json_dumps(v, JSON_COMPACT); /* FastAPI's list of problems */
        n = text ? strlen(text) : 0;
    } else if (!root && len && body[0] != '<') {
        p = body;
        n = len;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\t'))
        n--;
    char *msg = n ? http_one_line(c, p, n, 300) : NULL;
    free(text);
    json_decref(root);
    return msg;
}

char *http_url_host(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *out;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        struct buf b = {0};
        buf_puts(&b, host);
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            buf_printf(&b, ":%s", port);
        out = b.data;
    } else {
        out = xstrdup(url);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

bool http_url_ok(const char *url)
{
    return !has_control_byte(url) && !strchr(url, ' ') &&
           (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

int http_pick_key(const char *own_var, const char *provider_var, bool custom,
                  const char **key, const char **key_var, struct err *e)
{
    *key_var = NULL;
    if ((*key = env_nonempty(own_var)))
        *key_var = own_var;
    else if (!custom && (*key = env_nonempty(provider_var)))
        *key_var = provider_var;
    if (*key && has_control_byte(*key))
        return err_set(e, "%s contains a control character", *key_var);
    return 0;
}

char *http_redactv(const struct http_client *c, const char *fmt, va_list ap)
{
    char *text;
    if (vasprintf(&text, fmt, ap) < 0)
        return NULL;
    char *red = http_redact(c, text);
    free(text);
    return red;
}

int http_err_set(const struct http_client *c, struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *red = http_redactv(c, fmt, ap);
    va_end(ap);
    err_set(e, "%s", red ? red : "out of memory");
    free(red);
    return -1;
}
