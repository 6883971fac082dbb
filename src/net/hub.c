/* hub.c — resolving --model: a local directory, a snapshot in the Hugging
 * Face cache, or a download from the hub into that same cache layout (see
 * hub.h).
 *
 * Downloads follow huggingface_hub's layout so that Python finds them too:
 * the file goes to blobs/ETAG (written as blobs/ETAG.incomplete first and
 * renamed once its size is checked, so an interrupted download never leaves
 * a file that looks complete), snapshots/COMMIT/FILE is a relative symlink
 * to it, and refs/REVISION holds COMMIT (from the X-Repo-Commit header).
 * Besides the fixed list (hub_model_files) it fetches what a
 * sentence-transformers modules.json names: each module directory's
 * config.json and, when the hub has one, its model.safetensors (PyLate's
 * 1_Dense, the Ettin rerankers' Pooling and Dense modules).
 * The transfers are http.c's: its retry policy (a dropped transfer resumes
 * with a range request; DNS failures, 401, 403 and 404 are final), its
 * redaction of HF_TOKEN, its progress reports.  Revisions and repository
 * ids are checked before any path is built from them, and a failed
 * download removes the directories it made. */
#include "net/hub.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "net/http.h"

const struct hub_file hub_model_files[] = {
    {"config.json", true},
    {"model.safetensors", true},
    {"tokenizer.json", false},
    {"vocab.txt", false},
    {"tokenizer_config.json", false},
    {"special_tokens_map.json", false},
    {"config_sentence_transformers.json", false}, /* default activation */
    {"sentencepiece.bpe.model", false},
    {"spiece.model", false},           /* T5 */
    {"spm.model", false},              /* DeBERTa-v3 */
    {"artifact.metadata", false},  /* ColBERT (Stanford): lengths, markers */
    {"modules.json", false},       /* sentence-transformers / PyLate modules */
    {NULL, false},
};

enum { DOWNLOAD_TRIES = 4, MAX_MODULES = 16 };

