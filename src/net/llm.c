/* llm.c — listwise (RankGPT) and pointwise (yes/no) reranking with an LLM
 * behind an OpenAI-compatible chat completions endpoint.
 *
 * Facts, prompts and defaults come from shared/reference/rerank-apis.md
 * (section numbers in the comments).  The transport is http.c: timeouts,
 * retries of transient failures, Retry-After, redaction.  This file builds
 * the prompts, reads the answers (a permutation, or yes/no log-probabilities),
 * retries malformed listwise answers, and turns the outcome into scores.
 *
 * Listwise windows run one after the other (each starts from the order the
 * previous one left); pointwise requests for a group run concurrently.  A
 * dry run builds every request as it would be sent and reports it instead. */
#include "net/llm.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "net/http.h"

#define RERANK_LLM_API_KEY "RERANK_LLM_API_KEY"
#define OPENAI_API_KEY "OPENAI_API_KEY"
#define TOP_LOGPROBS 20  /* OpenAI's maximum, llama.cpp's default (§13) */
#define ANSWER_TOKENS_PER_ID 4 /* "[12] > " in a BPE vocabulary, roughly */

/* §12: RankGPT's prompt (rank_gpt.py), the space before each \n included. */
#define RANKGPT_SYSTEM                                                        \
    "You are RankGPT, an intelligent assistant that can rank passages based " \
    "on their relevancy to the query."
#define RANKGPT_PREFIX                                                        \
    "I will provide you with %zu passages, each indicated by number "         \
    "identifier []. \nRank the passages based on their relevance to query: "
#define RANKGPT_PREFIX_END "."
#define RANKGPT_READY "Okay, please provide the passages."
#define RANKGPT_RECEIVED "Received passage [%zu]."
#define RANKGPT_POST_START "Search Query: "
#define RANKGPT_POST                                                          \
    ". \nRank the %zu passages above based on their "                         \
    "relevance to the search query. The passages should be listed in "        \
    "descending order using identifiers. The most relevant passages should "  \
    "be listed first. The output format should be [] > [], e.g., [1] > [2]. " \
    "Only response the ranking results, do not say any word or explain."
/* §13: RankGPT's relevance-generation prompt (pointwise.py), zero-shot. */
#define RELEVANCE_PROMPT                                                      \
    "Given a passage and a question, predict whether the passage includes "   \
    "an answer to the question by producing either `Yes` or `No`.\n"          \
    "Passage: %s\nQuery: "
#define RELEVANCE_PROMPT_END "\nDoes the passage answer the query?\nAnswer:"

struct llm_scorer {
    struct scorer base;
    enum llm_mode mode;
    char *url;
    char *model;             /* NULL: no model field */
    const char *key_var;     /* where the key came from; NULL: none sent */
    bool custom_url;
    size_t window, step, passage_words;
    int retries;
    double timeout;
    bool verbose, quiet, dry_run;
    void (*notify)(void *ctx, const char *line);
    void (*on_body)(void *ctx, const char *label, const char *body);
    void *ctx;
    char *headers[2];        /* NULL-ended: the auth line when there is a key */
    struct http_client *http;
    /* Dry-run totals over the groups seen so far. */
    size_t dry_groups, dry_requests, dry_prompt_tokens, dry_answer_tokens;
};

void llm_options_init(struct llm_options *o)
{
    struct http_options h;
    http_options_init(&h);
    memset(o, 0, sizeof *o);
    o->mode = LLM_LISTWISE;
    o->window = 20;        /* §12: RankGPT and rank_llm defaults */
    o->step = 10;
    o->passage_words = 300;
    o->retries = h.retries;
    o->timeout = h.timeout;
    o->concurrency = h.concurrency;
    o->backoff = h.backoff;
    o->backoff_max = h.backoff_max;
    o->retry_after_max = h.retry_after_max;
}

