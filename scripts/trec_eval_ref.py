#!/usr/bin/python3
"""trec_eval_ref.py — an independent reference for `rerank eval`.

Computes trec_eval 10.0's measures from their documented definitions
(trec_eval's `-h -m all_trec` texts and ../shared/reference/trec-eval.md),
written afresh in Python without rerank's C code, plus the paired t-test and
the Holm / Bonferroni corrections, so the tests can compare against committed
output.  Python 3.11, standard library only.

    scripts/trec_eval_ref.py QRELS RUN [-q] [-c] [-l N] [-M N] [-m NAME]...
                             [--raw]

prints `rerank eval`'s text layout (runid, num_q, then each measure in the
order asked; per-query lines first with -q), which is trec_eval's layout
when the measures are asked in trec_eval's order (as -m official does).
--raw prints "measure<TAB>qid|all<TAB>value" with 12 decimals instead:
every query, then "num_q", then the "all" values.

Definitions (trec_eval 10.0):
  ranking     a query's documents by score descending, ties by docid
              descending (byte order); the rank column is ignored; -M keeps
              the first N of that ranking
  judged      in the qrels with a value >= 0; relevant: judged with value
              >= level (-l, default 1; levels below 0 are not supported here)
  R, num_rel  relevant documents of the query in the qrels
  queries     those in both run and qrels; with -c every qrels query (one
              missing from the run is an empty ranking); "all" is the mean
              over them in qid (byte) order, but num_ret, num_rel and
              num_rel_ret sum (under -c num_rel's "all" counts every
              judgment > 0 whatever -l), and gm_map is the geometric mean
  P_K         relevant in the top K / K
  recall_K    relevant in the top K / R (0 if R is 0)
  success_K   1 if a relevant document is in the top K, else 0
  recip_rank  1 / rank of the first relevant; mrr_K (not trec_eval's) the
              same within the top K
  map         sum over relevant ranked documents of precision at their rank,
              / R (0 if none ranked)
  gm_map      exp of the mean over queries of log(max(AP, 0.00001))
  Rprec       relevant in the top R / R (0 if R is 0 or nothing ranked)
  bpref       (1/R) * sum over relevant ranked documents of
              1 - min(n, R) / min(N, R), n the judged non-relevant ranked
              above it (the term is 1 if n is 0), N all judged non-relevant
              of the query; unjudged documents are ignored
  ndcg_cut_K  DCG of the top K with gain = qrels value (> 0) and discount
              log2(rank + 1), / the DCG of the ideal ranking (all judged
              values, highest first) cut at K; 0 if that is 0
  ndcg        the same without a cutoff
  iprec_at_recall_X  with c = round-half-up(X * R): 0 if fewer than c
              relevant are ranked; else the highest precision at any rank
              at or below the rank of the c-th relevant (any rank if c = 0),
              counting no further than the last ranked document
  num_ret, num_rel_ret  ranked documents; relevant ones among them
  set_P       num_rel_ret / num_ret; set_recall: num_rel_ret / R
  set_F       (b + 1) * P * Rc / (b * P + Rc) over set_P, set_recall with
              beta b (1; set_F.B names it set_F_B); 0 if num_rel_ret is 0
  official    num_ret num_rel num_rel_ret map gm_map Rprec bpref recip_rank
              iprec_at_recall (0.0, 0.1, ..., 1.0) P (5 10 15 20 30 100
              200 500 1000)
Tests on paired per-query differences d (t_test_p, holm, bonferroni):
  t = mean(d) / (sd(d) / sqrt(n)), sd with n - 1; the two-sided p-value is
  1 - A(|t| | n - 1) with Student's A(t|v) in closed form for integer v
  (Abramowitz & Stegun 26.7.3 and 26.7.4).
"""
import argparse
import math
import sys

CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000]
SUCCESS = [1, 5, 10]
LEVELS = [i / 10 for i in range(11)]
OFFICIAL = ["num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec",
            "bpref", "recip_rank", "iprec_at_recall", "P"]
COUNTS = {"num_ret", "num_rel", "num_rel_ret"}
PLAIN = {"recip_rank", "map", "gm_map", "Rprec", "bpref", "ndcg", "set_P",
         "set_recall"} | COUNTS
WITH_K = {"P", "recall", "success", "ndcg_cut", "mrr"}
DEFAULT_K = {"P": CUTOFFS, "recall": CUTOFFS, "ndcg_cut": CUTOFFS,
             "success": SUCCESS}


def lines_of(path):
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    with f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                yield line.split()


def read_qrels(path):
    qrels = {}
    for qid, _, docid, rel in lines_of(path):
        qrels.setdefault(qid, {})[docid] = int(rel)
    return qrels


