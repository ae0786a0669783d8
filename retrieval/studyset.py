"""Study sets: a short, varied list of questions that covers one or more topics.

``build_study_set(searcher, StudySetSpec(topics=[...], size=12, mix="W:2,M:5,H:5"))`` retrieves
candidates for each topic (hybrid search, or BM25 on a BM25-only index), then picks questions
round-robin across the topics with maximal marginal relevance (MMR, Carbonell & Goldstein 1998)::

    score(c) = λ · relevance(c, topic) − (1 − λ) · max cos(c, already picked)

over each question's embedding (the mean of its chunk vectors in the index, renormalised). A
candidate whose cosine to a picked question reaches ``dup_threshold`` is never taken: the set has no
near-duplicates. Constraints (difficulty mix, roles, sections, kinds, ids to include/exclude, a time
budget) are met where the bank allows; where it does not, the set says which constraint could not be
met and what it did instead (``StudySet.messages``). Same inputs, same set: searches are
deterministic and every tie breaks by question id.

Time budget: each question costs :data:`MINUTES` by difficulty (warm-up 3, medium 8, hard 15,
stretch 25 minutes: a cold answer, a medium one with a follow-up, a whiteboard, a depth probe).

The formats a set is taken away in (Markdown, CSV, JSON, Anki) are :mod:`qbank.ui.exports`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qbank.errors import InvalidQueryError, UnknownIdError
from qbank.index.vectors import question_matrix
from qbank.records import DIFFICULTIES, DIFFICULTY_NAMES, Question
from qbank.retrieval.modes import DEFAULT_MODE, get_mode

MINUTES = {"W": 3, "M": 8, "H": 15, "S": 25}
MAX_SIZE = 100
MAX_TOPICS = 10
DEFAULT_SIZE = 12
DEFAULT_LAMBDA = 0.7
DEFAULT_DUP_THRESHOLD = 0.92
CANDIDATES_PER_TOPIC = 60

_MIX_PART = re.compile(r"^\s*([A-Za-z]+)\s*[:=]\s*(\S*)\s*$")


# ---------------------------------------------------------------------------- input
def parse_mix(text: str | dict[str, int] | None) -> dict[str, int]:
    """``"W:2,M:5,H:5"`` → ``{"W": 2, "M": 5, "H": 5}`` (also a dict; ``None``/``""`` → no mix).

    >>> parse_mix("w:1, H=2")
    {'W': 1, 'H': 2}
    """
    if text is None or text == "" or text == {}:
        return {}
    if isinstance(text, str) and not text.replace(",", "").strip():
        raise InvalidQueryError(f"bad difficulty mix {text!r}: write it like 'W:2,M:5,H:5'")
    items = list(text.items()) if isinstance(text, dict) else []
    if not isinstance(text, dict):
        for part in str(text).split(","):
            if not part.strip():
                continue
            m = _MIX_PART.match(part)
            if not m:
                raise InvalidQueryError(f"bad difficulty mix part {part.strip()!r}: write it like 'W:2,M:5,H:5'")
            items.append((m.group(1), m.group(2)))
    out: dict[str, int] = {}
    for d, n in items:
        d = str(d).strip().upper()
        if d not in DIFFICULTIES:
            raise InvalidQueryError(f"bad difficulty mix: unknown difficulty {d!r}; use W, M, H or S, e.g. 'W:2,M:5,H:5'")
        try:
            count = int(str(n).strip())
        except ValueError:
            raise InvalidQueryError(f"bad difficulty mix: {d}:{str(n).strip()!r} is not a whole number; "
                                    "write it like 'W:2,M:5,H:5'") from None
        if count < 0:
            raise InvalidQueryError(f"bad difficulty mix: {d}:{count} is negative")
        if d in out:
            raise InvalidQueryError(f"bad difficulty mix: {d} is given twice")
        out[d] = count
    return {d: out[d] for d in DIFFICULTIES if d in out}


def format_mix(mix: dict[str, int]) -> str:
    return ",".join(f"{d}:{n}" for d, n in mix.items())


@dataclass(frozen=True, slots=True)
class StudySetSpec:
    """What a study set must be. Lists accept comma-separated strings too (CLI and API values)."""

    topics: tuple[str, ...]
    size: int | None = None  # None: the mix's total, else DEFAULT_SIZE
    mix: dict[str, int] | str | None = None
    roles: tuple[str, ...] = ()
    sections: tuple[int | str, ...] = ()
    kinds: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    minutes: int | None = None  # time budget
    lam: float = DEFAULT_LAMBDA  # MMR λ: 1 = relevance only, 0 = diversity only
    dup_threshold: float = DEFAULT_DUP_THRESHOLD  # cosine at or above which two questions are near-duplicates
    candidates: int = CANDIDATES_PER_TOPIC

    def to_dict(self) -> dict[str, Any]:
        return {"topics": list(self.topics), "size": self.size, "mix": parse_mix(self.mix), "roles": list(self.roles),
                "sections": list(self.sections), "kinds": list(self.kinds), "include": list(self.include),
                "exclude": list(self.exclude), "minutes": self.minutes, "lambda": self.lam,
                "dup_threshold": self.dup_threshold}


@dataclass(frozen=True, slots=True)
class StudyItem:
    question: Question
    topic: str  # the topic it was picked for ("" for an included id)
    reason: str  # "include", "topic" or "fill" (picked after a constraint was relaxed)
    relevance: float  # in [0, 1], relative to the topic's best candidate
    minutes: int

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {"id": q.id, "question": q.question, "difficulty": q.difficulty, "roles": list(q.roles),
                "section": q.section, "section_title": q.section_title, "chapters": list(q.chapters),
                "kind": q.kind, "companies": list(q.companies), "testing_label": q.testing_label,
                "testing": q.testing, "rubric_label": q.rubric_label, "rubric": list(q.rubric),
                "topic": self.topic, "reason": self.reason, "relevance": round(self.relevance, 4),
                "minutes": self.minutes}


@dataclass(frozen=True, slots=True)
class StudySet:
    spec: StudySetSpec
    items: tuple[StudyItem, ...]
    messages: tuple[str, ...] = ()  # constraints not met and what was done instead
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [it.question.id for it in self.items]

    @property
    def total_minutes(self) -> int:
        return sum(it.minutes for it in self.items)

    def by_difficulty(self) -> dict[str, int]:
        out = {d: 0 for d in DIFFICULTIES}
        for it in self.items:
            out[it.question.difficulty] += 1
        return {d: n for d, n in out.items() if n}

    def coverage(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {t: [] for t in self.spec.topics}
        for it in self.items:
            if it.topic in out:
                out[it.topic].append(it.question.id)
        return out

    def reordered(self, ids: list[str]) -> StudySet:
        """The same set with its items in the order of ``ids``; items not named are dropped (pruning)."""
        by_id = {it.question.id: it for it in self.items}
        wanted = [i for i in dict.fromkeys(ids)]
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            raise UnknownIdError(f"{', '.join(unknown)} not in this study set")
        items = tuple(by_id[i] for i in wanted)
        if len(items) == len(self.items):  # a new order only: every note still holds
            return replace(self, items=items)
        return replace(self, items=items, messages=self._notes_after_pruning(items))

    def _notes_after_pruning(self, items: tuple[StudyItem, ...]) -> tuple[str, ...]:
        """The notes for a set the user pruned: the build's notes about counts and about removed
        questions go; what the set now holds against the mix, the budget and the topics is said again."""
        present = {it.question.id for it in items}
        removed = [it.question.id for it in self.items if it.question.id not in present]
        kept = [m for m in self.messages if not m.startswith(COUNT_NOTES) and not any(r in m for r in removed)]
        now = [f"{len(removed)} of the {len(self.items)} questions built were removed: {', '.join(removed)}"]
        mix = self.spec.mix if isinstance(self.spec.mix, dict) else parse_mix(self.spec.mix)
        have = Counter(it.question.difficulty for it in items)
        if mix and any(have.get(d, 0) < n for d, n in mix.items()):
            now.append(f"difficulty mix {format_mix(mix)}: the set now holds "
                       f"{_count_str([it.question.difficulty for it in items]) or 'nothing'}")
        if self.spec.minutes is not None:
            now.append(f"the set now takes {sum(it.minutes for it in items)} of the {self.spec.minutes} min budget")
        covered_before = {it.topic for it in self.items if it.topic}
        for t in self.spec.topics:
            if t in covered_before and not any(it.topic == t for it in items):
                now.append(f"topic {t!r} is no longer covered: its questions were removed")
        return tuple(kept + now)

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "size": len(self.items), "total_minutes": self.total_minutes,
                "by_difficulty": self.by_difficulty(), "coverage": self.coverage(), "messages": list(self.messages),
                "params": self.params, "items": [it.to_dict() for it in self.items]}


# build notes that state counts: stale once the user removes questions (StudySet.reordered)
COUNT_NOTES = ("time budget of ", "only ", "difficulty mix ", "the included questions alone take ")


def _items(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, (str, int)):
        v = [v]
    out: list[str] = []
    for x in v:
        out.extend(s.strip() for s in str(x).split(",") if s.strip())
    return out


# ---------------------------------------------------------------------------- building
def question_vectors(searcher) -> tuple[list[str], np.ndarray]:
    """One unit vector per question (:func:`qbank.index.vectors.question_matrix`), ids in bank order."""
    ids = [q.id for q in searcher.index.questions]
    return ids, question_matrix(searcher.index, ids)


def _check_spec(searcher, spec: StudySetSpec) -> tuple[list[str], int, dict[str, int], Any, list[str], list[str]]:
    from qbank.records import normalise_id

    topics = [t.strip() for t in ([spec.topics] if isinstance(spec.topics, str) else spec.topics) if str(t).strip()]
    topics = list(dict.fromkeys(topics))
    if not topics and not _items(spec.include):
        raise InvalidQueryError("a study set needs at least one topic (e.g. 'KV cache') or a question id to include")
    if len(topics) > MAX_TOPICS:
        raise InvalidQueryError(f"{len(topics)} topics; the limit is {MAX_TOPICS}")
    for t in topics:
        if len(t) > searcher.settings.max_query_chars:
            raise InvalidQueryError(f"topic is {len(t):,} characters; the limit is {searcher.settings.max_query_chars:,}")
    mix = parse_mix(spec.mix)
    size = spec.size
    if size is None:
        size = sum(mix.values()) if mix else DEFAULT_SIZE
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
        raise InvalidQueryError(f"size must be a whole number from 1 to {MAX_SIZE}, got {size!r}")
    if mix and sum(mix.values()) > size:
        raise InvalidQueryError(f"the mix {format_mix(mix)} asks for {sum(mix.values())} questions but the size is "
                                f"{size}; raise the size or lower the mix")
    if not 0.0 <= float(spec.lam) <= 1.0:
        raise InvalidQueryError(f"lambda must be between 0 and 1, got {spec.lam}")
    if not 0.0 < float(spec.dup_threshold) <= 1.0:
        raise InvalidQueryError(f"dup_threshold must be in (0, 1], got {spec.dup_threshold}")
    if spec.minutes is not None and (isinstance(spec.minutes, bool) or not isinstance(spec.minutes, int)
                                     or spec.minutes < 1):
        raise InvalidQueryError(f"minutes must be a whole number >= 1, got {spec.minutes!r}")
    filters = searcher.parse_filters(role=_items(spec.roles), section=_items(spec.sections), kind=_items(spec.kinds))
    known = searcher.index.question_by_id

    def ids(values, what: str) -> list[str]:
        out = []
        for raw in _items(values):
            qid = normalise_id(raw)
            if qid not in known:
                raise UnknownIdError(f"unknown question id {raw!r} in {what}; ids look like E5-193")
            out.append(qid)
        return list(dict.fromkeys(out))

    include, exclude = ids(spec.include, "include"), ids(spec.exclude, "exclude")
    both = sorted(set(include) & set(exclude))
    if both:
        raise InvalidQueryError(f"{', '.join(both)} is both included and excluded")
    if len(include) > size:
        raise InvalidQueryError(f"{len(include)} ids to include but the size is {size}")
    return topics, size, mix, filters, include, exclude


def build_study_set(searcher, spec: StudySetSpec) -> StudySet:
    """Build a study set over ``searcher``'s index. Raises :class:`InvalidQueryError` (bad input) or
    :class:`UnknownIdError` (an include/exclude id the bank lacks)."""
    topics, size, mix, filters, include, exclude = _check_spec(searcher, spec)
    idx = searcher.index
    known = idx.question_by_id
    mode = DEFAULT_MODE if idx.has_dense else "bm25"  # study sets follow the default mode
    depth = max(spec.candidates, size * 3)
    messages: list[str] = []

    # candidates per topic: relevance = fused score / the topic's best score. With no topic, the
    # included questions are the seeds: their related questions are the candidates ("like E5-195")
    cands: dict[str, list[tuple[str, float]]] = {}
    seeded = not topics
    if seeded:
        for qid in include:
            label = f"like {qid}"
            hits = [h for h in searcher.related(qid, min(depth, searcher.settings.max_k),
                                                None if filters.is_empty() else filters)
                    if h.id not in exclude and h.id not in include]
            top = max((h.score for h in hits), default=1.0) or 1.0
            cands[label] = [(h.id, float(h.score) / top) for h in hits]
            topics.append(label)
    for t in [] if seeded else topics:
        res = searcher.search(t, min(depth, searcher.settings.max_k), mode, None if filters.is_empty() else filters)
        hits = [h for h in res.hits if h.doc_type == "question" and h.id not in exclude and h.id not in include]
        top = max((h.score for h in hits), default=1.0) or 1.0
        cands[t] = [(h.id, float(h.score) / top) for h in hits]
        if hits and get_mode(mode).fuse and all(h.legs.get("bm25") is None or h.legs["bm25"].rank is None for h in hits):
            messages.append(f"topic {t!r}: no question shares its words; its questions were picked by meaning alone")

    qids, vecs = question_vectors(searcher)
    row = {q: i for i, q in enumerate(qids)}
    budget = spec.minutes
    quota = dict(mix)  # questions still wanted per difficulty
    free_slots = size - sum(mix.values())  # slots open to any difficulty (all of them without a mix)
    free_used = 0
    chosen: list[StudyItem] = []
    chosen_rows: list[int] = []
    used: set[str] = set()
    dups_skipped: set[str] = set()
    spent = 0

    def add(q: Question, topic: str, reason: str, rel: float) -> bool:
        """Take ``q``; False when neither its difficulty's quota nor a free slot had room."""
        nonlocal free_used, spent
        chosen.append(StudyItem(q, topic, reason, rel, MINUTES[q.difficulty]))
        chosen_rows.append(row[q.id])
        used.add(q.id)
        spent += MINUTES[q.difficulty]
        if quota.get(q.difficulty, 0) > 0:
            quota[q.difficulty] -= 1
            return True
        free_used += 1
        return free_used <= free_slots

    # 1. included ids come first and always stay (they are asked for by name)
    for qid in include:
        q = known[qid]
        fits = add(q, "", "include", 1.0)
        if not filters.accepts_question(q):
            messages.append(f"{qid} was included by id although it does not match the role/section/kind filters")
        if mix and not fits:
            messages.append(f"{qid} was included by id beyond the mix {format_mix(mix)} "
                            f"(one {q.difficulty} question too many)")
    if budget is not None and spent > budget:
        messages.append(f"the included questions alone take {spent} min, over the {budget} min budget")

    def pick(topic: str, relax_mix: bool) -> bool:
        best: tuple[float, str, float] | None = None
        for qid, rel in cands[topic]:
            if qid in used:
                continue
            d = known[qid].difficulty
            if budget is not None and spent + MINUTES[d] > budget:
                continue
            if mix and not relax_mix and quota.get(d, 0) <= 0 and free_used >= free_slots:
                continue
            sim = float(np.max(vecs[chosen_rows] @ vecs[row[qid]])) if chosen_rows else 0.0
            if sim >= spec.dup_threshold:
                dups_skipped.add(qid)
                continue
            score = spec.lam * rel - (1.0 - spec.lam) * sim
            if best is None or score > best[0] or (score == best[0] and qid < best[1]):
                best = (score, qid, rel)
        if best is None:
            return False
        add(known[best[1]], topic, "fill" if relax_mix else "topic", best[2])
        return True

    # 2. round-robin across topics under every constraint
    _round_robin(topics, size, chosen, lambda t: pick(t, relax_mix=False))
    # 3. the mix could not be met: fill the rest with the best remaining questions of any difficulty
    short = {d: n for d, n in quota.items() if n > 0}
    if mix and short:
        n_before = len(chosen)
        _round_robin(topics, size, chosen, lambda t: pick(t, relax_mix=True))
        filled = chosen[n_before:]
        instead = _count_str([it.question.difficulty for it in filled])
        # the budget is to blame when questions of a short difficulty were there but did not fit it
        left = {d for t in topics for qid, _ in cands[t] if qid not in used for d in [known[qid].difficulty]}
        by_budget = {d: n for d, n in short.items() if budget is not None and d in left}
        by_bank = {d: n for d, n in short.items() if d not in by_budget}
        fill = f"; filled {len(filled)} slot(s) with {instead} instead" if filled else ""
        if by_bank:
            got = ", ".join(f"{mix[d] - n} of {mix[d]} {d} ({DIFFICULTY_NAMES[d]})" for d, n in by_bank.items())
            messages.append(f"difficulty mix {format_mix(mix)} not met: found only {got} matching the topics and "
                            f"filters{fill}")
            fill = ""
        if by_budget:
            room = ", ".join(f"{n} more {d} ({MINUTES[d]} min each)" for d, n in by_budget.items())
            messages.append(f"difficulty mix {format_mix(mix)} not met: the time budget of {budget} min left no room "
                            f"for {room}{fill}")

    # report what is still missing
    if len(chosen) < size:
        if budget is not None and _budget_bound(cands, used, known, spent, budget):
            messages.append(f"time budget of {budget} min fits {len(chosen)} question(s) ({spent} min); "
                            f"asked for {size}")
        else:
            messages.append(f"only {len(chosen)} question(s) match the topics and filters without near-duplicates; "
                            f"asked for {size}")
    for t in topics:
        if not any(it.topic == t for it in chosen):
            if not cands[t]:
                messages.append(f"topic {t!r}: no question matches it under these filters")
            elif len(topics) > size:
                messages.append(f"topic {t!r} not covered: {len(topics)} topics but a set of {size}")
            else:
                messages.append(f"topic {t!r} not covered: its candidates were duplicates of picked questions or "
                                f"did not fit the mix or time budget")

    # final order: easy to hard, then the order they were picked (the UI can reorder)
    order = {d: i for i, d in enumerate(DIFFICULTIES)}
    ordered = [it for _, it in sorted(enumerate(chosen), key=lambda x: (x[1].reason != "include",
                                                                          order[x[1].question.difficulty], x[0]))]
    params = {"mode": mode, "lambda": spec.lam, "dup_threshold": spec.dup_threshold, "candidates_per_topic": depth,
              "minutes_per_difficulty": dict(MINUTES), "size": size, "mix": mix,
              "near_duplicates_skipped": len(dups_skipped - used)}
    spec = replace(spec, topics=tuple(topics), size=size, mix=mix, include=tuple(include), exclude=tuple(exclude))
    return StudySet(spec, tuple(ordered), tuple(messages), params)


def _round_robin(topics: list[str], size: int, chosen: list, pick) -> None:
    active = list(topics)
    i = 0
    while active and len(chosen) < size:
        t = active[i % len(active)]
        if pick(t):
            i += 1
        else:
            active.remove(t)  # i now points at the next topic


def _budget_bound(cands, used, known, spent, budget) -> bool:
    left = [known[q] for c in cands.values() for q, _ in c if q not in used]
    return bool(left) and all(spent + MINUTES[q.difficulty] > budget for q in left)


def _count_str(diffs: list[str]) -> str:
    counts = {d: diffs.count(d) for d in DIFFICULTIES if d in diffs}
    return ", ".join(f"{n} {d}" for d, n in counts.items()) or "none"
