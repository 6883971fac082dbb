/* tokenizer.c — what every tokenizer shares: id vectors, the pair template
 * with longest_first truncation, and the choice of tokenizer for a model
 * directory.
 *
 * Tokenizing a text is each family's own (wordpiece.c, sentencepiece.c,
 * bpe.c);
 * this file only lays the two id sequences into the cross-encoder's input,
 * cutting them exactly as Hugging Face's `tokenizers` does. */
#include "tokenizers/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizers/bpe.h"
#include "tokenizers/sentencepiece.h"
#include "tokenizers/tokjson.h"
#include "tokenizers/wordpiece.h"

void ids_push(struct ids *a, int32_t id)
{
    if (a->n == a->cap) {
        grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
        a->word = xrealloc(a->word, a->cap);
    }
    a->word[a->n] = IDS_INSIDE;
    a->v[a->n++] = id;
}

void ids_mark_word(struct ids *a, size_t first)
{
    if (first < a->n)
        a->word[first] = IDS_WORD;
}

void ids_push_added(struct ids *a, int32_t id)
{
    ids_push(a, id);
    a->word[a->n - 1] = IDS_ADDED;
}

void ids_free(struct ids *a)
{
    free(a->v);
    free(a->word);
    a->v = NULL;
    a->word = NULL;
    a->n = a->cap = 0;
}

void encoding_free(struct encoding *enc)
{
    ids_free(&enc->input_ids);
    ids_free(&enc->type_ids);
}

size_t tokenizer_pair_specials(const struct tokenizer *t)
{
    return 2 + (size_t)t->n_sep_middle;
}

/* longest_first as `tokenizers` (utils/truncation.rs) does it for a pair
 * that does not fit in `budget` tokens: the shorter side keeps all its
 * tokens when they take at most half the budget and the longer side gets
 * the rest; otherwise the shorter side gets budget/2 and the longer
 * budget/2 + budget%2.  On equal lengths the first text counts as the
 * shorter.  Both sides keep their beginnings.  The lengths compared are
 * those after the early exit (tokenizer_encode_ids). */
static void truncate_longest_first(size_t *nq, size_t *nd, size_t budget)
{
    if (*nq + *nd <= budget)
        return;
    bool q_shorter = *nq <= *nd;
    size_t *shorter = q_shorter ? nq : nd, *longer = q_shorter ? nd : nq;
    if (*shorter <= budget / 2) {
        *longer = budget - *shorter;
    } else {
        *shorter = budget / 2;
        *longer = budget / 2 + budget % 2;
    }
}

static void push_pair(struct encoding *out, int32_t id, int32_t type)
{
    ids_push(&out->input_ids, id);
    ids_push(&out->type_ids, type);
}

/* When max_length leaves no room past the special tokens, both texts are
 * dropped and only the specials remain, as `tokenizers` does. */
void tokenizer_encode_pair(const struct tokenizer *t, const int32_t *q,
                           size_t nq, const int32_t *d, size_t nd,
                           size_t max_length, struct encoding *out)
{
    size_t specials = tokenizer_pair_specials(t);
    size_t budget = max_length > specials ? max_length - specials : 0;
    truncate_longest_first(&nq, &nd, budget);
    int32_t second = t->second_type_one ? 1 : 0;

    out->input_ids.n = out->type_ids.n = 0;
    push_pair(out, t->cls_id, 0);
    for (size_t i = 0; i < nq; i++)
        push_pair(out, q[i], 0);
    for (int i = 0; i < t->n_sep_middle; i++)
        push_pair(out, t->sep_id, 0);
    for (size_t i = 0; i < nd; i++)
        push_pair(out, d[i], second);
    push_pair(out, t->sep_id, second);
}

/* The ids Hugging Face's tokenize_with_limit keeps of a: every pre-token up
 * to and including the first one other than an added token (those are
 * split off before, and only counted) with which the count reaches limit. */
static size_t early_exit_len(const struct ids *a, size_t limit)
{
    size_t start = 0; /* where the current pre-token starts */
    for (size_t i = 1; i <= a->n; i++) {
        if (i < a->n && a->word[i] == IDS_INSIDE)
            continue;
        if (i >= limit && a->word[start] != IDS_ADDED)
            return i;
        start = i;
    }
    return a->n;
}

void tokenizer_encode_ids(const struct tokenizer *t, const struct ids *q,
                          const struct ids *d, size_t max_length,
                          struct encoding *out)
{
    tokenizer_encode_pair(t, q->v, early_exit_len(q, max_length), d->v,
                          early_exit_len(d, max_length), max_length, out);
}

static bool file_exists(const char *dir, const char *name)
{
    struct buf p = {0};
    buf_printf(&p, "%s/%s", dir, name);
    bool yes = access(p.data, F_OK) == 0;
    buf_free(&p);
    return yes;
}

/* sentencepiece.bpe.model means SentencePiece (read from the .model, which
 * loads in a fraction of the time a 250k-piece tokenizer.json takes to
 * parse).  Otherwise tokenizer.json, when present, decides (it is what
 * Hugging Face loads first), and vocab.txt means WordPiece. */
struct tokenizer *tokenizer_load(const char *model_dir, struct err *e)
{
    if (file_exists(model_dir, "sentencepiece.bpe.model"))
        return sentencepiece_load(model_dir, e);
    if (file_exists(model_dir, "tokenizer.json")) {
        struct buf path = {0};
        buf_printf(&path, "%s/tokenizer.json", model_dir);
        struct tokjson tj;
        struct tokenizer *t = NULL;
        if (tokjson_read(path.data, &tj, e)) {
            buf_free(&path);
            return NULL;
        }
        const char *type = json_string_value(
            json_object_get(json_object_get(tj.root, "model"), "type"));
        /* WordPiece takes the split-off vocabulary as decoded entries when
         * there are some; BPE walks model.vocab as JSON; Unigram reads the
         * file again. */
        if (!type)
            err_set(e, "%s: model.type missing", path.data);
        else if (strcmp(type, "WordPiece") == 0)
            t = tj.has_entries || !tokjson_restore_vocab(&tj, path.data, e)
                    ? wordpiece_load(model_dir, &tj, e) : NULL;
        else if (strcmp(type, "Unigram") == 0)
            t = sentencepiece_load(model_dir, e);
        else if (strcmp(type, "BPE") == 0)
            t = tokjson_restore_vocab(&tj, path.data, e)
                    ? NULL : bpe_load_json(tj.root, path.data, e);
        else
            err_set(e, "%s: tokenizer model %s is not supported", path.data,
                    type);
        tokjson_free(&tj);
        buf_free(&path);
        return t;
    }
    if (file_exists(model_dir, "vocab.txt"))
        return wordpiece_load(model_dir, NULL, e);
    err_set(e, "%s: no tokenizer (tokenizer.json, vocab.txt or "
               "sentencepiece.bpe.model)", model_dir);
    return NULL;
}
