"""Small immutable records shared by every layer.

A :class:`Question` comes out of the parser, a :class:`Chunk` out of the chunker,
a :class:`Hit` out of retrieval; the same hit type travels unchanged to the
CLI, the API response and the UI.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

DIFFICULTIES = ("W", "M", "H", "S")
DIFFICULTY_NAMES = {"W": "warm-up", "M": "medium", "H": "hard", "S": "stretch"}
ROLES = ("MLE", "MLS", "AS", "RE", "INF")
ROLE_NAMES = {
    "MLE": "ML engineer",
    "MLS": "ML systems engineer",
    "AS": "applied scientist",
    "RE": "research engineer",
    "INF": "infrastructure",
}
KINDS = ("conceptual", "design", "coding", "behavioral")


@dataclass(frozen=True, slots=True)
class Question:
    """One question of the bank, as written (the text is never normalised)."""

    id: str  # "E5-193"
    section: int
    section_title: str
    number: int
    difficulty: str  # W/M/H/S
    roles: tuple[str, ...]
    question: str
    chapters: tuple[int, ...]
    testing: str  # the "testing:" note, or the behavioral "canonical story:" note
    testing_label: str  # "testing", "canonical story" or "" (probing variants)
    companies: tuple[str, ...]
    kind: str  # conceptual / design / coding / behavioral
    rubric: tuple[str, ...]  # bullets, or one paragraph (sketch / probing rubric)
    rubric_label: str  # "What they want to hear", "What they’re testing", "Solution sketch" or ""
    line: int  # 1-based line of the question in the bank file

    def full_text(self) -> str:
        """The question as one text: stem, testing note, rubric (what the reranker reads and what the
        whole-question representations of related questions are made of)."""
        parts = [self.question]
        if self.testing:
            parts.append(f"{(self.testing_label or 'testing').capitalize()}: {self.testing}.")
        if self.rubric:
            parts.append(" ".join(self.rubric))
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["roles"] = list(self.roles)
        d["chapters"] = list(self.chapters)
        d["companies"] = list(self.companies)
        d["rubric"] = list(self.rubric)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Question:
        return cls(
            **{
                **d,
                "roles": tuple(d["roles"]),
                "chapters": tuple(d["chapters"]),
                "companies": tuple(d["companies"]),
                "rubric": tuple(d["rubric"]),
            }
        )


@dataclass(frozen=True, slots=True)
class ChapterInfo:
    """A chapter of the book as the bank knows it: its section and who cites it."""

    number: int
    section: int | None  # the section whose header range holds the chapter
    section_title: str
    topic: str  # the section topic (the book's chapter titles are not in the bank)
    cited_by: tuple[str, ...]  # question ids citing it
    cited_from_sections: tuple[int, ...]  # sections of those questions
    title: str = ""  # from an ingested chapter file's first heading, when present

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cited_by"] = list(self.cited_by)
        d["cited_from_sections"] = list(self.cited_from_sections)
        return d


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage of an ingested chapter file, split at headings and a token budget."""

    id: str  # "ch59:p3"
    chapter: int
    heading_path: tuple[str, ...]
    text: str
    source: str  # file name
    line: int  # first line of the passage in its file

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["heading_path"] = list(self.heading_path)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Passage:
        return cls(**{**d, "heading_path": tuple(d["heading_path"])})


@dataclass(frozen=True, slots=True)
class Chunk:
    """The unit both index legs see.

    ``doc_id`` is the question id (``E5-195``) or the passage id (``ch59:p3``);
    hits roll up to it.
    """

    id: str  # "E5-195#stem", "E5-195#rubric1", "ch59:p3"
    doc_id: str
    doc_type: str  # "question" or "passage"
    field: str  # "stem", "rubric" or "passage"
    text: str
    n_tokens: int  # cl100k_base tokens of ``text``
    kind: str  # the question's kind, or "passage"
    legs: str = "both"  # which index legs see it: "both", "lexical" or "dense"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(**d)


@dataclass(frozen=True, slots=True)
class LegScore:
    """How one retrieval leg (bm25, dense, reranker) placed a hit; rank is 1-based."""

    rank: int | None
    score: float | None


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: a question (or a chapter passage) with why it was returned."""

    id: str  # question id or passage id
    doc_type: str  # "question" or "passage"
    rank: int
    score: float
    chunk_id: str  # the chunk that matched best
    chunk_field: str
    chunk_text: str
    legs: dict[str, LegScore] = field(default_factory=dict)
    highlights: tuple[str, ...] = ()  # query terms found in the chunk, as written there
    question: Question | None = None
    passage: Passage | None = None
    links: tuple[str, ...] = ()  # for a chapter passage: the questions citing its chapter

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON shape used by the CLI and the API."""
        d: dict[str, Any] = {
            "id": self.id,
            "doc_type": self.doc_type,
            "rank": self.rank,
            "score": self.score,
            "legs": {k: {"rank": v.rank, "score": v.score} for k, v in self.legs.items()},
            "chunk": {"id": self.chunk_id, "field": self.chunk_field, "text": self.chunk_text},
            "highlights": list(self.highlights),
        }
        if self.question is not None:
            q = self.question
            d.update(
                question=q.question,
                difficulty=q.difficulty,
                roles=list(q.roles),
                section=q.section,
                section_title=q.section_title,
                number=q.number,
                chapters=list(q.chapters),
                kind=q.kind,
                companies=list(q.companies),
                testing=q.testing,
            )
        if self.passage is not None:
            p = self.passage
            d.update(
                question=None,
                chapter=p.chapter,
                chapters=[p.chapter],
                heading_path=list(p.heading_path),
                text=p.text,
                kind="passage",
                cited_by=list(self.links),
            )
        return d


ID_RE = re.compile(r"^\s*E\.?\s*(\d+)\s*[-–.]\s*(\d+)\s*$", re.I)


def normalise_id(qid: str) -> str:
    """``e5-193``, ``E.5-193`` → ``E5-193``; anything else is returned as typed.

    >>> normalise_id("e.5 - 193")
    'E5-193'
    """
    m = ID_RE.match(str(qid))
    if not m or len(m.group(1)) > 6 or len(m.group(2)) > 6:  # no bank has 10⁶ sections or questions
        return str(qid)
    return f"E{int(m.group(1))}-{int(m.group(2))}"
