"""Study sets over a tiny inline bank indexed with the fake (hashing) embedder."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

import genanki
import numpy as np
import pytest

from qbank.errors import InvalidQueryError, UnknownIdError, UnknownNameError
from retrieval.studyset import (
    ANKI_DECK_ID,
    ANKI_MODEL_ID,
    MINUTES,
    StudySetSpec,
    build_study_set,
    export,
    parse_mix,
    question_vectors,
    to_apkg,
    to_csv,
    to_json,
    to_markdown,
)

SS_BANK = """\
E.1 ML foundations (Chapters 1–10)

1. [W][MLE] What’s a tensor? What does broadcasting do? Chapter 1 · testing: baseline numerics fluency

2. [W][MLE] Why do neural networks need nonlinearities? Chapter 2 · testing: stacked linear layers collapse

3. [M][MLE] Explain backpropagation in one minute. Chapter 3 · testing: chain rule fluency What they want to hear:

  • Forward pass builds a computation graph; backward walks it in reverse
  • Gradients accumulate into parameters

4. [H][AS] Why does Adam need bias correction in its moment estimates? Chapter 4 · testing: optimizer internals · Google

5. [M][RE] What is mixed precision training and why does loss scaling matter? Chapter 4 · testing: fp16 underflow

E.2 Inference internals (Chapters 11–20)

6. [W][MLS] What is a KV cache and why does decoding need one? Chapter 11 · testing: autoregressive decoding basics

7. [M][MLS] How much KV cache memory does a 70B model need at 4K context? Chapter 11 · testing: KV cache sizing arithmetic What they want to hear:

  • Bytes per token = 2 x layers x kv heads x head dim x dtype bytes
  • Multiply by context length and batch size

8. [M][MLS] How much KV cache memory does a 70B model need at 4K context length? Chapter 11 · testing: KV cache sizing arithmetic What they want to hear:

  • Bytes per token = 2 x layers x kv heads x head dim x dtype bytes
  • Multiply by context length and batch size

9. [H][MLS] Explain PagedAttention and how it reduces KV cache fragmentation. Chapter 12 · testing: paged KV cache memory management · Meta

10. [H][INF] Design KV cache offloading to CPU memory for long context serving. Chapter 12 · testing: memory hierarchy for KV cache

11. [M][MLS] What is speculative decoding and when does it speed up inference? Chapter 13 · testing: draft model acceptance rate

12. [H][RE] Explain tensor parallelism for attention layers across GPUs. Chapter 14 · testing: column and row parallel splits

13. [M][MLE] What is weight quantization to int8 and what does it cost in accuracy? Chapter 15 · testing: quantization error

14. [S][MLS] Derive the memory bandwidth bound of decode throughput for a quantized KV cache. Chapter 11 · testing: roofline reasoning

E.3 Retrieval and RAG (Chapters 21–30)

15. [W][MLE] What is BM25 and why is it still a strong baseline? Chapter 21 · testing: lexical retrieval basics

16. [M][MLE] Explain product quantization for vector search. What does it trade off? Chapter 22 · testing: compressed vector index memory vs recall What they want to hear:

  • Split vectors into subvectors and quantize each with its own codebook
  • Memory shrinks a lot at some recall cost

17. [M][AS] How does HNSW graph search find approximate nearest neighbours? Chapter 22 · testing: ANN graph index

18. [H][MLS] Design a hybrid retrieval system that fuses BM25 and dense vectors. Chapter 23 · testing: reciprocal rank fusion and filters · Meta, Google

19. [W][AS] What is reciprocal rank fusion? Chapter 23 · testing: rank fusion basics

20. [H][RE] How would you evaluate a RAG pipeline end to end? Chapter 24 · testing: retrieval and generation metrics

21. [M][MLE] Implement a function that computes recall at k for a ranked list. Chapter 24 · testing: eval metric code Solution sketch: Count the relevant ids among the first k results and divide by the number of relevant ids; return 0 when there are none.

22. [M][MLE] Tell me about a time you shipped a retrieval system that failed in production. Chapter 25 · canonical story: ownership and learning What they’re testing:

  • Do you own the failure and what changed afterwards?

