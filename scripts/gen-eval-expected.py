#!/usr/bin/python3
"""gen-eval-expected.py — expected values for trec_eval 10.0's measures and
the paired t-test in tests/test_eval.c and tests/cases/eval-*, all from the
independent scripts/trec_eval_ref.py.

    scripts/gen-eval-expected.py [SHARED_DIR]   (default ../shared; run
                                                 from the repository root
                                                 after `make`)

0. The crafted edge cases testdata/eval/edge.qrels and edge.run (EDGE_QRELS,
   EDGE_RUN below).
1. Two more Cranfield runs from the BM25 fixture of scripts/cranfield-fixture.py
   (testdata/eval/cranfield-bm25.run), reranked by this checkout's ./rerank
   and cut to 20 per query: testdata/eval/cranfield-rerank-bm25.run (the top
   10 reordered by BM25 over the abstracts) and testdata/eval/cranfield-random.run
   (the top 4 shuffled, --method random --seed 7), close enough to the fixture
   for p-values between 0 and 1.  They are inputs only; every expected value below comes from the
   reference.
2. testdata/eval/trec10-expected.tsv:
   "DATA<TAB>OPTIONS<TAB>measure<TAB>qid|all<TAB>value" (12 decimals; OPTIONS
   "-" for none) for the measures trec_eval 10.0 added to `rerank eval`, on
   DATA "edge" (testdata/eval/edge.{qrels,run}: ties, missing and unjudged
   queries, unjudged documents, zero relevant) with per-query rows for every
   option set, and "cranfield" (the fixture run on SHARED's qrels) with
   per-query rows for the first option set and "all" rows for every set.
3. testdata/eval/ttest-expected.tsv: "measure<TAB>run<TAB>n<TAB>mean_a<TAB>
   mean_b<TAB>t<TAB>p_t<TAB>p_t_holm<TAB>p_t_bonferroni", the two reranked
   runs each against the fixture run (the family for the corrections).
4. tests/cases/eval-official/out and tests/cases/eval-new-measures/out: the
   reference's text output for those cases' command lines.
"""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import trec_eval_ref as ref  # noqa: E402

root = os.path.join(here, "..")
shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared")
coll = os.path.join(shared, "collections", "cranfield")
data = os.path.join(root, "testdata", "eval")
fixture = os.path.join(data, "cranfield-bm25.run")
qrels_path = os.path.join(coll, "qrels")

NEW = ["ndcg", "Rprec", "bpref", "success", "num_ret", "num_rel",
       "num_rel_ret", "set_P", "set_recall", "set_F", "set_F.0.5", "gm_map",
       "iprec_at_recall"]
OPTION_SETS = [[], ["-c"], ["-l", "2"], ["-l", "0"], ["-M", "10"],
               ["-c", "-l", "3", "-M", "20"], ["-M", "3"]]
EDGE_QRELS = """\
# Crafted qrels for the trec_eval 10.0 measures (scripts/gen-eval-expected.py).
# a: graded, more relevant than retrieved (Rprec beyond num_ret), a judged
#    document the run lacks, one in-pool unjudged (-1) document
a 0 d1 3
a 0 d2 0
a 0 d3 1
a 0 d4 2
a 0 d5 -1
a 0 d6 1
a 0 d7 0
a 0 d8 2
# b: nothing relevant (zero relevant, only judged non-relevant)
b 0 x1 0
b 0 x2 0
# c: judged but missing from the run (-c scores it)
c 0 m1 1
c 0 m2 4
# d: every ranked document is unjudged (an "empty" ranking for bpref)
d 0 k1 1
d 0 k2 2
# e: many non-relevant above few relevant (bpref's min(N, R)), ties
e 0 B 0
e 0 a 0
e 0 b 1
e 0 d10 0
e 0 d9 2
e 0 z 0
e 0 y 0
# f: a single relevant document, ranked first
f 0 only 1
# h: scores equal as floats but not as doubles (10.0 orders them; 9.0.x
#    tied them and put p2 first)
h 0 p1 1
h 0 p2 0
"""
EDGE_RUN = """\
# Crafted run for the trec_eval 10.0 measures (scripts/gen-eval-expected.py): ties broken by docid
# descending in byte order ("d9" > "d10", "b" > "a" > "B"); the rank column
# is ignored; scores negative and in exponent notation.
a Q0 d2 1 10 edge
a Q0 d1 2 9.5 edge
a Q0 nope 3 9.5 edge
a Q0 d5 4 8e0 edge
a Q0 d3 5 7 edge
a Q0 d7 6 6.0 edge
b Q0 x2 1 1 edge
b Q0 x1 2 1 edge
b Q0 u1 3 0.5 edge
d Q0 u1 1 3 edge
d Q0 u2 2 2 edge
e Q0 d10 1 -1 edge
e Q0 d9 2 -1 edge
e Q0 B 3 -1 edge
e Q0 a 4 -1 edge
e Q0 b 5 -1 edge
e Q0 z 6 -2.5 edge
e Q0 y 7 -1e-3 edge
f Q0 only 1 0.1 edge
f Q0 other 2 0.01 edge
g Q0 g1 1 1 edge
h Q0 p2 1 1.00000001 edge
h Q0 p1 2 1.00000002 edge
"""
TESTED = ["map", "ndcg", "P_10", "bpref", "Rprec", "gm_map", "num_rel_ret",
          "success_1", "set_F"]