size_t llm_estimate_tokens(const size_t *content_bytes, size_t n_messages)
{
    size_t t = 3;
    for (size_t i = 0; i < n_messages; i++)
        t += (content_bytes[i] + 3) / 4 + 3;
    return t;
}

/* ---- lines to the user ------------------------------------------------- */

/* Formats a line, redacts it, hands it to notify. */
static void say(const struct llm_scorer *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const struct llm_scorer *s, const char *fmt, ...)
{
    if (!s->notify)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *red = http_redactv(s->http, fmt, ap);
    va_end(ap);
    if (red)
        s->notify(s->ctx, red);
    free(red);
}

/* Fills e for a request that did not succeed; returns -1. */
static int request_failed(const struct llm_scorer *s, const struct http_request *r,
                          struct err *e)
{
    char *msg = r->status ? http_error_message(s->http, r->response.data, r->response.len) : NULL;
    char hint[256] = "";
    switch (r->status) {
    case 401:
    case 403:
        if (s->key_var)
            snprintf(hint, sizeof hint, "check %s", s->key_var);
        else if (s->custom_url && getenv(OPENAI_API_KEY))
            snprintf(hint, sizeof hint, "no key was sent (" OPENAI_API_KEY " goes only to "
                     LLM_DEFAULT_URL "); set " RERANK_LLM_API_KEY);
        else
            snprintf(hint, sizeof hint, "no key was sent; set " RERANK_LLM_API_KEY);
        break;
    case 404:
        snprintf(hint, sizeof hint, "check --llm-url and --llm-model");
        break;
    case 429:
        snprintf(hint, sizeof hint, "rate limited; lower the concurrency or raise --retries");
        break;
    default:
        if (r->timed_out)
            snprintf(hint, sizeof hint, "no answer within --timeout %g s", s->timeout);
    }
    http_err_set(s->http, e, "%s: %s%s%s%s%s", r->label, r->error, msg ? ": " : "", msg ? msg : "",
         hint[0] ? "; " : "", hint);
    free(msg);
    return -1;
}

/* ---- prompts ------------------------------------------------------------ */

/* Python's str.isspace() for one code point: what str.split() splits on. */
static bool is_py_space(utf8proc_int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ' '.join(text.split()[:max_words]) as RankGPT cuts a passage (§12), into
 * out (emptied first). */
static void passage_cut(struct buf *out, const char *text, size_t len, size_t max_words)
{
    out->len = 0;
    size_t words = 0, i = 0;
    bool in_word = false;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                              (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) /* not UTF-8: a byte of a word; json_stringn refuses it */
            k = 1, c = 'x';
        if (is_py_space(c)) {
            in_word = false;
        } else {
            if (!in_word) {
                if (words == max_words)
                    break;
                if (words++)
                    buf_putc(out, ' ');
                in_word = true;
            }
            buf_put(out, text + i, (size_t)k);
        }
        i += (size_t)k;
    }
    buf_putc(out, 0);
    out->len--;
}

/* Appends {"role": role, "content": text} to msgs.  -1 when text is not
 * UTF-8. */
static int message_add(json_t *msgs, const char *role, const char *text, size_t len)
{
    json_t *content = json_stringn(text, len);
    if (!content)
        return -1;
    json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", role, "content", content));
    return 0;
}

