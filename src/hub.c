/* hub.c — resolving --model: a local directory, a snapshot in the Hugging
 * Face cache, or a download from the hub into that same cache layout (see
 * hub.h).
 *
 * Downloads follow huggingface_hub's layout so that Python finds them too:
 * the file goes to blobs/ETAG (written as blobs/ETAG.incomplete first and
 * renamed once its size is checked, so an interrupted download never leaves
 * a file that looks complete), snapshots/COMMIT/FILE is a relative symlink
 * to it, and refs/REVISION holds COMMIT (from the X-Repo-Commit header).
 * An interrupted transfer is resumed with a range request, a few times. */
#include "hub.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const struct hub_file hub_model_files[] = {
    {"config.json", true},
    {"model.safetensors", true},
    {"tokenizer.json", false},
    {"vocab.txt", false},
    {"tokenizer_config.json", false},
    {"special_tokens_map.json", false},
    {"config_sentence_transformers.json", false}, /* default activation */
    {"sentencepiece.bpe.model", false},
    {"artifact.metadata", false},  /* ColBERT (Stanford): lengths, markers */
    {"modules.json", false},       /* sentence-transformers / PyLate modules */
    {NULL, false},
};

enum { DOWNLOAD_TRIES = 4 };

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

/* A hub name: ORG/NAME with one slash, no leading dot or slash, characters
 * the hub allows, and an optional @REVISION. */
bool hub_is_name(const char *s)
{
    if (is_dir(s) || *s == '.' || *s == '/')
        return false;
    const char *at = strchr(s, '@');
    size_t n = at ? (size_t)(at - s) : strlen(s);
    int slashes = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/')
            slashes++;
        else if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return slashes == 1 && s[0] != '/' && s[n - 1] != '/' && !(at && !at[1]);
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
    return true;
}

static int mkdirs(const char *path, struct err *e)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            err_set(e, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = err_set(e, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return rc;
}

/* ---- downloading ------------------------------------------------------ */

struct download {
    FILE *f;
    const char *name;
    const struct hub_report *report;
    double last_shown;
    char commit[64];
    char etag[160];        /* X-Linked-Etag wins over ETag (LFS files) */
    char linked_etag[160];
    long long size;        /* X-Linked-Size, else Content-Length; -1 unknown */
    long long linked_size;
    long long offset;      /* bytes already in the file when resuming */
};

static void header_value(const char *line, size_t n, const char *name,
                         char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && isspace((unsigned char)*v))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    if (end - v >= 2 && v[0] == 'W' && v[1] == '/')
        v += 2;
    if (end - v >= 2 && *v == '"' && end[-1] == '"')
        v++, end--;
    size_t len = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(out, v, len);
    out[len] = 0;
}

static size_t on_header(char *line, size_t size, size_t count, void *ctx)
{
    struct download *d = ctx;
    size_t n = size * count;
    char num[32] = "";
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        d->etag[0] = 0; /* a new response (after a redirect) */
        d->size = -1;
    }
    header_value(line, n, "X-Repo-Commit", d->commit, sizeof d->commit);
    header_value(line, n, "X-Linked-Etag", d->linked_etag, sizeof d->linked_etag);
    header_value(line, n, "ETag", d->etag, sizeof d->etag);
    header_value(line, n, "X-Linked-Size", num, sizeof num);
    if (*num)
        d->linked_size = atoll(num);
    *num = 0;
    header_value(line, n, "Content-Length", num, sizeof num);
    if (*num)
        d->size = atoll(num) + d->offset;
    return n;
}

static size_t on_data(char *p, size_t size, size_t count, void *ctx)
{
    struct download *d = ctx;
    return fwrite(p, size, count, d->f) * size;
}

static int on_progress(void *ctx, curl_off_t total, curl_off_t now,
                       curl_off_t ut, curl_off_t un)
{
    struct download *d = ctx;
    double t = now_seconds();
    if (!d->report->progress || t - d->last_shown < 0.2)
        return 0;
    d->last_shown = t;
    d->report->progress(d->report->ctx, d->name, (long long)now + d->offset,
                        total > 0 ? (long long)total + d->offset : -1);
    return 0;
}

/* Fetches URL into path (appending from its current size when resuming).
 * Returns the HTTP status (200/206 success), or -1 with e on a transfer
 * failure worth retrying. */
