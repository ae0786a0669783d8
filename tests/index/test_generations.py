"""Index generations: atomic pointer flips, the build lock, crash windows, cleanup, and a live API
that follows a rebuild (issue "Reliability")."""

from __future__ import annotations

import os
import threading

import pytest

from qbank.index.dense import HashingEmbedder
from qbank.index.generations import (
    KEEP,
    build_lock,
    complete_generations,
    current_generation,
    generations_dir,
    recover,
)
from qbank.index.store import build_index, load_index
from qbank.ingest.bank import parse_bank_text
from qbank.ingest.pipeline import build_corpus


def _build(settings, text):
    corpus = build_corpus(parse_bank_text(text, str(settings.bank)), None, settings)
    return build_index(corpus, settings, embedder=HashingEmbedder(256))


def test_each_build_is_a_new_generation_behind_one_symlink(tiny_index, tiny_settings, tiny_bank_text):
    target = tiny_settings.index_dir
    first = current_generation(target)
    assert target.is_symlink() and first and tiny_index.manifest["generation"] == first
    for _ in range(KEEP + 1):
        _build(tiny_settings, tiny_bank_text)
    gens = complete_generations(target)
    assert len(gens) == KEEP and gens[-1].name == current_generation(target) != first  # old ones cleaned up
    assert not [p for p in generations_dir(target).iterdir() if p.name.startswith(".building-")]
    # an index loaded before a rebuild keeps reading its own generation's files
    old = load_index(tiny_settings)
    _build(tiny_settings, tiny_bank_text.replace("What is speculative decoding?", "What is speculative sampling?"))
    assert old.path.name != current_generation(target)
    assert old.vectors.shape[0] == len(old.chunks) and old.question_vectors.shape[0] == len(old.questions)


def test_a_crash_before_the_flip_leaves_the_old_index(tiny_index, tiny_settings, tiny_bank_text, monkeypatch):
    import qbank.index.generations as g

    before = current_generation(tiny_settings.index_dir)

    def crash(*a, **k):
        raise KeyboardInterrupt  # killed between writing the generation and flipping the pointer

    monkeypatch.setattr(g, "_point", crash)
    with pytest.raises(KeyboardInterrupt):
        _build(tiny_settings, tiny_bank_text)
    monkeypatch.undo()
    assert current_generation(tiny_settings.index_dir) == before
    assert load_index(tiny_settings).manifest["generation"] == before


def test_a_lost_pointer_is_recovered_from_the_newest_generation(tiny_index, tiny_settings):
    target = tiny_settings.index_dir
    gen = current_generation(target)
    target.unlink()  # as if a crash had removed it
    assert recover(target) is True and current_generation(target) == gen
    target.unlink()
    assert load_index(tiny_settings).manifest["generation"] == gen  # load recovers by itself


def test_a_second_build_waits_for_the_first(tiny_index, tiny_settings, tiny_bank_text):
    order = []
    with build_lock(tiny_settings.index_dir):
        t = threading.Thread(target=lambda: (_build(tiny_settings, tiny_bank_text), order.append("build")))
        t.start()
        t.join(0.5)
        order.append("lock released")
    t.join(30)
    assert order == ["lock released", "build"]
    with build_lock(tiny_settings.index_dir):
        with build_lock(tiny_settings.index_dir, blocking=False) as second:
            assert second is False


def test_a_pre_generations_index_directory_is_adopted(tiny_settings, tiny_bank_text):
    import shutil

    _build(tiny_settings, tiny_bank_text)
    target = tiny_settings.index_dir
    real = target.resolve()
    target.unlink()
    shutil.copytree(real, target)  # an index folder as older qbank wrote it
    shutil.rmtree(generations_dir(target))
    assert load_index(tiny_settings).path == target
    _build(tiny_settings, tiny_bank_text)
    assert target.is_symlink() and len(complete_generations(target)) == 2  # the legacy one kept for rollback
    assert os.path.basename(os.readlink(target)) == current_generation(target)


def test_a_live_api_follows_a_rebuild(tiny_index, tiny_settings, tiny_bank_text):
    from fastapi.testclient import TestClient

    from qbank.retrieval.searcher import Searcher
    from qbank.ui.api import create_app

    app = create_app(searcher=Searcher(tiny_index, tiny_settings))
    with TestClient(app) as c:
        g1 = c.get("/healthz").json()["generation"]
        assert c.get("/questions/E3-83/related").status_code == 200
        # remove one question and rebuild while the server runs
        lines = [ln for ln in tiny_bank_text.splitlines() if "What is speculative decoding?" not in ln]
        tiny_settings.bank.write_text("\n".join(lines) + "\n")
        _build(tiny_settings, tiny_settings.bank.read_text())
        h = c.get("/healthz").json()
        assert h["generation"] != g1 and h["questions"] == 9
        assert c.get("/questions/E3-83").status_code == 404  # the new generation's answer, not a stale one
        r = c.get("/search", params={"q": "kv cache", "difficulty": "H"})
        assert r.status_code == 200
        for rel in (c.get(f"/questions/{q}/related").json() for q in ("E3-81", "E1-3")):
            assert all(x["id"] != "E3-83" for x in rel)


def test_a_generation_the_api_cannot_load_is_not_served_and_not_retried(tiny_index, tiny_settings, tiny_bank_text):
    from fastapi.testclient import TestClient

    from qbank.retrieval.searcher import Searcher
    from qbank.ui.api import create_app

    app = create_app(searcher=Searcher(tiny_index, tiny_settings))
    with TestClient(app) as c:
        g1 = c.get("/healthz").json()["generation"]
        # built from text that is not the bank file: the new generation is stale for this server
        _build(tiny_settings, tiny_bank_text.replace("What is speculative decoding?", "What is it?"))
        for _ in range(2):
            h = c.get("/healthz")
            assert h.status_code == 200 and h.json()["generation"] == g1
        assert app.state.refused_generation == current_generation(tiny_settings.index_dir)
