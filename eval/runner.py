"""Run retrieval modes side by side on a query set and report metrics, latency and significance."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qbank.eval.data import check_consistency, write_run
from qbank.eval.metrics import DEFAULT_METRICS, PRIMARY, evaluate, mean, paired_randomisation_test, ranked
from qbank.eval.mlt import check_modes, is_related_mode, related_runner
from qbank.fileio import write_atomic

GOLDEN_DIR = Path(__file__).parent / "golden"
GOLDEN_QUERIES = GOLDEN_DIR / "queries.tsv"
GOLDEN_QRELS = GOLDEN_DIR / "qrels.tsv"
GOLDEN_BASELINE = GOLDEN_DIR / "baseline.json"


@dataclass
class ModeResult:
    mode: str
    run: dict[str, dict[str, float]]
    per_query: dict[str, dict[str, float]]
    means: dict[str, float]
    latency_ms: list[float]
    stages_ms: dict[str, list[float]]

    def latency(self) -> dict[str, float]:
        out = {"p50": float(np.percentile(self.latency_ms, 50)), "p95": float(np.percentile(self.latency_ms, 95))}
        for s, v in self.stages_ms.items():
            out[f"{s}_p50"] = float(np.percentile(v, 50))
        return out


@dataclass
class EvalReport:
    dataset: str
    n_queries: int
    modes: dict[str, ModeResult]
    significance: dict[str, dict] = field(default_factory=dict)
    breakdown: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    worst: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    graded: bool = True  # any judgment above 1 (else success2@k means nothing and is not shown)

    def table(self) -> dict[str, dict[str, float]]:
        return {m: r.means for m, r in self.modes.items()}

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "n_queries": self.n_queries, "primary_metric": PRIMARY,
            "metrics": {m: {k: round(v, 4) for k, v in r.means.items()} for m, r in self.modes.items()},
            "latency_ms": {m: {k: round(v, 2) for k, v in r.latency().items()} for m, r in self.modes.items()},
            "significance": self.significance, "breakdown": self.breakdown, "worst": self.worst,
            "warnings": self.warnings,
            "per_query": {m: r.per_query for m, r in self.modes.items()},
        }

    def markdown(self, metrics=("ndcg@10", "mrr@10", "recall@10", "recall@20", "recall@100", "success@1", "success2@1",
                                "map")) -> str:
        if not self.graded:
            metrics = tuple(m for m in metrics if not m.startswith("success2"))
        lines = [f"## {self.dataset} ({self.n_queries} queries)", "",
                 "| mode | " + " | ".join(metrics) + " | p50 ms | p95 ms |",
                 "|---|" + "---:|" * (len(metrics) + 2)]
        for m, r in self.modes.items():
            lat = r.latency()
            lines.append(f"| {m} | " + " | ".join(f"{r.means[x]:.4f}" for x in metrics)
                         + f" | {lat['p50']:.1f} | {lat['p95']:.1f} |")
        lines += ["", "Stage p50 (ms): " + "; ".join(
            f"{m}: " + ", ".join(f"{k[:-4]} {v:.2f}" for k, v in r.latency().items() if k.endswith("_p50"))
            for m, r in self.modes.items())]
        if self.significance:
            lines += ["", f"Paired randomisation test on {PRIMARY} (10,000 sign flips), against the best single "
                      "leg (related modes: against the plain baseline):", ""]
            for m, s in self.significance.items():
                name = m if m.endswith(f" vs {s['against']}") else f"{m} vs {s['against']}"
                lines.append(f"- {name}: Δ = {s['delta']:+.4f}, p = {s['p']:.4f}")
        if self.breakdown:
            lines += ["", f"{PRIMARY} by group (by question attribute, a query belongs to the groups of its grade-2 "
                      "questions; by query type, to its own):", ""]
            for dim, groups in self.breakdown.items():
                lines.append(f"- **{dim}**: " + "; ".join(
                    f"{g} " + "/".join(f"{v:.3f}" for v in vals.values()) for g, vals in groups.items()))
            lines.append(f"  (values: {' / '.join(self.modes)})")
        if self.worst:
            lines += ["", "Worst queries (primary mode):", ""]
            for w in self.worst:
                lines.append(f"- {w['qid']} “{w['query']}” {PRIMARY}={w['value']:.3f}: got {', '.join(w['top5'])};"
                             f" missed {', '.join(w['missed']) or '-'}")
        if self.warnings:
            lines += ["", *[f"warning: {w}" for w in self.warnings]]
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for m, r in self.modes.items():
            p = out / f"run.{m}.trec"
            write_run(r.run, p, f"qbank-{m}")
            files[f"run.{m}"] = p
        write_atomic(out / "report.json", json.dumps(self.to_dict(), indent=1, ensure_ascii=False))
        write_atomic(out / "report.md", self.markdown())
        files["json"], files["md"] = out / "report.json", out / "report.md"
        return files


def run_mode(searcher, queries: dict[str, str], mode: str, k: int = 100, progress=None) -> ModeResult:
    """One mode over the queries. A related mode (:mod:`qbank.eval.mlt`) reads each query as a seed
    question id."""
    run: dict[str, dict[str, float]] = {}
    lat: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    related = related_runner(searcher, mode) if is_related_mode(mode) else None
    for qid, text in queries.items():
        t = time.perf_counter()
        if related is not None:
            ids = related(text, k)
        else:
            res = searcher.search(text, k, mode)
            ids = [h.id for h in res.hits]
            for s, v in res.timings_ms.items():
                if s != "total":
                    stages[s].append(v)
        lat.append((time.perf_counter() - t) * 1000)
        # rank-derived scores: strictly decreasing, so every tool ranks as we did
        run[qid] = {d: float(k - i) for i, d in enumerate(ids)}
        if progress:
            progress(1)
    return ModeResult(mode, run, {}, {}, lat, dict(stages))


def evaluate_modes(searcher, queries: dict[str, str], qrels: dict[str, dict[str, int]], modes: list[str],
                   dataset: str = "queries", k: int = 100, questions: dict | None = None, worst_n: int = 8,
                   progress=None, warmup: bool = True, categories: dict[str, str] | None = None) -> EvalReport:
    """Run each mode over the queries, score it, and compare the modes."""
    known = {c.doc_id for c in searcher.index.chunks}
    warnings = check_consistency(queries, qrels, known)
    scored = {q: queries[q] for q in queries if q in qrels}
    qrels_scored = {q: qrels[q] for q in scored}
    check_modes(modes)
    if warmup and scored:  # load models before timing
        first = next(iter(scored.values()))
        for m in modes:
            if is_related_mode(m):
                related_runner(searcher, m)(first, 1)
            else:
                searcher.search(first, 1, m)
    results: dict[str, ModeResult] = {}
    for m in modes:
        r = run_mode(searcher, scored, m, k, progress)
        r.per_query = evaluate(r.run, qrels_scored, DEFAULT_METRICS)
        r.means = mean(r.per_query)
        results[m] = r
    report = EvalReport(dataset, len(scored), results, warnings=warnings,
                        graded=any(g >= 2 for rel in qrels_scored.values() for g in rel.values()))
    qids = list(qrels_scored)
    # significance against the best single leg (search modes) or the plain baseline (related modes)
    # (with neither leg run, e.g. --mode hybrid,full: against hybrid)
    legs = ([m for m in ("bm25", "dense") if m in results] or (["mlt"] if "mlt" in results else [])
            or (["hybrid"] if "hybrid" in results and len(results) > 1 else []))
    if legs:
        best_leg = max(legs, key=lambda m: results[m].means[PRIMARY])
        for m in results:
            if m == best_leg:
                continue
            a = [results[m].per_query[q][PRIMARY] for q in qids]
            b = [results[best_leg].per_query[q][PRIMARY] for q in qids]
            p = paired_randomisation_test(a, b)
            from scipy import stats

            t_p = float(stats.ttest_rel(a, b).pvalue) if np.any(np.array(a) - np.array(b)) else 1.0
            report.significance[m] = {"against": best_leg, "delta": float(np.mean(a) - np.mean(b)), "p": p,
                                      "t_test_p": t_p}
        # a mode that reranks hybrid is also tested against hybrid itself (the default-mode rule)
        if best_leg != "hybrid" and "hybrid" in results:
            for m in results:
                if m in ("bm25", "dense", "hybrid", "mlt", "related"):
                    continue
                a = [results[m].per_query[q][PRIMARY] for q in qids]
                b = [results["hybrid"].per_query[q][PRIMARY] for q in qids]
                report.significance[f"{m} vs hybrid"] = {"against": "hybrid", "delta": float(np.mean(a) - np.mean(b)),
                                                         "p": paired_randomisation_test(a, b)}
    if questions:
        report.breakdown = breakdown(results, qrels_scored, questions)
    if categories:
        groups: dict[str, list[str]] = defaultdict(list)
        for q in qids:
            if q in categories:
                groups[categories[q]].append(q)
        report.breakdown["query type"] = {
            f"{c} (n={len(qs)})": {m: float(np.mean([r.per_query[q][PRIMARY] for q in qs])) for m, r in results.items()}
            for c, qs in sorted(groups.items())}
    primary = next((m for m in ("hybrid", "related") if m in results), modes[0])
    pq = results[primary].per_query
    for qid in sorted(qids, key=lambda q: (pq[q][PRIMARY], q))[:worst_n]:
        got = ranked(results[primary].run.get(qid, {}))
        rel = qrels_scored[qid]
        missed = [d for d, g in sorted(rel.items(), key=lambda x: (-x[1], x[0])) if g >= 1 and d not in got[:10]]
        report.worst.append({"qid": qid, "query": scored[qid], "mode": primary, "value": pq[qid][PRIMARY],
                             "top5": got[:5], "missed": missed[:5]})
    return report


def breakdown(results: dict[str, ModeResult], qrels: dict[str, dict[str, int]], questions: dict) -> dict:
    dims = {"difficulty": lambda q: [q.difficulty], "role": lambda q: list(q.roles),
            "section": lambda q: [f"E.{q.section}"], "kind": lambda q: [q.kind]}
    out: dict[str, dict[str, dict[str, float]]] = {}
    for dim, get in dims.items():
        groups: dict[str, set[str]] = defaultdict(set)
        for qid, rel in qrels.items():
            for d, g in rel.items():
                if g >= 2 and d in questions:
                    for v in get(questions[d]):
                        groups[v].add(qid)
        out[dim] = {
            f"{v} (n={len(qs)})": {m: float(np.mean([r.per_query[q][PRIMARY] for q in qs])) for m, r in results.items()}
            for v, qs in sorted(groups.items(), key=lambda x: _natural(x[0]))
        }
    return out


def _natural(s: str):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]
