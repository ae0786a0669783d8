"""Filters on question metadata, validated against what the bank holds.

Within a field the values are alternatives (OR); across fields all must hold (AND). Chapter
passages have no difficulty, role, kind or company: any of those filters excludes them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from qbank.errors import InvalidQueryError
from qbank.records import DIFFICULTIES, KINDS, ROLES, Passage, Question


@dataclass(frozen=True, slots=True)
class Filters:
    difficulty: tuple[str, ...] = ()
    role: tuple[str, ...] = ()
    section: tuple[int, ...] = ()
    chapter: tuple[int, ...] = ()
    kind: tuple[str, ...] = ()
    company: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict:
        return {f.name: list(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}

    @classmethod
    def parse(cls, *, difficulty=(), role=(), section=(), chapter=(), kind=(), company=(),
              known_sections=None, known_chapters=None, known_companies=None) -> Filters:
        """Build from user values (strings or lists; comma-separated strings allowed), validating each."""

        def items(v) -> list[str]:
            if v is None:
                return []
            if isinstance(v, (str, int)):
                v = [v]
            out = []
            for x in v:
                out.extend(s.strip() for s in str(x).split(",") if s.strip())
            return out

        d = [x.upper() for x in items(difficulty)]
        for x in d:
            if x not in DIFFICULTIES:
                raise InvalidQueryError(f"unknown difficulty {x!r}; choose from {', '.join(DIFFICULTIES)}")
        r = [x.upper() for x in items(role)]
        for x in r:
            if x not in ROLES:
                raise InvalidQueryError(f"unknown role {x!r}; choose from {', '.join(ROLES)}")
        k = [x.lower() for x in items(kind)]
        for x in k:
            if x not in KINDS:
                raise InvalidQueryError(f"unknown kind {x!r}; choose from {', '.join(KINDS)}")
        s = [_int(x, "section") for x in items(section)]
        if known_sections is not None:
            for x in s:
                if x not in known_sections:
                    raise InvalidQueryError(f"unknown section {x}; the bank has sections "
                                            f"{min(known_sections)}–{max(known_sections)}")
        c = [_int(x, "chapter") for x in items(chapter)]
        if known_chapters is not None:
            for x in c:
                if x not in known_chapters:
                    raise InvalidQueryError(f"unknown chapter {x}; `qbank chapters` lists them")
        co = items(company)
        if known_companies is not None:
            lower = {x.lower(): x for x in known_companies}
            for x in co:
                if x.lower() not in lower:
                    raise InvalidQueryError(f"unknown company {x!r}; known: {', '.join(sorted(known_companies))}")
        return cls(tuple(dict.fromkeys(d)), tuple(dict.fromkeys(r)), tuple(dict.fromkeys(s)), tuple(dict.fromkeys(c)),
                   tuple(dict.fromkeys(k)), tuple(x.lower() for x in dict.fromkeys(co)))

    def without(self, name: str) -> Filters:
        """The same filters less one (``difficulty``, ``role``, ...)."""
        return replace(self, **{name: ()})

    def active(self) -> list[str]:
        """The names of the filters that hold values, in field order."""
        return [f.name for f in fields(self) if getattr(self, f.name)]

    def accepts_question(self, q: Question) -> bool:
        return (
            (not self.difficulty or q.difficulty in self.difficulty)
            and (not self.role or any(r in self.role for r in q.roles))
            and (not self.section or q.section in self.section)
            and (not self.chapter or any(c in self.chapter for c in q.chapters))
            and (not self.kind or q.kind in self.kind)
            and (not self.company or any(c.lower() in self.company for c in q.companies))
        )

    def accepts_passage(self, p: Passage, chapter_section: int | None) -> bool:
        if self.difficulty or self.role or self.kind or self.company:
            return False
        return (not self.chapter or p.chapter in self.chapter) and (
            not self.section or chapter_section in self.section)


def _int(x: str, what: str) -> int:
    s = str(x).strip().upper().removeprefix("E.").removeprefix("E").removeprefix("CH")
    try:
        return int(s)
    except ValueError:
        raise InvalidQueryError(f"{what} must be a number, got {x!r}") from None
