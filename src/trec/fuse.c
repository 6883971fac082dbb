/* fuse.c — rank fusion (see fuse.h).  Every (run, topic, document) gives one
 * contribution; they are sorted by (fused topic, docid, run) and summed in
 * that order, so the result does not depend on hashing or on qsort's
 * stability. */
#include "trec/fuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fuse_method_parse(const char *s, enum fuse_method *out)
{
    if (strcmp(s, "rrf") == 0)
        *out = FUSE_RRF;
    else if (strcmp(s, "combsum") == 0)
        *out = FUSE_COMBSUM;
    else if (strcmp(s, "combmnz") == 0)
        *out = FUSE_COMBMNZ;
    else
        return -1;
    return 0;
}

int fuse_norm_parse(const char *s, enum fuse_norm *out)
{
    if (strcmp(s, "none") == 0)
        *out = FUSE_NORM_NONE;
    else if (strcmp(s, "minmax") == 0)
        *out = FUSE_NORM_MINMAX;
    else if (strcmp(s, "zscore") == 0)
        *out = FUSE_NORM_ZSCORE;
    else
        return -1;
    return 0;
}

struct contrib {
    size_t topic;        /* index into out->topics */
    const char *docid;   /* the run's */
    size_t run;
    long line;
    double value;
};

static int cmp_contrib(const void *pa, const void *pb)
{
    const struct contrib *a = pa, *b = pb;
    if (a->topic != b->topic)
        return a->topic < b->topic ? -1 : 1;
    int c = strcmp(a->docid, b->docid);
    if (c)
        return c;
    return (a->run > b->run) - (a->run < b->run);
}

/* The normalisation of topic t's scores: s -> (s - shift) / scale. */
static void norm_params(const struct trec_topic_run *t, enum fuse_norm norm,
                        double *shift, double *scale)
{
    *shift = 0;
    *scale = 1;
    if (norm == FUSE_NORM_NONE || t->n_docs == 0)
        return;
    if (norm == FUSE_NORM_MINMAX) {
        double lo = t->docs[0].score, hi = t->docs[0].score;
        for (size_t i = 1; i < t->n_docs; i++) {
            lo = fmin(lo, t->docs[i].score);
            hi = fmax(hi, t->docs[i].score);
        }
        *shift = lo;
        *scale = fmax(hi - lo, 1e-9);
        return;
    }
    double sum = 0, ss = 0;
    for (size_t i = 0; i < t->n_docs; i++)
        sum += t->docs[i].score;
    double mean = sum / (double)t->n_docs;
    for (size_t i = 0; i < t->n_docs; i++)
        ss += (t->docs[i].score - mean) * (t->docs[i].score - mean);
    *shift = mean;
    *scale = fmax(sqrt(ss / (double)t->n_docs), 1e-9);
}

void fuse_runs(const struct trec_run *runs, size_t n, const struct fuse_options *o,
               struct trec_run *out)
{
    memset(out, 0, sizeof *out);
    struct buf path = {0};
    for (size_t r = 0; r < n; r++)
        buf_printf(&path, r ? "+%s" : "%s", runs[r].path);
    out->path = arena_strndup(&out->arena, path.data ? path.data : "", path.len);
    buf_free(&path);
    out->tag = "fused";
    struct contrib *c = NULL;
    size_t n_c = 0, cap_c = 0;
    for (size_t r = 0; r < n; r++) {
        for (size_t ti = 0; ti < runs[r].n_topics; ti++) {
            const struct trec_topic_run *t = &runs[r].topics[ti];
            struct trec_topic_run *ot = trec_run_topic(out, t->qid);
            if (!ot->first_line)
                ot->first_line = t->first_line;
            size_t topic = (size_t)(ot - out->topics);
            double shift, scale;
            norm_params(t, o->norm, &shift, &scale);
            grow((void **)&c, &cap_c, n_c + t->n_docs, sizeof *c);
            for (size_t i = 0; i < t->n_docs; i++) {
                double v = o->method == FUSE_RRF ? 1.0 / (o->rrf_k + (double)(i + 1))
                                                 : (t->docs[i].score - shift) / scale;
                c[n_c++] = (struct contrib){topic, t->docs[i].docid, r, t->docs[i].line, v};
            }
        }
    }
    qsort(c, n_c, sizeof *c, cmp_contrib);
    for (size_t i = 0; i < n_c;) {
        size_t j = i;
        double sum = 0;
        for (; j < n_c && c[j].topic == c[i].topic && strcmp(c[j].docid, c[i].docid) == 0; j++)
            sum += c[j].value;
        if (o->method == FUSE_COMBMNZ)
            sum *= (double)(j - i);
        struct trec_topic_run *t = &out->topics[c[i].topic];
        grow((void **)&t->docs, &t->cap_docs, t->n_docs + 1, sizeof *t->docs);
        t->docs[t->n_docs++] = (struct trec_doc){
            .docid = arena_strndup(&out->arena, c[i].docid, strlen(c[i].docid)),
            .score = sum,
            .line = c[i].line,
        };
        out->n_lines++;
        i = j;
    }
    free(c);
    for (size_t t = 0; t < out->n_topics; t++)
        trec_topic_sort(&out->topics[t]);
}
