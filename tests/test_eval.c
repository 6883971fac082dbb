/* test_eval.c — trec_eval-exact measures, the randomization test and the
 * t-test, and the `rerank eval` command line.
 *
 * testdata/eval/small.{run,qrels} is worked out by hand below.  Its ranking
 * (score descending, ties by docid descending; the rank column is wrong on
 * purpose) is:
 *   q1: d3 (5.0, rel 0), d2 (4, rel 1), d1 (4.0, rel 2), d5 (3, unjudged),
 *       d4 (2.0, rel 3)          — d2 before d1: tie, "d2" > "d1"
 *       judged: d4=3, d1=2, d2=1, d9=1 (not retrieved), d3=0; relevant
 *       (level 1): 4
 *   q2: c (0.9, unjudged), b (0.5, rel 0), a (0.5, rel 1) — tie, "b" > "a"
 *   q3: judged (x=1) but not in the run
 *   q4: z (rel 0), w (rel -1): nothing relevant, ideal DCG 0
 *   q5: in the run but not judged: always ignored
 * By default the queries are q1, q2, q4; with -c also q3 (scoring 0).
 * Also checked against testdata/eval/cranfield-expected.tsv, written by the
 * independent scripts/trec_eval_ref.py (scripts/cranfield-fixture.py), on
 * the shared Cranfield qrels; the measures trec_eval 10.0 added and the
 * t-test against testdata/eval/trec10-expected.tsv and ttest-expected.tsv
 * (the same reference, scripts/gen-eval-expected.py) on the crafted
 * testdata/eval/edge.{qrels,run} and on Cranfield. */
#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include <jansson.h>

#include "trec/eval.h"
#include "trec/trec.h"

#define SMALL_RUN "testdata/eval/small.run"
#define SMALL_QRELS "testdata/eval/small.qrels"

static char tmpdir[] = "/tmp/rerank-test-eval-XXXXXX";