/* Appends a message formatted from fmt. */
static int message_addf(json_t *msgs, const char *role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int message_addf(json_t *msgs, const char *role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = message_add(msgs, role, text, (size_t)n);
    free(text);
    return rc;
}

/* Appends a message: head, the query of g (by length: it may hold U+0000),
 * tail.  -1 when the text is not UTF-8. */
static int message_add_query(json_t *msgs, const char *role, const struct buf *head,
                             const struct group *g, const struct buf *tail)
{
    struct buf t = {0};
    buf_put(&t, head->data, head->len);
    buf_put(&t, g->query, group_query_len(g));
    buf_put(&t, tail->data, tail->len);
    int rc = message_add(msgs, role, t.data ? t.data : "", t.len);
    buf_free(&t);
    return rc;
}

/* The request body around msgs (stolen): a new reference. */
static json_t *body_new(const struct llm_scorer *s, json_t *msgs)
{
    json_t *b = json_object();
    if (s->model)
        json_object_set_new(b, "model", json_string(s->model));
    json_object_set_new(b, "messages", msgs);
    json_object_set_new(b, "temperature", json_integer(0));
    if (s->mode == LLM_POINTWISE) { /* §13, rank_llm's request */
        json_object_set_new(b, "max_tokens", json_integer(1));
        json_object_set_new(b, "logprobs", json_true());
        json_object_set_new(b, "top_logprobs", json_integer(TOP_LOGPROBS));
    }
    return b;
}

/* RankGPT's messages for the m candidates idx[0..m) of g, in that order
 * (§12).  A new reference, or NULL with e filled. */
static json_t *listwise_messages(const struct llm_scorer *s, const struct group *g,
                                 const size_t *idx, size_t m, struct err *e)
{
    json_t *msgs = json_array();
    struct buf cut = {0};
    message_addf(msgs, "system", "%s", RANKGPT_SYSTEM);
    struct buf head = {0}, tail = {0};
    buf_printf(&head, RANKGPT_PREFIX, m);
    buf_puts(&tail, RANKGPT_PREFIX_END);
    message_add_query(msgs, "user", &head, g, &tail);
    message_addf(msgs, "assistant", "%s", RANKGPT_READY);
    for (size_t r = 0; r < m; r++) {
        const struct candidate *c = &g->cands[idx[r]];
        passage_cut(&cut, c->text, c->text_len, s->passage_words);
        struct buf p = {0};
        buf_printf(&p, "[%zu] ", r + 1);
        buf_put(&p, cut.data, cut.len);
        int rc = message_add(msgs, "user", p.data, p.len);
        buf_free(&p);
        if (rc < 0) {
            buf_free(&cut);
            json_decref(msgs);
            err_set(e, "llm: document %s is not valid UTF-8", c->docid);
            return NULL;
        }
        message_addf(msgs, "assistant", RANKGPT_RECEIVED, r + 1);
    }
    head.len = tail.len = 0;
    buf_puts(&head, RANKGPT_POST_START);
    buf_printf(&tail, RANKGPT_POST, m);
    message_add_query(msgs, "user", &head, g, &tail);
    buf_free(&head);
    buf_free(&tail);
    buf_free(&cut);
    return msgs;
}

/* The relevance question for candidate c (§13).  A new reference, or NULL
 * with e filled. */
static json_t *pointwise_messages(const struct llm_scorer *s, const struct group *g,
                                  const struct candidate *c, struct err *e)
{
    struct buf cut = {0};
    passage_cut(&cut, c->text, c->text_len, s->passage_words);
    json_t *msgs = json_array();
    struct buf head = {0}, tail = {0};
    buf_printf(&head, RELEVANCE_PROMPT, cut.data);
    buf_puts(&tail, RELEVANCE_PROMPT_END);
    int rc = message_add_query(msgs, "user", &head, g, &tail);
    buf_free(&head);
    buf_free(&tail);
    buf_free(&cut);
    if (rc < 0) {
        json_decref(msgs);
        err_set(e, "llm: document %s is not valid UTF-8", c->docid);
        return NULL;
    }
    return msgs;
}

/* Serialises the body for msgs (stolen) into *body; adds the dry-run count
 * of prompt tokens to *tokens.  0, or -1 with e filled. */
static int body_dump(const struct llm_scorer *s, json_t *msgs, char **body, size_t *tokens,
                     struct err *e)
{
    size_t n = json_array_size(msgs);
    size_t *bytes = xcalloc(n ? n : 1, sizeof *bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = json_string_length(json_object_get(json_array_get(msgs, i), "content"));
    *tokens = llm_estimate_tokens(bytes, n);
    free(bytes);
    json_t *b = body_new(s, msgs);
    *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return *body ? 0 : err_set(e, "llm: cannot encode the request");
}

/* Reports a request a dry run would send: a line when verbose, its body to
 * on_body; adds it to the totals. */
static void dry_report(struct llm_scorer *s, const char *label, const char *body,
                       size_t n_messages, size_t prompt_tokens, size_t answer_tokens)
{
    if (s->verbose)
        say(s, "dry run: %s: %zu message%s, %zu bytes, ~%zu prompt tokens", label, n_messages,
            n_messages == 1 ? "" : "s", strlen(body), prompt_tokens);
    if (s->on_body)
        s->on_body(s->ctx, label, body);
    s->dry_requests++;
    s->dry_prompt_tokens += prompt_tokens;
    s->dry_answer_tokens += answer_tokens;
}

/* ---- answers ------------------------------------------------------------ */

/* The value of a digit as rank_llm reads it (§12: ASCII, superscript,
 * subscript, circled, dingbat, full-width, "digit full stop"), or -1. */
static int digit_value(utf8proc_int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c == 0x2070)
        return 0;
    if (c == 0xB9)
        return 1;
    if (c == 0xB2 || c == 0xB3)
        return c - 0xB0;
    if (c >= 0x2074 && c <= 0x2079)
        return c - 0x2070;
    if (c >= 0x2080 && c <= 0x2089)
        return c - 0x2080;
    if (c >= 0x2460 && c <= 0x2468)
        return c - 0x2460 + 1;
    if (c >= 0x2776 && c <= 0x277E)
        return c - 0x2776 + 1;
    if (c >= 0xFF10 && c <= 0xFF19)
        return c - 0xFF10;
    if (c >= 0x1F100 && c <= 0x1F109)
        return c - 0x1F100;
    return -1;
}

size_t llm_parse_permutation(const char *text, size_t m, size_t *perm)
{
    const char *think = text;
    for (const char *p; (p = strstr(think, "</think>")); think = p + 8)
        ;
    text = think;
    size_t len = strlen(text), n_ids = 0, i = 0;
    unsigned char *seen = xcalloc(m ? m : 1, 1);
    size_t value = 0;
    bool in_number = false;
    while (i <= len) {
        utf8proc_int32_t c = -1;
        utf8proc_ssize_t k = 1;
        if (i < len) {
            k = utf8proc_iterate((const utf8proc_uint8_t *)text + i,
                                 (utf8proc_ssize_t)(len - i), &c);
            if (k <= 0)
                k = 1, c = -1;
        }
        int d = digit_value(c);
        if (d >= 0) {
            /* Saturate past m: such an id is out of range however long. */
            value = value > m ? value : value * 10 + (size_t)d;
            in_number = true;
        } else if (in_number) {
            if (value >= 1 && value <= m && !seen[value - 1]) {
                seen[value - 1] = 1;
                perm[n_ids++] = value - 1;
            }
            value = 0;
            in_number = false;
        }
        i += (size_t)k;
    }
    size_t r = n_ids;
    for (size_t j = 0; j < m; j++)
        if (!seen[j])
            perm[r++] = j;
    free(seen);
    return n_ids;
}

/* Parses a chat completion: *root gets the document (caller decrefs),
 * *choice its choices[0].  0, or -1 with e filled (not JSON, no choices, no
 * message). */
static int chat_answer(const struct llm_scorer *s, const struct http_request *r,
                       json_t **root, json_t **choice, struct err *e)
{
    json_error_t jerr;
    *root = json_loadb(r->response.data, r->response.len, 0, &jerr);
    if (!*root)
        return http_err_set(s->http, e, "%s: the answer is not JSON: %s (line %d, column %d)", r->label,
                    jerr.text, jerr.line, jerr.column);
    *choice = json_array_get(json_object_get(*root, "choices"), 0);
    if (!json_is_object(json_object_get(*choice, "message"))) {
        json_decref(*root);
        *root = NULL;
        return http_err_set(s->http, e, "%s: the answer has no choices[0].message", r->label);
    }
    return 0;
}

/* choices[0].message.content, "" when null or absent (a refusal, a tool
 * call): borrowed from choice. */
static const char *choice_text(json_t *choice)
{
    const char *t = json_string_value(json_object_get(json_object_get(choice, "message"),
                                                      "content"));
    return t ? t : "";
}

/* ---- listwise ----------------------------------------------------------- */

/* Names group g in lines and errors: "llm for query q1". */
static void group_label(const struct group *g, char label[static 64])
{
    if (g->qid)
        snprintf(label, 64, "llm for query %.40s", g->qid);
    else if (g->ordinal)
        snprintf(label, 64, "llm for query #%ld", g->ordinal);
    else
        snprintf(label, 64, "llm");
}

/* Reranks order[start, end) of group g with one request (and its retries
 * for malformed answers).  0, or -1 with e filled. */
static int listwise_window(struct llm_scorer *s, const struct group *g, size_t *order,
                           size_t start, size_t end, struct err *e)
{
    size_t m = end - start;
    char gl[64], label[160];
    group_label(g, gl);
    snprintf(label, sizeof label, "%s, window %zu-%zu", gl, start + 1, end);
    json_t *msgs = listwise_messages(s, g, order + start, m, e);
    if (!msgs)
        return -1;
    size_t n_messages = json_array_size(msgs), tokens;
    char *body;
    if (body_dump(s, msgs, &body, &tokens, e) < 0)
        return -1;
    if (s->dry_run) {
        dry_report(s, label, body, n_messages, tokens, ANSWER_TOKENS_PER_ID * m);
        free(body);
        return 0;
    }

    struct http_request r = {.method = "POST", .url = s->url,
                             .headers = (const char *const *)s->headers,
                             .body = body, .body_len = strlen(body), .label = label};
    size_t *perm = xcalloc(m, sizeof *perm);
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        if (http_run(s->http, &r, 1, e) < 0) {
            rc = err_prefix(e, "%s", label);
            break;
        }
        if (!r.ok) {
            rc = request_failed(s, &r, e);
            break;
        }
        json_t *root, *choice;
        if (chat_answer(s, &r, &root, &choice, e) < 0) {
            rc = -1;
            break;
        }
        const char *text = choice_text(choice);
        size_t n_ids = llm_parse_permutation(text, m, perm);
        if (n_ids > 0) {
            size_t *was = xmalloc(m * sizeof *was);
            memcpy(was, order + start, m * sizeof *was);
            for (size_t k = 0; k < m; k++)
                order[start + k] = was[perm[k]];
            free(was);
            if (s->verbose && n_ids < m)
                say(s, "%s: the answer ranks %zu of %zu passages; the rest keep their order",
                    label, n_ids, m);
            json_decref(root);
            break;
        }
        char *shown = http_one_line(s->http, text, strlen(text), 80);
        if (attempt < s->retries) {
            if (!s->quiet)
                say(s, "%s: no ranking in the answer \"%s\"; asking again (%d of %d)", label,
                    shown, attempt + 1, s->retries);
        } else if (!s->quiet) {
            say(s, "%s: no ranking in the answer \"%s\"%s; the window keeps its order", label,
                shown, s->retries ? " after every retry" : "");
        }
        free(shown);
        json_decref(root);
        if (attempt >= s->retries)
            break;
    }
    free(perm);
    free(body);
    buf_free(&r.response);
    return rc;
}

