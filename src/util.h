/* util.h — the few helpers every module shares.
 *
 * Error convention (library-like modules never print or exit): a function that
 * can fail returns 0 on success and -1 on failure (or NULL), after filling a
 * caller-provided `struct err` with one line of text that names the place
 * ("config.json: hidden_size must be positive").  main.c decides what the user
 * sees.  Out-of-memory is the one exception: the x*alloc helpers print
 * "rerank: out of memory" and abort, because no caller can do better. */
#ifndef RERANK_UTIL_H
#define RERANK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What kind of failure an error is; main.c maps kinds to exit statuses (its
 * one table).  ERR_UNSPECIFIED, err_set's, leaves the choice to the caller's
 * context (a failure while loading the model is a model error). */
enum err_kind {
    ERR_UNSPECIFIED,
    ERR_INPUT,      /* malformed input data */
    ERR_USAGE,      /* an option, option value or combination that cannot work */
    ERR_MODEL,      /* a model or tokenizer that cannot be loaded */
    ERR_SCORER,     /* scoring failed (server, network) */
    ERR_THRESHOLD,  /* rerank eval: a --fail-under threshold was missed */
    ERR_IO,         /* a file that cannot be opened or read, output not written */
};

/* Zero-initialise with `struct err e = {0};`. */
struct err {
    char msg[1024];
    enum err_kind kind;
};

/* Formats into e->msg (when e is not NULL), sets the kind to ERR_UNSPECIFIED
 * and returns -1, so that `return err_set(e, "bad %s", x);` reads as one step. */
int err_set(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* err_set with a kind. */
int err_setk(struct err *e, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes e->msg with "prefix: ", keeping the old message and kind; returns -1. */
int err_prefix(struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* xrealloc for arrays: count * size, aborting on overflow. */
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *buf (capacity *cap) so that it holds at least `need` bytes. */
void grow(void **buf, size_t *cap, size_t need, size_t elem_size);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
int size_mul(size_t a, size_t b, size_t *out);
int size_add(size_t a, size_t b, size_t *out);

/* Reads a whole file into a NUL-terminated buffer (*len excludes the NUL).
 * Returns NULL and fills e on failure. The caller frees. */
char *read_file(const char *path, size_t *len, struct err *e);

/* The value of an environment variable; NULL when unset or empty. */
const char *env_nonempty(const char *name);

/* Whether s holds a control byte (< 0x20 or 0x7f). */
bool has_control_byte(const char *s);

/* A copy of at most max bytes of text[0..len) on one line: control bytes
 * become spaces, the cut falls on a UTF-8 boundary and is marked "...".
 * Caller frees. */
char *one_line(const char *text, size_t len, size_t max);

/* Monotonic clock in seconds. */
double now_seconds(void);

/* Shortest decimal text that reads back as the same value: as a float32 when
 * the double holds a float32 exactly (what the neural scorers produce), else
 * as a double.  Written without an exponent unless that is longer: "100",
 * "120", "0.0001", but "1e+20" and "1e-05".  buf must hold 32 bytes.  Non-finite values print as JSON has
 * no spelling for them: "NaN", "Infinity", "-Infinity" are never produced;
 * callers must not pass them (writers map them to null). */
void format_score(char buf[32], double x);

/* Growable byte buffer. */
struct buf {
    char *data;
    size_t len, cap;
};
void buf_put(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);

/* Arena: many small allocations freed together (one group's strings). */
struct arena {
    struct arena_chunk *head;
};
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a); /* frees everything but the first chunk */
void arena_free(struct arena *a);

/* 64-bit mixing hash (splitmix64 finaliser); inline for hash-table probes
 * in tokenizer loops. */
static inline uint64_t hash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* FNV-1a, 64-bit, the one byte hash of the program: HASH_FNV_BASIS is the
 * hash of no bytes, hash_fnv_step adds one byte and hash_fnv_extend n, so
 * that a scan can extend a hash as it goes; hash_bytes hashes p[0..n) from
 * HASH_FNV_BASIS ^ seed. */
#define HASH_FNV_BASIS 0xcbf29ce484222325ULL
static inline uint64_t hash_fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 0x100000001b3ULL;
}
uint64_t hash_fnv_extend(uint64_t h, const void *p, size_t n);
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* UTF-8 as RFC 3629 defines it (no overlongs, surrogates or code points past
 * U+10FFFF), the one validator of the program.  utf8_char_len: the length
 * of the well-formed character at s[0..n) (n > 0), or 0 when it is
 * malformed.  utf8_invalid_at: the byte offset of the first malformed
 * sequence in s[0..n), or -1 when all of it is valid. */
size_t utf8_char_len(const char *s, size_t n);
long utf8_invalid_at(const char *s, size_t n);

/* Character classes of Hugging Face's `tokenizers` (Rust) for added-token
 * matching: rust_is_whitespace is char::is_whitespace (the White_Space
 * property, also Oniguruma's \s); rust_is_word_char is the regex crate's
 * \w (Alphabetic approximated by the letters, Nl and the circled / squared
 * letters; marks, Nd, Pc, joiners), which single_word tests. */
bool rust_is_whitespace(int32_t c);
bool rust_is_word_char(int32_t c);

#endif