/* Writes text to tmpdir/name and returns the path (static buffer). */
static const char *write_tmp(const char *name, const char *text)
{
    static char path[4][512];
    static int slot;
    char *p = path[slot++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* The values of one measure over the small fixture. */
struct small {
    struct trec_run run;
    struct trec_qrels qrels;
    struct eval_result r;
    struct eval_measures ms;
};

static void small_eval(struct small *s, const char *measures,
                       struct eval_opts o)
{
    struct err e;
    memset(s, 0, sizeof *s);
    CHECK(trec_run_read(&s->run, SMALL_RUN, &e) == 0);
    CHECK(trec_qrels_read(&s->qrels, SMALL_QRELS, &e) == 0);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", measures);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        CHECK(eval_measures_add(&s->ms, tok, &e) == 0);
    eval_run(&s->run, &s->qrels, s->ms.v, s->ms.n, &o, &s->r);
}

static double small_value(const struct small *s, const char *qid,
                          const char *measure)
{
    long k = eval_measures_find(&s->ms, measure);
    if (k < 0)
        return NAN;
    if (strcmp(qid, "all") == 0)
        return s->r.means[k];
    for (size_t q = 0; q < s->r.n_queries; q++)
        if (strcmp(s->r.qids[q], qid) == 0)
            return s->r.values[q * s->ms.n + (size_t)k];
    return NAN;
}

static void small_free(struct small *s)
{
    eval_result_free(&s->r);
    eval_measures_free(&s->ms);
    trec_run_free(&s->run);
    trec_qrels_free(&s->qrels);
}

static void test_reading(void)
{
    struct trec_run run;
    struct err e;
    CHECK(trec_run_read(&run, SMALL_RUN, &e) == 0);
    CHECK(run.n_topics == 4);
    CHECK_STR(run.topics[0].qid, "q1");
    CHECK_STR(run.topics[1].qid, "q2");
    CHECK(run.topics[0].first_line == 2);
    CHECK(run.n_lines == 11);
    CHECK_STR(run.tag, "small");
    const struct trec_topic_run *t = &run.topics[0];
    const char *order[] = {"d3", "d2", "d1", "d5", "d4"};
    CHECK(t->n_docs == 5);
    for (size_t i = 0; i < 5 && i < t->n_docs; i++)
        CHECK_STR(t->docs[i].docid, order[i]);
    CHECK(t->docs[1].line == 6);   /* d2's line in the file */
    t = trec_run_find(&run, "q2");
    CHECK(t && t->n_docs == 3 && strcmp(t->docs[1].docid, "b") == 0);
    CHECK(trec_run_find(&run, "nope") == NULL);
    trec_run_free(&run);

    struct trec_qrels q;
    CHECK(trec_qrels_read(&q, SMALL_QRELS, &e) == 0);
    CHECK(q.n_topics == 4);
    const struct trec_qrels_topic *qt = trec_qrels_find(&q, "q1");
    CHECK(qt && qt->n == 5);
    const struct trec_judgment *j = qt ? trec_qrels_judgment(qt, "d4") : NULL;
    CHECK(j && j->rel == 3);
    CHECK(qt && trec_qrels_judgment(qt, "d5") == NULL);
    qt = trec_qrels_find(&q, "q4");
    j = qt ? trec_qrels_judgment(qt, "w") : NULL;
    CHECK(j && j->rel == -1);
    trec_qrels_free(&q);
}

static void check_error(int rc, const struct err *e, const char *want)
{
    CHECK_MSG(rc == -1 && strstr(e->msg, want), "want \"%s\" in \"%s\"", want,
              rc == -1 ? e->msg : "(no error)");
}

static void test_malformed(void)
{
    struct trec_run run;
    struct trec_qrels q;
    struct err e;
    const char *p;
    char want[600];

    p = write_tmp("bad1.run", "q1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 1.0\n");
    snprintf(want, sizeof want, "%s:2: expected 6 fields", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    p = write_tmp("bad2.run", "# c\n\nq1 Q0 d1 1 1.0 t\nq1 Q0 d2 2 high t\n");
    snprintf(want, sizeof want, "%s:4: score \"high\" is not a finite number", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    p = write_tmp("bad3.run", "q1 Q0 d1 1 1.0 t\nq2 Q0 d1 1 1.0 t\nq1 Q0 d1 2 0.5 t\n");
    snprintf(want, sizeof want, "%s:3: document \"d1\" listed twice for query "
             "\"q1\" (first on line 1)", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    p = write_tmp("bad4.run", "q1 Q0 d1 1 1.0 t extra\n");
    snprintf(want, sizeof want, "%s:1: expected 6 fields", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    p = write_tmp("bad5.run", "q1 Q0 d1 1 nan t\n");
    snprintf(want, sizeof want, "%s:1: score \"nan\"", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    p = write_tmp("bad6.run", "q1 Q0 d\xff 1 1 t\n");
    snprintf(want, sizeof want, "%s:1: invalid UTF-8", p);
    check_error(trec_run_read(&run, p, &e), &e, want);
    trec_run_free(&run);

    check_error(trec_run_read(&run, "/nonexistent/run", &e), &e,
                "/nonexistent/run: No such file");
    trec_run_free(&run);

    p = write_tmp("bad1.qrels", "q1 0 d1 1\nq1 0 d2\n");
    snprintf(want, sizeof want, "%s:2: expected 4 fields", p);
    check_error(trec_qrels_read(&q, p, &e), &e, want);
    trec_qrels_free(&q);

    p = write_tmp("bad2.qrels", "q1 0 d1 1\nq1 0 d2 200\n");
    snprintf(want, sizeof want, "%s:2: relevance \"200\" is not an integer", p);
    check_error(trec_qrels_read(&q, p, &e), &e, want);
    trec_qrels_free(&q);

    p = write_tmp("bad3.qrels", "q1 0 d1 1\nq1 0 d2 1.5\n");
    snprintf(want, sizeof want, "%s:2: relevance \"1.5\"", p);
    check_error(trec_qrels_read(&q, p, &e), &e, want);
    trec_qrels_free(&q);

    p = write_tmp("bad4.qrels", "q1 0 d1 1\nq2 0 d1 1\n# x\nq1 0 d1 0\n");
    snprintf(want, sizeof want, "%s:4: document \"d1\" judged twice for query "
             "\"q1\" (first on line 1)", p);
    check_error(trec_qrels_read(&q, p, &e), &e, want);
    trec_qrels_free(&q);
}

static void test_measure_names(void)
{
    struct eval_measures ms = {0};
    struct err e;
    CHECK(eval_measures_add(&ms, "ndcg_cut.5,10", &e) == 0);
    CHECK(eval_measures_add(&ms, "ndcg_cut_10", &e) == 0); /* duplicate */
    CHECK(eval_measures_add(&ms, "P", &e) == 0);
    CHECK(eval_measures_add(&ms, "mrr_10", &e) == 0);
    CHECK(ms.n == 2 + 9 + 1);
    CHECK_STR(ms.v[0].name, "ndcg_cut_5");
    CHECK_STR(ms.v[1].name, "ndcg_cut_10");
    CHECK_STR(ms.v[2].name, "P_5");
    CHECK_STR(ms.v[10].name, "P_1000");
    CHECK(ms.v[11].kind == EVAL_MRR_CUT && ms.v[11].cutoff == 10);
    CHECK(eval_measures_add(&ms, "ndcg.1=3", &e) == -1); /* gains: not supported */
    CHECK(eval_measures_add(&ms, "P_0", &e) == -1);
    CHECK(eval_measures_add(&ms, "P_x", &e) == -1);
    CHECK(eval_measures_add(&ms, "map_5", &e) == -1);
    CHECK(eval_measures_add(&ms, "mrr", &e) == -1);
    CHECK(eval_measures_add(&ms, "recall.5,", &e) == -1);
    eval_measures_free(&ms);
    eval_measures_default(&ms);
    const char *want[] = {"ndcg_cut_10", "recip_rank", "mrr_10", "map",
                          "recall_100", "recall_1000", "P_10"};
    CHECK(ms.n == 7);
    for (size_t i = 0; i < 7 && i < ms.n; i++)
        CHECK_STR(ms.v[i].name, want[i]);
    eval_measures_free(&ms);
}

static void test_small_default(void)
{
    struct small s;
    small_eval(&s, "ndcg_cut_10 ndcg_cut_2 recip_rank mrr_10 mrr_1 map "
               "recall_100 recall_2 P_10 P_2", (struct eval_opts){1, 0, false});
    CHECK(s.r.n_queries == 3);
    CHECK(s.r.n_unretrieved == 1 && strcmp(s.r.unretrieved[0], "q3") == 0);
    CHECK(s.r.n_unjudged == 1); /* q5 */
    const double tol = 5e-5;    /* 4 decimals, as trec_eval prints */

    /* q1: DCG@10 = 1/log2(3) + 2/log2(4) + 3/log2(6) (d2, d1, d4 at ranks
       2, 3, 5); ideal = 3 + 2/log2(3) + 1/log2(4) + 1/log2(5). */
    double dcg = 1 / log2(3) + 2 / log2(4) + 3 / log2(6);
    double idcg = 3 + 2 / log2(3) + 1 / log2(4) + 1 / log2(5);
    CHECK_NEAR(small_value(&s, "q1", "ndcg_cut_10"), 0.5376, tol);
    CHECK_NEAR(dcg / idcg, 0.5376, tol);
    /* @2: (1/log2(3)) / (3 + 2/log2(3)). */
    CHECK_NEAR(small_value(&s, "q1", "ndcg_cut_2"), 0.1480, tol);
    CHECK_NEAR(small_value(&s, "q1", "recip_rank"), 0.5000, tol);
    CHECK_NEAR(small_value(&s, "q1", "mrr_1"), 0.0, tol);
    /* AP = (1/2 + 2/3 + 3/5) / 4, d9 never retrieved. */
    CHECK_NEAR(small_value(&s, "q1", "map"), 0.4417, tol);
    CHECK_NEAR(small_value(&s, "q1", "recall_100"), 0.7500, tol);
    CHECK_NEAR(small_value(&s, "q1", "recall_2"), 0.2500, tol);
    CHECK_NEAR(small_value(&s, "q1", "P_10"), 0.3000, tol);
    CHECK_NEAR(small_value(&s, "q1", "P_2"), 0.5000, tol);

    /* q2: a (rel 1) at rank 3 after the tie with b. DCG = 1/log2(4), ideal 1. */
    CHECK_NEAR(small_value(&s, "q2", "ndcg_cut_10"), 0.5000, tol);
    CHECK_NEAR(small_value(&s, "q2", "ndcg_cut_2"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "q2", "recip_rank"), 0.3333, tol);
    CHECK_NEAR(small_value(&s, "q2", "map"), 0.3333, tol);
    CHECK_NEAR(small_value(&s, "q2", "P_10"), 0.1000, tol);

    /* q4: nothing relevant: every measure 0 (ideal DCG 0 leaves DCG 0). */
    CHECK_NEAR(small_value(&s, "q4", "ndcg_cut_10"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "q4", "map"), 0.0, tol);
    CHECK(isnan(small_value(&s, "q3", "map")));   /* not evaluated */
    CHECK(isnan(small_value(&s, "q5", "map")));

    /* Means over q1, q2, q4. */
    CHECK_NEAR(small_value(&s, "all", "ndcg_cut_10"), (dcg / idcg + 0.5) / 3, 1e-12);
    CHECK_NEAR(small_value(&s, "all", "ndcg_cut_10"), 0.3459, tol);
    CHECK_NEAR(small_value(&s, "all", "recip_rank"), 0.2778, tol);
    CHECK_NEAR(small_value(&s, "all", "mrr_10"), 0.2778, tol);
    CHECK_NEAR(small_value(&s, "all", "map"), 0.2583, tol);
    CHECK_NEAR(small_value(&s, "all", "recall_100"), 0.5833, tol);
    CHECK_NEAR(small_value(&s, "all", "P_10"), 0.1333, tol);
    small_free(&s);
}

static void test_small_options(void)
{
    const double tol = 5e-5;
    struct small s;

    /* -c: q3 joins with zeros; means over 4 queries. */
    small_eval(&s, "ndcg_cut_10 recip_rank map P_10", (struct eval_opts){1, 0, true});
    CHECK(s.r.n_queries == 4);
    CHECK(s.r.n_queries == 4 && !s.r.retrieved[2] && s.r.retrieved[0]);
    CHECK_NEAR(small_value(&s, "q3", "map"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "all", "ndcg_cut_10"), 0.2594, tol); /* 1.0376/4 */
    CHECK_NEAR(small_value(&s, "all", "recip_rank"), 0.2083, tol); /* (1/2+1/3)/4 */
    CHECK_NEAR(small_value(&s, "all", "map"), 0.19375, 1e-12);    /* 0.775/4 */
    CHECK_NEAR(small_value(&s, "all", "P_10"), 0.1000, tol);
    small_free(&s);

    /* -l 2: q1 relevant are d1 (rank 3) and d4 (rank 5); q2 has none.
       nDCG ignores the level (gains are the qrels values). */
    small_eval(&s, "ndcg_cut_10 recip_rank map recall_100 P_10",
               (struct eval_opts){2, 0, false});
    CHECK_NEAR(small_value(&s, "q1", "recip_rank"), 0.3333, tol);
    CHECK_NEAR(small_value(&s, "q1", "map"), 0.3667, tol);  /* (1/3+2/5)/2 */
    CHECK_NEAR(small_value(&s, "q1", "recall_100"), 1.0, tol);
    CHECK_NEAR(small_value(&s, "q1", "P_10"), 0.2, tol);
    CHECK_NEAR(small_value(&s, "q1", "ndcg_cut_10"), 0.5376, tol);
    CHECK_NEAR(small_value(&s, "q2", "recip_rank"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "q2", "recall_100"), 0.0, tol);
    small_free(&s);

    /* -l 0: judged-0 documents count too: q1 d3 at rank 1. */
    small_eval(&s, "recip_rank map", (struct eval_opts){0, 0, false});
    CHECK_NEAR(small_value(&s, "q1", "recip_rank"), 1.0, tol);
    /* q1 relevant = d3,d2,d1,d4,d9 (5): (1 + 1 + 1 + 4/5) / 5. */
    CHECK_NEAR(small_value(&s, "q1", "map"), 0.7600, tol);
    /* q4: z (rel 0) at rank 1; w (rel -1) is never relevant. */
    CHECK_NEAR(small_value(&s, "q4", "map"), 1.0, tol);
    small_free(&s);

    /* -M 3: q1 keeps d3, d2, d1. */
    small_eval(&s, "ndcg_cut_10 map recall_100 P_5 mrr_10",
               (struct eval_opts){1, 3, false});
    CHECK_NEAR(small_value(&s, "q1", "ndcg_cut_10"),
               (1 / log2(3) + 2 / log2(4)) / (3 + 2 / log2(3) + 1 / log2(4) + 1 / log2(5)),
               1e-12);
    CHECK_NEAR(small_value(&s, "q1", "map"), 0.2917, tol);       /* (1/2+2/3)/4 */
    CHECK_NEAR(small_value(&s, "q1", "recall_100"), 0.5, tol);
    CHECK_NEAR(small_value(&s, "q1", "P_5"), 0.4, tol);
    CHECK_NEAR(small_value(&s, "q2", "mrr_10"), 0.3333, tol);
    small_free(&s);

    /* -M 2 cuts q2 before a: mrr and recip_rank 0 there. */
    small_eval(&s, "recip_rank", (struct eval_opts){1, 2, false});
    CHECK_NEAR(small_value(&s, "q2", "recip_rank"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "q1", "recip_rank"), 0.5, tol);
    small_free(&s);

    /* Combined: -c -l 2 -M 3 (values from scripts/trec_eval_ref.py, and by
       hand: q1 d1 at rank 3 is the only level-2 document left). */
    small_eval(&s, "mrr_2 P_5 recall_2 ndcg_cut_3", (struct eval_opts){2, 3, true});
    CHECK_NEAR(small_value(&s, "q1", "P_5"), 0.2, tol);
    CHECK_NEAR(small_value(&s, "q1", "mrr_2"), 0.0, tol);
    CHECK_NEAR(small_value(&s, "q1", "ndcg_cut_3"), 0.3425, tol);
    CHECK_NEAR(small_value(&s, "all", "ndcg_cut_3"), 0.2106, tol);
    CHECK_NEAR(small_value(&s, "all", "P_5"), 0.05, tol);
    small_free(&s);
}

/* The same 0/1 differences shifted by hand: d_i = +1 for five queries means
 * only the two all-same-sign flips of 32 reach |sum| = 5: p = 1/16. */
static void test_randomization(void)
{
    struct eval_result a = {0}, b = {0};
    const char *qids[] = {"1", "2", "3", "4", "5", "6"};
    double va[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.9}, vb[] = {1.1, 1.2, 1.3, 1.4, 1.5};
    static const struct eval_measure map = {.kind = EVAL_MAP, .name = "map"};
    a.measures = b.measures = &map;
    a.n_measures = b.n_measures = 1;
    a.n_queries = 6;          /* "6" has no partner: left out of the pairs */
    b.n_queries = 5;
    a.qids = b.qids = qids;
    a.values = va;
    b.values = vb;
    struct eval_comparison c;
    eval_compare(&a, &b, 0, 20000, 7, &c);
    CHECK(c.n_queries == 5);
    CHECK_NEAR(c.diff, 1.0, 1e-12);
    CHECK_NEAR(c.mean_a, 0.3, 1e-12);
    CHECK_NEAR(c.p, 1.0 / 16, 0.006);
    struct eval_comparison c2;
    eval_compare(&a, &b, 0, 20000, 7, &c2);
    CHECK(c2.p == c.p);       /* seeded: reproducible */
    eval_compare(&a, &a, 0, 1000, 7, &c2);
    CHECK(c2.p == 1.0 && c2.diff == 0 && c2.n_queries == 6);
    /* Alternating signs: the observed sum is 0, every permutation reaches it. */
    double vc[] = {1.1, -0.8, 1.3, -0.6, 1.5};
    b.values = vc;
    eval_compare(&a, &b, 0, 1000, 7, &c2);
    CHECK(c2.p > 0.2);
}

/* Runs `rerank eval ARGS...` capturing stdout and stderr. */
static int cli(char *out, size_t out_n, char *errbuf, size_t err_n, ...)
{
    char *argv[32] = {"eval"};
    int argc = 1;
    va_list ap;
    va_start(ap, err_n);
    for (char *a; argc < 31 && (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    FILE *fo = tmpfile(), *fe = tmpfile();
    int rc = eval_cli_run(argc, argv, fo, fe);
    rewind(fo);
    rewind(fe);
    size_t n = fread(out, 1, out_n - 1, fo);
    out[n] = 0;
    n = fread(errbuf, 1, err_n - 1, fe);
    errbuf[n] = 0;
    fclose(fo);
    fclose(fe);
    return rc;
}

static void test_cli(void)
{
    static char out[65536], err[4096];
    int rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS,
                 SMALL_RUN, NULL);
    CHECK(rc == 0);
    CHECK_STR(out,
              "runid                 \tall\tsmall\n"
              "num_q                 \tall\t3\n"
              "ndcg_cut_10           \tall\t0.3459\n"
              "recip_rank            \tall\t0.2778\n"
              "mrr_10                \tall\t0.2778\n"
              "map                   \tall\t0.2583\n"
              "recall_100            \tall\t0.5833\n"
              "recall_1000           \tall\t0.5833\n"
              "P_10                  \tall\t0.1333\n");
    CHECK(strstr(err, "warning: " SMALL_RUN ": 1 judged query has no results "
                 "(left out; -c scores them 0): q3\n") != NULL);
    CHECK(strstr(err, "1 query has no judgements") != NULL);

    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-q",
             "-m", "map", "-m", "P.2,5", "-c", "-l2", "-M", "4", SMALL_RUN, NULL);
    CHECK(rc == 0);
    /* q1 with -M 4: d3 d2 d1 d5; level 2: d1 at rank 3 of 2 relevant. */
    CHECK(strstr(out, "map                   \tq1\t0.1667\n"
                      "P_2                   \tq1\t0.0000\n"
                      "P_5                   \tq1\t0.2000\n") != NULL);
    CHECK(strstr(out, "map                   \tq3\t0.0000\n") != NULL);
    CHECK(strstr(out, "num_q                 \tall\t4\n") != NULL);
    CHECK(strstr(out, "map                   \tall\t0.0417\n") != NULL);

    /* JSON. */
    rc = cli(out, sizeof out, err, sizeof err, "--json", "--qrels", SMALL_QRELS,
             "-m", "map", SMALL_RUN, SMALL_RUN, NULL);
    CHECK(rc == 0);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    CHECK(doc != NULL);
    json_t *r0 = json_array_get(json_object_get(doc, "runs"), 0);
    CHECK(json_integer_value(json_object_get(r0, "num_q")) == 3);
    CHECK_NEAR(json_real_value(json_object_get(json_object_get(r0, "all"), "map")),
               (0.4416666666666667 + 1.0 / 3) / 3, 1e-12);
    json_t *c0 = json_array_get(json_object_get(doc, "comparisons"), 0);
    json_t *cm = json_object_get(json_object_get(c0, "measures"), "map");
    CHECK(json_real_value(json_object_get(cm, "diff")) == 0.0);
    CHECK(json_real_value(json_object_get(cm, "p")) == 1.0);
    json_decref(doc);

    /* Two runs in text: blocks and the comparison lines. */
    const char *better = write_tmp("better.run",
                                   "q1 Q0 d4 1 9 b\nq2 Q0 a 1 9 b\nq4 Q0 z 1 9 b\n");
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-m",
             "recip_rank", "--permutations", "100", SMALL_RUN, better, NULL);
    CHECK(rc == 0);
    CHECK(strncmp(out, "# " SMALL_RUN "\n", strlen("# " SMALL_RUN "\n")) == 0);
    CHECK(strstr(out, "paired queries") && strstr(out, "100 permutations"));
    /* recip_rank: (1 + 1 + 0)/3 - (0.5 + 1/3 + 0)/3 = 0.3889. */
    CHECK(strstr(out, "recip_rank            \tdiff\t+0.3889\tp\t") != NULL);

    /* Three runs, Bonferroni: recip_rank differences of better (0.5, 2/3,
       0) and worse (0.5, -1/3, 0) against small; t-test p-values from
       scripts/trec_eval_ref.py (t_test_p, bonferroni): 0.191709623134524
       and 0.8398718461949128, corrected 0.383419246269048 and 1. */
    const char *worse = write_tmp("worse.run",
                                  "q1 Q0 d2 1 9 w\nq2 Q0 c 1 9 w\nq4 Q0 z 1 9 w\n");
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-m",
             "recip_rank", "--permutations", "100", "--correction",
             "bonferroni", SMALL_RUN, better, worse, NULL);
    CHECK(rc == 0);
    CHECK(strstr(out, "paired t-test; p-values Bonferroni-corrected over 2 "
                      "comparisons\n") != NULL);
    CHECK_MSG(strstr(out, "recip_rank            \tdiff\t+0.3889\tp\t") &&
              strstr(out, "\tt\t+1.9415\tp_t\t0.3834\n") &&
              strstr(out, "\tt\t+0.2294\tp_t\t1.0000\n"), "%s", out);
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-m",
             "recip_rank", "--permutations", "100", "--correction", "holm",
             "--json", SMALL_RUN, better, worse, NULL);
    CHECK(rc == 0);
    doc = json_loads(out, 0, &je);
    CHECK(doc != NULL);
    for (size_t i = 0; i < 2; i++) {
        json_t *ci = json_array_get(json_object_get(doc, "comparisons"), i);
        json_t *m = json_object_get(json_object_get(ci, "measures"), "recip_rank");
        CHECK_STR(json_string_value(json_object_get(ci, "correction")), "holm");
        CHECK_NEAR(json_real_value(json_object_get(m, "p_t")),
                   i == 0 ? 0.383419246269048 : 0.8398718461949128, 1e-12);
        CHECK_NEAR(json_real_value(json_object_get(m, "p_t_uncorrected")),
                   i == 0 ? 0.191709623134524 : 0.8398718461949128, 1e-12);
        CHECK_NEAR(json_real_value(json_object_get(m, "t")),
                   i == 0 ? 1.941450686788302 : 0.22941573387056177, 1e-12);
        CHECK(json_real_value(json_object_get(m, "p")) >=
              json_real_value(json_object_get(m, "p_uncorrected")));
    }
    json_decref(doc);
    /* Equal nonzero differences: t is infinite, p_t 0; JSON has no
       infinity, so t is null there. */
    const char *q2 = write_tmp("two.qrels", "x 0 a 1\ny 0 b 1\n");
    const char *miss = write_tmp("miss.run", "x Q0 z 1 1 r\ny Q0 z 1 1 r\n");
    const char *hit = write_tmp("hit.run", "x Q0 a 1 1 r\ny Q0 b 1 1 r\n");
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", q2, "-m", "map",
             miss, hit, NULL);
    CHECK(rc == 0 && strstr(out, "\tt\t+inf\tp_t\t0.0000\n") != NULL);
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", q2, "-m", "map",
             "--json", miss, hit, NULL);
    doc = json_loads(out, 0, &je);
    json_t *mm = json_object_get(json_object_get(json_array_get(
        json_object_get(doc, "comparisons"), 0), "measures"), "map");
    CHECK(rc == 0 && json_is_null(json_object_get(mm, "t")));
    CHECK(json_real_value(json_object_get(mm, "p_t")) == 0.0);
    json_decref(doc);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS,
              "--correction", "sidak", SMALL_RUN, NULL) == 2);
    CHECK(strstr(err, "--correction sidak: expected holm, bonferroni or none") != NULL);

    /* Counts print as integers, summed; gm_map has no per-query line. */
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-q",
             "-m", "num_ret", "-m", "gm_map", SMALL_RUN, NULL);
    CHECK(rc == 0);
    CHECK(strstr(out, "num_ret               \tq1\t5\n") != NULL);
    CHECK(strstr(out, "num_ret               \tall\t10\n") != NULL);
    CHECK(strstr(out, "gm_map                \tq1") == NULL);
    CHECK(strstr(out, "gm_map                \tall\t") != NULL);

    /* --fail-under: map 0.2583 passes 0.25, fails 0.3; map added to -m. */
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-m",
             "P_10", "--fail-under", "map=0.25", SMALL_RUN, NULL);
    CHECK(rc == 0);
    CHECK(strstr(out, "\nmap ") != NULL);
    rc = cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS,
             "--fail-under", "map=0.3", SMALL_RUN, NULL);
    CHECK(rc == ERR_THRESHOLD);
    CHECK(strstr(err, "rerank: " SMALL_RUN ": map 0.2583 is below 0.3\n") != NULL);

    /* Usage errors, one prefix. */
    CHECK(cli(out, sizeof out, err, sizeof err, SMALL_RUN, NULL) == ERR_USAGE);
    CHECK_STR(err, "rerank: --qrels QRELS is required\n"
                   "Try 'rerank eval --help' for more information.\n");
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, NULL) == ERR_USAGE);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-m",
              "bogus", SMALL_RUN, NULL) == ERR_USAGE);
    CHECK(strncmp(err, "rerank: ", 8) == 0);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "-M",
              "0", SMALL_RUN, NULL) == ERR_USAGE);
    CHECK(strncmp(err, "rerank: -M 0", 12) == 0);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, "--nope",
              SMALL_RUN, NULL) == ERR_USAGE);
    CHECK(strstr(err, "rerank: unknown option '--nope'") != NULL);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS,
              "--fail-under", "map", SMALL_RUN, NULL) == ERR_USAGE);
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", "-", "-", NULL) == ERR_USAGE);
    CHECK(strstr(err, "standard input (-) can be read only once") != NULL);
    CHECK(cli(out, sizeof out, err, sizeof err, "--help", NULL) == 0);
    CHECK(strstr(out, "Usage: rerank eval") != NULL);

    /* Options after the runs; --quiet drops the warnings. */
    rc = cli(out, sizeof out, err, sizeof err, SMALL_RUN, "-m", "map", "--qrels",
             SMALL_QRELS, "--quiet", NULL);
    CHECK(rc == 0);
    CHECK(strstr(out, "map                   \tall\t0.2583\n") != NULL);
    CHECK_STR(err, "");

    /* Malformed files: ERR_INPUT, with the place. */
    const char *bad = write_tmp("cli-bad.run", "q1 Q0 d1 1 1 t\nq1 Q0 d2 x 1\n");
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, bad,
              NULL) == ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "rerank: %s:2: expected 6 fields", bad);
    CHECK_MSG(strstr(err, want) != NULL, "stderr: %s", err);
    const char *unjudged = write_tmp("unjudged.run", "zz Q0 d1 1 1 t\n");
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, unjudged,
              NULL) == ERR_INPUT);
    CHECK(strstr(err, "no query has both results and judgements") != NULL);
    const char *gz = write_tmp("run.gz", "\x1f\x8b\x08\x00rest\n");
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS, gz,
              NULL) == ERR_INPUT);
    CHECK(strstr(err, "gzip-compressed") != NULL);
    /* Unreadable files: ERR_IO, whether run or qrels. */
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", SMALL_QRELS,
              "no/such.run", NULL) == ERR_IO);
    CHECK_STR(err, "rerank: no/such.run: No such file or directory\n");
    CHECK(cli(out, sizeof out, err, sizeof err, "--qrels", "no/such.qrels",
              SMALL_RUN, NULL) == ERR_IO);
}

