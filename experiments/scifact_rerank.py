"""Validation on data nobody here wrote: the reranker recipe trained on BEIR SciFact's train split,
reranking BM25's top-``depth`` on its test split. Not part of CI (it trains a model: minutes).

    python -m experiments.scifact_rerank [--data /work/shared/benchmarks/scifact] [--depth 100] [--out FILE.json]

Same recipe as ``qbank train-reranker`` (MiniLM's first layers, listwise loss over one positive,
BM25 hard negatives and a random one, seeded); only the queries differ: SciFact's 809
human-written training claims instead of the bank's pseudo-queries. The reference figure is the
BEIR paper's BM25 + MS MARCO MiniLM cross-encoder (Thakur et al. 2021, Table 2 "BM25+CE"): 0.688
nDCG@10 on SciFact test — a model trained on ~500k MS MARCO queries, so expect to land below it.
The dataset folder is read in place (CC BY-NC 2.0): nothing is copied into the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from qbank.config import Settings

BEIR_BM25_CE_SCIFACT = 0.688


def run(data: Path, depth: int = 100, limit: int = 0, layers: int = 2, max_length: int = 128,
        seed: int = 13, progress: bool = True) -> dict:
    from qbank.eval.beir import beir_searcher
    from qbank.eval.metrics import evaluate, mean, paired_randomisation_test
    from qbank.retrieval.rerank import CrossEncoderReranker, hit_document, rerank_order
    from qbank.training.reranker import (
        TrainConfig,
        base_model_path,
        new_cross_encoder,
        scifact_groups,
        train_cross_encoder,
    )

    s = Settings()
    cfg = dataclasses.replace(TrainConfig(), seed=seed, layers=layers, max_length=max_length)
    t0 = time.perf_counter()
    groups = scifact_groups(data, s, cfg, split="train")
    ce = new_cross_encoder(base_model_path(), cfg.layers, cfg.max_length, cfg.seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=-(-len(groups) // cfg.batch_groups), desc="training (SciFact train)", file=sys.stderr)
    figures = train_cross_encoder(ce, groups, cfg, bar.update if bar else None)
    if bar:
        bar.close()
    train_s = time.perf_counter() - t0

    searcher, queries, qrels = beir_searcher(data, s, dense=False, split="test")
    qids = sorted(queries)
    if limit:
        qids = qids[:limit]
    rr = CrossEncoderReranker(ce, top_n=depth)
    bm25_run, ce_run = {}, {}
    t = time.perf_counter()
    it = qids
    if progress:
        from tqdm import tqdm

        it = tqdm(qids, desc=f"reranking BM25 top-{depth}", file=sys.stderr)
    for qid in it:
        hits = searcher.search(queries[qid], depth, "bm25").hits
        bm25_run[qid] = {h.id: float(depth - i) for i, h in enumerate(hits)}
        sc = rr.score(queries[qid], [hit_document(h) for h in hits])
        ce_run[qid] = {hits[i].id: float(depth - r) for r, i in enumerate(rerank_order(sc))}
    rerank_s = time.perf_counter() - t
    qr = {q: qrels[q] for q in qids}
    metrics = ("ndcg@10", "recall@10", "recall@100")
    pb, pc = evaluate(bm25_run, qr, metrics), evaluate(ce_run, qr, metrics)
    mb, mc = mean(pb), mean(pc)
    p = paired_randomisation_test([pc[q]["ndcg@10"] for q in qids], [pb[q]["ndcg@10"] for q in qids])
    return {"dataset": str(data), "test_queries": len(qids), "depth": depth, "recipe": cfg.to_dict(),
            "train_groups": len(groups), "training": figures, "train_seconds": round(train_s, 1),
            "rerank_seconds": round(rerank_s, 1),
            "bm25": {k: round(v, 4) for k, v in mb.items()},
            "bm25+ours": {k: round(v, 4) for k, v in mc.items()},
            "p_vs_bm25": round(p, 4), "beir_bm25_ce_ndcg@10": BEIR_BM25_CE_SCIFACT}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Settings().scifact_dir), help="BEIR SciFact folder (read in place)")
    ap.add_argument("--depth", type=int, default=100, help="BM25 candidates reranked per query")
    ap.add_argument("--limit", type=int, default=0, help="only the first N test queries (0 = all 300)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args(argv)
    res = run(Path(args.data), args.depth, args.limit, args.layers, args.max_length)
    b, c = res["bm25"], res["bm25+ours"]
    print(f"SciFact test ({res['test_queries']} queries), BM25 top-{res['depth']} reranked:\n"
          f"  BM25                 nDCG@10 {b['ndcg@10']:.4f}  R@10 {b['recall@10']:.4f}\n"
          f"  BM25 + ours (L{args.layers})     nDCG@10 {c['ndcg@10']:.4f}  R@10 {c['recall@10']:.4f}  "
          f"(p vs BM25 {res['p_vs_bm25']:.4f})\n"
          f"  BEIR BM25 + MS MARCO MiniLM CE: nDCG@10 {BEIR_BM25_CE_SCIFACT}\n"
          f"  training {res['train_seconds']:.0f} s ({res['train_groups']} queries), reranking {res['rerank_seconds']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
