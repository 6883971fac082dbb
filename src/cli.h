/* cli.h — command-line options: the table, defaults, validation and the
 * --help text.  Parsing never exits; main.c acts on the result. */
#ifndef RERANK_CLI_H
#define RERANK_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "input.h"
#include "output.h"
#include "scorer.h"

/* Exit statuses (documented in --help, README and rerank(1)). */
enum {
    EXIT_OK = 0,
    EXIT_INPUT = 1,        /* bad input; groups before it were written */
    EXIT_USAGE = 2,        /* bad option or option value */
    EXIT_SKIPPED = 3,      /* finished, but --skip-invalid skipped lines */
    EXIT_MODEL = 4,        /* model or tokenizer could not be loaded */
    EXIT_SCORER = 5,       /* scoring a group failed; groups before it were written */
    EXIT_PARTIAL = 6,      /* finished with --keep-going, some groups failed */
    EXIT_THRESHOLD = 7,    /* rerank eval: a --fail-under threshold was missed */
    EXIT_IO = 8,           /* an input could not be read or output written */
};

enum method {
    METHOD_DEFAULT,          /* chosen from the other options */
    METHOD_BM25, METHOD_IDENTITY, METHOD_RANDOM,
    METHOD_CROSS_ENCODER,    /* --model, or --method cross-encoder */
    METHOD_API,              /* --api */
};

struct options {
    char **files;
    int n_files;
    struct input_options in;
    enum output_format format;
    long top_k;
    bool no_text;
    const char *run_tag;
    enum method method;
    struct bm25_params bm25;
    unsigned long long seed;
    /* cross-encoder */
    const char *model;       /* --model: directory or ORG/NAME[@REV] */
    long max_length;         /* 0: the model's default */
    const char *activation;  /* auto | none | sigmoid | softmax */
    long label;              /* -1: the last label */
    long threads;            /* 0: all cores */
    const char *long_mode;   /* first | max */
    long stride;             /* 0: a quarter of the window */
    bool tokenize;           /* print encodings instead of scoring */
    const char *cache;       /* --cache FILE (ColBERT document vectors) */
    /* remote rerank APIs */
    const char *api, *api_url, *api_model, *cacert;
    long api_batch, api_concurrency, retries;
    double timeout;
    /* LLM rerankers */
    const char *llm, *llm_url, *llm_model;   /* llm: listwise | pointwise */
    long window, step, passage_words;        /* 0: the defaults */
    long cascade;                            /* 0: no cascade */
    bool dry_run;
    bool method_given;                       /* -m was on the command line */
    /* TREC batch input */
    const char *run, *queries, *docs, *topic_field;
    long depth;
    bool drop_tail;
    bool quiet, verbose, keep_going;
    long shard_k, shard_n;   /* --shard K/N; shard_n 0 when not sharding */
    bool help, version;
};

/* Parses argv into o.  Returns 0, or -1 with e holding a one-line reason
 * (a usage error). */
int cli_parse(int argc, char **argv, struct options *o, struct err *e);

/* The --help text. */
extern const char cli_usage[];

#endif