/* The shared Cranfield qrels, or NULL after reporting test as skipped. */
static const char *cranfield_qrels(const char *test)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/collections/cranfield/qrels", shared_dir());
    if (access(path, R_OK) == 0)
        return path;
    SKIP("%s: %s not found", test, path);
    return NULL;
}

/* eval_opts from the OPTIONS column of the expected files ("-" for none). */
static struct eval_opts parse_opts(const char *opts)
{
    struct eval_opts o = {1, 0, false};
    o.complete = strstr(opts, "-c") != NULL;
    const char *l = strstr(opts, "-l "), *m = strstr(opts, "-M ");
    if (l)
        o.rel_level = atoi(l + 3);
    if (m)
        o.max_docs = atol(m + 3);
    return o;
}

/* The value of measure (or num_q) for qid ("all": the summary) in r. */
static double result_value(const struct eval_result *r,
                           const struct eval_measures *ms, const char *measure,
                           const char *qid)
{
    if (strcmp(measure, "num_q") == 0)
        return (double)r->n_queries;
    long k = eval_measures_find(ms, measure);
    if (k < 0)
        return NAN;
    if (strcmp(qid, "all") == 0)
        return r->means[k];
    for (size_t q = 0; q < r->n_queries; q++)
        if (strcmp(r->qids[q], qid) == 0)
            return r->values[q * ms->n + (size_t)k];
    return NAN;
}

