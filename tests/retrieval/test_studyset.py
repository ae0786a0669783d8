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
from qbank.retrieval.studyset import MINUTES, StudySetSpec, build_study_set, parse_mix, question_vectors
from qbank.ui.exports import ANKI_MODEL_ID, deck_id, deck_name, export, to_apkg, to_csv, to_json, to_markdown


@pytest.fixture(scope="module")
def ss_searcher(study_index):
    return study_index[1]


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


def test_a_mix_the_time_budget_cut_short_blames_the_budget(ss_searcher):
    # hard questions about KV cache exist (E2-9, E2-10, ...), but 20 minutes hold one (15 min each)
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache memory",), size=3, mix="H:3", minutes=20))
    assert sum(it.question.difficulty == "H" for it in ss.items) == 1
    assert "difficulty mix H:3 not met: the time budget of 20 min left no room for 2 more H (15 min each)" in ss.messages[0]
    assert not any("found only" in m for m in ss.messages)


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


def _anki(apkg: bytes) -> tuple[list[tuple[str, int]], dict]:
    """(note guid, card due) in due order, and the decks table of a package."""
    import json
    import tempfile

    with zipfile.ZipFile(io.BytesIO(apkg)) as z, tempfile.NamedTemporaryFile(suffix=".anki2") as f:
        f.write(z.read("collection.anki2"))
        f.flush()
        con = sqlite3.connect(f.name)
        try:
            cards = con.execute("select n.guid, c.due from cards c join notes n on n.id = c.nid order by c.due").fetchall()
            decks = json.loads(con.execute("select decks from col").fetchone()[0])
        finally:
            con.close()
    return cards, decks


def test_anki_deck_is_named_after_the_topics_and_cards_come_in_the_set_s_order(ss_set):
    order = list(reversed(ids(ss_set)))
    edited = ss_set.reordered(order)
    cards, decks = _anki(to_apkg(edited))
    assert [g for g, _ in cards] == [genanki.guid_for(i) for i in order] and [d for _, d in cards] == list(range(len(order)))
    name = deck_name(ss_set)
    assert name == "qbank::" + ", ".join(ss_set.spec.topics) and decks[str(deck_id(name))]["name"] == name
    _, decks = _anki(to_apkg(edited, deck="Interview loop · week 2"))
    assert decks[str(deck_id("Interview loop · week 2"))]["name"] == "Interview loop · week 2"
    assert deck_id("a") == deck_id("a") != deck_id("b") and 0 < deck_id("a") < 2**31


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
    assert str(deck_id(deck_name_of(decks))) in decks
    return rows


def deck_name_of(decks_json: str) -> str:
    import json

    return next(d["name"] for d in json.loads(decks_json).values() if d["name"] != "Default")


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


def test_pruning_replaces_the_build_s_count_notes_with_what_the_set_now_holds(ss_searcher):
    ss = build_study_set(ss_searcher, StudySetSpec(topics=("KV cache memory", "retrieval evaluation"), size=30,
                                                   mix="W:1,M:2,H:2", minutes=40))
    assert any(m.startswith(("time budget of ", "only ")) for m in ss.messages)  # the build's count note
    order = [it.question.id for it in ss.items]
    assert ss.reordered(list(reversed(order))).messages == ss.messages  # a new order changes no note
    gone = order[:2]
    pruned = ss.reordered(order[2:])
    assert not any(m.startswith(("time budget of ", "only ")) for m in pruned.messages)
    assert f"2 of the {len(order)} questions built were removed: {', '.join(gone)}" in pruned.messages
    minutes = sum(it.minutes for it in pruned.items)
    assert f"the set now takes {minutes} of the 40 min budget" in pruned.messages
    kept_topics = {it.topic for it in pruned.items}
    for t in ("KV cache memory", "retrieval evaluation"):
        lost = f"topic {t!r} is no longer covered: its questions were removed"
        assert (lost in pruned.messages) == (t in {it.topic for it in ss.items} and t not in kept_topics)
