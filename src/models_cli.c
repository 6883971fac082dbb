/* models_cli.c — `rerank models`: the models of the Hugging Face cache
 * (models--ORG--NAME/snapshots/COMMIT, with the refs that name each
 * snapshot) and of --model-dir directories, with family, size, revision and
 * whether rerank can run them -- decided by model.c's family table
 * (model_dir_open, model_family_find) and weights_open's validation of the
 * safetensors header, the same steps --model takes, without loading
 * weights -- and if not, why.  Plain text, or JSON Lines with --json. */
#include "models_cli.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net/hub.h"
#include "models/model.h"

struct entry {
    char *model;       /* ORG/NAME, or the directory given */
    char *path;
    char *revision;    /* commit, or NULL for a plain directory */
    char *refs;        /* "main, v2" (refs naming the commit), or "" */
    char *family;      /* the family, else config's model_type, else "" */
    long long size;    /* bytes of the regular files in path */
    bool runnable;
    char *reason;      /* why not, or NULL */
};

static const char models_usage[] =
"Usage: rerank models [--json] [--model-dir DIR]...\n"
"List the models in the Hugging Face cache (and the directories given) with\n"
"family, size, revision and whether rerank can run them, and if not, why.\n"
"\n"
"      --json            one JSON object per model (JSON Lines)\n"
"      --model-dir DIR   list DIR too (repeatable)\n"
"  -h, --help            show this help\n";

/* What the directory holds and whether the cross-encoder can run it. */
static void inspect(struct entry *en)
{
    struct buf p = {0};
    char **files = dir_names(en->path);
    for (size_t i = 0; files && files[i]; i++) {
        struct stat st;
        p.len = 0;
        buf_printf(&p, "%s/%s", en->path, files[i]);
        if (stat(p.data, &st) == 0 && S_ISREG(st.st_mode))
            en->size += (long long)st.st_size;
    }
    dir_names_free(files);
    buf_free(&p);
    struct err e = {0};
    struct model_dir d;
    if (model_dir_open(&d, en->path, &e) < 0) {
        en->family = xstrdup("");
        en->reason = xstrdup(e.msg);
        return;
    }
    const struct model_family *f = model_family_find(&d);
    en->family = xstrdup(f ? f->name : d.model_type);
    if (!f) {
        char names[256];
        model_family_names(names, sizeof names);
        struct buf r = {0};
        if (d.model_type[0])
            buf_printf(&r, "model_type %s not supported (supported: %s)", d.model_type, names);
        else
            buf_printf(&r, "config.json has no model_type (supported: %s)", names);
        en->reason = r.data;
    } else {
        struct weights w;
        if (weights_open(&w, &d, f->name, &e) < 0) {
            en->reason = xstrdup(e.msg);
        } else {
            weights_close(&w);
            en->runnable = true;
        }
    }
    model_dir_close(&d);
}

/* The refs of repo naming commit, "main, v2". */
static char *refs_of(const char *repo, const char *commit)
{
    struct buf dir = {0}, out = {0}, p = {0};
    buf_printf(&dir, "%s/refs", repo);
    char **refs = dir_names(dir.data);
    buf_putc(&out, 0);
    out.len = 0;
    for (size_t i = 0; refs && refs[i]; i++) {
        p.len = 0;
        buf_printf(&p, "%s/%s", dir.data, refs[i]);
        size_t len;
        char *text = read_file(p.data, &len, NULL);
        if (text && len >= 40 && strncmp(text, commit, 40) == 0)
            buf_printf(&out, out.len ? ", %s" : "%s", refs[i]);
        free(text);
    }
    dir_names_free(refs);
    buf_free(&dir);
    buf_free(&p);
    return out.data;
}

static void add(struct entry **v, size_t *n, size_t *cap, struct entry en)
{
    grow((void **)v, cap, *n + 1, sizeof **v);
    inspect(&en);
    (*v)[(*n)++] = en;
}

/* The cache's models, one entry per snapshot. */
static void list_cache(const char *cache, struct entry **v, size_t *n, size_t *cap)
{
    char **repos = dir_names(cache);
    struct buf p = {0};
    for (size_t i = 0; repos && repos[i]; i++) {
        if (strncmp(repos[i], "models--", 8) != 0)
            continue;
        char *name = xstrdup(repos[i] + 8);
        char *sep = strstr(name, "--");
        if (sep) {
            *sep = '/';
            memmove(sep + 1, sep + 2, strlen(sep + 2) + 1);
        }
        p.len = 0;
        buf_printf(&p, "%s/%s/snapshots", cache, repos[i]);
        char **snaps = dir_names(p.data);
        for (size_t j = 0; snaps && snaps[j]; j++) {
            struct entry en = {.model = xstrdup(name), .revision = xstrdup(snaps[j])};
            struct buf sp = {0}, repo = {0};
            buf_printf(&sp, "%s/%s", p.data, snaps[j]);
            buf_printf(&repo, "%s/%s", cache, repos[i]);
            en.path = sp.data;
            en.refs = refs_of(repo.data, snaps[j]);
            buf_free(&repo);
            add(v, n, cap, en);
        }
        dir_names_free(snaps);
        free(name);
    }
    dir_names_free(repos);
    buf_free(&p);
}

