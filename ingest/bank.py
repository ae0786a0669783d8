"""Parser of the question bank (Appendix E).

The format, as it appears in the shipped bank::

    E.5 Retrieval and RAG (Chapters 55–63)

    193. [H][MLS] <question> Chapter 57 · testing: <note> · Meta, Google What they want to hear:

      • <bullet>
      • <bullet>

    466. [M][MLE] Implement … Chapter 6 · testing: <note> Solution sketch: <paragraph>
    516. [M][MLS] <probing variant> What they’re testing: <paragraph>

Ids are ``E<section>-<number>``: numbers 501–505 occur in E.11 and again in E.12.

Rules (documented in README):

* **companies**: the segments after the note, separated by `` · ``, are companies when every
  comma-separated item holds an upper-case letter ("Meta, Mistral", "vLLM team"); otherwise
  (e.g. "applied researcher depth") they stay part of the note.
* **kind**: ``behavioral`` for the Behavioral section, a "canonical story" note or a
  "What they’re testing" rubric; ``coding`` for a "Solution sketch" or a question that starts
  with Implement/Write/Code; ``design`` for a question that asks to design, architect,
  capacity-plan, plan or build a system (the wording, not the section: E.11 also holds
  conceptual questions such as E11-501 on CUDA warps); ``conceptual`` otherwise.

Every line that begins like a question (``^\\d+\\.``) is accounted for: it becomes a question or a
problem with its line number.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from qbank.errors import BankParseError
from qbank.records import DIFFICULTIES, ROLES, ChapterInfo, Question

SECTION_RE = re.compile(
    r"^E\.(?P<num>\d+)\s+(?P<title>.+?)"
    r"(?:\s+\(Chapters?\s+(?P<lo>\d+)(?:\s*[–-]\s*(?P<hi>\d+))?\))?"
    r"(?:\s+\[new section\])?\s*$"
)
QUESTION_START_RE = re.compile(r"^(?P<num>\d+)\.\s")
QUESTION_RE = re.compile(r"^(?P<num>\d+)\.\s+(?P<tags>(?:\[[^\]\s]*\])+)\s*(?P<rest>.*\S)\s*$")
TAG_RE = re.compile(r"\[([^\]]*)\]")
BULLET_RE = re.compile(r"^\s+[•·\-\*]\s+(?P<text>.*\S)\s*$")
CHAPTER_RE = re.compile(r"\s+Chapters?\s+(?P<list>\d+(?:\s*(?:,|and|&)\s*\d+)*)\s*(?:·|$)")
RUBRIC_LABELS = ("What they want to hear", "What they’re testing", "What they're testing", "Solution sketch")
# no leading \s*: searched over a long run of spaces it made parsing quadratic (the caller strips)
RUBRIC_RE = re.compile(r"(?P<label>" + "|".join(re.escape(x) for x in RUBRIC_LABELS) + r"):\s*")
MAX_LINE_CHARS = 20_000  # the longest real bank line is a few thousand characters
NOTE_RE = re.compile(r"^(?P<label>testing|canonical story):\s*(?P<note>.*)$", re.S)
TOTAL_RE = re.compile(r"^Total:\s*\d+\s+questions")
DESIGN_RE = re.compile(
    r"^(design|architect|capacity[- ]plan|plan|build|sketch|propose)\b"
    r"|\b(design|architect|build)\s+(a|an|the)\s"
    r"|\bthe design of\b"
    r"|\bhow would you (design|architect|build|structure|set up)\b"
    r"|\bhow do you (design|architect)\b",
    re.I,
)
CODING_RE = re.compile(r"^(implement|write|code)\b", re.I)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the parser could not take as it is: a warning or a skipped line."""

    path: str
    line: int | None
    message: str
    skipped: bool  # True when a question line was dropped because of it

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Section:
    number: int
    title: str
    chapter_lo: int | None
    chapter_hi: int | None
    line: int


@dataclass(slots=True)
class ParsedBank:
    """The result of a parse: what was kept, and every problem met on the way."""

    path: str
    sha256: str
    sections: list[Section]
    questions: list[Question]
    problems: list[Problem] = field(default_factory=list)
    question_lines: int = 0  # lines that began like a question

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.problems)

    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}