/* Compares every row of the reference's expected file path with eval_run
 * of run_path against qrels_path for the measures names (n_names): rows
 * "OPTIONS<TAB>measure<TAB>qid|all<TAB>value", or with data set, rows
 * "DATA<TAB>..." of that DATA only.  Returns the number compared; failures
 * are reported. */
static size_t check_expected(const char *path, const char *data,
                             const char *run_path, const char *qrels_path,
                             const char *const *names, size_t n_names)
{
    struct err e;
    struct trec_run run;
    struct trec_qrels qrels;
    CHECK(trec_run_read(&run, run_path, &e) == 0);
    CHECK(trec_qrels_read(&qrels, qrels_path, &e) == 0);
    struct eval_measures ms = {0};
    for (size_t i = 0; i < n_names; i++)
        CHECK(eval_measures_add(&ms, names[i], &e) == 0);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s", path);
    char line[256], cur_opts[64] = "";
    struct eval_result r = {0};
    size_t compared = 0, bad = 0, skip = data ? strlen(data) + 1 : 0;
    while (f && fgets(line, sizeof line, f)) {
        char opts[64], measure[32], qid[32];
        double want;
        if (data && (strncmp(line, data, skip - 1) != 0 || line[skip - 1] != '\t'))
            continue;
        if (sscanf(line + skip, "%63[^\t]\t%31[^\t]\t%31[^\t]\t%lf", opts,
                   measure, qid, &want) != 4)
            continue;
        if (strcmp(opts, cur_opts) != 0) {
            struct eval_opts o = parse_opts(opts);
            eval_result_free(&r);
            eval_run(&run, &qrels, ms.v, ms.n, &o, &r);
            snprintf(cur_opts, sizeof cur_opts, "%s", opts);
        }
        double got = result_value(&r, &ms, measure, qid);
        compared++;
        if (!(fabs(got - want) <= 1e-9) && bad++ < 10)
            printf("FAIL %s %s [%s] %s %s: %.12f vs reference %.12f\n", path,
                   data ? data : "", opts, measure, qid, got, want);
    }
    if (f)
        fclose(f);
    CHECK_MSG(bad == 0, "%s: %zu of %zu values differ from the reference",
              path, bad, compared);
    eval_result_free(&r);
    eval_measures_free(&ms);
    trec_run_free(&run);
    trec_qrels_free(&qrels);
    return compared;
}