/* §12: windows of `window` from the bottom up, `step` at a time, until the
 * one that starts at the top is done; a window of one passage needs no
 * request.  Scores n .. 1 by final rank. */
static int listwise_score(struct llm_scorer *s, struct group *g, struct err *e)
{
    size_t n = g->n_cands;
    size_t *order = xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    size_t end = n, start = n > s->window ? n - s->window : 0;
    int rc = 0;
    for (;;) {
        if (end - start >= 2 && (rc = listwise_window(s, g, order, start, end, e)) < 0)
            break;
        if (start == 0)
            break;
        end -= s->step;
        start = start > s->step ? start - s->step : 0;
    }
    if (rc == 0)
        for (size_t r = 0; r < n; r++)
            g->cands[order[r]].score = (double)(n - r);
    free(order);
    return rc;
}

/* ---- pointwise ---------------------------------------------------------- */

/* Whether token, stripped of (ASCII) whitespace as Python's strip(), is word. */
static bool token_is(const char *token, size_t len, const char *word)
{
    while (len && is_py_space((unsigned char)*token) && (unsigned char)*token < 0x80)
        token++, len--;
    while (len && is_py_space((unsigned char)token[len - 1]) &&
           (unsigned char)token[len - 1] < 0x80)
        len--;
    return len == strlen(word) && memcmp(token, word, len) == 0;
}

