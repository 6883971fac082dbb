/* api.c — rerank API wire formats as a table of small adapters.
 *
 * Each provider is a row: endpoint, key variable, auth header, default model,
 * documents per request, a request builder, and where the answer keeps its
 * results and scores.  The facts come from shared/reference/rerank-apis.md
 * (section numbers in the comments).  Everything else is shared: splitting a
 * group into requests, running them through http.c, checking that each
 * answer covers its request's documents exactly once, and turning failures
 * into one precise, redacted line.
 *
 * Scores are written as the service returns them (probabilities for most,
 * logits for llama.cpp); sorting belongs to output.c. */
#include "net/api.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/http.h"

#define RERANK_API_KEY "RERANK_API_KEY"
#define PINECONE_API_VERSION "2025-10"

/* Builds a request body: a new reference.  query (a JSON string, made with
 * its length: a query may hold U+0000) and docs, an array of the request's
 * document strings, are stolen; model NULL means no model field. */
typedef json_t *build_fn(const char *model, json_t *query, json_t *docs);

struct model_limit {
    const char *model;
    int max_docs;
};

struct provider {
    const char *name;
    const char *url;           /* its own endpoint */
    const char *key_var;       /* its key variable; NULL: none (self-hosted) */
    bool needs_key;            /* at its own endpoint */
    const char *auth;          /* header prefix the key follows */
    const char *extra_header;  /* sent with every request; NULL: none */
    const char *model;         /* default model; NULL: the format has none */
    int max_docs;              /* documents per request by default */
    const struct model_limit *limits; /* per-model max_docs, NULL-ended */
    build_fn *build;
    const char *results_key;   /* NULL: the body is the results array */
    const char *score_key;
};

/* {"model": model, "query": query}, model left out when NULL. */
static json_t *body_new(const char *model, json_t *query)
{
    json_t *b = json_object();
    if (model)
        json_object_set_new(b, "model", json_string(model));
    json_object_set_new(b, "query", query);
    return b;
}

/* {model, query, documents}: Cohere v1 and v2 (§1, §2; return_documents
 * defaults to false in v1, v2 has none) and Voyage (§4). */
static json_t *build_documents(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_object_set_new(b, "documents", docs);
    return b;
}

/* §3: Jina's return_documents default changed over time: always send it. */
static json_t *build_jina(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_object_set_new(b, "documents", docs);
    json_object_set_new(b, "return_documents", json_false());
    return b;
}

/* §5: documents go in "input"; top_k's default (-1) is not documented as
 * "all", so ask for every document explicitly. */
static json_t *build_mixedbread(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_object_set_new(b, "top_k", json_integer((json_int_t)json_array_size(docs)));
    json_object_set_new(b, "input", docs);
    return b;
}

/* §6: top_n defaults to null, undocumented: ask for every document. */
static json_t *build_together(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_object_set_new(b, "top_n", json_integer((json_int_t)json_array_size(docs)));
    json_object_set_new(b, "documents", docs);
    return b;
}

/* §7: documents are objects {"text": ...}; return_documents defaults to
 * true, which would echo every document back. */
static json_t *build_pinecone(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_t *objs = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
        json_array_append_new(objs, json_pack("{sO}", "text", d));
    json_decref(docs);
    json_object_set_new(b, "documents", objs);
    json_object_set_new(b, "return_documents", json_false());
    return b;
}

/* §8: "texts", no model; truncate as the hosted services do, whatever the
 * server's --auto-truncate says. */
static json_t *build_tei(const char *model, json_t *query, json_t *docs)
{
    json_t *b = body_new(model, query);
    json_object_set_new(b, "texts", docs);
    json_object_set_new(b, "truncate", json_true());
    return b;
}

static const struct model_limit pinecone_limits[] = {
    {"cohere-rerank-3.5", 200}, /* §7, docs */
    {NULL, 0},
};

#define BEARER "Authorization: Bearer "

/* max_docs: Cohere recommends at most 1,000 (§2); Voyage allows 1,000 (§4);
 * Jina, Mixedbread and Together publish no limit (§3, §5, §6: UNCONFIRMED),
 * so 1,000 like Cohere, whose API Together mirrors; Pinecone's spec example
 * gives 100 for bge-reranker-v2-m3 (§7); TEI's --max-client-batch-size
 * defaults to 32 (§8). */
