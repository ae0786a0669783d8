"""Chapter files → passages split at headings and by a token budget with overlap.

A folder holds Markdown (``.md``) or plain-text (``.txt``) files, one per chapter. The chapter
number comes from the file name (``ch59.md``, ``chapter-59-rag.md``, ``59_retrieval.txt``) or,
failing that, from the first heading (``# Chapter 59: Retrieval``, ``# 59. Retrieval``).
Headings are Markdown ATX lines (``## Title``), setext underlines, or numbered lines such as
``59.2 Chunking strategies`` in plain text. Each passage keeps its chapter and heading path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from qbank.errors import BankParseError
from qbank.ingest.bank import read_text
from qbank.ingest.chunker import split_by_tokens
from qbank.ingest.tokens import count_tokens
from qbank.records import Passage

NAME_NUM_RE = re.compile(r"(?:^|[^a-z0-9])(?:ch(?:apter)?[-_ ]?)?(\d{1,3})(?:[^0-9]|$)", re.I)
HEADING_NUM_RE = re.compile(r"^(?:chapter\s+)?(\d{1,3})\b", re.I)
ATX_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
NUMBERED_RE = re.compile(r"^(\d{1,3}(?:\.\d+)+)\s+(\S.{0,100})$")


@dataclass(frozen=True, slots=True)
class ChapterFile:
    number: int
    title: str
    path: Path
    passages: tuple[Passage, ...]


def _sections(text: str) -> list[tuple[int, int, str, list[str]]]:
    """Split into (line, level, heading, body lines). Level 0 is text before any heading."""
    lines = text.split("\n")
    out: list[tuple[int, int, str, list[str]]] = [(1, 0, "", [])]
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        nxt = lines[i + 1].rstrip() if i + 1 < len(lines) else ""
        m = ATX_RE.match(line)
        if m:
            out.append((i + 1, len(m.group(1)), m.group(2), []))
        elif line.strip() and re.fullmatch(r"=+", nxt.strip() or "x"):
            out.append((i + 1, 1, line.strip(), []))
            i += 1
        elif line.strip() and re.fullmatch(r"-{3,}", nxt.strip() or "x") and not out[-1][3]:
            out.append((i + 1, 2, line.strip(), []))
            i += 1
        elif (nm := NUMBERED_RE.match(line)) and not line.endswith((".", ",", ";", ":")):
            out.append((i + 1, 1 + nm.group(1).count("."), line.strip(), []))
        else:
            out[-1][3].append(line)
        i += 1
    return out


def chapter_number(path: Path, first_heading: str) -> int | None:
    m = NAME_NUM_RE.search(path.stem)
    if m:
        return int(m.group(1))
    m = HEADING_NUM_RE.match(first_heading.strip())
    return int(m.group(1)) if m else None


def parse_chapter_file(path: Path, max_tokens: int = 180, overlap: int = 40) -> ChapterFile:
    text = read_text(path).replace("\r\n", "\n")
    secs = _sections(text)
    headings = [s for s in secs if s[1] > 0]
    first = headings[0][2] if headings else ""
    number = chapter_number(path, first)
    if number is None:
        raise BankParseError(str(path), headings[0][0] if headings else 1,
                             "cannot tell the chapter number: name the file like 'ch59.md' or start it "
                             "with a heading like '# Chapter 59: Title'")
    title = re.sub(r"^(?:chapter\s+)?\d{1,3}\s*[:.\-–—]?\s*", "", first, flags=re.I) if first else ""
    passages: list[Passage] = []
    stack: list[tuple[int, str]] = []
    for line, level, heading, body in secs:
        if level > 0:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        body_text = re.sub(r"\s+", " ", " ".join(body)).strip()
        if not body_text:
            continue
        path_titles = tuple(h for _, h in stack)
        head_cost = count_tokens(" › ".join(path_titles) + ": ") if path_titles else 0
        budget = max(32, max_tokens - head_cost)
        for piece in split_by_tokens(body_text, budget, overlap=min(overlap, budget // 2)):
            passages.append(
                Passage(id=f"ch{number}:p{len(passages) + 1}", chapter=number, heading_path=path_titles,
                        text=piece, source=path.name, line=line)
            )
    return ChapterFile(number=number, title=title, path=path, passages=tuple(passages))


def load_chapters(folder: Path, max_tokens: int = 180, overlap: int = 40) -> list[ChapterFile]:
    """Every ``.md`` / ``.txt`` file of ``folder``; an absent folder means no chapters."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise BankParseError(str(folder), None, "chapters path is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".md", ".markdown", ".txt") and p.is_file()
                   and not p.stem.upper().startswith("README"))
    out: list[ChapterFile] = []
    seen: dict[int, Path] = {}
    for f in files:
        ch = parse_chapter_file(f, max_tokens, overlap)
        if ch.number in seen:
            raise BankParseError(str(f), None, f"chapter {ch.number} is already given by {seen[ch.number].name}")
        seen[ch.number] = f
        out.append(ch)
    return out
