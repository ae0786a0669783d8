"""The CI quality gate on the golden set.

Fails when a mode's nDCG@10 (or grade-2-first rate, where the baseline records one) drops more than
``tolerance`` below the committed baseline (``eval/golden/baseline.json``), or when hybrid stops
beating both single legs on nDCG@10 and Recall@20. The held-out paraphrase set (``eval/heldout/``)
is held to its own baseline (nDCG@10 only: it judges one question per query). Refresh both with
``python -m qbank.eval.gate --write`` after a deliberate change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbank.eval.runner import GOLDEN_BASELINE
from qbank.retrieval.modes import EVAL_DEFAULT_MODES

TOLERANCE = 0.01
GATED = ("ndcg@10", "recall@20")


def check(table: dict[str, dict[str, float]], baseline: dict, tolerance: float = TOLERANCE,
          legs_must_lose: bool = True) -> list[str]:
    failures = []
    for mode, base in baseline["metrics"].items():
        if mode not in table:
            continue
        for metric, label in (("ndcg@10", "nDCG@10"), ("success2@1", "grade-2 first")):
            if metric not in base or metric not in table[mode]:
                continue
            got = table[mode][metric]
            if got < base[metric] - tolerance:
                failures.append(f"{mode}: {label} {got:.4f} is more than {tolerance} below the baseline "
                                f"{base[metric]:.4f}")
    if legs_must_lose and {"bm25", "dense", "hybrid"} <= set(table):
        for metric in GATED:
            h = table["hybrid"][metric]
            for leg in ("bm25", "dense"):
                if h <= table[leg][metric]:
                    failures.append(f"hybrid {metric} {h:.4f} does not beat {leg} {table[leg][metric]:.4f}")
    return failures


MODES = list(EVAL_DEFAULT_MODES)


def set_report(searcher, name: str):
    from qbank.eval.runner import evaluate_modes
    from qbank.eval.sets import load_eval_set

    es = load_eval_set(name)
    return evaluate_modes(searcher, es.queries, es.qrels, MODES, es.name)


def heldout_report(searcher):
    return set_report(searcher, "heldout")


def main(argv: list[str] | None = None) -> int:
    from qbank.config import Settings
    from qbank.eval.data import read_qrels, read_queries
    from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES, evaluate_modes
    from qbank.retrieval.engine import open_searcher

    argv = sys.argv[1:] if argv is None else argv
    searcher = open_searcher(Settings(), build_if_missing=True)
    table = evaluate_modes(searcher, read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS), MODES,
                           "golden set").table()
    held = heldout_report(searcher).table()
    if "--write" in argv:
        keep = ("ndcg@10", "recall@20", "mrr@10", "success2@1")
        GOLDEN_BASELINE.write_text(json.dumps(
            {"metrics": {m: {k: round(v, 4) for k, v in t.items() if k in keep} for m, t in table.items()},
             "heldout": {m: {k: round(v, 4) for k, v in t.items() if k in ("ndcg@10", "recall@20", "mrr@10")}
                         for m, t in held.items()}}, indent=1) + "\n")
        print(f"wrote {GOLDEN_BASELINE}")
        return 0
    baseline = json.loads(Path(GOLDEN_BASELINE).read_text())
    failures = check(table, baseline)
    failures += [f"held-out set: {f}" for f in check(held, {"metrics": baseline.get("heldout", {})},
                                                     legs_must_lose=False)]
    for f in failures:
        print(f"gate: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