def read_run(path):
    """{qid: [docid, ...] in trec_eval order}, and the last line's tag."""
    scored, tag = {}, ""
    for qid, _, docid, _, score, tag in lines_of(path):
        scored.setdefault(qid, []).append((float(score), docid.encode()))
    # Highest score first; among equal scores the larger docid first.
    return ({q: [d.decode() for _, d in sorted(v, reverse=True)]
             for q, v in scored.items()}, tag)


def expand(spec):
    """Measure names (as printed) with their parameter, for one -m."""
    if spec == "official":
        return [m for s in OFFICIAL for m in expand(s)]
    if spec in PLAIN:
        return [(spec, None)]
    if spec == "set_F":
        return [("set_F", 1.0)]
    if spec.startswith("set_F.") or spec.startswith("set_F_"):
        return [("set_F_" + spec[6:], float(spec[6:]))]
    if spec == "iprec_at_recall":
        return [(f"iprec_at_recall_{x:3.2f}", x) for x in LEVELS]
    if spec.startswith("iprec_at_recall"):
        xs = [float(x) for x in spec[16:].split(",")]
        return [(f"iprec_at_recall_{x:3.2f}", x) for x in xs]
    base, sep, par = spec.partition(".")
    if not sep:
        base, _, par = spec.rpartition("_")
        if base not in WITH_K:
            base, par = spec, ""
    if base in WITH_K:
        ks = [int(k) for k in par.split(",")] if par else DEFAULT_K[base]
        return [(f"{base}_{k}", k) for k in ks]
    raise SystemExit(f"trec_eval_ref.py: unknown measure {spec}")


def family(name):
    for f in ("iprec_at_recall", "set_F", "ndcg_cut", "success", "recall",
              "mrr", "P"):
        if name == f or name.startswith(f + "_"):
            return f
    return name


def dcg(gains):
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)


def round_half_up(x):
    f = math.floor(x)
    return f + 1 if x - f >= 0.5 else f


def average_precision(is_rel, R):
    hits, total = 0, 0.0
    for i, r in enumerate(is_rel):
        if r:
            hits += 1
            total += hits / (i + 1)
    return total / R if hits else 0.0


def query_value(name, par, ranking, judged, level):
    """One measure for one query; ranking may be empty (-c)."""
    rels = [judged.get(d) for d in ranking]
    is_rel = [v is not None and v >= 0 and v >= level for v in rels]
    R = sum(1 for v in judged.values() if v >= 0 and v >= level)
    ret, rel_ret = len(ranking), sum(is_rel)
    f = family(name)
    if f == "num_ret":
        return ret
    if f == "num_rel":
        return R
    if f == "num_rel_ret":
        return rel_ret
    if f == "P":
        return sum(is_rel[:par]) / par
    if f == "recall":
        return sum(is_rel[:par]) / R if R else 0.0
    if f == "success":
        return 1.0 if any(is_rel[:par]) else 0.0
    if f in ("recip_rank", "mrr"):
        top = is_rel if f == "recip_rank" else is_rel[:par]
        return next((1 / (i + 1) for i, r in enumerate(top) if r), 0.0)
    if f == "map":
        return average_precision(is_rel, R)
    if f == "gm_map":
        return math.log(max(average_precision(is_rel, R), 0.00001))
    if f == "Rprec":
        return sum(is_rel[:R]) / R if R and ret else 0.0
    if f == "bpref":
        N = sum(1 for v in judged.values() if 0 <= v < level)
        total, n = 0.0, 0
        for v in rels:
            if v is None or v < 0:
                continue
            if v < level:
                n += 1
            else:
                total += 1 - min(n, R) / min(N, R) if n else 1.0
        return total / R if R else 0.0
    if f in ("ndcg", "ndcg_cut"):
        k = par if f == "ndcg_cut" else None
        gains = [v if v is not None and v > 0 else 0 for v in rels][:k]
        ideal = dcg(sorted((v for v in judged.values() if v > 0),
                           reverse=True)[:k])
        return dcg(gains) / ideal if ideal > 0 else 0.0
    if f == "iprec_at_recall":
        c = round_half_up(par * R)
        if c > rel_ret or not ret:
            return 0.0
        prec, seen, start = [], 0, 1
        for i, r in enumerate(is_rel, 1):
            seen += r
            prec.append(seen / i)
            if r and seen == c:
                start = i
        return max(prec[start - 1:])
    if f == "set_P":
        return rel_ret / ret if ret else 0.0
    if f == "set_recall":
        return rel_ret / R if R else 0.0
    if f == "set_F":
        if not rel_ret:
            return 0.0
        p, r = rel_ret / ret, rel_ret / R
        return (par + 1) * p * r / (par * p + r)
    raise SystemExit(f"trec_eval_ref.py: unknown measure {name}")