static const struct provider providers[] = {
    {"cohere", "https://api.cohere.com/v1/rerank", "COHERE_API_KEY", true, BEARER, NULL,
     "rerank-v3.5", 1000, NULL, build_documents, "results", "relevance_score"},
    {"cohere-v2", "https://api.cohere.com/v2/rerank", "COHERE_API_KEY", true, BEARER, NULL,
     "rerank-v3.5", 1000, NULL, build_documents, "results", "relevance_score"},
    {"jina", "https://api.jina.ai/v1/rerank", "JINA_API_KEY", true, BEARER, NULL,
     "jina-reranker-v2-base-multilingual", 1000, NULL, build_jina, "results",
     "relevance_score"},
    {"voyage", "https://api.voyageai.com/v1/rerank", "VOYAGE_API_KEY", true, BEARER, NULL,
     "rerank-2.5", 1000, NULL, build_documents, "data", "relevance_score"},
    {"mixedbread", "https://api.mixedbread.com/v1/reranking", "MXBAI_API_KEY", true, BEARER,
     NULL, "mixedbread-ai/mxbai-rerank-large-v2", 1000, NULL, build_mixedbread, "data",
     "score"},
    {"together", "https://api.together.xyz/v1/rerank", "TOGETHER_API_KEY", true, BEARER, NULL,
     "Salesforce/Llama-Rank-V1", 1000, NULL, build_together, "results", "relevance_score"},
    {"pinecone", "https://api.pinecone.io/rerank", "PINECONE_API_KEY", true, "Api-Key: ",
     "X-Pinecone-Api-Version: " PINECONE_API_VERSION, "bge-reranker-v2-m3", 100,
     pinecone_limits, build_pinecone, "data", "score"},
    {"tei", "http://localhost:3000/rerank", NULL, false, BEARER, NULL, NULL, 32, NULL,
     build_tei, NULL, "score"},
};
#define N_PROVIDERS (sizeof providers / sizeof providers[0])

struct api_scorer {
    struct scorer base;
    const struct provider *p;
    char *url;
    char *model;             /* NULL: not sent */
    const char *key_var;     /* where the key came from; NULL: no key */
    bool custom_url;
    size_t batch;
    double timeout;
    char *headers[3];        /* NULL-ended: auth, extra */
    struct http_client *http;
};

const char *api_provider_name(size_t i)
{
    return i < N_PROVIDERS ? providers[i].name : NULL;
}

void api_options_init(struct api_options *o)
{
    struct http_options h;
    http_options_init(&h);
    memset(o, 0, sizeof *o);
    o->concurrency = h.concurrency;
    o->retries = h.retries;
    o->timeout = h.timeout;
    o->backoff = h.backoff;
    o->backoff_max = h.backoff_max;
    o->retry_after_max = h.retry_after_max;
}

/* What the user can do about a failed request, or "" (static text or
 * written into hint). */
static const char *failure_hint(const struct api_scorer *s, const struct http_request *r,
                                char *hint, size_t cap)
{
    switch (r->status) {
    case 401:
    case 403:
        if (s->key_var)
            snprintf(hint, cap, "check %s", s->key_var);
        else if (s->p->key_var && getenv(s->p->key_var) && s->custom_url)
            snprintf(hint, cap, "no key was sent (%s goes only to %s); set " RERANK_API_KEY,
                     s->p->key_var, s->p->url);
        else
            snprintf(hint, cap, "no key was sent; set " RERANK_API_KEY);
        return hint;
    case 404:
        return s->custom_url ? "check --api-url and --api-model" : "check --api-model";
    case 413:
        return "the request is too large; lower --api-batch";
    case 429:
        return "rate limited; lower --api-concurrency or raise --retries";
    }
    if (r->timed_out) {
        snprintf(hint, cap, "no answer within --timeout %g s", s->timeout);
        return hint;
    }
    return "";
}

/* Fills e for a request that did not succeed; returns -1. */
static int request_failed(const struct api_scorer *s, const struct http_request *r,
                          struct err *e)
{
    char *msg = r->status ? http_error_message(s->http, r->response.data, r->response.len) : NULL;
    char hint[256];
    const char *h = failure_hint(s, r, hint, sizeof hint);
    http_err_set(s->http, e, "%s: %s%s%s%s%s", r->label, r->error, msg ? ": " : "", msg ? msg : "",
             h[0] ? "; " : "", h);
    free(msg);
    return -1;
}

/* Reads one answer into scores[0..m) (request order).  0, or -1 with the
 * problem in e. */
