"""Probe: does fine-tuning the bi-encoder on the bank's own pseudo-queries lift the dense leg?

    python -m experiments.biencoder_probe [--queries templates|expansions] [--epochs 1] [--out FILE.json]

Fine-tunes the bundled all-MiniLM-L6-v2 (float, sentence-transformers) with an in-batch-negatives
loss (MultipleNegativesRanking: each query against every question of its batch, scale 20) on
(pseudo-query, question text) pairs made from the bank alone (``retrieval/pseudo_queries.py``, or
the sample queries of ``ingest/expansions.py``), seeded. Then re-embeds every dense row of the
index with the tuned model and with the untuned float model, and scores dense and hybrid (RRF with
the index's BM25 leg) on the golden and held-out sets by exact search, so the two differ only in
the weights. Prints a table; nothing is written to the index. A probe, not a product path: the
tuned weights would have to ship with the code to be used (README, docs/reranker_notes.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from qbank.eval.data import read_qrels, read_queries
from qbank.eval.metrics import evaluate, mean, paired_randomisation_test
from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES
from qbank.eval.sets import NAMED_SETS

HELDOUT = NAMED_SETS["heldout"][0]
METRICS = ("ndcg@10", "recall@20", "success2@1")


def training_pairs(questions, source: str, seed: int) -> list[tuple[str, str]]:
    from qbank.retrieval.rerank import question_document

    docs = {q.id: question_document(q) for q in questions}
    if source == "templates":
        from qbank.training.pseudo_queries import pseudo_queries

        return [(pq.text, docs[pq.doc_id]) for pq in pseudo_queries(questions, 6, seed)]
    from qbank.config import Settings
    from qbank.ingest.expansions import load_expansions

    exp = load_expansions(Settings().expansions_path, questions)
    return [(t, docs[qid]) for qid, ts in exp.by_id.items() for t in ts]


def fine_tune(model, pairs: list[tuple[str, str]], epochs: int, batch: int, lr: float, seed: int,
              max_steps: int = 0) -> dict:
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses, t0 = [], time.perf_counter()
    steps = 0
    for _ in range(epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        for i in range(0, len(order) - batch + 1, batch):
            if max_steps and steps >= max_steps:
                break
            # one positive per distinct question in a batch (a repeated question would be its own negative)
            seen, idx = set(), []
            for j in order[i : i + batch]:
                if pairs[j][1] not in seen:
                    seen.add(pairs[j][1])
                    idx.append(j)
            q = model.tokenize([pairs[j][0] for j in idx])
            d = model.tokenize([pairs[j][1] for j in idx])
            qe = model(q)["sentence_embedding"]
            de = model(d)["sentence_embedding"]
            qe = torch.nn.functional.normalize(qe, dim=-1)
            de = torch.nn.functional.normalize(de, dim=-1)
            scores = qe @ de.T * 20.0
            loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(idx)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            steps += 1
            if steps % 10 == 0:
                print(f"  step {steps}: loss {np.mean(losses[-10:]):.3f}", file=sys.stderr)
    model.eval()
    k = max(1, len(losses) // 10)
    return {"steps": steps, "seconds": round(time.perf_counter() - t0, 1),
            "loss_first_10pct": round(float(np.mean(losses[:k])), 3), "loss_last_10pct": round(float(np.mean(losses[-k:])), 3)}


def score_sets(searcher, model, rows: np.ndarray) -> dict:
    """dense + hybrid (exact dense search over ``rows``) on both labelled sets."""
    from qbank.index.lexical import tokenize_query
    from qbank.retrieval.fusion import rrf
    from qbank.retrieval.legs import LegRanking, bm25_leg, rollup

    idx = searcher.index
    texts = [idx.chunks[r].text for r in rows]
    vecs = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    out = {}
    sets = {"golden": (read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS)),
            "heldout": (read_queries(HELDOUT / "queries.tsv"), read_qrels(HELDOUT / "qrels.tsv"))}
    for name, (queries, qrels) in sets.items():
        qv = model.encode(list(queries.values()), normalize_embeddings=True, convert_to_numpy=True)
        runs: dict[str, dict] = {"dense": {}, "hybrid": {}}
        for (qid, text), v in zip(queries.items(), qv):
            sims = vecs @ v
            order = np.lexsort((rows, -sims))
            dense: LegRanking = rollup(rows[order], sims[order], idx.doc_ids, 100)
            bm25 = bm25_leg(idx, tokenize_query(text, idx.bm25.vocabulary), None, 100)
            fused = rrf({"bm25": bm25.docs, "dense": dense.docs}, 60, {"bm25": 1.0, "dense": 1.0})
            runs["dense"][qid] = {d: 101.0 - i for i, d in enumerate(dense.docs)}
            runs["hybrid"][qid] = {d: 101.0 - i for i, (d, _) in enumerate(fused[:100])}
        for mode, run in runs.items():
            per_q = evaluate(run, qrels, ["ndcg@10", "recall@20", "success2@1"])
            out[(name, mode)] = (mean(per_q), per_q)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", default="templates", choices=("templates", "expansions"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: the whole run)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer

    from qbank.config import Settings
    from qbank.index.dense import bundled_model_path
    from qbank.retrieval.engine import open_searcher

    torch.set_num_threads(2)
    searcher = open_searcher(Settings())
    rows = searcher.index.dense_rows
    pairs = training_pairs(searcher.index.questions, args.queries, args.seed)
    print(f"{len(pairs)} training pairs ({args.queries}); {len(rows)} dense rows", file=sys.stderr)
    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    before = score_sets(searcher, base, rows)
    tuned = SentenceTransformer(str(bundled_model_path()), device="cpu")
    figures = fine_tune(tuned, pairs, args.epochs, args.batch, args.lr, args.seed, args.max_steps)
    after = score_sets(searcher, tuned, rows)
    print(f"training: {figures}")
    print("| set | mode | untuned float nDCG@10 / R@20 / grade-2 first | tuned | Δ nDCG@10 (p) |")
    print("|---|---|---|---|---|")
    table = []
    for key in before:
        (mb, pb), (ma, pa) = before[key], after[key]
        qids = sorted(pb)
        p = paired_randomisation_test([pa[q]["ndcg@10"] for q in qids], [pb[q]["ndcg@10"] for q in qids])
        fmt = lambda m: " / ".join(f"{m[x]:.4f}" for x in METRICS)  # noqa: E731
        print(f"| {key[0]} | {key[1]} | {fmt(mb)} | {fmt(ma)} | {ma['ndcg@10'] - mb['ndcg@10']:+.4f} ({p:.3f}) |")
        table.append({"set": key[0], "mode": key[1], "before": mb, "after": ma, "p": p})
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "training": figures, "rows": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
