/* hub.h — model names to model directories.
 *
 * --model takes a directory (Hugging Face layout: config.json,
 * model.safetensors, tokenizer files) or a hub name ORG/NAME[@REVISION].
 * Hub names are looked up in the Hugging Face cache exactly where the
 * Python libraries keep it, so models downloaded with Python are found:
 *   $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
 *   else ~/.cache/huggingface/hub;
 *   models--ORG--NAME/refs/REVISION holds a commit hash, and
 *   models--ORG--NAME/snapshots/COMMIT/ holds the files.
 * A revision that is a 40-digit commit hash names the snapshot directly. */
#ifndef RERANK_HUB_H
#define RERANK_HUB_H

#include <stdbool.h>

#include "util.h"

/* The files a cross-encoder directory may hold; `required` ones must be
 * there (one of the tokenizer files is checked by the tokenizer). */
struct hub_file {
    const char *name;
    bool required;
};
extern const struct hub_file hub_model_files[];

/* The cache root directory (newly allocated). */
char *hub_cache_dir(void);

/* Whether s is a hub name, ORG/NAME[@REV] (and not an existing path): a
 * repository id as the hub allows it; the revision is checked apart. */
bool hub_is_name(const char *s);

/* Whether rev may name a revision, and so a path under refs/: a 40-digit
 * commit, or a branch or tag name by git's ref-name rules (no "..", no
 * leading '/' or '.', no control bytes, space, ~ ^ : ? * [ \ or "@{", no
 * component ending in ".lock", no "//" or trailing '/' or '.'). */
bool hub_revision_ok(const char *rev);

/* What a download reports, for the caller to show (hub.c prints nothing):
 * progress(ctx, file, bytes_so_far, total_or_-1) a few times a second, and
 * say(ctx, line) once when a download starts (the model, the host, the
 * cache) and once per retry (redacted); either may be NULL. */
struct hub_report {
    void (*progress)(void *ctx, const char *file, long long have, long long total);
    void (*say)(void *ctx, const char *line);
    void *ctx;
};

/* Resolves --model to a directory (newly allocated).  A hub name missing
 * from the cache is downloaded unless HF_HUB_OFFLINE is set.  NULL + e on
 * failure: a bad name or revision (before any request), or a download that
 * failed (naming the model, the host, why, and the ways out). */
char *hub_resolve(const char *model, const struct hub_report *report, struct err *e);

#endif
