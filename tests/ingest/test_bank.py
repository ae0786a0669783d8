from collections import Counter
from pathlib import Path

import pytest

from qbank.config import DATA_DIR
from qbank.errors import BankParseError
from qbank.ingest.bank import chapter_catalogue, parse_bank, parse_bank_text

BANK = DATA_DIR / "question_bank.txt"


@pytest.fixture(scope="module")
def bank():
    return parse_bank(BANK)


def test_shipped_bank_counts(bank):
    assert len(bank.questions) == 535
    assert bank.question_lines == 535 and bank.skipped == 0
    by_section = Counter(q.section for q in bank.questions)
    assert by_section == {1: 40, 2: 40, 3: 60, 4: 50, 5: 40, 6: 30, 7: 50, 8: 25, 9: 40, 10: 40, 11: 55, 12: 40, 13: 25}
    assert len({q.id for q in bank.questions}) == 535
    assert [p for p in bank.problems] == []


def test_first_and_last(bank):
    first, last = bank.questions[0], bank.questions[-1]
    assert first.id == "E1-1" and first.difficulty == "W" and first.roles == ("MLE",)
    assert first.question == "What’s a tensor? What does broadcasting do?"
    assert first.chapters == (1,) and first.testing == "baseline numerics fluency" and first.line == 22
    assert last.id == "E13-530" and last.kind == "behavioral" and last.chapters == ()


def test_501_to_505_kept_apart(bank):
    d = bank.by_id()
    assert "CUDA warp" in d["E11-501"].question and d["E11-501"].section == 11
    assert d["E11-501"].rubric_label == "What they want to hear" and len(d["E11-501"].rubric) == 3
    assert "idempotency-key" in d["E12-501"].question and d["E12-501"].kind == "coding"
    assert d["E12-501"].rubric_label == "Solution sketch"
    assert d["E12-501"].rubric[0].startswith("Generate a UUID as the idempotency_key")


def test_multi_chapter_companies_and_text_as_written(bank):
    d = bank.by_id()
    assert d["E3-102"].chapters == (22, 24, 46)
    assert d["E3-102"].companies == ("NVIDIA", "vLLM team")
    assert d["E1-9"].companies == ("Meta", "Mistral", "Google")
    # a lowercase trailing segment is part of the note, not a company
    assert d["E2-46"].companies == () and d["E2-46"].testing == "can you do the accounting? · applied researcher depth"
    assert "√d" in d["E1-8"].question and "×" in d["E1-9"].rubric[1]


def test_behavioral_variants_and_stories(bank):
    d = bank.by_id()
    variants = [q for q in bank.questions if q.section == 13 and not q.chapters]
    assert len(variants) == 15
    v = d["E13-516"]
    assert v.kind == "behavioral" and v.rubric_label == "What they’re testing" and v.testing == ""
    assert v.rubric[0].startswith("Genuine reflection")
    s = d["E13-506"]
    assert s.testing_label == "canonical story" and s.testing == "ambiguity and judgment" and len(s.rubric) == 2


def test_kinds(bank):
    kinds = Counter(q.kind for q in bank.questions)
    assert kinds["coding"] == 40 and kinds["behavioral"] == 25
    d = bank.by_id()
    assert d["E11-417"].kind == "design"  # "Design a chatbot …"
    assert d["E11-501"].kind == "conceptual"  # in E.11, but not a design question
    assert d["E1-2"].kind == "conceptual"


def test_chapter_catalogue(bank):
    cat = {c.number: c for c in chapter_catalogue(bank)}
    cited = [c for c in cat.values() if c.cited_by]
    assert len(cited) == 110
    assert cat[57].section == 5 and cat[57].cited_by == ("E5-191", "E5-192", "E5-222", "E5-223")
    # E11-501 (section 11) cites chapter 39, whose home is section 4: both facts kept
    assert cat[39].section == 4 and 11 in cat[39].cited_from_sections


BAD_HEAD = "E.1 ML foundations (Chapters 1–10)\n\n"


def test_unknown_tag_names_line():
    b = parse_bank_text(BAD_HEAD + "1. [W][MLE] Ok? Chapter 1 · testing: x\n\n2. [X][MLE] Bad? Chapter 1 · testing: y\n", "f.txt")
    assert [q.id for q in b.questions] == ["E1-1"]
    assert [str(p) for p in b.problems if p.skipped] == [
        "f.txt:5: E1-2: unknown tag [X] (difficulty: W/M/H/S; roles: MLE/MLS/AS/RE/INF); skipped"]


def test_duplicate_id_in_section():
    b = parse_bank_text(BAD_HEAD + "1. [W][MLE] A? Chapter 1 · testing: x\n1. [W][MLE] B? Chapter 1 · testing: y\n", "f.txt")
    assert len(b.questions) == 1
    assert "f.txt:4: duplicate id E1-1 (first on line 3); skipped" in [str(p) for p in b.problems]


def test_missing_tags_and_question_before_section():
    b = parse_bank_text("1. [W][MLE] Early? Chapter 1\n" + BAD_HEAD + "2. no tags here\n3. [W][MLE] Fine? Chapter 2\n", "f")
    msgs = [str(p) for p in b.problems]
    assert any(m.startswith("f:1: question line before any section header") for m in msgs)
    assert any(m.startswith("f:4: question line without [difficulty][role] tags") for m in msgs)
    assert b.question_lines == 3 and len(b.questions) == 1 and b.skipped == 2


def test_truncated_file_warns():
    text = BAD_HEAD + "1. [W][MLE] A? Chapter 1 · testing: x What they want to hear:\n"
    b = parse_bank_text(text, "t.txt")
    assert len(b.questions) == 1
    msgs = [str(p) for p in b.problems]
    assert "t.txt:3: E1-1: 'What they want to hear:' has no text after it (truncated file?); kept without a rubric" in msgs
    assert any("no closing 'Total: N questions' line" in m for m in msgs)


def test_not_a_bank(tmp_path: Path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\nworld\n")
    with pytest.raises(BankParseError, match=r"notes.txt: not a question bank"):
        parse_bank(p)


def test_non_utf8_names_line(tmp_path: Path):
    p = tmp_path / "latin.txt"
    p.write_bytes(BAD_HEAD.encode() + b"1. [W][MLE] caf\xe9? Chapter 1\n")
    with pytest.raises(BankParseError, match=r"latin.txt:3: not UTF-8"):
        parse_bank(p)


def test_missing_file(tmp_path: Path):
    with pytest.raises(BankParseError, match="no such file"):
        parse_bank(tmp_path / "nope.txt")


def test_huge_lines_are_refused_and_long_space_runs_parse_in_linear_time(tiny_bank_text):
    import time

    from qbank.errors import BankParseError
    from qbank.ingest.bank import parse_bank_text

    lines = tiny_bank_text.splitlines()
    with pytest.raises(BankParseError, match=r"<bank>:3: line of 40,001 characters"):
        parse_bank_text("\n".join(lines[:2] + [" " * 40_000 + "x"] + lines[2:]))
    padded = [ln + " " * 15_000 if ln.lstrip().startswith(("1.", "2.", "E.")) else ln for ln in lines]
    t = time.perf_counter()
    bank = parse_bank_text("\n".join(padded))
    assert len(bank.questions) == len(parse_bank_text(tiny_bank_text).questions)
    assert time.perf_counter() - t < 5  # quadratic regexes took ~22 s on a 40k line; linear is milliseconds