Total: 22 questions
"""


@pytest.fixture(scope="module")
def ss_searcher(tmp_path_factory):
    from index.dense import HashingEmbedder
    from index.store import build_index, load_index
    from ingest.bank import parse_bank_text
    from ingest.pipeline import build_corpus
    from qbank.config import Settings
    from retrieval.searcher import Searcher

    root = tmp_path_factory.mktemp("ss-bank")
    bank = root / "bank.txt"
    bank.write_text(SS_BANK, encoding="utf-8")
    settings = Settings(index_dir=root / "idx", cache_dir=root / "cache", embedding_model="hashing-256", bank=bank)
    build_index(build_corpus(parse_bank_text(SS_BANK, str(bank)), None, settings), settings,
                embedder=HashingEmbedder(256))
    return Searcher(load_index(settings), settings)


def ids(ss):
    return [it.question.id for it in ss.items]


# ---------------------------------------------------------------------------- the mix string
def test_parse_mix():
    assert parse_mix("W:2,M:5,H:5") == {"W": 2, "M": 5, "H": 5}
    assert parse_mix(" h=1 , w:2 ") == {"W": 2, "H": 1}  # canonical W, M, H, S order
    assert parse_mix("") == {} and parse_mix(None) == {}
    assert parse_mix({"m": 3}) == {"M": 3}


@pytest.mark.parametrize(("text", "message"), [
    ("W:x", "bad difficulty mix: W:'x' is not a whole number; write it like 'W:2,M:5,H:5'"),
    ("Q:1", "bad difficulty mix: unknown difficulty 'Q'; use W, M, H or S, e.g. 'W:2,M:5,H:5'"),
    ("W2", "bad difficulty mix part 'W2': write it like 'W:2,M:5,H:5'"),
    ("W:1,W:2", "bad difficulty mix: W is given twice"),
    ("W:-1", "bad difficulty mix: W:-1 is negative"),
])
def test_bad_mix_message(text, message):
    with pytest.raises(InvalidQueryError) as e:
        parse_mix(text)
    assert str(e.value) == message
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------------------- building
def test_constraints_met(ss_searcher):
    spec = StudySetSpec(topics=("KV cache memory", "product quantization vector search"), size=6, mix="W:1,M:3,H:2")
    ss = build_study_set(ss_searcher, spec)
    assert ss.messages == ()
    assert len(ss.items) == 6
    assert ss.by_difficulty() == {"W": 1, "M": 3, "H": 2}
    cov = ss.coverage()
    assert cov["KV cache memory"] and cov["product quantization vector search"]  # every topic covered
    assert len(set(ids(ss))) == 6
    assert ss.total_minutes == 3 + 3 * 8 + 2 * 15
    # ordered easy to hard
    order = "WMHS"
    assert [order.index(it.question.difficulty) for it in ss.items] == sorted(
        order.index(it.question.difficulty) for it in ss.items)


def test_filters_apply_to_every_pick(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache", "retrieval"), size=4, roles=("MLS",)))
    assert len(ss.items) == 4
    assert all("MLS" in it.question.roles for it in ss.items)
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("retrieval",), size=3, sections=("3",), kinds=("conceptual",)))
    assert all(it.question.section == 3 and it.question.kind == "conceptual" for it in ss.items)


def test_no_near_duplicates(ss_searcher):
    # E2-7 and E2-8 are the same question worded twice; both rank top for this topic
    qids, vecs = question_vectors(ss_searcher)
    i, j = qids.index("E2-7"), qids.index("E2-8")
    assert float(vecs[i] @ vecs[j]) >= 0.92
    hits = [h.id for h in ss_searcher.search("KV cache memory 70B 4K context", 5).hits]
    assert {"E2-7", "E2-8"} <= set(hits[:3])
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache memory 70B 4K context",), size=5, lam=1.0))
    assert len({"E2-7", "E2-8"} & set(ids(ss))) == 1
    assert ss.params["near_duplicates_skipped"] >= 1
    # every pair in the set is below the threshold
    rows = [qids.index(x) for x in ids(ss)]
    sims = vecs[rows] @ vecs[rows].T
    np.fill_diagonal(sims, 0)
    assert sims.max() < 0.92


def test_deterministic(ss_searcher):
    spec = StudySetSpec(topics=("KV cache", "retrieval evaluation", "optimizer"), size=7, mix="W:2,M:3,H:2", lam=0.5)
    a, b = build_study_set(ss_searcher, spec), build_study_set(ss_searcher, spec)
    assert ids(a) == ids(b)
    assert to_markdown(a) == to_markdown(b) and to_csv(a) == to_csv(b) and to_json(a) == to_json(b)


def test_impossible_mix_reported(ss_searcher):
    # one stretch question in the whole bank: asking for three cannot be met
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache memory",), size=4, mix="S:3,M:1"))
    assert len(ss.items) == 4
    assert sum(it.question.difficulty == "S" for it in ss.items) == 1
    assert len(ss.messages) == 1
    msg = ss.messages[0]
    assert msg.startswith("difficulty mix M:1,S:3 not met: found only 1 of 3 S (stretch) matching the topics")
    assert "filled 2 slot(s) with" in msg
    assert sum(it.reason == "fill" for it in ss.items) == 2


def test_time_budget(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache",), size=6, minutes=30))
    assert ss.total_minutes <= 30
    assert sum(MINUTES[it.question.difficulty] for it in ss.items) == ss.total_minutes
    assert len(ss.items) < 6
    assert any(m.startswith("time budget of 30 min fits") for m in ss.messages)


def test_include_and_exclude(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache",), size=4, include=("e1-4",),
                                                   exclude=("E2-6", "E2-7")))
    assert ids(ss)[0] == "E1-4" and ss.items[0].reason == "include"
    assert "E2-6" not in ids(ss) and "E2-7" not in ids(ss)
    with pytest.raises(UnknownIdError, match="unknown question id 'E9-999' in include"):
        build_study_set(ss_searcher, StudySetSpec(topics=("KV cache",), include=("E9-999",)))


def test_topic_that_matches_nothing(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache", "zzzqqq"), size=3))
    assert "topic 'zzzqqq': no question shares its words; its questions were picked by meaning alone" in ss.messages
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache", "behavioral"), size=3, kinds=("behavioral",),
                                                   sections=(1,)))
    assert ss.items == ()
    assert "topic 'KV cache': no question matches it under these filters" in ss.messages
    assert "only 0 question(s) match the topics and filters without near-duplicates; asked for 3" in ss.messages


@pytest.mark.parametrize(("spec", "message"), [
    (StudySetSpec(topics=()), "a study set needs at least one topic"),
    (StudySetSpec(topics=("  ",)), "a study set needs at least one topic"),
    (StudySetSpec(topics=("x",), size=0), "size must be a whole number from 1 to 100, got 0"),
    (StudySetSpec(topics=("x",), size=101), "size must be a whole number from 1 to 100"),
    (StudySetSpec(topics=("x",), size=3, mix="M:5"), "the mix M:5 asks for 5 questions but the size is 3"),
    (StudySetSpec(topics=("x",), lam=1.5), "lambda must be between 0 and 1"),
    (StudySetSpec(topics=("x",), roles=("CEO",)), "unknown role 'CEO'"),
    (StudySetSpec(topics=("x",), minutes=0), "minutes must be a whole number >= 1"),
    (StudySetSpec(topics=("x",), include=("E1-1",), exclude=("E1-1",)), "E1-1 is both included and excluded"),
])
def test_bad_specs(ss_searcher, spec, message):
    with pytest.raises(InvalidQueryError, match=message.replace("(", r"\(")):
        build_study_set(ss_searcher, spec)


def test_size_defaults_to_mix_total(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache",), mix="W:1,M:2"))
    assert len(ss.items) == 3 and ss.params["size"] == 3


def test_reordered_prunes(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache",), size=4))
    new = ss.reordered([ids(ss)[2], ids(ss)[0]])
    assert ids(new) == [ids(ss)[2], ids(ss)[0]]
    with pytest.raises(UnknownIdError):
        ss.reordered(["E3-21"] if "E3-21" not in ids(ss) else ["E9-1"])


# ---------------------------------------------------------------------------- exports
@pytest.fixture(scope="module")
def ss_set(ss_searcher):
    return build_study_set(ss_searcher, StudySetSpec(topics=("KV cache memory", "retrieval evaluation"), size=5))


def test_markdown_questions_then_answer_key(ss_set):
    md = to_markdown(ss_set)
    q_at, key_at = md.index("## Questions"), md.index("## Answer key")
    assert q_at < key_at
    for it in ss_set.items:
        assert md.index(f"**{it.question.id}**") < key_at  # the question is listed before the key
        assert md.index("### ", key_at) < md.index(f". {it.question.id}\n", key_at)
    with_rubric = [it.question for it in ss_set.items if it.question.rubric]
    assert with_rubric
    for q in with_rubric:
        assert f"**{q.rubric_label}:**\n\n- {q.rubric[0]}" in md[key_at:]


def test_csv_and_json(ss_set):
    import csv

    rows = list(csv.DictReader(io.StringIO(to_csv(ss_set))))
    assert [r["id"] for r in rows] == ids(ss_set)
    assert rows[0]["position"] == "1" and rows[0]["minutes"] == str(ss_set.items[0].minutes)
    d = json.loads(to_json(ss_set))
    assert [x["id"] for x in d["items"]] == ids(ss_set)
    assert d["total_minutes"] == ss_set.total_minutes and d["spec"]["topics"] == list(ss_set.spec.topics)
    with pytest.raises(UnknownNameError, match="unknown format 'pdf'"):
        export(ss_set, "pdf")


def _notes(apkg: bytes) -> list[tuple[str, str, str]]:
    import tempfile

    with zipfile.ZipFile(io.BytesIO(apkg)) as z:
        assert "collection.anki2" in z.namelist()
        with tempfile.NamedTemporaryFile(suffix=".anki2") as f:
            f.write(z.read("collection.anki2"))
            f.flush()
            con = sqlite3.connect(f.name)
            try:
                rows = con.execute("select guid, mid, flds from notes order by id").fetchall()
                decks = con.execute("select decks from col").fetchone()[0]
            finally:
                con.close()
    assert str(ANKI_DECK_ID) in decks
    return rows


def test_anki_package_has_stable_guids(ss_set, tmp_path):
    first = to_apkg(ss_set)
    path = tmp_path / "set.apkg"
    to_apkg(ss_set, path)
    second = path.read_bytes()
    a, b = _notes(first), _notes(second)
    assert [g for g, _, _ in a] == [g for g, _, _ in b] == [genanki.guid_for(i) for i in ids(ss_set)]
    assert {m for _, m, _ in a} == {ANKI_MODEL_ID}
    fields = a[0][2].split("\x1f")
    q = ss_set.items[0].question
    assert fields[0] == q.id and q.question.replace("’", "&#x27;")[:10] in fields[1].replace("’", "&#x27;")
    assert q.testing.split()[0] in fields[3]
