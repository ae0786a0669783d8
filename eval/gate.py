"""The CI quality gate on the golden set and the other shipped sets.

Fails when a mode's nDCG@10 (or grade-2-first rate, where the baseline records one) drops more than
``tolerance`` below the committed baseline (``eval/golden/baseline.json``), or when hybrid stops
beating both single legs on nDCG@10 and Recall@20. The held-out paraphrase set, the long pasted
questions and the related-questions set (:data:`SETS`) are held to their own baselines (nDCG@10);
on the related set ``related()`` must also stay above the plain more-like-this baseline. Refresh
with ``python -m qbank.eval.gate --write`` after a deliberate change.
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
GOLDEN_MODES = [*MODES, "full"]  # the shipped reranker is held to its golden figures too
# the shipped sets gated beside the golden one, and the modes each is run with
SETS: dict[str, list[str]] = {"heldout": MODES, "pasted": MODES, "related": ["related", "mlt"]}
SET_METRICS = ("ndcg@10", "recall@20", "mrr@10")


def set_report(searcher, name: str):
    from qbank.eval.runner import evaluate_modes
    from qbank.eval.sets import load_eval_set

    es = load_eval_set(name)
    return evaluate_modes(searcher, es.queries, es.qrels, SETS.get(name, MODES), es.name)


def related_beats_baseline(report, alpha: float = 0.05) -> list[str]:
    sig = report.significance.get("related", {})
    if sig.get("against") != "mlt" or sig["delta"] <= 0 or sig["p"] >= alpha:
        return [f"related() does not beat the plain more-like-this baseline (Δ {sig.get('delta', 0):+.4f}, "
                f"p = {sig.get('p', 1):.4f}; needs Δ > 0 and p < {alpha})"]
    return []


def heldout_report(searcher):
    return set_report(searcher, "heldout")


def main(argv: list[str] | None = None) -> int:
    from qbank.config import Settings
    from qbank.eval.data import read_qrels, read_queries
    from qbank.eval.runner import GOLDEN_QRELS, GOLDEN_QUERIES, evaluate_modes
    from qbank.retrieval.engine import open_searcher

    argv = sys.argv[1:] if argv is None else argv
    searcher = open_searcher(Settings(), build_if_missing=True)
    table = evaluate_modes(searcher, read_queries(GOLDEN_QUERIES), read_qrels(GOLDEN_QRELS), GOLDEN_MODES,
                           "golden set").table()
    reports = {name: set_report(searcher, name) for name in SETS}
    if "--write" in argv:
        keep = ("ndcg@10", "recall@20", "mrr@10", "success2@1")
        out = {"metrics": {m: {k: round(v, 4) for k, v in t.items() if k in keep} for m, t in table.items()}}
        for name, rep in reports.items():
            out[name] = {m: {k: round(v, 4) for k, v in t.items() if k in SET_METRICS} for m, t in rep.table().items()}
        GOLDEN_BASELINE.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {GOLDEN_BASELINE}")
        return 0
    baseline = json.loads(Path(GOLDEN_BASELINE).read_text())
    failures = check(table, baseline)
    for name, rep in reports.items():
        failures += [f"{name} set: {f}" for f in check(rep.table(), {"metrics": baseline.get(name, {})},
                                                         legs_must_lose=False)]
    failures += related_beats_baseline(reports["related"])
    for f in failures:
        print(f"gate: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
