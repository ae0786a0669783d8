"""The CI quality gate on the golden set.

Fails when a mode's nDCG@10 drops more than ``tolerance`` below the committed baseline
(``eval/golden/baseline.json``), or when hybrid stops beating both single legs on nDCG@10 and
Recall@20. Refresh the baseline with ``python -m eval.gate --write`` after a deliberate change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eval.runner import GOLDEN_BASELINE

TOLERANCE = 0.01
GATED = ("ndcg@10", "recall@20")


def check(table: dict[str, dict[str, float]], baseline: dict, tolerance: float = TOLERANCE) -> list[str]:
    failures = []
    for mode, base in baseline["metrics"].items():
        if mode not in table:
            continue
        got = table[mode]["ndcg@10"]
        if got < base["ndcg@10"] - tolerance:
            failures.append(f"{mode}: nDCG@10 {got:.4f} is more than {tolerance} below the baseline {base['ndcg@10']:.4f}")
    if {"bm25", "dense", "hybrid"} <= set(table):
        for metric in GATED:
            h = table["hybrid"][metric]
            for leg in ("bm25", "dense"):
                if h <= table[leg][metric]:
                    failures.append(f"hybrid {metric} {h:.4f} does not beat {leg} {table[leg][metric]:.4f}")
    return failures


def main(argv: list[str] | None = None) -> int:
    from eval.data import read_qrels, read_queries
    from eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES, evaluate_modes
    from qbank.config import Settings
    from retrieval.engine import open_searcher

    argv = sys.argv[1:] if argv is None else argv
    searcher = open_searcher(Settings(), build_if_missing=True)
    report = evaluate_modes(searcher, read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS),
                            ["bm25", "dense", "hybrid"], "golden set")
    table = report.table()
    if "--write" in argv:
        GOLDEN_BASELINE.write_text(json.dumps(
            {"metrics": {m: {k: round(v, 4) for k, v in t.items() if k in ("ndcg@10", "recall@20", "mrr@10")}
                         for m, t in table.items()}}, indent=1) + "\n")
        print(f"wrote {GOLDEN_BASELINE}")
        return 0
    failures = check(table, json.loads(Path(GOLDEN_BASELINE).read_text()))
    for f in failures:
        print(f"gate: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