def summarize(name, values):
    f = family(name)
    if f in COUNTS:
        return sum(values)
    if not values:
        return 0.0
    mean = sum(values) / len(values)
    return math.exp(mean) if f == "gm_map" else mean


def evaluate(qrels, run, measures, complete=False, level=1, depth=0):
    """(qids, {qid: {name: value}}, {name: "all" value}) for measures, a
    list of (name, parameter) from expand()."""
    if level < 0:
        raise SystemExit("trec_eval_ref.py: -l below 0 is not supported")
    qids = sorted((q for q in qrels if complete or q in run), key=str.encode)
    per = {}
    for q in qids:
        ranking = run.get(q, [])
        if depth:
            ranking = ranking[:depth]
        per[q] = {n: query_value(n, p, ranking, qrels[q], level)
                  for n, p in measures}
    summary = {n: summarize(n, [per[q][n] for q in qids]) for n, _ in measures}
    if complete and "num_rel" in summary:
        summary["num_rel"] = sum(1 for j in qrels.values()
                                 for v in j.values() if v > 0)
    return qids, per, summary


def raw_rows(qids, per, summary, measures, per_query=True):
    """--raw's "measure<TAB>qid|all<TAB>value" rows (12 decimals) of an
    evaluate() result: per query (unless per_query is false), num_q, "all"."""
    if per_query:
        for q in qids:
            for n, _ in measures:
                yield f"{n}\t{q}\t{per[q][n]:.12f}"
    yield f"num_q\tall\t{len(qids)}"
    for n, _ in measures:
        yield f"{n}\tall\t{summary[n]:.12f}"


def student_a(t, v):
    """A(t|v) = P(|T| <= t) for Student's t with integer v degrees of
    freedom (Abramowitz & Stegun 26.7.3, 26.7.4)."""
    th = math.atan(t / math.sqrt(v))
    s, c = math.sin(th), math.cos(th)
    if v % 2:
        if v == 1:
            return 2 * th / math.pi
        term, total = c, c
        for k in range(3, v - 1, 2):     # cos^k terms, k = 3, 5, ..., v-2
            term *= (k - 1) / k * c * c
            total += term
        return 2 / math.pi * (th + s * total)
    term, total = 1.0, 1.0
    for k in range(2, v - 1, 2):         # cos^k terms, k = 2, 4, ..., v-2
        term *= (k - 1) / k * c * c
        total += term
    return s * total


def t_test_p(d):
    """(t, two-sided p) of the paired differences d."""
    n = len(d)
    if n < 2:
        return 0.0, 1.0
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    big = max(abs(x) for x in d)
    if sd <= 1e-12 * big or big == 0:
        return (0.0, 1.0) if big == 0 else (math.copysign(math.inf, mean), 0.0)
    t = mean / (sd / math.sqrt(n))
    return t, max(0.0, 1 - student_a(abs(t), n - 1))


def bonferroni(ps):
    return [min(1.0, p * len(ps)) for p in ps]


def holm(ps):
    m, out, run_max = len(ps), [0.0] * len(ps), 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        run_max = max(run_max, min(1.0, ps[i] * (m - rank)))
        out[i] = run_max
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qrels")
    ap.add_argument("run")
    ap.add_argument("-q", action="store_true")
    ap.add_argument("-c", action="store_true")
    ap.add_argument("-l", type=int, default=1)
    ap.add_argument("-M", type=int, default=0)
    ap.add_argument("-m", action="append")
    ap.add_argument("--raw", action="store_true")
    a = ap.parse_args()
    measures = []
    for spec in a.m or ["ndcg_cut_10", "recip_rank", "mrr_10", "map",
                        "recall_100", "recall_1000", "P_10"]:
        measures += [m for m in expand(spec) if m not in measures]
    qrels = read_qrels(a.qrels)
    run, tag = read_run(a.run)
    qids, per, summary = evaluate(qrels, run, measures, a.c, a.l, a.M)
    out = sys.stdout
    if a.raw:
        out.writelines(r + "\n" for r in raw_rows(qids, per, summary, measures))
        return

    def line(n, q, v):
        val = f"{int(v)}" if family(n) in COUNTS else f"{v:6.4f}"
        out.write(f"{n:<22}\t{q}\t{val}\n")

    if a.q:
        for q in qids:
            for n, _ in measures:
                if family(n) != "gm_map":
                    line(n, q, per[q][n])
    out.write(f"{'runid':<22}\tall\t{tag}\n")
    out.write(f"{'num_q':<22}\tall\t{len(qids)}\n")
    for n, _ in measures:
        line(n, "all", summary[n])


if __name__ == "__main__":
    main()