static char *path_join(const char *a, const char *b)
{
    struct buf p = {0};
    buf_printf(&p, "%s/%s", a, b);
    return p.data;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                 strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

char *hub_cache_dir(void)
{
    const char *v;
    if ((v = getenv("HF_HUB_CACHE")) && *v)
        return xstrdup(v);
    if ((v = getenv("HF_HOME")) && *v)
        return path_join(v, "hub");
    if ((v = getenv("XDG_CACHE_HOME")) && *v)
        return path_join(v, "huggingface/hub");
    const char *home = getenv("HOME");
    return path_join(home && *home ? home : ".", ".cache/huggingface/hub");
}

static bool is_commit(const char *s)
{
    size_t n = strlen(s);
    if (n != 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* One part of a repository id, as the hub allows it (huggingface_hub's
 * validate_repo_id): letters, digits, '-', '_', '.', neither starting nor
 * ending with '-' or '.', and no "--" or "..". */
static bool repo_part_ok(const char *s, size_t n)
{
    if (n == 0 || strchr("-.", s[0]) || strchr("-.", s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
        if (i && (c == '-' || c == '.') && s[i - 1] == c)
            return false;
    }
    return true;
}

/* A hub name: ORG/NAME (each part as repo_part_ok says, 96 bytes at most)
 * and an optional @REVISION, not checked here. */
bool hub_is_name(const char *s)
{
    if (is_dir(s))
        return false;
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    const char *slash = memchr(s, '/', n);
    return slash && n <= 96 && repo_part_ok(s, (size_t)(slash - s)) &&
           repo_part_ok(slash + 1, n - (size_t)(slash - s) - 1);
}

bool hub_revision_ok(const char *rev)
{
    size_t n = strlen(rev);
    if (is_commit(rev))
        return true;
    if (n == 0 || n > 255 || strcmp(rev, "@") == 0 || rev[0] == '/' || rev[n - 1] == '/' ||
        rev[n - 1] == '.' || strstr(rev, "..") || strstr(rev, "//") || strstr(rev, "@{"))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)rev[i];
        if (c < 0x20 || c == 0x7f || strchr(" ~^:?*[\\", c))
            return false;
        /* Each '/'-separated component: no leading '.', no ".lock" end. */
        if ((i == 0 || rev[i - 1] == '/') && c == '.')
            return false;
        if ((i + 1 == n || rev[i + 1] == '/') && i >= 4 && strncmp(rev + i - 4, ".lock", 5) == 0)
            return false;
    }
    return true;
}

struct hub_ref {
    char *repo;      /* ORG/NAME */
    char *revision;  /* "main" unless @REV was given */
    char *repo_dir;  /* CACHE/models--ORG--NAME */
};

static void ref_free(struct hub_ref *r)
{
    free(r->repo);
    free(r->revision);
    free(r->repo_dir);
}

static void ref_parse(const char *name, struct hub_ref *r)
{
    const char *at = strchr(name, '@');
    r->repo = at ? xstrndup(name, (size_t)(at - name)) : xstrdup(name);
    r->revision = xstrdup(at ? at + 1 : "main");
    char *cache = hub_cache_dir();
    struct buf d = {0};
    buf_printf(&d, "%s/models--", cache);
    for (const char *p = r->repo; *p; p++) {
        if (*p == '/')
            buf_puts(&d, "--");
        else
            buf_putc(&d, *p);
    }
    r->repo_dir = d.data;
    free(cache);
}

/* The snapshot directory the cache has for r, or NULL. */
static char *cached_snapshot(const struct hub_ref *r)
{
    char *commit = NULL;
    if (is_commit(r->revision)) {
        commit = xstrdup(r->revision);
    } else {
        struct buf p = {0};
        buf_printf(&p, "%s/refs/%s", r->repo_dir, r->revision);
        size_t len;
        commit = read_file(p.data, &len, NULL);
        buf_free(&p);
        if (!commit)
            return NULL;
        while (len && isspace((unsigned char)commit[len - 1]))
            commit[--len] = 0;
        if (!is_commit(commit)) {
            free(commit);
            return NULL;
        }
    }
    struct buf p = {0};
    buf_printf(&p, "%s/snapshots/%s", r->repo_dir, commit);
    free(commit);
    if (!is_dir(p.data)) {
        buf_free(&p);
        return NULL;
    }
    return p.data;
}

/* The module directories of snapshot dir's sentence-transformers
 * modules.json (PyLate's "1_Dense", the Ettin rerankers' "1_Pooling",
 * "2_Dense", ...) into paths, at most MAX_MODULES; the root module ("")
 * and paths that are not one plain directory name are left out.  Returns
 * how many; 0 without modules.json. */
static size_t module_dirs(const char *dir, char *paths[MAX_MODULES])
{
    char *p = path_join(dir, "modules.json");
    json_t *mods = json_load_file(p, 0, NULL);
    free(p);
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(mods, i, m) {
        const char *path = json_string_value(json_object_get(m, "path"));
        size_t len = path ? strlen(path) : 0;
        bool plain = len && len < 100 && path[0] != '.';
        for (size_t k = 0; plain && k < len; k++)
            plain = isalnum((unsigned char)path[k]) || strchr("_-.", path[k]);
        if (plain && n < MAX_MODULES)
            paths[n++] = xstrdup(path);
    }
    json_decref(mods);
    return n;
}

static void module_dirs_free(char **paths, size_t n)
{
    while (n--)
        free(paths[n]);
}

/* Whether snapshot dir holds the required files, and the config.json of
 * every module its modules.json names. */
static bool has_required(const char *dir)
{
    for (const struct hub_file *f = hub_model_files; f->name; f++) {
        if (!f->required)
            continue;
        char *p = path_join(dir, f->name);
        bool ok = is_file(p);
        free(p);
        if (!ok)
            return false;
    }
    char *mods[MAX_MODULES];
    size_t n = module_dirs(dir, mods);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        struct buf p = {0};
        buf_printf(&p, "%s/%s/config.json", dir, mods[i]);
        ok = is_file(p.data);
        buf_free(&p);
    }
    module_dirs_free(mods, n);
    return ok;
}

/* Directories a download made, so that a failed one leaves none empty. */
struct made_dirs {
    char **v;
    size_t n;
};

/* mkdir -p, recording in made each directory it creates.  0, or -1 + e. */
static int mkdirs(const char *path, struct made_dirs *made, struct err *e)
{
    char *p = xstrdup(path);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0755) == 0) {
            made->v = xreallocarray(made->v, made->n + 1, sizeof *made->v);
            made->v[made->n++] = xstrdup(p);
        } else if (errno != EEXIST) {
            rc = err_set(e, "cannot create %s: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

/* Removes the recorded directories that are still empty (newest first) when
 * `undo`, and forgets them. */
static void made_dirs_end(struct made_dirs *made, bool undo)
{
    while (made->n--) {
        if (undo)
            rmdir(made->v[made->n]);
        free(made->v[made->n]);
    }
    free(made->v);
}

/* ---- downloading ------------------------------------------------------ */

enum { DOWNLOAD_STALL = 60 }; /* seconds without a byte before a retry */
#define DOWNLOAD_MAX ((size_t)1 << 40)
#define DEFAULT_ENDPOINT "https://huggingface.co"
#define WAYS_OUT                                                                   \
    "to run without downloading, give a model directory (--model DIR), use the " \
    "models already in the Hugging Face cache (HF_HUB_OFFLINE=1), or rank by "    \
    "BM25 (-m bm25)"

/* One model's download: what every file's request shares. */
struct download {
    const struct hub_ref *r;
    const struct hub_report *report;
    struct http_client *http;
    const char *endpoint;    /* $HF_ENDPOINT, else the hub */
    char *host;              /* its host[:port], for messages */
    char *name;              /* ORG/NAME, with @REVISION unless main */
    const char *headers[2];  /* Authorization with $HF_TOKEN, or none */
    struct made_dirs made;
    const char *file;        /* the file in flight, for progress */
};

static void on_progress(void *ctx, long long have, long long total)
{
    const struct download *d = ctx;
    d->report->progress(d->report->ctx, d->file, have, total);
}

static void url_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c))
            buf_putc(b, (char)c);
        else
            buf_printf(b, "%%%02X", c);
    }
}