/* §13, rank_llm's score_from_top_logprobs: from choices[0].logprobs.content
 * [0].top_logprobs, P(yes) / (P(yes) + P(no)), 0 when neither appears.
 * False when the answer carries no (non-empty) top_logprobs. */
static bool score_from_logprobs(json_t *choice, double *score)
{
    json_t *content = json_object_get(json_object_get(choice, "logprobs"), "content");
    json_t *top = json_object_get(json_array_get(content, 0), "top_logprobs");
    if (!json_is_array(top) || json_array_size(top) == 0)
        return false;
    static const char *const yes[] = {"yes", "Yes", "YES"}, *const no[] = {"no", "No", "NO"};
    double p_yes = 0, p_no = 0;
    size_t i;
    json_t *item;
    json_array_foreach(top, i, item) {
        json_t *tok = json_object_get(item, "token"), *lp = json_object_get(item, "logprob");
        /* A log-probability is <= 0; a larger one would overflow exp(). */
        if (!json_is_string(tok) || !json_is_number(lp) || !(json_number_value(lp) <= 0))
            continue;
        const char *t = json_string_value(tok);
        size_t len = json_string_length(tok);
        for (size_t k = 0; k < 3; k++) {
            if (token_is(t, len, yes[k]))
                p_yes += exp(json_number_value(lp));
            if (token_is(t, len, no[k]))
                p_no += exp(json_number_value(lp));
        }
    }
    *score = p_yes + p_no > 0 ? p_yes / (p_yes + p_no) : 0;
    return true;
}