/* Every value of testdata/eval/cranfield-expected.tsv (from the Python
 * reference) against the C code on the shared Cranfield qrels. */
static void test_cranfield(void)
{
    const char *qrels_path = cranfield_qrels("cranfield");
    if (!qrels_path)
        return;
    static const char *const names[] = {"ndcg_cut_5", "ndcg_cut_10",
                                        "ndcg_cut_20", "recip_rank", "mrr_10",
                                        "map", "recall_10", "recall_100", "P_5",
                                        "P_10", "P_20"};
    CHECK(check_expected("testdata/eval/cranfield-expected.tsv", NULL,
                         "testdata/eval/cranfield-bm25.run", qrels_path, names,
                         sizeof names / sizeof *names) > 2000);
}

/* Every row of testdata/eval/trec10-expected.tsv (the reference's values
 * for the measures trec_eval 10.0 added: ndcg, Rprec, bpref, success,
 * num_*, set_*, gm_map, iprec_at_recall) on the crafted edge cases and on
 * Cranfield (skipped without ../shared). */
static void test_trec10(void)
{
    static const char *const names[] = {
        "ndcg", "Rprec", "bpref", "success", "num_ret", "num_rel",
        "num_rel_ret", "set_P", "set_recall", "set_F", "set_F.0.5", "gm_map",
        "iprec_at_recall",
    };
    const size_t n = sizeof names / sizeof *names;
    const char *expected = "testdata/eval/trec10-expected.tsv";
    CHECK(check_expected(expected, "edge", "testdata/eval/edge.run",
                         "testdata/eval/edge.qrels", names, n) > 1000);
    const char *qrels_path = cranfield_qrels("trec10 cranfield rows");
    if (qrels_path)
        CHECK(check_expected(expected, "cranfield",
                             "testdata/eval/cranfield-bm25.run", qrels_path,
                             names, n) > 5000);
}