/* An entity tag as the name of a blob: the value without W/ and quotes,
 * letters, digits, '-', '_' and '.' only, not starting with '.'.  The tag is
 * copied into out; returns whether it is usable. */
static bool etag_name(const char *v, char *out, size_t cap)
{
    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (n == 0 || n >= cap || v[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
            return false;
    memcpy(out, v, n);
    out[n] = 0;
    return true;
}

/* Fills e for a file the hub did not give: the model, the host, why, and
 * the ways out.  Returns -1. */
static int download_failed(const struct download *d, const char *file,
                           const struct http_request *q, struct err *e)
{
    char *msg = q->status ? http_error_message(d->http, q->response.data, q->response.len)
                          : NULL;
    struct buf why = {0};
    if (q->status == 404 && strcmp(file, "model.safetensors") == 0)
        buf_printf(&why, "it has no %s (HTTP 404); only safetensors weights are supported",
                   file);
    else if (q->status == 404)
        buf_printf(&why, "%s: HTTP 404%s%s%s: no such model, revision or file", file,
                   msg ? " (" : "", msg ? msg : "", msg ? ")" : "");
    else if (q->status == 401 || q->status == 403)
        buf_printf(&why, "%s: HTTP %ld; %s", file, q->status,
                   d->headers[0] ? "check that HF_TOKEN has access to this model"
                                 : "a gated or private model needs HF_TOKEN");
    else
        buf_printf(&why, "%s: %s%s%s", file, q->error, msg ? ": " : "", msg ? msg : "");
    http_err_set(d->http, e, "cannot download model %s from %s: %s; " WAYS_OUT, d->name,
                 d->host, why.data);
    buf_free(&why);
    free(msg);
    return -1;
}

/* Writes refs/REVISION (the revision has been checked: a ref name, never
 * a path out of refs/).  Failure only costs a lookup next time. */
static void write_ref(struct download *d, const char *commit)
{
    struct buf ref = {0};
    buf_printf(&ref, "%s/refs/%s", d->r->repo_dir, d->r->revision);
    char *slash = strrchr(ref.data, '/');
    *slash = 0;
    int rc = mkdirs(ref.data, &d->made, NULL);
    *slash = '/';
    FILE *f = rc == 0 ? fopen(ref.data, "w") : NULL;
    if (f) {
        fputs(commit, f);
        fclose(f);
    }
    buf_free(&ref);
}

/* Moves the finished download tmp into blobs/ETAG and links
 * snapshots/COMMIT/FILE to it.  Sets *snapshot on the first file. */
static int file_store(struct download *d, const char *blobs, const char *tmp, const char *file,
                      const char *commit, const char *etag, char **snapshot, struct err *e)
{
    struct buf blob = {0}, snap = {0}, link = {0}, target = {0}, parent = {0};
    buf_printf(&blob, "%s/%s", blobs, etag);
    buf_printf(&snap, "%s/snapshots/%s", d->r->repo_dir, commit);
    buf_printf(&link, "%s/%s", snap.data, file);
    /* A module's file (1_Dense/model.safetensors) sits one directory
     * deeper, its link one "../" longer, as huggingface_hub makes it. */
    buf_printf(&target, "../../");
    for (const char *c = file; *c; c++)
        if (*c == '/')
            buf_printf(&target, "../");
    buf_printf(&target, "blobs/%s", etag);
    buf_printf(&parent, "%s", link.data);
    *strrchr(parent.data, '/') = 0;
    int rc = -1;
    if (rename(tmp, blob.data) != 0)
        err_set(e, "cannot rename %s: %s", tmp, strerror(errno));
    else if (mkdirs(snap.data, &d->made, e) == 0 && mkdirs(parent.data, &d->made, e) == 0) {
        unlink(link.data);
        if (symlink(target.data, link.data) != 0)
            err_set(e, "cannot link %s: %s", link.data, strerror(errno));
        else
            rc = 0;
    }
    if (rc == 0 && !*snapshot)
        *snapshot = xstrdup(snap.data);
    buf_free(&blob);
    buf_free(&snap);
    buf_free(&link);
    buf_free(&target);
    buf_free(&parent);
    return rc;
}

/* Downloads one file of the model into the cache.  On the first file the
 * snapshot directory is not known yet; *snapshot is set from X-Repo-Commit.
 * Returns 1 downloaded, 0 absent on the hub (404, optional file), -1 + e. */
static int download_file(struct download *d, const char *file, bool required,
                         char **snapshot, struct err *e)
{
    const struct hub_ref *r = d->r;
    struct buf url = {0}, tmp = {0}, label = {0};
    buf_printf(&url, "%s/%s/resolve/", d->endpoint, r->repo);
    url_escape(&url, r->revision);
    buf_printf(&url, "/%s", file);
    buf_printf(&label, "model %s, %s", r->repo, file);

    char *blobs = path_join(r->repo_dir, "blobs");
    int rc = -1;
    FILE *f = NULL;
    struct http_request q = {0};
    if (mkdirs(blobs, &d->made, e) < 0)
        goto out;
    buf_printf(&tmp, "%s/", blobs);
    for (const char *c = file; *c; c++)
        buf_put(&tmp, *c == '/' ? "-" : c, 1);
    buf_printf(&tmp, ".%ld.incomplete", (long)getpid());
    if (!(f = fopen(tmp.data, "w+b"))) {
        err_set(e, "cannot write %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    d->file = file;
    q = (struct http_request){
        .method = "GET", .url = url.data, .headers = d->headers[0] ? d->headers : NULL,
        .label = label.data, .dest = f, .resume = true, .stall = DOWNLOAD_STALL,
        .keep_headers = true, .max_bytes = DOWNLOAD_MAX,
        .progress = d->report->progress ? on_progress : NULL, .progress_ctx = d,
    };
    int failed = http_run(d->http, &q, 1, e);
    off_t size = ftello(f);
    int closed = fclose(f);
    if (failed < 0)
        goto out;
    if (closed != 0) {
        err_set(e, "cannot write %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    if (!q.ok) {
        if (q.status == 404 && !required)
            rc = 0;
        else
            download_failed(d, file, &q, e);
        goto out;
    }

    /* An LFS file is a redirect whose X-Linked-* headers describe it. */
    char commit[64], linked[160], etag[160], num[32];
    bool have_etag = http_header(&q, "X-Linked-Etag", linked, sizeof linked)
                         ? etag_name(linked, etag, sizeof etag)
                         : http_header(&q, "ETag", linked, sizeof linked) &&
                               etag_name(linked, etag, sizeof etag);
    long long want = http_header(&q, "X-Linked-Size", num, sizeof num) ? atoll(num) : -1;
    if (want >= 0 && (long long)size != want) {
        err_set(e, "model %s: incomplete download of %s (%lld of %lld bytes)", r->repo, file,
                (long long)size, want);
        goto out;
    }
    if (!http_header(&q, "X-Repo-Commit", commit, sizeof commit) || !is_commit(commit) ||
        !have_etag) {
        err_set(e, "model %s: %s sent no usable X-Repo-Commit or ETag for %s", r->repo,
                d->host, file);
        goto out;
    }
    if (file_store(d, blobs, tmp.data, file, commit, etag, snapshot, e) == 0) {
        rc = 1;
        if (!is_commit(r->revision))
            write_ref(d, commit);
    }
out:
    if (tmp.data)
        unlink(tmp.data); /* gone already when stored */
    buf_free(&q.response);
    buf_free(&q.resp_headers);
    buf_free(&url);
    buf_free(&tmp);
    buf_free(&label);
    free(blobs);
    return rc;
}

/* download_file, unless the snapshot has the file already; a required
 * file missing on the hub is an error naming it.  0, or -1 with e. */
static int fetch_file(struct download *d, const char *file, bool required,
                      char **snapshot, struct err *e)
{
    if (*snapshot) {
        char *p = path_join(*snapshot, file);
        bool have = is_file(p);
        free(p);
        if (have)
            return 0;
    }
    int rc = download_file(d, file, required, snapshot, e);
    if (rc == 0 && (!*snapshot || required))
        return err_set(e, "model %s: %s is not on %s", d->r->repo, file, d->host);
    return rc < 0 ? -1 : 0;
}

static char *download_model(const struct hub_ref *r, const struct hub_report *report,
                            struct err *e)
{
    struct download d = {.r = r, .report = report};
    d.endpoint = env_nonempty("HF_ENDPOINT");
    if (!d.endpoint)
        d.endpoint = DEFAULT_ENDPOINT;
    if (!http_url_ok(d.endpoint))
        return err_set(e, "HF_ENDPOINT must be an http:// or https:// URL"), NULL;
    const char *token = env_nonempty("HF_TOKEN");
    if (token && has_control_byte(token))
        return err_set(e, "HF_TOKEN contains a control character"), NULL;

    /* libcurl sends a custom Authorization header to the hub only, never to
     * the storage host a redirect points to. */
    struct buf auth = {0};
    if (token) {
        buf_printf(&auth, "Authorization: Bearer %s", token);
        d.headers[0] = auth.data;
    }
    struct http_options o;
    http_options_init(&o);
    o.connect_timeout = 30;
    o.concurrency = 1;
    const char *secrets[] = {token, NULL};
    o.secrets = secrets;
    o.secret_url = d.endpoint;
    o.on_retry = report->say;
    o.ctx = report->ctx;
    d.http = http_client_new(&o, e);
    if (!d.http) {
        buf_free(&auth);
        return NULL;
    }
    d.host = http_url_host(d.endpoint);
    struct buf name = {0};
    buf_printf(&name, "%s%s%s", r->repo, strcmp(r->revision, "main") ? "@" : "",
               strcmp(r->revision, "main") ? r->revision : "");
    d.name = name.data;
    if (report->say) {
        char *cache = hub_cache_dir();
        struct buf line = {0};
        buf_printf(&line, "downloading model %s from %s into %s (once: later runs use "
                   "this copy)", d.name, d.host, cache);
        report->say(report->ctx, line.data);
        buf_free(&line);
        free(cache);
    }

    char *snapshot = NULL;
    int rc = 0;
    for (const struct hub_file *f = hub_model_files; rc >= 0 && f->name; f++)
        rc = fetch_file(&d, f->name, f->required, &snapshot, e);
    /* The modules after the Transformer (PyLate's 1_Dense, a cross-
     * encoder's 1_Pooling and 2_Dense): each one's config.json, and its
     * weights when it has any. */
    char *mods[MAX_MODULES];
    size_t n_mods = rc >= 0 ? module_dirs(snapshot, mods) : 0;
    for (size_t i = 0; i < n_mods; i++) {
        struct buf cfg = {0}, weights = {0};
        buf_printf(&cfg, "%s/config.json", mods[i]);
        buf_printf(&weights, "%s/model.safetensors", mods[i]);
        if (rc >= 0)
            rc = fetch_file(&d, cfg.data, true, &snapshot, e);
        if (rc >= 0)
            rc = fetch_file(&d, weights.data, false, &snapshot, e);
        buf_free(&cfg);
        buf_free(&weights);
    }
    module_dirs_free(mods, n_mods);
    if (rc < 0) {
        free(snapshot);
        snapshot = NULL;
    }
    made_dirs_end(&d.made, !snapshot);
    http_client_free(d.http);
    free(d.host);
    free(d.name);
    buf_free(&auth);
    return snapshot;
}

char *hub_resolve(const char *model, const struct hub_report *report, struct err *e)
{
    if (is_dir(model))
        return xstrdup(model);
    if (!hub_is_name(model))
        return err_set(e, "--model %s: no such directory, and not a hub name ORG/NAME[@REVISION]",
                       model), NULL;
    const char *at = strchr(model, '@');
    if (at && !hub_revision_ok(at + 1))
        return err_set(e, "--model %s: \"%s\" is neither a branch or tag name nor a 40-digit "
                       "commit", model, at + 1), NULL;
    struct hub_ref r;
    ref_parse(model, &r);
    char *dir = cached_snapshot(&r);
    if (dir && has_required(dir)) {
        ref_free(&r);
        return dir;
    }
    free(dir);
    if (env_true("HF_HUB_OFFLINE")) {
        err_set(e, "%s is not in the Hugging Face cache (%s) and HF_HUB_OFFLINE forbids downloading it",
                model, r.repo_dir);
        ref_free(&r);
        return NULL;
    }
    static const struct hub_report silent;
    dir = download_model(&r, report ? report : &silent, e);
    ref_free(&r);
    return dir;
}
