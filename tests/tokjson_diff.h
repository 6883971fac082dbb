/* tokjson_diff.h — tokjson_read against jansson on the same text, shared by
 * tests/test_tokjson.c and fuzz/fuzz_tokjson.c.
 *
 * The property: tokjson_read succeeds exactly when json_loadb does, with the
 * same error message; its document, with model.vocab put back, equals
 * jansson's; and its entries, applied in order with later ids winning, are
 * jansson's model.vocab member for member.  Returns NULL when all holds, else
 * what did not. */
#ifndef RERANK_TOKJSON_DIFF_H
#define RERANK_TOKJSON_DIFF_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "tokenizers/tokjson.h"

static inline const char *tokjson_diff(const char *path, const void *data,
                                       size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        return "cannot write the file";
    json_error_t je;
    json_t *want = json_loadb(data, size, 0, &je);
    char want_msg[sizeof je.text + 64];
    snprintf(want_msg, sizeof want_msg, "%s:%d: %s", path, je.line, je.text);

    struct tokjson t;
    struct err e = {0};
    const char *why = NULL;
    if (tokjson_read(path, &t, &e)) {
        if (want)
            why = "tokjson_read failed where jansson reads the text";
        else if (strcmp(e.msg, want_msg) != 0)
            why = "a different error message";
        json_decref(want);
        return why;
    }
    if (!want) {
        tokjson_free(&t);
        return "tokjson_read read what jansson refuses";
    }
    json_t *vocab = json_object_get(json_object_get(want, "model"), "vocab");
    if (t.has_entries) {
        /* jansson's object: the last id of each key, keys without NUL */
        size_t matched = 0;
        for (size_t i = 0; i < t.n_entries && !why; i++) {
            const struct tokjson_entry *en = &t.entries[i];
            char *key = strndup(t.keys.data + en->off, en->len);
            json_t *v = json_object_get(vocab, key);
            if (strlen(key) != en->len || !json_is_integer(v))
                why = "an entry jansson does not have";
            /* the entry that decides is the last one with this key */
            bool last = true;
            for (size_t j = i + 1; j < t.n_entries && last; j++)
                last = !(t.entries[j].len == en->len &&
                         memcmp(t.keys.data + t.entries[j].off, key, en->len) == 0);
            if (!why && last) {
                matched++;
                if (json_integer_value(v) != en->id)
                    why = "an entry's id differs from jansson's";
            }
            free(key);
        }
        if (!why && matched != json_object_size(vocab))
            why = "the entries miss some of jansson's members";
    }
    if (!why && tokjson_restore_vocab(&t, path, &e))
        why = "tokjson_restore_vocab failed";
    if (!why && !json_equal(t.root, want))
        why = "the document differs from jansson's";
    json_decref(want);
    tokjson_free(&t);
    return why;
}

#endif