/* Student's t p-values (from the reference's closed form, A&S 26.7.3-4),
 * the corrections by hand, and the edge cases of the t-test. */
static void test_t_test(void)
{
    CHECK_NEAR(eval_t_pvalue(2.0, 10), 0.0733880347707403, 1e-12);
    CHECK_NEAR(eval_t_pvalue(-2.0, 10), 0.0733880347707403, 1e-12);
    CHECK_NEAR(eval_t_pvalue(2.0, 1), 0.2951672353008665, 1e-12);
    CHECK_NEAR(eval_t_pvalue(2.5, 2), 0.1296117202215108, 1e-12);
    CHECK_NEAR(eval_t_pvalue(1.3, 7), 0.2347678353923771, 1e-12);
    CHECK_NEAR(eval_t_pvalue(0, 5), 1.0, 1e-15);

    /* Holm: sorted 0.01*3, 0.03*2, then max(0.06, 0.04*1). */
    double p[] = {0.01, 0.04, 0.03};
    eval_correct(p, 3, EVAL_CORRECT_HOLM);
    CHECK_NEAR(p[0], 0.03, 1e-15);
    CHECK_NEAR(p[1], 0.06, 1e-15);
    CHECK_NEAR(p[2], 0.06, 1e-15);
    double q[] = {0.01, 0.04, 0.5};
    eval_correct(q, 3, EVAL_CORRECT_BONFERRONI);
    CHECK_NEAR(q[0], 0.03, 1e-15);
    CHECK_NEAR(q[1], 0.12, 1e-15);
    CHECK(q[2] == 1.0);
    double one[] = {0.2};
    eval_correct(one, 1, EVAL_CORRECT_HOLM);
    CHECK(one[0] == 0.2);

    /* Two queries, differences 1 and 3: mean 2, sd sqrt(2), t = 2 / (sqrt(2)
       / sqrt(2)) = 2 with 1 degree of freedom. */
    static const struct eval_measure map = {.kind = EVAL_MAP, .name = "map"};
    const char *qids[] = {"1", "2", "3"};
    double va[] = {0, 0, 0}, vb[] = {1, 3, 5}, vc[] = {2, 2, 2};
    struct eval_result a = {.measures = &map, .n_measures = 1, .n_queries = 2,
                            .qids = qids, .values = va};
    struct eval_result b = a;
    b.values = vb;
    struct eval_comparison c;
    eval_compare(&a, &b, 0, 100, 1, &c);
    CHECK_NEAR(c.t, 2.0, 1e-12);
    CHECK_NEAR(c.p_t, 0.2951672353008665, 1e-12);
    b.values = vc;          /* equal differences: t infinite, p 0 */
    b.n_queries = a.n_queries = 3;
    eval_compare(&a, &b, 0, 100, 1, &c);
    CHECK(isinf(c.t) && c.t > 0 && c.p_t == 0);
    eval_compare(&a, &a, 0, 100, 1, &c);  /* no differences */
    CHECK(c.t == 0 && c.p_t == 1);
    a.n_queries = b.n_queries = 1;        /* one pair: no test */
    eval_compare(&a, &b, 0, 100, 1, &c);
    CHECK(c.t == 0 && c.p_t == 1);
}