static void put_size(struct buf *b, long long n)
{
    if (n >= 1000000000)
        buf_printf(b, "%.1f GB", (double)n / 1e9);
    else if (n >= 1000000)
        buf_printf(b, "%.1f MB", (double)n / 1e6);
    else if (n >= 1000)
        buf_printf(b, "%.1f kB", (double)n / 1e3);
    else
        buf_printf(b, "%lld B", n);
}

static void put_text(struct buf *b, const struct entry *en)
{
    struct buf rev = {0}, size = {0};
    buf_putc(&rev, 0);
    rev.len = 0;
    if (en->revision)
        buf_printf(&rev, "%.12s%s%s%s", en->revision, en->refs[0] ? " (" : "", en->refs,
                   en->refs[0] ? ")" : "");
    else
        buf_puts(&rev, "-");
    put_size(&size, en->size);
    buf_printf(b, "%-40s %-20s %-12s %9s  %s%s\n", en->model, rev.data,
               en->family[0] ? en->family : "-", size.data, en->runnable ? "yes" : "no: ",
               en->runnable ? "" : en->reason);
    buf_free(&rev);
    buf_free(&size);
}

static void put_json(struct buf *b, const struct entry *en)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(en->model));
    json_object_set_new(o, "path", json_string(en->path));
    json_object_set_new(o, "revision", en->revision ? json_string(en->revision) : json_null());
    json_t *refs = json_array();
    char *r = xstrdup(en->refs ? en->refs : "");
    for (char *t = strtok(r, ", "); t; t = strtok(NULL, ", "))
        json_array_append_new(refs, json_string(t));
    free(r);
    json_object_set_new(o, "refs", refs);
    json_object_set_new(o, "family", en->family[0] ? json_string(en->family) : json_null());
    json_object_set_new(o, "size", json_integer(en->size));
    json_object_set_new(o, "runnable", json_boolean(en->runnable));
    json_object_set_new(o, "reason", en->reason ? json_string(en->reason) : json_null());
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_puts(b, s);
    buf_putc(b, '\n');
    free(s);
    json_decref(o);
}

int models_cli_run(int argc, char **argv, FILE *out, FILE *errf)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"model-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    char **dirs = xcalloc((size_t)argc, sizeof *dirs);
    size_t n_dirs = 0;
    opterr = 0;
    optind = 1;
    int c, kind = 0;
    while (!kind && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'd':
            dirs[n_dirs++] = optarg;
            break;
        case 'h':
            fputs(models_usage, out);
            free(dirs);
            return fflush(out) == 0 ? 0 : ERR_IO;
        case ':':
            fprintf(errf, "rerank: option '%s' needs a value\n", argv[optind - 1]);
            kind = ERR_USAGE;
            break;
        default:
            fprintf(errf, "rerank: unknown option '%s'\n", argv[optind - 1]);
            kind = ERR_USAGE;
            break;
        }
    }
    if (!kind && optind < argc) {
        fprintf(errf, "rerank: rerank models takes no operands ('%s'); use --model-dir\n",
                argv[optind]);
        kind = ERR_USAGE;
    }
    if (kind) {
        fputs("Try 'rerank models --help' for more information.\n", errf);
        free(dirs);
        return kind;
    }
    char *cache = hub_cache_dir();
    list_cache(cache, &v, &n, &cap);
    for (size_t i = 0; i < n_dirs; i++)
        add(&v, &n, &cap, (struct entry){.model = xstrdup(dirs[i]), .path = xstrdup(dirs[i]),
                                         .refs = xstrdup("")});
    struct buf b = {0};
    if (!json)
        buf_printf(&b, "%-40s %-20s %-12s %9s  %s\n", "MODEL", "REVISION", "FAMILY", "SIZE",
                   "RUNNABLE");
    for (size_t i = 0; i < n; i++)
        json ? put_json(&b, &v[i]) : put_text(&b, &v[i]);
    if (n == 0)
        fprintf(errf, "rerank: no models in %s\n", cache);
    errno = 0;
    if ((b.len && fwrite(b.data, 1, b.len, out) != b.len) || fflush(out) != 0) {
        if (errno != EPIPE) {
            fprintf(errf, "rerank: write error: %s\n", strerror(errno ? errno : EIO));
            kind = ERR_IO;
        }
    }
    buf_free(&b);
    for (size_t i = 0; i < n; i++) {
        free(v[i].model);
        free(v[i].path);
        free(v[i].revision);
        free(v[i].refs);
        free(v[i].family);
        free(v[i].reason);
    }
    free(v);
    free(dirs);
    free(cache);
    return kind;
}

int models_main(int argc, char **argv)
{
    return models_cli_run(argc, argv, stdout, stderr);
}