/* The answer text's verdict: 1 for yes, 0 for no (its first word, any
 * case), -1 otherwise. */
static int text_verdict(const char *text)
{
    while (*text && !((*text | 0x20) >= 'a' && (*text | 0x20) <= 'z'))
        text++;
    size_t n = 0;
    while (((text[n] | 0x20) >= 'a' && (text[n] | 0x20) <= 'z'))
        n++;
    if (n == 3 && strncasecmp(text, "yes", 3) == 0)
        return 1;
    if (n == 2 && strncasecmp(text, "no", 2) == 0)
        return 0;
    return -1;
}

/* The score of one pointwise answer: from its log-probabilities, else from
 * its text (yes 1, no 0, anything else 0.5).  False when it was neither. */
static bool pointwise_verdict(json_t *choice, double *score)
{
    if (score_from_logprobs(choice, score))
        return true;
    int v = text_verdict(choice_text(choice));
    *score = v < 0 ? 0.5 : v;
    return v >= 0;
}

/* One request per candidate, all of the group's at once through http.c's
 * concurrency limit. */
static int pointwise_score(struct llm_scorer *s, struct group *g, struct err *e)
{
    size_t n = g->n_cands;
    struct http_request *reqs = xcalloc(n, sizeof *reqs);
    char gl[64];
    group_label(g, gl);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char label[256];
        snprintf(label, sizeof label, "%s, document %.80s", gl, g->cands[i].docid);
        json_t *msgs = pointwise_messages(s, g, &g->cands[i], e);
        char *body = NULL;
        size_t tokens;
        if (!msgs || body_dump(s, msgs, &body, &tokens, e) < 0) {
            rc = -1;
            break;
        }
        if (s->dry_run) {
            dry_report(s, label, body, 1, tokens, 1);
            free(body);
            continue;
        }
        reqs[i] = (struct http_request){.method = "POST", .url = s->url,
                                        .headers = (const char *const *)s->headers,
                                        .body = body, .body_len = strlen(body),
                                        .label = xstrdup(label)};
    }
    if (s->dry_run) {
        for (size_t i = 0; i < n && rc == 0; i++)
            g->cands[i].score = (double)(n - i);
        free(reqs);
        return rc;
    }

    if (rc == 0 && http_run(s->http, reqs, n, e) < 0)
        rc = err_prefix(e, "%s", gl);
    double *scores = xcalloc(n, sizeof *scores);
    size_t n_unclear = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *root, *choice;
        if (!reqs[i].ok) {
            rc = request_failed(s, &reqs[i], e);
            break;
        }
        if (chat_answer(s, &reqs[i], &root, &choice, e) < 0) {
            rc = -1;
            break;
        }
        n_unclear += !pointwise_verdict(choice, &scores[i]);
        json_decref(root);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            g->cands[i].score = scores[i];
        if (n_unclear && !s->quiet)
            say(s, "%s: %zu of %zu answers had no log-probabilities and were neither yes nor "
                "no; scored 0.5", gl, n_unclear, n);
    }
    free(scores);
    for (size_t i = 0; i < n; i++) {
        free((char *)reqs[i].label);
        free((char *)reqs[i].body);
        buf_free(&reqs[i].response);
    }
    free(reqs);
    return rc;
}

