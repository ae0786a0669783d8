import json

import pytest

from qbank.config import DATA_DIR, Settings
from qbank.errors import BankParseError, IndexMismatchError
from qbank.index.dense import HashingEmbedder
from qbank.index.store import build_index, load_index
from qbank.ingest.bank import parse_bank, parse_bank_text
from qbank.ingest.chunker import question_chunks
from qbank.ingest.expansions import load_expansions, question_sha, read_expansions, write_expansions
from qbank.ingest.pipeline import build_corpus, ingest
from qbank.retrieval.searcher import Searcher


def _exp_file(settings, rows):
    p = settings.bank.with_name("bank.expansions.jsonl")
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def test_question_sha_is_of_the_question_text(tiny_bank_text):
    q = parse_bank_text(tiny_bank_text).by_id()["E1-1"]
    assert question_sha(q) == question_sha("What’s a tensor? What does broadcasting do?")
    assert len(question_sha(q)) == 16


def test_found_beside_the_bank_and_chunked_per_query(tiny_settings, tiny_bank_text):
    bank = parse_bank_text(tiny_bank_text, str(tiny_settings.bank))
    q = bank.by_id()["E3-82"]
    _exp_file(tiny_settings, [{"id": "E3-82", "question_sha": question_sha(q),
                               "queries": ["shrink vectors into short codes", "  shrink   vectors into short codes ", "PQ"]}])
    corpus = build_corpus(bank, None, tiny_settings)
    got = [c for c in corpus.chunks if c.field == "queries"]
    # whitespace-normalised duplicates collapse; the default "mixed" layout gives the dense leg one
    # chunk per query and BM25 one chunk of them all
    assert [(c.id, c.doc_id, c.text, c.legs) for c in got] == [
        ("E3-82#query1", "E3-82", "shrink vectors into short codes", "dense"),
        ("E3-82#query2", "E3-82", "PQ", "dense"),
        ("E3-82#queries", "E3-82", "shrink vectors into short codes\nPQ", "lexical")]
    assert corpus.summary()["expansions"]["queries"] == 2


def test_other_layouts(tiny_bank_text):
    q = parse_bank_text(tiny_bank_text).by_id()["E1-1"]
    joined = question_chunks(q, 200, ("a b", "c d"), "joined")
    assert [(c.text, c.legs) for c in joined if c.field == "queries"] == [("a b\nc d", "both")]
    per_query = question_chunks(q, 200, ("a b", "c d"), "per_query")
    assert [(c.text, c.legs) for c in per_query if c.field == "queries"] == [("a b", "both"), ("c d", "both")]
    assert not [c for c in question_chunks(q, 200, ("a b",), "off") if c.field == "queries"]


def test_stale_and_unknown_ids_are_left_out(tiny_settings, tiny_bank_text):
    bank = parse_bank_text(tiny_bank_text, str(tiny_settings.bank))
    p = _exp_file(tiny_settings, [{"id": "E1-1", "question_sha": "0" * 16, "queries": ["old"]},
                                  {"id": "E9-999", "question_sha": "0" * 16, "queries": ["x"]}])
    exp = load_expansions(p, bank.questions)
    assert exp.by_id == {} and exp.stale == ["E1-1"] and exp.unknown == ["E9-999"]


@pytest.mark.parametrize("line, msg", [
    ("not json", "not a JSON object"),
    ('{"id": "E1-1", "queries": ["x"]}', "expected"),
    ('{"id": "E1-1", "question_sha": "x", "queries": [1]}', "expected"),
])
def test_malformed_line_names_its_line(tmp_path, line, msg):
    p = tmp_path / "e.jsonl"
    p.write_text('{"id": "E1-2", "question_sha": "x", "queries": []}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(BankParseError, match=rf"e\.jsonl:3: {msg}"):
        read_expansions(p)


def test_duplicate_id_is_an_error(tmp_path):
    p = tmp_path / "e.jsonl"
    row = '{"id": "E1-2", "question_sha": "x", "queries": ["q"]}\n'
    p.write_text(row + row, encoding="utf-8")
    with pytest.raises(BankParseError, match=r"e\.jsonl:2: duplicate id E1-2"):
        read_expansions(p)


def test_write_then_read_round_trip(tmp_path, tiny_bank_text):
    qs = parse_bank_text(tiny_bank_text).questions
    p = tmp_path / "e.jsonl"
    assert write_expansions(p, qs, {"E1-2": ["why divide by root d"], "E1-1": []}) == 1
    assert read_expansions(p) == {"E1-2": (question_sha(qs[1]), ("why divide by root d",))}


def test_a_query_only_its_expansion_knows_finds_it(tiny_settings, tiny_bank_text):
    bank = parse_bank_text(tiny_bank_text, str(tiny_settings.bank))
    q = bank.by_id()["E1-2"]
    _exp_file(tiny_settings, [{"id": "E1-2", "question_sha": question_sha(q),
                               "queries": ["why shrink attention logits by a constant"]}])
    build_index(build_corpus(bank, None, tiny_settings), tiny_settings, embedder=HashingEmbedder(256))
    s = Searcher(load_index(tiny_settings), tiny_settings, embedder=HashingEmbedder(256))
    hit = s.search("shrink attention logits", 3, "bm25").hits[0]
    assert (hit.id, hit.chunk_id, hit.chunk_field) == ("E1-2", "E1-2#queries", "queries")
    hit = s.search("shrink attention logits", 3, "dense").hits[0]
    assert (hit.id, hit.chunk_id, hit.chunk_field) == ("E1-2", "E1-2#query1", "queries")
    # each leg sees only its own chunks: BM25 never scores the per-query row, FAISS never holds the joined one
    rows = {c.id: i for i, c in enumerate(s.index.chunks)}
    assert rows["E1-2#query1"] not in s.index.lexical_rows and rows["E1-2#queries"] in s.index.lexical_rows
    assert rows["E1-2#queries"] not in s.index.dense_rows
    # a question with sample queries leaves its rubric to BM25; the others keep rubric vectors
    assert rows["E1-2#rubric1"] not in s.index.dense_rows and rows["E1-3#rubric1"] in s.index.dense_rows
    assert s.index.ann.ntotal == len(s.index.chunks) - 2
    filtered = s.search("shrink attention logits", 3, "dense", s.parse_filters(difficulty=["M"])).hits
    assert filtered[0].chunk_id == "E1-2#query1"


def test_changed_expansions_make_the_index_stale(tiny_settings, tiny_bank_text):
    bank = parse_bank_text(tiny_bank_text, str(tiny_settings.bank))
    q = bank.by_id()["E1-2"]
    p = _exp_file(tiny_settings, [{"id": "E1-2", "question_sha": question_sha(q), "queries": ["one"]}])
    build_index(build_corpus(bank, None, tiny_settings), tiny_settings, embedder=HashingEmbedder(256))
    load_index(tiny_settings)
    p.write_text(p.read_text().replace("one", "two"))
    with pytest.raises(IndexMismatchError, match="expansions file .* changed .* `qbank build`"):
        load_index(tiny_settings)
    p.unlink()
    with pytest.raises(IndexMismatchError, match="expansions file"):
        load_index(tiny_settings)


def test_shipped_expansions_cover_the_shipped_bank():
    settings = Settings()
    exp = ingest(settings).expansions
    n = len(parse_bank(DATA_DIR / "question_bank.txt").questions)
    assert exp is not None and exp.path.endswith("question_bank.expansions.jsonl")
    assert len(exp.by_id) == n and not exp.stale and not exp.unknown
    assert all(len(v) >= 5 for v in exp.by_id.values())