def read_text(path: Path) -> str:
    """Read a UTF-8 file; a decode error names the line of the first bad byte."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BankParseError(str(path), None, "no such file") from None
    except IsADirectoryError:
        raise BankParseError(str(path), None, "is a directory, not a file") from None
    except OSError as e:
        raise BankParseError(str(path), None, f"cannot read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise BankParseError(str(path), line, f"not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})") from None


def question_kind(section_title: str, question: str, testing_label: str, rubric_label: str) -> str:
    """Derive the kind of a question (the rule is in the module docstring)."""
    title = section_title.lower()
    if "behavioral" in title or testing_label == "canonical story" or rubric_label.startswith("What they"):
        if rubric_label != "What they want to hear":
            return "behavioral"
    if rubric_label == "Solution sketch" or "coding" in title or CODING_RE.search(question):
        return "coding"
    if DESIGN_RE.search(question):
        return "design"
    return "conceptual"


def _split_meta(meta: str) -> tuple[str, str, tuple[str, ...]]:
    """Split ``testing: note · Meta, Google`` into (label, note, companies)."""
    parts = [p.strip() for p in meta.split(" · ")]
    head = parts[0]
    m = NOTE_RE.match(head)
    label, note = (m.group("label"), m.group("note").strip()) if m else ("", head)
    companies: list[str] = []
    extra: list[str] = []
    for part in parts[1:]:
        items = [x.strip() for x in part.split(",") if x.strip()]
        if items and all(any(c.isupper() for c in x) for x in items) and not companies_blocked(extra):
            companies.extend(items)
        else:
            extra.append(part)
    if extra:
        note = " · ".join([note, *extra])
    return label, note, tuple(companies)


def companies_blocked(extra: list[str]) -> bool:
    # companies come last; once a non-company segment is seen, later ones are note text
    return bool(extra)


def parse_bank_text(text: str, path: str = "<bank>") -> ParsedBank:
    """Parse the bank's text. Raises :class:`BankParseError` when nothing usable is in it."""
    import hashlib

    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    lines = text.split("\n")
    sections: list[Section] = []
    questions: list[Question] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    n_question_lines = 0
    total_line: int | None = None

    # the question being assembled: (line number, parsed pieces, bullets)
    cur: dict | None = None

    def flush() -> None:
        nonlocal cur
        if cur is None:
            return
        c, cur = cur, None
        rubric = list(c["bullets"]) if c["bullets"] else ([c["inline"]] if c["inline"] else [])
        if c["rubric_label"] and not rubric:
            problems.append(
                Problem(path, c["line"], f"{c['id']}: '{c['rubric_label']}:' has no text after it "
                        "(truncated file?); kept without a rubric", skipped=False)
            )
        kind = question_kind(c["section_title"], c["question"], c["testing_label"], c["rubric_label"])
        questions.append(
            Question(
                id=c["id"], section=c["section"], section_title=c["section_title"], number=c["number"],
                difficulty=c["difficulty"], roles=c["roles"], question=c["question"], chapters=c["chapters"],
                testing=c["testing"], testing_label=c["testing_label"], companies=c["companies"], kind=kind,
                rubric=tuple(rubric), rubric_label=c["rubric_label"].replace("'", "’"), line=c["line"],
            )
        )

    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_CHARS:
            raise BankParseError(path, lineno, f"line of {len(line):,} characters (the limit is {MAX_LINE_CHARS:,}); "
                                               "is this a question bank?")
        line = line.rstrip()
        sm = SECTION_RE.match(line) if line.startswith("E.") else None
        if sm:
            flush()
            sections.append(
                Section(
                    number=int(sm["num"]), title=sm["title"].strip(),
                    chapter_lo=int(sm["lo"]) if sm["lo"] else None,
                    chapter_hi=int(sm["hi"] or sm["lo"]) if sm["lo"] else None,
                    line=lineno,
                )
            )
            continue
        if QUESTION_START_RE.match(line):
            flush()
            n_question_lines += 1
            if not sections:
                problems.append(Problem(path, lineno, "question line before any section header 'E.<n> <title>'; skipped", True))
                continue
            sec = sections[-1]
            parsed = _parse_question_line(line, lineno, sec, path)
            if isinstance(parsed, Problem):
                problems.append(parsed)
                continue
            if parsed["id"] in seen:
                problems.append(
                    Problem(path, lineno, f"duplicate id {parsed['id']} (first on line {seen[parsed['id']]}); skipped", True)
                )
                continue
            seen[parsed["id"]] = lineno
            cur = parsed
            continue
        bm = BULLET_RE.match(line)
        if bm and cur is not None and cur["rubric_label"] and not cur["inline"]:
            cur["bullets"].append(bm["text"])
            continue
        if TOTAL_RE.match(line):
            total_line = lineno
        # any other line (intros, "Probing variants — …", the trailer) ends the current question
        flush()
    flush()

    if not sections:
        raise BankParseError(path, None, "not a question bank: no section header like 'E.1 ML foundations (Chapters 1–10)'")
    if not questions:
        raise BankParseError(path, None, f"no question could be parsed ({n_question_lines} question-like lines, "
                             f"{len(problems)} problems; first: {problems[0] if problems else 'none'})")
    if total_line is None:
        problems.append(Problem(path, len(lines), "no closing 'Total: N questions' line: the file may be truncated", False))
    for s in sections:
        if not any(q.section == s.number for q in questions):
            problems.append(Problem(path, s.line, f"section E.{s.number} has no questions", False))
    return ParsedBank(path=path, sha256=sha, sections=sections, questions=questions, problems=problems,
                      question_lines=n_question_lines)