long llm_parse_answer(enum llm_mode mode, const struct http_client *http,
                      const char *body, size_t len, size_t m, size_t *perm,
                      double *score, struct err *e)
{
    struct llm_scorer s = {.http = (struct http_client *)http};
    struct http_request r = {.label = "llm", .response = {(char *)body, len, len}};
    json_t *root, *choice;
    if (chat_answer(&s, &r, &root, &choice, e) < 0)
        return -1;
    long rc = mode == LLM_LISTWISE
                  ? (long)llm_parse_permutation(choice_text(choice), m, perm)
                  : pointwise_verdict(choice, score);
    json_decref(root);
    return rc;
}

/* ---- the scorer --------------------------------------------------------- */

static int llm_score(struct scorer *sc, struct group *g, struct err *e)
{
    struct llm_scorer *s = sc->state;
    if (g->n_cands == 0)
        return 0;
    char gl[64];
    group_label(g, gl);
    json_t *q = json_stringn(g->query, group_query_len(g));
    if (!q)
        return err_set(e, "%s: the query is not valid UTF-8", gl);
    json_decref(q);
    size_t requests = s->dry_requests, prompt = s->dry_prompt_tokens,
           answer = s->dry_answer_tokens;
    int rc = s->mode == LLM_LISTWISE ? listwise_score(s, g, e) : pointwise_score(s, g, e);
    if (rc == 0 && s->dry_run) {
        s->dry_groups++;
        say(s, "dry run: %s: %zu request%s, ~%zu prompt + ~%zu answer tokens; so far %zu "
            "quer%s, %zu request%s, ~%zu prompt + ~%zu answer tokens", gl,
            s->dry_requests - requests, s->dry_requests - requests == 1 ? "" : "s",
            s->dry_prompt_tokens - prompt, s->dry_answer_tokens - answer, s->dry_groups,
            s->dry_groups == 1 ? "y" : "ies", s->dry_requests, s->dry_requests == 1 ? "" : "s",
            s->dry_prompt_tokens, s->dry_answer_tokens);
    }
    return rc;
}

