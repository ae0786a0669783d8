"""BEIR SciFact BM25 reproduction (CI): nDCG@10 within 0.66–0.69 (Anserini flat BM25: 0.6789).

The data is read from ../shared/benchmarks/scifact (CC BY-NC, never copied into the repo);
the test is skipped where it is absent. Dense and hybrid run in a script (README).
"""

from pathlib import Path

import pytest

from qbank.config import REPO_ROOT
from qbank.eval.beir import beir_searcher
from qbank.eval.runner import evaluate_modes

pytestmark = pytest.mark.slow  # real model, real index, or a training run

SCIFACT = REPO_ROOT.parent / "shared" / "benchmarks" / "scifact"


@pytest.mark.skipif(not SCIFACT.exists(), reason=f"{SCIFACT} not present")
def test_scifact_bm25(tmp_path):
    from qbank.config import Settings

    base = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    searcher, queries, qrels = beir_searcher(SCIFACT, base, dense=False)
    assert len(queries) == 300 and len(searcher.index.chunks) == 5183
    # its own index (a generation behind tmp_path/beir-scifact), never the bank's
    assert searcher.settings.index_dir == tmp_path / "beir-scifact"
    assert searcher.index.path == (tmp_path / "beir-scifact").resolve()
    report = evaluate_modes(searcher, queries, qrels, ["bm25"], "scifact", warmup=False)
    m = report.table()["bm25"]
    assert 0.66 <= m["ndcg@10"] <= 0.69, m
    assert m["recall@100"] >= 0.90
    assert report.warnings == []


def test_beir_bad_folder(tmp_path: Path):
    from qbank.config import Settings
    from qbank.errors import EvalDataError

    with pytest.raises(EvalDataError, match="not a BEIR dataset"):
        beir_searcher(tmp_path, Settings(index_dir=tmp_path / "i"), dense=False)
