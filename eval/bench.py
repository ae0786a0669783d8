"""Speed and memory benchmark on the shipped bank (prints figures; not a timed test).

    python -m qbank.eval.bench [--skip-build] [--load] [--out FILE.json] [--reference REF.json] [--markdown]

Measures: build from scratch (empty embedding cache) and rebuild after editing one question;
warm query latency per mode with a per-stage breakdown, and of ``full`` per reranked top-N; cold
one-shot CLI searches; peak RSS of a process holding the loaded index and query model; HNSW
recall@10 against exact search; with ``--load``, the HTTP API under 16 and 50 concurrent clients
(:mod:`qbank.eval.load`, ``qbank serve`` with its default workers).

Absolute timings move ~2x between machines of one kind, so a figure stands beside a reference run
made in the same sitting: run this module from the reference checkout (say, the previous commit)
with ``--out ref.json``, then here with ``--reference ref.json --markdown``, which prints the
README's table with both columns and their ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qbank.config import DATA_DIR, Settings


def _run(args: list[str], env: dict | None = None) -> tuple[float, str]:
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
    return time.perf_counter() - t, p.stdout


def bench_build(tmp: Path) -> dict:
    bank = tmp / "bank.txt"
    shutil.copy(DATA_DIR / "question_bank.txt", bank)
    shutil.copy(DATA_DIR / "question_bank.expansions.jsonl", tmp / "bank.expansions.jsonl")  # found beside the bank
    env = {"QBANK_BANK": str(bank), "QBANK_INDEX_DIR": str(tmp / "index"), "QBANK_CACHE_DIR": str(tmp / "cache"),
           "QBANK_CHAPTERS_DIR": str(tmp / "none")}
    qbank = [sys.executable, "-m", "qbank.ui.cli"]
    scratch, _ = _run([*qbank, "build"], env)
    text = bank.read_text(encoding="utf-8")
    bank.write_text(text.replace("What’s a tensor? What does broadcasting do?",
                                 "What’s a tensor, and what does broadcasting do?"), encoding="utf-8")
    edit, out = _run([*qbank, "build"], env)
    return {"build_from_scratch_s": round(scratch, 2), "rebuild_after_one_edit_s": round(edit, 2),
            "rebuild_output": next((x for x in out.splitlines() if x.startswith("indexed")), out.strip())}


def bench_cold(settings: Settings, runs: int = 5) -> dict:
    """New processes that load the index and run one query: per mode, one run unmeasured (the OS
    file cache, and Python's bytecode cache where it may write one), then the median of ``runs``
    (one run alone moved ±30% on this VM)."""
    env = {"QBANK_INDEX_DIR": str(settings.index_dir)}
    out = {"bytecode_cached": not sys.dont_write_bytecode}
    probe = ("import sys, time; t=time.perf_counter(); from qbank.ui.cli import main; "
             "main(['search', 'kv cache memory for long context', '--mode', '{mode}', '--k', '5']); "
             "print('TORCH', 'torch' in sys.modules)")
    for mode in ("bm25", "hybrid", "learned", "full"):
        args = [sys.executable, "-c", probe.replace("{mode}", mode)]
        _run(args, env)
        timed = [_run(args, env) for _ in range(runs)]
        secs = sorted(t for t, _ in timed)
        out[f"cold_{mode}_s"] = round(float(np.median(secs)), 2)
        out[f"cold_{mode}_runs_s"] = [round(t, 2) for t in secs]
        out[f"cold_{mode}_imports_torch"] = any("TORCH True" in o for _, o in timed)
    return out


def bench_warm(settings: Settings, repeats: int = 3) -> dict:
    from qbank.eval.data import read_queries
    from qbank.eval.runner import GOLDEN_QUERIES
    from qbank.index.dense import ann_search
    from qbank.retrieval.engine import open_searcher

    searcher = open_searcher(settings)
    queries = list(read_queries(GOLDEN_QUERIES).values())
    out: dict = {}
    for mode in ("bm25", "dense", "hybrid"):
        searcher.search(queries[0], 10, mode)
        totals, stages = [], {}
        for _ in range(repeats):
            for q in queries:
                r = searcher.search(q, 10, mode)
                totals.append(r.timings_ms["total"])
                for s, v in r.timings_ms.items():
                    stages.setdefault(s, []).append(v)
        out[mode] = {"p50_ms": round(float(np.percentile(totals, 50)), 2),
                     "p95_ms": round(float(np.percentile(totals, 95)), 2),
                     "stages_p50_ms": {s: round(float(np.percentile(v, 50)), 3) for s, v in stages.items() if s != "total"}}
    # full: the reranker over the fused top-N, for several N (its manifest's N is what users get)
    from qbank.retrieval.rerank import load_default_reranker

    base = load_default_reranker(settings)
    out["full"] = {"manifest_top_n": base.top_n}
    for n in (10, 20, 30, 50):
        searcher._reranker = _with_top_n(base, n)
        searcher.search(queries[0], 10, "full")
        totals, rr = [], []
        for q in queries:
            r = searcher.search(q, 10, "full")
            totals.append(r.timings_ms["total"])
            rr.append(r.timings_ms["rerank"])
        out["full"][f"N={n}"] = {"p50_ms": round(float(np.percentile(totals, 50)), 2),
                                 "p95_ms": round(float(np.percentile(totals, 95)), 2),
                                 "rerank_p50_ms": round(float(np.percentile(rr, 50)), 2)}
    searcher._reranker = base
    # HNSW vs exact
    idx = searcher.index
    vecs = searcher.embedder.encode_queries(queries)
    rec = []
    for v in vecs:
        _, rows = ann_search(idx.ann, v, 10, settings.hnsw_ef_search)
        exact = np.argsort(-(idx.vectors[idx.dense_rows] @ v))[:10]  # FAISS ids, as ann_search returns
        rec.append(len(set(rows.tolist()) & set(exact.tolist())) / 10)
    out["hnsw_recall@10_vs_exact"] = round(float(np.mean(rec)), 4)
    import resource

    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _with_top_n(reranker, n: int):
    import copy

    r = copy.copy(reranker)
    r.top_n = n
    return r


def bench_load(clients: str = "16,50", requests: int = 2000) -> dict:
    """The API under load: ``qbank serve`` (its default workers) started by :mod:`qbank.eval.load`."""
    from qbank.eval.load import main as load_main

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "load.json"
        load_main(["--serve", "--url", "http://127.0.0.1:8799", "--clients", clients, "--requests", str(requests),
                   "--out", str(out)])
        report = json.loads(out.read_text(encoding="utf-8"))
    return {f"clients={r['clients']}": {k: r[k] for k in ("throughput_rps", "p50_ms", "p95_ms", "p99_ms", "error_count")}
            | {"rss_mb_per_worker": sorted(v for v in r.get("server_rss_mb", {}).values() if v > 100)}
            for r in report["runs"]}


# (label, path into the JSON, unit, target) for the README's table
ROWS = [
    ("`qbank build` from scratch (empty embedding cache)", "build.build_from_scratch_s", "s", "≤ 20 s"),
    ("rebuild after editing one question", "build.rebuild_after_one_edit_s", "s", "≤ 2 s"),
    ("warm hybrid p50", "warm.hybrid.p50_ms", "ms", "≤ 5 ms"),
    ("warm hybrid p95", "warm.hybrid.p95_ms", "ms", "≤ 8 ms"),
    ("— query embedding (p50)", "warm.hybrid.stages_p50_ms.embed", "ms", ""),
    ("— BM25 (p50)", "warm.hybrid.stages_p50_ms.bm25", "ms", ""),
    ("— ANN (p50)", "warm.hybrid.stages_p50_ms.ann", "ms", ""),
    ("— fusion and hits (p50)", "warm.hybrid.stages_p50_ms.fusion", "ms", ""),
    ("warm bm25 p50", "warm.bm25.p50_ms", "ms", ""),
    ("warm dense p50", "warm.dense.p50_ms", "ms", ""),
    ("warm `full` p50, N = 20 (shipped)", "warm.full.N=20.p50_ms", "ms", "≤ 60 ms to be the default"),
    ("cold one-shot `qbank search --mode bm25` (median)", "cold.cold_bm25_s", "s", "≤ 0.5 s"),
    ("cold one-shot `qbank search --mode hybrid` (median)", "cold.cold_hybrid_s", "s", "≤ 1.0 s"),
    ("cold one-shot `qbank search` (`learned`, the default; median)", "cold.cold_learned_s", "s", ""),
    ("cold one-shot `qbank search --mode full`", "cold.cold_full_s", "s", "≤ 3 s"),
    ("peak RSS, index + query model + reranker", "warm.peak_rss_mb", "MB", ""),
    ("API, 16 clients: requests/s", "load.clients=16.throughput_rps", "req/s", "≥ 150"),
    ("API, 16 clients: p50 / p99", "load.clients=16.p50_ms|load.clients=16.p99_ms", "ms", "p99 ≤ 200 ms"),
    ("API, 16 clients: errors", "load.clients=16.error_count", "", "0"),
    ("API, 50 clients: requests/s", "load.clients=50.throughput_rps", "req/s", ""),
    ("API, 50 clients: p50 / p99", "load.clients=50.p50_ms|load.clients=50.p99_ms", "ms", "p99 ≤ 1 s"),
    ("API, 50 clients: errors", "load.clients=50.error_count", "", "0"),
]


def _get(res: dict, path: str):
    for part in path.split("."):
        if not isinstance(res, dict) or part not in res:
            return None
        res = res[part]
    return res


def markdown(res: dict, ref: dict | None = None) -> str:
    """The README's benchmark table: figure, reference (same sitting) and their ratio, target."""
    def cell(r: dict | None, path: str, unit: str) -> str:
        vals = [_get(r, p) for p in path.split("|")] if r else [None]
        text = " / ".join("–" if v is None else f"{v:g}" for v in vals)
        return text + (f" {unit}" if unit and any(v is not None for v in vals) else "")

    lines = ["| what | this commit | reference | ratio | target |", "|---|---:|---:|---:|---|"]
    for label, path, unit, target in ROWS:
        a, b = _get(res, path.split("|")[0]), _get(ref, path.split("|")[0]) if ref else None
        ratio = f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else ""
        lines.append(f"| {label} | {cell(res, path, unit)} | {cell(ref, path, unit) if ref else ''} | {ratio} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m qbank.eval.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-build", action="store_true", help="leave out the build timings (~1 minute)")
    ap.add_argument("--load", action="store_true", help="also load the HTTP API (16 and 50 clients)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--reference", type=Path, help="a JSON this module wrote for the reference run")
    ap.add_argument("--markdown", action="store_true", help="print the README's table after the JSON")
    args = ap.parse_args(argv)
    ref = None
    if args.reference:
        try:
            ref = json.loads(args.reference.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"error: --reference {args.reference}: {e}", file=sys.stderr)
            return 2
    settings = Settings()
    from qbank.retrieval.engine import open_searcher

    open_searcher(settings, build_if_missing=True)  # a current index for the warm/cold figures
    res: dict = {"machine": f"{os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}"}
    if not args.skip_build:
        with tempfile.TemporaryDirectory() as d:
            res["build"] = bench_build(Path(d))
    res["cold"] = bench_cold(settings)
    res["warm"] = bench_warm(settings)
    if args.load:
        res["load"] = bench_load()
    print(json.dumps(res, indent=1))
    if args.out:
        from qbank.fileio import write_atomic

        write_atomic(args.out, json.dumps(res, indent=1) + "\n")
    if args.markdown:
        print(markdown(res, ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
