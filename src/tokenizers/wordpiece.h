/* wordpiece.h — BERT's WordPiece tokenizer (Hugging Face BertTokenizer).
 *
 * tokenizer.c decides which tokenizer a model directory holds and calls
 * wordpiece_load for WordPiece ones; everything else goes through the
 * generic struct tokenizer. */
#ifndef RERANK_WORDPIECE_H
#define RERANK_WORDPIECE_H

#include <jansson.h>

#include "tokenizers/tokenizer.h"

struct tokjson;

/* Builds the WordPiece tokenizer of model_dir: from `tokenizer_json` (that
 * directory's tokenizer.json as tokjson_read gives it, borrowed; when its
 * vocabulary is split off, it comes as entries) when it is not NULL,
 * else from vocab.txt with the optional tokenizer_config.json,
 * special_tokens_map.json and added_tokens.json beside it.
 * Returns a new tokenizer (free with tokenizer_free), or NULL + e; errors
 * name the file. */
struct tokenizer *wordpiece_load(const char *model_dir,
                                 const struct tokjson *tokenizer_json,
                                 struct err *e);

#endif