def _parse_question_line(line: str, lineno: int, sec: Section, path: str) -> dict | Problem:
    m = QUESTION_RE.match(line)
    if not m:
        return Problem(path, lineno, "question line without [difficulty][role] tags; skipped", True)
    number = int(m["num"])
    tags = TAG_RE.findall(m["tags"])
    difficulty = [t for t in tags if t in DIFFICULTIES]
    roles = tuple(t for t in tags if t in ROLES)
    unknown = [t for t in tags if t not in DIFFICULTIES and t not in ROLES]
    qid = f"E{sec.number}-{number}"
    if unknown:
        return Problem(path, lineno, f"{qid}: unknown tag [{unknown[0]}] (difficulty: {'/'.join(DIFFICULTIES)}; "
                       f"roles: {'/'.join(ROLES)}); skipped", True)
    if len(difficulty) != 1:
        return Problem(path, lineno, f"{qid}: expected exactly one difficulty tag, found {len(difficulty)}; skipped", True)
    if not roles:
        return Problem(path, lineno, f"{qid}: no role tag; skipped", True)

    rest = m["rest"]
    rubric_label, inline = "", ""
    rm = RUBRIC_RE.search(rest)
    if rm:
        rubric_label = rm["label"]
        inline = rest[rm.end():].strip()
        rest = rest[: rm.start()].strip()
    chapters: tuple[int, ...] = ()
    testing_label, testing, companies = "", "", ()
    cm = CHAPTER_RE.search(rest)
    if cm:
        chapters = tuple(int(x) for x in re.findall(r"\d+", cm["list"]))
        question = rest[: cm.start()].strip()
        meta = rest[cm.end():].strip()
        if meta:
            testing_label, testing, companies = _split_meta(meta)
    else:
        question = rest.strip()
    if not question:
        return Problem(path, lineno, f"{qid}: no question text; skipped", True)
    return dict(
        id=qid, section=sec.number, section_title=sec.title, number=number, difficulty=difficulty[0], roles=roles,
        question=question, chapters=chapters, testing=testing, testing_label=testing_label, companies=companies,
        rubric_label=rubric_label, inline=inline, bullets=[], line=lineno,
    )


def parse_bank(path: Path) -> ParsedBank:
    """Read and parse a bank file (UTF-8)."""
    return parse_bank_text(read_text(path), str(path))


def chapter_catalogue(bank: ParsedBank) -> list[ChapterInfo]:
    """Chapter → its section (by the section headers' ranges) and the questions citing it.

    Includes every chapter in a section's range and every cited chapter (a chapter cited from
    outside its section's range keeps both facts: its home section and the citing sections).
    """
    home: dict[int, Section] = {}
    for s in bank.sections:
        if s.chapter_lo is not None and s.chapter_hi is not None:
            for n in range(s.chapter_lo, s.chapter_hi + 1):
                home.setdefault(n, s)
    cited: dict[int, list[Question]] = {}
    for q in bank.questions:
        for c in q.chapters:
            cited.setdefault(c, []).append(q)
    out = []
    for n in sorted(set(home) | set(cited)):
        s = home.get(n)
        qs = cited.get(n, [])
        out.append(
            ChapterInfo(
                number=n, section=s.number if s else None, section_title=s.title if s else "",
                topic=s.title if s else "", cited_by=tuple(q.id for q in qs),
                cited_from_sections=tuple(sorted({q.section for q in qs})),
            )
        )
    return out


def counts(questions: list[Question], attr: str) -> Counter:
    return Counter(getattr(q, attr) for q in questions)