def measures_of(specs):
    out = []
    for s in specs:
        out += [m for m in ref.expand(s) if m not in out]
    return out


def option_values(opts):
    level = int(opts[opts.index("-l") + 1]) if "-l" in opts else 1
    depth = int(opts[opts.index("-M") + 1]) if "-M" in opts else 0
    return "-c" in opts, level, depth


def rerank_run(out_name, method_args, tag):
    args = [os.path.join(root, "rerank"), *method_args, "--run", fixture,
            "--queries", os.path.join(coll, "queries.tsv"),
            "--docs", os.path.join(coll, "docs.tsv"), "--format", "trec",
            "--run-tag", tag, "-k", "20"]
    text = subprocess.run(args, check=True, capture_output=True,
                          text=True).stdout
    with open(os.path.join(data, out_name), "w", encoding="utf-8") as f:
        f.write(f"# Cranfield run for tests/test_eval.c "
                f"(scripts/gen-eval-expected.py)\n{text}")


def write_measures(out, name, qrels, run, all_queries):
    measures = measures_of(NEW)
    for i, opts in enumerate(OPTION_SETS):
        qids, per, summary = ref.evaluate(qrels, run, measures,
                                          *option_values(opts))
        label = " ".join(opts) or "-"
        for row in ref.raw_rows(qids, per, summary, measures,
                                all_queries or i == 0):
            out.write(f"{name}\t{label}\t{row}\n")


def write_ttests(out, qrels, runs):
    measures = measures_of(TESTED)
    results = [ref.evaluate(qrels, r, measures) for r, _ in runs]
    base_q, base_per, _ = results[0]
    for m, _ in measures:
        rows = []
        for (qids, per, _), (_, label) in zip(results[1:], runs[1:]):
            paired = [q for q in base_q if q in per]
            a = [base_per[q][m] for q in paired]
            b = [per[q][m] for q in paired]
            t, p = ref.t_test_p([y - x for x, y in zip(a, b)])
            rows.append((label, len(paired), ref.summarize(m, a),
                         ref.summarize(m, b), t, p))
        ps = [r[5] for r in rows]
        for r, h, bf in zip(rows, ref.holm(ps), ref.bonferroni(ps)):
            out.write(f"{m}\t{r[0]}\t{r[1]}\t{r[2]:.12f}\t{r[3]:.12f}\t"
                      f"{r[4]:.12f}\t{r[5]:.12e}\t{h:.12e}\t{bf:.12e}\n")


def write_case(name, args):
    """tests/cases/NAME/out from the reference run with args (cmd is
    committed by hand and must hold the same options)."""
    text = subprocess.run([sys.executable, os.path.join(here, "trec_eval_ref.py"),
                           *args], check=True, capture_output=True,
                          text=True, cwd=root).stdout
    with open(os.path.join(root, "tests", "cases", name, "out"), "w") as f:
        f.write(text)


def main():
    for name, text in (("edge.qrels", EDGE_QRELS), ("edge.run", EDGE_RUN)):
        with open(os.path.join(data, name), "w", encoding="utf-8") as f:
            f.write(text)
    rerank_run("cranfield-rerank-bm25.run", ["-m", "bm25", "--depth", "10"],
               "rerank-bm25")
    rerank_run("cranfield-random.run", ["-m", "random", "--seed", "7",
                                        "--depth", "4"], "random")
    qrels = ref.read_qrels(qrels_path)
    edge_qrels = ref.read_qrels(os.path.join(data, "edge.qrels"))
    edge_run, _ = ref.read_run(os.path.join(data, "edge.run"))
    runs = [(ref.read_run(os.path.join(data, f))[0], f) for f in
            ("cranfield-bm25.run", "cranfield-rerank-bm25.run",
             "cranfield-random.run")]
    with open(os.path.join(data, "trec10-expected.tsv"), "w") as out:
        write_measures(out, "edge", edge_qrels, edge_run, True)
        write_measures(out, "cranfield", qrels, runs[0][0], False)
    with open(os.path.join(data, "ttest-expected.tsv"), "w") as out:
        write_ttests(out, qrels, runs)
    write_case("eval-official", ["testdata/eval/edge.qrels",
                                 "testdata/eval/edge.run", "-q", "-c", "-m",
                                 "official"])
    write_case("eval-new-measures",
               ["testdata/eval/edge.qrels", "testdata/eval/edge.run", "-q",
                "-l", "2", "-M", "5"] +
               sum((["-m", m] for m in ("ndcg", "Rprec", "bpref", "success",
                                        "num_rel_ret", "set_P", "set_recall",
                                        "set_F", "set_F.0.5")), []))


if __name__ == "__main__":
    main()
