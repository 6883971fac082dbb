/* sentencepiece.h — the SentencePiece Unigram tokenizer of XLM-RoBERTa
 * models (BAAI bge-reranker-*), id for id as Hugging Face's fast
 * tokenizer (the one sentence-transformers' CrossEncoder runs). */
#ifndef RERANK_SENTENCEPIECE_H
#define RERANK_SENTENCEPIECE_H

#include "tokenizers/tokenizer.h"
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

/* The id layout a family's tokenizer gives the pieces of a .model file. */
enum spm_layout {
    SPM_LAYOUT_FAIRSEQ, /* XLMRobertaConverter's, as above */
    SPM_LAYOUT_T5,      /* T5Converter's: piece i -> i (<pad> 0, </s> 1,
                           <unk> 2), then <extra_id_99> ... <extra_id_0> */
    SPM_LAYOUT_DEBERTA, /* DebertaV2Converter's: piece i -> i ([PAD] 0,
                           [CLS] 1, [SEP] 2, [UNK] 3), then [MASK]; Strip
                           before Precompiled */
};

/* The tokenizer of the SentencePiece model file path, ids in layout, with
 * the pipeline that layout's converter writes.  NULL with e naming the
 * file. */
struct tokenizer *sentencepiece_load_model(const char *path,
                                           enum spm_layout layout,
                                           struct err *e);

/* The id of the vocabulary entry spelled piece (U+2581 for a leading
 * space, as in the vocabulary), or -1 when there is none. */
int32_t sentencepiece_piece_id(const struct tokenizer *t, const char *piece);

#endif
