from pathlib import Path

import pytest

from qbank.errors import BankParseError
from qbank.ingest.chapters import load_chapters, parse_chapter_file
from qbank.ingest.tokens import count_tokens

MD = """# Chapter 59: Retrieval evaluation

Intro paragraph about evaluation.

## Metrics

Recall at k counts the relevant items found. nDCG discounts by rank.

### Pitfalls

Ties must break deterministically.
"""


def test_headings_paths_and_number_from_name(tmp_path: Path):
    f = tmp_path / "ch59.md"
    f.write_text(MD)
    ch = parse_chapter_file(f)
    assert ch.number == 59 and ch.title == "Retrieval evaluation"
    assert [p.heading_path for p in ch.passages] == [
        ("Chapter 59: Retrieval evaluation",),
        ("Chapter 59: Retrieval evaluation", "Metrics"),
        ("Chapter 59: Retrieval evaluation", "Metrics", "Pitfalls"),
    ]
    assert [p.id for p in ch.passages] == ["ch59:p1", "ch59:p2", "ch59:p3"]
    assert ch.passages[1].text.startswith("Recall at k") and ch.passages[1].line == 5


def test_number_from_heading_and_plain_text(tmp_path: Path):
    f = tmp_path / "retrieval.txt"
    f.write_text("Chapter 57 Vector search\n===\n\n57.1 Product quantization\nSplit vectors into subspaces.\n")
    ch = parse_chapter_file(f)
    assert ch.number == 57
    assert ch.passages[-1].heading_path[-1] == "57.1 Product quantization"


def test_token_budget_and_overlap(tmp_path: Path):
    body = " ".join(f"token{i}" for i in range(400))
    f = tmp_path / "chapter-12.md"
    f.write_text(f"# Long\n\n{body}\n")
    ch = parse_chapter_file(f, max_tokens=60, overlap=15)
    assert len(ch.passages) > 5
    assert all(count_tokens("Long: " + p.text) <= 60 for p in ch.passages)
    a, b = ch.passages[0].text.split(), ch.passages[1].text.split()
    assert a[-1] in b  # overlap carries the boundary


def test_folder_errors(tmp_path: Path):
    (tmp_path / "notes.md").write_text("# Random notes\n\ntext\n")
    with pytest.raises(BankParseError, match="cannot tell the chapter number"):
        load_chapters(tmp_path)
    assert load_chapters(tmp_path / "absent") == []


def test_duplicate_chapter(tmp_path: Path):
    (tmp_path / "ch5.md").write_text("# A\n\nx\n")
    (tmp_path / "chapter-5.txt").write_text("# B\n\ny\n")
    with pytest.raises(BankParseError, match="chapter 5 is already given by"):
        load_chapters(tmp_path)
