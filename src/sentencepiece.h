/* sentencepiece.h — the SentencePiece Unigram tokenizer of XLM-RoBERTa
 * models (BAAI bge-reranker-*), id for id as Hugging Face's fast
 * tokenizer (the one sentence-transformers' CrossEncoder runs). */
#ifndef RERANK_SENTENCEPIECE_H
#define RERANK_SENTENCEPIECE_H

#include "tokenizer.h"
#include "util.h"

/* Loads the tokenizer of model_dir from sentencepiece.bpe.model (preferred:
 * it is SentencePiece's own file, and loads fastest) or else tokenizer.json
 * (a Unigram model with a Precompiled normalizer and a Metaspace
 * pre-tokenizer).  Ids follow the model's vocabulary: for a .model, the
 * one transformers' XLMRobertaConverter builds (<s>=0 <pad>=1 </s>=2
 * <unk>=3, piece i -> i+1, <mask> last).  The pipeline (added tokens,
 * normalizer, pre-tokenizer) is tokenizer.json's when there is one, as
 * Hugging Face loads it, else the converter's.  Returns NULL and fills e
 * on error; release with tokenizer_free(). */
struct tokenizer *sentencepiece_load(const char *model_dir, struct err *e);

#endif
