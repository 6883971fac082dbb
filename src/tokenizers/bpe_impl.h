/* bpe_impl.h — what bpe.c (tokenizing) and bpe_json.c (reading
 * tokenizer.json) share: the lookup tables and the state of one BPE
 * tokenizer.  Other modules use bpe.h. */
#ifndef RERANK_BPE_IMPL_H
#define RERANK_BPE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "tokenizers/bpe.h"

/* ---- token string → id: open addressing over a pool of keys ---------- */

struct vocab_slot {
    uint32_t off, len; /* key bytes in vocab.pool */
    uint32_t hash;
    int32_t id;        /* -1: empty slot */
};

struct vocab {
    struct buf pool;
    struct vocab_slot *slots; /* mask + 1 of them, a power of two */
    size_t mask, n;
};

/* ---- merges: (left id, right id) → (rank, merged id) ------------------ */

struct merge_slot {
    uint64_t pair;
    uint32_t rank;
    int32_t new_id; /* -1: empty slot */
};

struct merges {
    struct merge_slot *slots;
    size_t mask;
};

/* ---- added tokens, and a byte trie of their patterns -------------------- */

struct added_token {
    char *content;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized;
};

struct trie_node {
    int32_t child, sibling; /* first child / next sibling, -1 for none */
    int32_t token;          /* index into bpe.added ending here, or -1 */
    unsigned char byte;
};

struct trie {
    struct trie_node *nodes; /* nodes[0] is the root */
    size_t n, cap;
    int32_t root[256];       /* the root's child for each byte, or -1 */
};

/* ---- the tokenizer ------------------------------------------------------- */

enum norm_kind { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE,
                 NORM_STRIP, NORM_PREPEND, NORM_REPLACE };

struct norm_step {
    enum norm_kind kind;
    bool left, right; /* Strip */
    char *text;       /* Prepend: the prefix; Replace: the literal pattern */
    char *content;    /* Replace: what each occurrence becomes */
};

/* Pre-tokenizer steps, applied in order to every piece. */
enum pretok_kind {
    PRE_PREFIX_SPACE, /* ByteLevel add_prefix_space: " " before a piece */
    PRE_SPLIT_GPT2,   /* ByteLevel use_regex: the GPT-2 regex, Isolated */
    PRE_SPLIT_LLAMA,  /* Split: the Qwen2 / Llama-3 regex, Isolated */
    PRE_BYTES,        /* ByteLevel: bytes → GPT-2's printable characters */
};

struct pretok_step {
    enum pretok_kind kind;
    int max_digits; /* PRE_SPLIT_LLAMA: \p{N} (1) or \p{N}{1,3} (3) */
};

struct bpe {
    struct vocab vocab;
    struct merges merges;
    struct added_token *added; /* one per id, in first-seen order */
    size_t n_added;
    struct trie raw_trie, norm_trie;
    struct norm_step *norm;
    size_t n_norm;
    struct pretok_step pre[8];
    size_t n_pre;
    char *prefix, *suffix; /* continuing_subword_prefix, end_of_word_suffix */
    int32_t unk_id;        /* -1: unknown characters are dropped */
    bool fuse_unk, byte_fallback, ignore_merges;
    char byte_char[256][3]; /* GPT-2's character for each byte, UTF-8 */
    int32_t byte_id[256];   /* byte_fallback: the id of <0xXX>, or -1 */
};

/* Maps k → id (a repeated key takes the new id); -1 past 4 GiB of keys. */
int bpe_vocab_put(struct vocab *v, const char *k, size_t n, int32_t id);
/* The id of k, or -1. */
int32_t bpe_vocab_get(const struct vocab *v, const char *k, size_t n);

/* The slot of pair, or the empty slot (new_id -1) where it would go. */
struct merge_slot *bpe_merge_slot(const struct merges *m, uint64_t pair);

static inline uint64_t bpe_pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

/* Adds pattern p (non-empty) for token index tok; -1 when p is there
 * already (the automaton of `tokenizers` refuses duplicate patterns). */
int bpe_trie_add(struct trie *t, const char *p, size_t n, int32_t tok);

/* Applies the normalizer steps to in[0..n) (valid UTF-8) into out, using
 * tmp as scratch. */
void bpe_normalize(const struct norm_step *steps, size_t n_steps,
                   const char *in, size_t n, struct buf *out, struct buf *tmp);

/* GPT-2's bytes_to_unicode into b->byte_char. */
void bpe_byte_chars_init(struct bpe *b);

/* struct tokenizer's tokenize and free. */
void bpe_tokenize(const struct tokenizer *t, const char *text, size_t len,
                  struct ids *out);
void bpe_free(struct tokenizer *t);

#endif