static void llm_free(struct scorer *sc)
{
    struct llm_scorer *s = sc->state;
    http_client_free(s->http);
    free(s->url);
    free(s->model);
    free(s->headers[0]);
    free(s);
}

struct scorer *llm_scorer_new(const struct llm_options *o, struct err *e)
{
    if (o->mode != LLM_LISTWISE && o->mode != LLM_POINTWISE)
        return err_set(e, "llm: unknown mode"), NULL;
    if (o->url && !http_url_ok(o->url))
        return err_set(e, "llm: --llm-url must be an http:// or https:// URL"), NULL;
    if (o->model && (!o->model[0] || has_control_byte(o->model)))
        return err_set(e, "llm: --llm-model must be a non-empty name"), NULL;
    if (o->window < 2)
        return err_set(e, "llm: --window must be at least 2"), NULL;
    if (o->step < 1 || o->step > o->window)
        return err_set(e, "llm: --step must be from 1 to the window (%d)", o->window), NULL;
    if (o->passage_words < 1)
        return err_set(e, "llm: --passage-words must be positive"), NULL;

    /* The key: RERANK_LLM_API_KEY, else OPENAI_API_KEY for OpenAI only. */
    bool custom = o->url != NULL;
    const char *key_var, *key;
    if (http_pick_key(RERANK_LLM_API_KEY, OPENAI_API_KEY, custom, &key, &key_var, e) < 0)
        return NULL;
    if (!key && !custom && !o->dry_run)
        return err_set(e, "llm needs an API key for " LLM_DEFAULT_URL ": set " OPENAI_API_KEY
                       " (or " RERANK_LLM_API_KEY ")"), NULL;

    struct http_options h;
    http_options_init(&h);
    h.timeout = o->timeout;
    h.retries = o->retries;
    h.concurrency = o->concurrency;
    h.backoff = o->backoff;
    h.backoff_max = o->backoff_max;
    h.retry_after_max = o->retry_after_max;
    h.cacert = o->cacert;
    /* Redact every key in sight, also one that is not sent. */
    const char *secrets[3] = {NULL};
    size_t ns = 0;
    if (key)
        secrets[ns++] = key;
    if (env_nonempty(OPENAI_API_KEY) && env_nonempty(OPENAI_API_KEY) != key)
        secrets[ns++] = env_nonempty(OPENAI_API_KEY);
    h.secrets = secrets;
    h.secret_url = o->url;
    h.on_retry = o->quiet ? NULL : o->notify;
    h.on_trace = o->verbose ? o->notify : NULL;
    h.ctx = o->notify_ctx;
    struct http_client *http = http_client_new(&h, e);
    if (!http)
        return err_prefix(e, "llm"), NULL;

    struct llm_scorer *s = xcalloc(1, sizeof *s);
    s->mode = o->mode;
    s->http = http;
    s->custom_url = custom;
    s->url = xstrdup(custom ? o->url : LLM_DEFAULT_URL);
    s->model = o->model ? xstrdup(o->model) : custom ? NULL : xstrdup(LLM_DEFAULT_MODEL);
    s->key_var = key_var;
    s->window = (size_t)o->window;
    s->step = (size_t)o->step;
    s->passage_words = (size_t)o->passage_words;
    s->retries = o->retries;
    s->timeout = o->timeout;
    s->verbose = o->verbose;
    s->quiet = o->quiet;
    s->dry_run = o->dry_run;
    s->notify = o->notify;
    s->on_body = o->on_body;
    s->ctx = o->notify_ctx;
    if (key) {
        struct buf b = {0};
        buf_printf(&b, "Authorization: Bearer %s", key);
        s->headers[0] = b.data;
    }
    s->base.name = o->mode == LLM_LISTWISE ? "llm-listwise" : "llm-pointwise";
    s->base.score = llm_score;
    s->base.free = llm_free;
    s->base.state = s;
    return &s->base;
}
