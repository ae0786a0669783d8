from qbank.config import DATA_DIR
from qbank.ingest.bank import parse_bank
from qbank.ingest.chunker import question_chunks, split_by_tokens, stem_text
from qbank.ingest.tokens import count_tokens


def test_every_real_chunk_under_budget_and_labelled():
    bank = parse_bank(DATA_DIR / "question_bank.txt")
    ids = {q.id for q in bank.questions}
    chunks = [c for q in bank.questions for c in question_chunks(q, 200)]
    assert all(c.n_tokens <= 200 and c.n_tokens == count_tokens(c.text) for c in chunks)
    assert {c.doc_id for c in chunks} == ids
    assert sum(c.field == "stem" for c in chunks) == 535
    by_q = {}
    for c in chunks:
        by_q.setdefault(c.doc_id, []).append(c)
    # every question with a rubric has at least one rubric chunk; the rubric text survives
    for q in bank.questions:
        if q.rubric:
            joined = " ".join(c.text for c in by_q[q.id] if c.field == "rubric")
            assert all(b in joined for b in q.rubric if count_tokens(b) < 150)


def test_stem_carries_tags_as_words(tiny_bank_text):
    from qbank.ingest.bank import parse_bank_text

    q = parse_bank_text(tiny_bank_text).by_id()["E1-3"]
    s = stem_text(q)
    assert s.startswith("What’s the difference between MHA, MQA, and GQA?")
    assert "Testing: attention variants." in s and "hard" in s and "ML engineer" in s and "Meta, Mistral" in s


def test_small_budget_splits_rubric(tiny_bank_text):
    from qbank.ingest.bank import parse_bank_text

    q = parse_bank_text(tiny_bank_text).by_id()["E1-3"]
    chunks = question_chunks(q, 20)
    assert all(c.n_tokens <= 20 for c in chunks)
    # the stem is split too; under 48 tokens of budget the rubric goes without the question prefix
    assert [c.id for c in chunks if c.field == "rubric"] == ["E1-3#rubric1", "E1-3#rubric2"]
    assert chunks[-1].text == "MQA: single shared K/V — cache is H× smaller"
    assert chunks[0].id == "E1-3#stem" and chunks[1].id == "E1-3#stem2"


def test_split_by_tokens_overlap():
    text = " ".join(f"w{i}" for i in range(100))
    parts = split_by_tokens(text, 30, overlap=10)
    assert all(count_tokens(p) <= 30 for p in parts)
    assert len(parts) > 3
    # consecutive windows share their boundary words
    assert parts[0].split()[-1] in parts[1].split()[:8]
    assert parts[-1].endswith("w99")