static long fetch(const char *url, const char *path, struct download *d, struct err *e)
{
    struct stat st;
    d->offset = stat(path, &st) == 0 ? (long long)st.st_size : 0;
    d->f = fopen(path, d->offset ? "ab" : "wb");
    if (!d->f)
        return err_set(e, "cannot write %s: %s", path, strerror(errno)), -2;
    CURL *c = curl_easy_init();
    if (!c) {
        fclose(d->f);
        return err_set(e, "cannot start libcurl"), -2;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* stalled 60 s */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "rerank/" RERANK_VERSION);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (d->offset)
        curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)d->offset);
    const char *token = getenv("HF_TOKEN");
    if (token && *token) {
        /* libcurl sends the bearer token to the original host only, never
         * to the storage host a redirect points to. */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (fclose(d->f) != 0 && rc == CURLE_OK)
        return err_set(e, "cannot write %s: %s", path, strerror(errno)), -2;
    if (rc == CURLE_RANGE_ERROR) {
        unlink(path); /* the server cannot resume: start again */
        return err_set(e, "%s: server cannot resume", d->name), -1;
    }
    if (rc != CURLE_OK)
        return err_set(e, "%s: %s", d->name, curl_easy_strerror(rc)), -1;
    return status;
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

/* Downloads one file of r into the cache.  On the first file the snapshot
 * directory is not known yet; *snapshot is set from X-Repo-Commit.
 * Returns 1 downloaded, 0 absent on the hub (404, optional file), -1 + e. */
static int download_file(const struct hub_ref *r, const char *file, bool required,
                         const struct hub_report *report, char **snapshot, struct err *e)
{
    const char *endpoint = getenv("HF_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = "https://huggingface.co";
    struct buf url = {0};
    buf_printf(&url, "%s/%s/resolve/", endpoint, r->repo);
    url_escape(&url, r->revision);
    buf_printf(&url, "/%s", file);

    char *blobs = path_join(r->repo_dir, "blobs");
    if (mkdirs(blobs, e) < 0) {
        free(blobs);
        buf_free(&url);
        return -1;
    }
    struct buf tmp = {0};
    buf_printf(&tmp, "%s/%s.%ld.incomplete", blobs, file, (long)getpid());
    struct download d = {.name = file, .report = report, .size = -1, .linked_size = -1};
    long status = -1;
    int rc = -1;
    for (int attempt = 1; attempt <= DOWNLOAD_TRIES; attempt++) {
        status = fetch(url.data, tmp.data, &d, e);
        if (status >= 0 || status == -2)
            break;
        if (attempt < DOWNLOAD_TRIES) {
            if (report->say) {
                char line[sizeof e->msg + 64];
                snprintf(line, sizeof line, "%.1000s; resuming (attempt %d of %d)", e->msg,
                         attempt + 1, DOWNLOAD_TRIES);
                report->say(report->ctx, line);
            }
            sleep((unsigned)attempt);
        }
    }
    if (status < 0)
        goto out;
    if (status == 404 || status == 401 || status == 403) {
        if (!required && status == 404) {
            rc = 0;
            goto out;
        }
        if (status == 404)
            err_set(e, "%s: %s has no %s (HTTP 404)%s", r->repo, r->revision, file,
                    strcmp(file, "model.safetensors") == 0
                        ? "; only safetensors weights are supported" : "");
        else
            err_set(e, "%s: HTTP %ld for %s%s", r->repo, status, file,
                    getenv("HF_TOKEN") ? "; check HF_TOKEN's access to this model"
                                        : "; a gated model needs HF_TOKEN");
        goto out;
    }
    if (status != 200 && status != 206) {
        err_set(e, "%s: HTTP %ld for %s", r->repo, status, file);
        goto out;
    }
    const char *etag = *d.linked_etag ? d.linked_etag : d.etag;
    long long want = d.linked_size >= 0 ? d.linked_size : d.size;
    struct stat st;
    if (stat(tmp.data, &st) != 0 || (want >= 0 && (long long)st.st_size != want)) {
        err_set(e, "%s: incomplete download of %s (%lld of %lld bytes)", r->repo, file,
                (long long)st.st_size, want);
        goto out;
    }
    if (!*d.commit || !is_commit(d.commit) || !*etag || strchr(etag, '/')) {
        err_set(e, "%s: the server sent no X-Repo-Commit or ETag for %s", r->repo, file);
        goto out;
    }
    struct buf blob = {0}, snap = {0}, link = {0}, target = {0};
    buf_printf(&blob, "%s/%s", blobs, etag);
    buf_printf(&snap, "%s/snapshots/%s", r->repo_dir, d.commit);
    buf_printf(&link, "%s/%s", snap.data, file);
    buf_printf(&target, "../../blobs/%s", etag);
    if (rename(tmp.data, blob.data) != 0)
        err_set(e, "cannot rename %s: %s", tmp.data, strerror(errno));
    else if (mkdirs(snap.data, e) == 0) {
        unlink(link.data);
        if (symlink(target.data, link.data) != 0)
            err_set(e, "cannot link %s: %s", link.data, strerror(errno));
        else
            rc = 1;
    }
    if (rc == 1 && !*snapshot)
        *snapshot = xstrdup(snap.data);
    if (rc == 1 && !is_commit(r->revision)) {
        struct buf ref = {0};
        buf_printf(&ref, "%s/refs/%s", r->repo_dir, r->revision);
        char *slash = strrchr(ref.data, '/');
        *slash = 0;
        mkdirs(ref.data, NULL);
        *slash = '/';
        FILE *f = fopen(ref.data, "w");
        if (f) {
            fputs(d.commit, f);
            fclose(f);
        }
        buf_free(&ref);
    }
    buf_free(&blob);
    buf_free(&snap);
    buf_free(&link);
    buf_free(&target);
out:
    unlink(tmp.data);
    buf_free(&tmp);
    buf_free(&url);
    free(blobs);
    return rc;
}

static char *download_model(const struct hub_ref *r, const struct hub_report *report,
                            struct err *e)
{
    char *snapshot = NULL;
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    for (const struct hub_file *f = hub_model_files; f->name; f++) {
        if (snapshot) {
            char *p = path_join(snapshot, f->name);
            bool have = is_file(p);
            free(p);
            if (have)
                continue;
        }
        if (download_file(r, f->name, f->required, report, &snapshot, e) < 0) {
            free(snapshot);
            return NULL;
        }
        if (!snapshot) {
            err_set(e, "%s: %s is not on the hub", r->repo, f->name);
            return NULL;
        }
    }
    return snapshot;
}

char *hub_resolve(const char *model, const struct hub_report *report, struct err *e)
{
    if (is_dir(model))
        return xstrdup(model);
    if (!hub_is_name(model))
        return err_set(e, "--model %s: no such directory, and not a hub name ORG/NAME[@REVISION]",
                       model), NULL;
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