static int parse_answer(const struct api_scorer *s, const struct http_request *r, size_t m,
                        double *scores, struct err *e)
{
    const struct provider *p = s->p;
    json_error_t jerr;
    json_t *root = json_loadb(r->response.data, r->response.len, 0, &jerr);
    if (!root)
        return http_err_set(s->http, e, "%s: the answer is not JSON: %s (line %d, column %d)", r->label,
                        jerr.text, jerr.line, jerr.column);
    json_t *results = p->results_key ? json_object_get(root, p->results_key) : root;
    if (!json_is_array(results)) {
        json_decref(root);
        if (p->results_key)
            return http_err_set(s->http, e, "%s: the answer has no \"%s\" array", r->label,
                            p->results_key);
        return http_err_set(s->http, e, "%s: the answer is not a JSON array", r->label);
    }

    unsigned char *seen = xcalloc(m, 1);
    size_t i, n_seen = 0;
    json_t *item;
    int rc = 0;
    json_array_foreach(results, i, item) {
        json_t *ix = json_object_get(item, "index");
        json_t *sc = json_object_get(item, p->score_key);
        if (!json_is_integer(ix)) {
            rc = http_err_set(s->http, e, "%s: result %zu has no integer \"index\"", r->label, i);
            break;
        }
        json_int_t k = json_integer_value(ix);
        if (k < 0 || (uint64_t)k >= m) {
            rc = http_err_set(s->http, e, "%s: result %zu has index %lld, outside the %zu documents sent",
                          r->label, i, (long long)k, m);
            break;
        }
        if (seen[k]) {
            rc = http_err_set(s->http, e, "%s: index %lld appears twice", r->label, (long long)k);
            break;
        }
        if (!json_is_number(sc) || !isfinite(json_number_value(sc))) {
            rc = http_err_set(s->http, e, "%s: result for index %lld has no numeric \"%s\"", r->label,
                          (long long)k, p->score_key);
            break;
        }
        seen[k] = 1;
        n_seen++;
        scores[k] = json_number_value(sc);
    }
    if (rc == 0 && n_seen < m) {
        size_t first = 0;
        while (seen[first])
            first++;
        rc = http_err_set(s->http, e, "%s: %zu of the %zu documents sent have no result (first: index %zu)",
                      r->label, m - n_seen, m, first);
    }
    free(seen);
    json_decref(root);
    return rc;
}

int api_parse_answer(const char *provider, const struct http_client *http,
                     const char *body, size_t len, size_t m, double *scores,
                     struct err *e)
{
    struct api_scorer s = {.http = (struct http_client *)http};
    for (size_t i = 0; i < N_PROVIDERS && !s.p; i++)
        if (strcmp(provider, providers[i].name) == 0)
            s.p = &providers[i];
    if (!s.p)
        return err_set(e, "unknown API \"%s\"", provider);
    struct http_request r = {.label = provider,
                             .response = {(char *)body, len, len}};
    return parse_answer(&s, &r, m, scores, e);
}

/* Builds request r of a group: documents [lo, lo + m).  Returns the body
 * (caller frees) or NULL with e filled. */
static char *request_body(const struct api_scorer *s, const struct group *g, size_t lo,
                          size_t m, struct err *e)
{
    json_t *docs = json_array();
    for (size_t i = lo; i < lo + m; i++) {
        json_t *t = json_stringn(g->cands[i].text, g->cands[i].text_len);
        if (!t) {
            json_decref(docs);
            err_set(e, "%s: document %s is not valid UTF-8", s->p->name, g->cands[i].docid);
            return NULL;
        }
        json_array_append_new(docs, t);
    }
    json_t *body = s->p->build(s->model, json_stringn(g->query, group_query_len(g)), docs);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        err_set(e, "%s: cannot encode the request", s->p->name);
    return text;
}

static int api_score(struct scorer *sc, struct group *g, struct err *e)
{
    struct api_scorer *s = sc->state;
    size_t n = g->n_cands;
    if (n == 0)
        return 0;
    json_t *q = json_stringn(g->query, group_query_len(g));
    if (!q)
        return err_set(e, "%s: the query is not valid UTF-8", s->p->name);
    json_decref(q);

    size_t n_req = (n + s->batch - 1) / s->batch;
    struct http_request *reqs = xcalloc(n_req, sizeof *reqs);
    char qname[64] = "";
    if (g->qid)
        snprintf(qname, sizeof qname, " for query %.40s", g->qid);
    else if (g->ordinal)
        snprintf(qname, sizeof qname, " for query #%ld", g->ordinal);
    int rc = 0;
    for (size_t r = 0; r < n_req; r++) {
        size_t lo = r * s->batch, m = n - lo < s->batch ? n - lo : s->batch;
        struct http_request *rq = &reqs[r];
        rq->method = "POST";
        rq->url = s->url;
        rq->headers = (const char *const *)s->headers;
        char label[160];
        if (n_req == 1)
            snprintf(label, sizeof label, "%s%s", s->p->name, qname);
        else
            snprintf(label, sizeof label, "%s%s, request %zu of %zu (documents %zu-%zu)",
                     s->p->name, qname, r + 1, n_req, lo + 1, lo + m);
        rq->label = xstrdup(label);
        char *body = request_body(s, g, lo, m, e);
        if (!body) {
            rc = -1;
            break;
        }
        rq->body = body;
        rq->body_len = strlen(body);
    }

    if (rc == 0 && http_run(s->http, reqs, n_req, e) < 0)
        rc = err_prefix(e, "%s", s->p->name);

    double *scores = xcalloc(n, sizeof *scores);
    for (size_t r = 0; r < n_req && rc == 0; r++) {
        size_t lo = r * s->batch, m = n - lo < s->batch ? n - lo : s->batch;
        if (!reqs[r].ok)
            rc = request_failed(s, &reqs[r], e);
        else
            rc = parse_answer(s, &reqs[r], m, scores + lo, e);
    }
    if (rc == 0)
        for (size_t i = 0; i < n; i++)
            g->cands[i].score = scores[i];

    free(scores);
    for (size_t r = 0; r < n_req; r++) {
        free((char *)reqs[r].label);
        free((char *)reqs[r].body);
        buf_free(&reqs[r].response);
    }
    free(reqs);
    return rc;
}