/* testdata/eval/ttest-expected.tsv (the reference's t-tests and corrections
 * of two reranked Cranfield runs against the fixture run) against
 * eval_compare and eval_correct. */
static void test_t_test_cranfield(void)
{
    const char *qrels_path = cranfield_qrels("t-test cranfield");
    if (!qrels_path)
        return;
    static const char *const names[] = {"map", "ndcg", "P_10", "bpref",
                                        "Rprec", "gm_map", "num_rel_ret",
                                        "success_1", "set_F"};
    static const char *const files[] = {"cranfield-bm25.run",
                                        "cranfield-rerank-bm25.run",
                                        "cranfield-random.run"};
    struct err e;
    struct eval_measures ms = {0};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK(eval_measures_add(&ms, names[i], &e) == 0);
    struct trec_qrels qrels;
    CHECK(trec_qrels_read(&qrels, qrels_path, &e) == 0);
    struct trec_run runs[3];
    struct eval_result res[3];
    struct eval_opts o = {1, 0, false};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, "testdata/eval/%s", files[i]);
        CHECK(trec_run_read(&runs[i], path, &e) == 0);
        eval_run(&runs[i], &qrels, ms.v, ms.n, &o, &res[i]);
    }
    FILE *f = fopen("testdata/eval/ttest-expected.tsv", "r");
    CHECK(f != NULL);
    char line[512];
    size_t rows = 0;
    /* Rows come in pairs (the two runs) per measure: one correction family. */
    double p_t[2], want_holm[2], want_bonf[2];
    while (f && fgets(line, sizeof line, f)) {
        char measure[32], file[64];
        size_t n;
        double mean_a, mean_b, t, pt, holm, bonf;
        if (sscanf(line, "%31[^\t]\t%63[^\t]\t%zu\t%lf\t%lf\t%lf\t%lf\t%lf\t%lf",
                   measure, file, &n, &mean_a, &mean_b, &t, &pt, &holm,
                   &bonf) != 9)
            continue;
        long k = eval_measures_find(&ms, measure);
        int i = strcmp(file, files[1]) == 0 ? 1 : 2;
        CHECK_MSG(k >= 0, "measure %s", measure);
        if (k < 0)
            continue;
        struct eval_comparison c;
        eval_compare(&res[0], &res[i], (size_t)k, 10, 1, &c);
        CHECK(c.n_queries == n);
        CHECK_NEAR(c.mean_a, mean_a, 1e-9);
        CHECK_NEAR(c.mean_b, mean_b, 1e-9);
        CHECK_MSG(fabs(c.t - t) <= 1e-9 * fmax(1, fabs(t)), "%s %s: t %.12f vs "
                  "reference %.12f", measure, file, c.t, t);
        CHECK_MSG(fabs(c.p_t - pt) <= 1e-12 + 1e-7 * pt, "%s %s: p_t %.12e vs "
                  "reference %.12e", measure, file, c.p_t, pt);
        p_t[rows % 2] = c.p_t;
        want_holm[rows % 2] = holm;
        want_bonf[rows % 2] = bonf;
        if (rows++ % 2 == 1) {
            double h[2] = {p_t[0], p_t[1]}, b[2] = {p_t[0], p_t[1]};
            eval_correct(h, 2, EVAL_CORRECT_HOLM);
            eval_correct(b, 2, EVAL_CORRECT_BONFERRONI);
            for (int j = 0; j < 2; j++) {
                CHECK_NEAR(h[j], want_holm[j], 1e-12 + 1e-7 * want_holm[j]);
                CHECK_NEAR(b[j], want_bonf[j], 1e-12 + 1e-7 * want_bonf[j]);
            }
        }
    }
    if (f)
        fclose(f);
    CHECK(rows == 2 * ms.n);
    for (int i = 0; i < 3; i++) {
        eval_result_free(&res[i]);
        trec_run_free(&runs[i]);
    }
    trec_qrels_free(&qrels);
    eval_measures_free(&ms);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_reading();
    test_malformed();
    test_measure_names();
    test_small_default();
    test_small_options();
    test_randomization();
    test_cli();
    test_cranfield();
    test_trec10();
    test_t_test();
    test_t_test_cranfield();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("warning: could not remove %s\n", tmpdir);
    return check_report();
}
