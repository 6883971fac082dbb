/* tokjson.h — tokenizer.json, read with its vocabulary split off.
 *
 * A WordPiece or BPE tokenizer.json is mostly model.vocab: tens of
 * thousands of "token": id members, which jansson turns into as many
 * json_t values and hash entries — most of a ten-passage run's start-up
 * (about 30 ms of CPU for BERT's 30,522 tokens).  tokjson_read checks the
 * whole text as strict JSON itself, and when it finds exactly one top-level
 * "model" with exactly one "vocab" in it, hands jansson the document with
 * that value replaced by {} and its newlines (so that the line numbers
 * in jansson's errors do not move) and keeps the value's place in the text; when the
 * value is an object of "token": integer members with ids in
 * [0, INT32_MAX), it also decodes them, in file order, for the tokenizer
 * to take directly.
 *
 * Anything it is not sure jansson reads the same way — invalid JSON, a
 * second "model" or "vocab" key, \u0000, nesting deeper than 512, a number
 * jansson might refuse as too big — sends the whole text to jansson as
 * before, so what loads, and every error message, stay jansson's.  The file
 * is untrusted input: every byte is checked before it is used. */
#ifndef RERANK_TOKJSON_H
#define RERANK_TOKJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* One member of model.vocab: its key, decoded from JSON (valid UTF-8, no
 * NUL), at keys.data + off. */
struct tokjson_entry {
    uint32_t off, len;
    int32_t id;
};

struct tokjson {
    json_t *root;                   /* the document (new reference); its
                                       model.vocab is {} when split */
    char *text;                     /* the file, NUL-terminated */
    size_t len;
    bool split;                     /* model.vocab was taken out of root */
    size_t vocab_off, vocab_len;    /* its value's text, when split */
    bool has_entries;               /* entries hold all of model.vocab */
    struct buf keys;                /* decoded keys, back to back */
    struct tokjson_entry *entries;  /* in file order (a repeated key: the
                                       later id wins, as in jansson) */
    size_t n_entries;
};

/* Reads and parses path.  0, or -1 + e ("path:line: jansson's message"
 * for malformed JSON, as json_load_file's callers wrote it). */
int tokjson_read(const char *path, struct tokjson *t, struct err *e);

/* Puts model.vocab back into root exactly as jansson reads it in the
 * whole document (for readers that walk it as JSON).  0, or -1 + e. */
int tokjson_restore_vocab(struct tokjson *t, const char *path, struct err *e);

void tokjson_free(struct tokjson *t);

#endif