static void api_free(struct scorer *sc)
{
    struct api_scorer *s = sc->state;
    http_client_free(s->http);
    free(s->url);
    free(s->model);
    for (char **h = s->headers; *h; h++)
        free(*h);
    free(s);
}

struct scorer *api_scorer_new(const struct api_options *o, struct err *e)
{
    const struct provider *p = NULL;
    for (size_t i = 0; i < N_PROVIDERS && !p; i++)
        if (o->provider && strcmp(o->provider, providers[i].name) == 0)
            p = &providers[i];
    if (!p) {
        struct buf names = {0};
        for (size_t i = 0; i < N_PROVIDERS; i++)
            buf_printf(&names, "%s%s", i ? ", " : "", providers[i].name);
        err_set(e, "unknown API \"%s\" (known: %s)", o->provider ? o->provider : "",
                names.data);
        buf_free(&names);
        return NULL;
    }
    if (o->url && !http_url_ok(o->url))
        return err_set(e, "%s: --api-url must be an http:// or https:// URL", p->name), NULL;
    if (o->model && !p->model)
        return err_set(e, "%s: the server runs one model; --api-model does not apply",
                       p->name), NULL;
    if (o->model && (!o->model[0] || has_control_byte(o->model)))
        return err_set(e, "%s: --api-model must be a non-empty name", p->name), NULL;
    if (o->batch < 0)
        return err_set(e, "%s: --api-batch must be positive", p->name), NULL;

    /* The key: RERANK_API_KEY, else the provider's own variable, and that
     * only for the provider's own endpoint. */
    bool custom = o->url != NULL;
    const char *key_var, *key;
    if (http_pick_key(RERANK_API_KEY, p->key_var, custom, &key, &key_var, e) < 0)
        return NULL;
    if (!key && !custom && p->needs_key)
        return err_set(e, "%s needs an API key: set %s (or " RERANK_API_KEY ")", p->name,
                       p->key_var), NULL;

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
    const char *secrets[] = {key, env_nonempty(p->key_var), NULL};
    if (!secrets[0]) {
        secrets[0] = secrets[1];
        secrets[1] = NULL;
    }
    h.secrets = secrets;
    h.secret_url = o->url;
    h.on_retry = o->quiet ? NULL : o->notify;
    h.on_trace = o->verbose ? o->notify : NULL;
    h.ctx = o->notify_ctx;
    struct http_client *http = http_client_new(&h, e);
    if (!http)
        return err_prefix(e, "%s", p->name), NULL;

    struct api_scorer *s = xcalloc(1, sizeof *s);
    s->p = p;
    s->http = http;
    s->custom_url = custom;
    s->url = xstrdup(custom ? o->url : p->url);
    s->model = o->model ? xstrdup(o->model) : !custom && p->model ? xstrdup(p->model) : NULL;
    s->key_var = key_var;
    s->timeout = o->timeout;
    size_t batch = (size_t)p->max_docs;
    for (const struct model_limit *l = p->limits; l && l->model && s->model; l++)
        if (strcmp(l->model, s->model) == 0)
            batch = (size_t)l->max_docs;
    s->batch = o->batch > 0 ? (size_t)o->batch : batch;
    size_t nh = 0;
    if (key) {
        struct buf b = {0};
        buf_printf(&b, "%s%s", p->auth, key);
        s->headers[nh++] = b.data;
    }
    if (p->extra_header)
        s->headers[nh++] = xstrdup(p->extra_header);
    s->base.name = p->name;
    s->base.score = api_score;
    s->base.free = api_free;
    s->base.state = s;
    return &s->base;
}
