"""Speed and memory benchmark on the shipped bank (prints figures; not a timed test).

    python -m qbank.eval.bench [--skip-build]

Measures: build from scratch (empty embedding cache) and rebuild after editing one question;
warm query latency per mode with a per-stage breakdown, and of ``full`` per reranked top-N; cold
one-shot CLI searches; peak RSS of a process holding the loaded index and query model; HNSW
recall@10 against exact search.
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


def bench_cold(settings: Settings) -> dict:
    env = {"QBANK_INDEX_DIR": str(settings.index_dir)}
    out = {}
    probe = ("import sys, time; t=time.perf_counter(); from qbank.ui.cli import main; "
             "main(['search', 'kv cache memory for long context', '--mode', '{mode}', '--k', '5']); "
             "print('TORCH', 'torch' in sys.modules)")
    for mode in ("bm25", "hybrid", "full"):
        secs, stdout = _run([sys.executable, "-c", probe.replace("{mode}", mode)], env)
        out[f"cold_{mode}_s"] = round(secs, 2)
        out[f"cold_{mode}_imports_torch"] = "TORCH True" in stdout
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    settings = Settings()
    from qbank.retrieval.engine import open_searcher

    open_searcher(settings, build_if_missing=True)  # a current index for the warm/cold figures
    res: dict = {"machine": f"{os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}"}
    if "--skip-build" not in argv:
        with tempfile.TemporaryDirectory() as d:
            res["build"] = bench_build(Path(d))
    res["cold"] = bench_cold(settings)
    res["warm"] = bench_warm(settings)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
