"""Reranker benchmark on the golden set: quality per top-N and per combination, and latency per N.

    python -m experiments.rerank_bench [--model DIR] [--depth 50] [--ns 10,20,30,50] [--out FILE.json]

The hybrid top-``depth`` of every golden query is scored once by the cross-encoder; each
(N, combination) is then a re-sort of those scores, exactly what ``full`` returns for that N
(the fused list ``full`` reranks is hybrid's). Reported per variant: nDCG@10, Recall@10, the
delta against hybrid and a paired randomisation test (10,000 sign flips) on nDCG@10. Latency is
the warm p50/p95 of ``Searcher.search(..., mode="full")`` end to end, per N. The golden set is
only read here, never trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from qbank.eval.data import read_qrels, read_queries
from qbank.eval.metrics import PRIMARY, evaluate, mean, paired_randomisation_test
from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES

METRICS = ("ndcg@10", "recall@10")


def candidates(searcher, queries: dict[str, str], depth: int) -> dict[str, list]:
    return {qid: searcher.search(text, depth, "hybrid").hits for qid, text in queries.items()}


def score_candidates(reranker, queries: dict[str, str], cands: dict[str, list], progress=None) -> dict[str, np.ndarray]:
    from qbank.retrieval.rerank import hit_document

    out = {}
    for qid, hits in cands.items():
        out[qid] = reranker.score(queries[qid], [hit_document(h) for h in hits])
        if progress:
            progress(1)
    return out


def rerank_run(cands: dict[str, list], ce: dict[str, np.ndarray], n: int, method: str, weight: float) -> dict:
    """``{qid: {doc: score}}`` (rank-derived, strictly decreasing) for one (N, combination)."""
    from qbank.retrieval.rerank import combine_scores, rerank_order

    run = {}
    for qid, hits in cands.items():
        head, tail = hits[:n], hits[n:]
        if method == "hybrid" or not head:
            ids = [h.id for h in hits]
        else:
            comb = combine_scores(method, ce[qid][: len(head)], np.array([h.score for h in head]), weight)
            ids = [head[i].id for i in rerank_order(comb)] + [h.id for h in tail]
        run[qid] = {d: float(len(ids) - i) for i, d in enumerate(ids)}
    return run


def variant_table(cands, ce, qrels, ns=(10, 20, 30, 50), combos=None) -> list[dict]:
    combos = combos or [("replace", 1.0), ("interpolate", 0.3), ("interpolate", 0.5), ("interpolate", 0.7),
                        ("rrf", 0.5), ("rrf", 0.7)]
    base_pq = evaluate(rerank_run(cands, ce, 0, "hybrid", 0), qrels, METRICS)
    qids = sorted(qrels)
    base = mean(base_pq)
    rows = [{"variant": "hybrid", "n": 0, **{m: round(base[m], 4) for m in METRICS}, "delta": 0.0, "p": 1.0}]
    depth = max(len(h) for h in cands.values())
    for n in ns:
        if n > depth:
            continue
        for method, w in combos:
            pq = evaluate(rerank_run(cands, ce, n, method, w), qrels, METRICS)
            m = mean(pq)
            a = [pq[q][PRIMARY] for q in qids]
            b = [base_pq[q][PRIMARY] for q in qids]
            rows.append({"variant": f"{method}:{w}", "n": n, **{k: round(m[k], 4) for k in METRICS},
                         "delta": round(m[PRIMARY] - base[PRIMARY], 4), "p": round(paired_randomisation_test(a, b), 4)})
    return rows


def latency(searcher, reranker, queries: dict[str, str], ns=(10, 20, 30, 50), k: int = 10, repeat: int = 1) -> dict:
    """Warm p50/p95 (ms) of ``full`` end to end, and of the rerank stage alone, per N."""
    searcher._reranker = reranker
    first = next(iter(queries.values()))
    out = {}
    for n in ns:
        reranker.top_n = n
        searcher.search(first, k, "full")  # warm
        tot, stage = [], []
        for _ in range(repeat):
            for text in queries.values():
                t = time.perf_counter()
                res = searcher.search(text, k, "full")
                tot.append((time.perf_counter() - t) * 1000)
                stage.append(res.timings_ms.get("rerank", 0.0))
        out[n] = {"p50": round(float(np.percentile(tot, 50)), 1), "p95": round(float(np.percentile(tot, 95)), 1),
                  "rerank_p50": round(float(np.percentile(stage, 50)), 1)}
    hyb = []
    for text in queries.values():
        t = time.perf_counter()
        searcher.search(text, k, "hybrid")
        hyb.append((time.perf_counter() - t) * 1000)
    out["hybrid"] = {"p50": round(float(np.percentile(hyb, 50)), 1), "p95": round(float(np.percentile(hyb, 95)), 1)}
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| variant | N | nDCG@10 | Recall@10 | Δ nDCG@10 vs hybrid | p |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['n'] or '-'} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | "
                     f"{r['delta']:+.4f} | {r['p']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from qbank.config import Settings
    from qbank.retrieval.engine import open_searcher
    from qbank.retrieval.rerank import CrossEncoderReranker, load_default_reranker, read_manifest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a reranker folder holding manifest.json + model/ (default: the trained one)")
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--ns", default="10,20,30,50")
    ap.add_argument("--latency-ns", default="10,20,30,50", help="empty: skip the latency runs")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    s = Settings()
    searcher = open_searcher(s)
    if args.model:
        folder = Path(args.model)
        man = read_manifest(folder)
        comb = man.get("combine", {})
        from qbank.retrieval.rerank import OnnxCrossEncoder

        rr = CrossEncoderReranker(OnnxCrossEncoder(folder, int(man.get("max_length") or 128)),
                                  int(comb.get("top_n") or 10), "replace", 1.0)
    else:
        folder = s.reranker_dir
        man = read_manifest(folder)
        rr = load_default_reranker(s)
    queries = read_queries(GOLDEN_QUERIES)
    qrels = read_qrels(GOLDEN_QRELS)
    queries = {q: t for q, t in queries.items() if q in qrels}
    t = time.perf_counter()
    cands = candidates(searcher, queries, args.depth)
    ce = score_candidates(rr, queries, cands)
    score_s = time.perf_counter() - t
    ns = tuple(int(x) for x in args.ns.split(",") if x)
    rows = variant_table(cands, ce, qrels, ns)
    print(markdown(rows))
    result = {"model": str(folder), "layers": man.get("layers"), "combine": man.get("combine"),
              "training": man.get("training"), "data": man.get("data"), "depth": args.depth,
              "scoring_seconds": round(score_s, 1), "rows": rows}
    lat_ns = tuple(int(x) for x in args.latency_ns.split(",") if x)
    if lat_ns:
        result["latency_ms"] = latency(searcher, rr, queries, lat_ns)
        print(json.dumps(result["latency_ms"], indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
