"""Query expansions (doc2query): sample queries written for each question, indexed with it.

Users often describe a concept without its name ("outputs change between identical calls even at
temperature zero"). Neither BM25 nor a small bi-encoder bridges that gap from the question's own
wording, so each question can carry a few queries a user might type for it, written from the
question's own material (never from an evaluation set). They are indexed as extra chunks of their
question (field ``queries``) in both legs, and a hit that matched through one says so.

File format: JSON Lines, one object per question::

    {"id": "E1-13", "question_sha": "<first 16 hex of sha256(question text)>", "queries": ["...", ...]}

``question_sha`` ties the queries to the question as written: when a question is edited, its
expansions no longer apply and are dropped (and counted as stale) until they are rewritten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from qbank.errors import BankParseError
from qbank.records import Question

MAX_QUERY_CHARS = 300


def question_sha(q: Question | str) -> str:
    text = q.question if isinstance(q, Question) else q
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class Expansions:
    """The expansions that apply to a bank, and what was left out."""

    path: str
    sha256: str
    by_id: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # ids whose question text changed
    unknown: list[str] = field(default_factory=list)  # ids not in the bank

    def summary(self) -> dict:
        return {"file": self.path, "questions": len(self.by_id), "queries": sum(map(len, self.by_id.values())),
                "stale": len(self.stale), "unknown_ids": len(self.unknown)}


def read_expansions(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """id → (question_sha, queries). A malformed line is an error naming ``path:line``."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise BankParseError(str(path), None, "not UTF-8 text") from None
    except OSError as e:
        raise BankParseError(str(path), None, f"cannot be read ({e.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except ValueError:
            raise BankParseError(str(path), n, "not a JSON object") from None
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not isinstance(d.get("question_sha"), str) \
                or not isinstance(d.get("queries"), list) or not all(isinstance(x, str) for x in d["queries"]):
            raise BankParseError(str(path), n, 'expected {"id": str, "question_sha": str, "queries": [str, ...]}')
        if d["id"] in out:
            raise BankParseError(str(path), n, f"duplicate id {d['id']}")
        queries = tuple(dict.fromkeys(" ".join(x.split())[:MAX_QUERY_CHARS] for x in d["queries"] if x.strip()))
        out[d["id"]] = (d["question_sha"], queries)
    return out


def load_expansions(path: Path | None, questions: list[Question]) -> Expansions | None:
    """The expansions of ``path`` that still match ``questions`` (None when there is no file)."""
    if path is None or not Path(path).exists():
        return None
    path = Path(path)
    raw = read_expansions(path)
    exp = Expansions(str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    by_id = {q.id: q for q in questions}
    for qid, (sha, queries) in raw.items():
        q = by_id.get(qid)
        if q is None:
            exp.unknown.append(qid)
        elif sha != question_sha(q):
            exp.stale.append(qid)
        elif queries:
            exp.by_id[qid] = queries
    return exp


def write_expansions(path: Path, questions: list[Question], queries: dict[str, list[str]]) -> int:
    """Write the file for ``questions`` (bank order); returns how many questions have queries."""
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for q in questions:
            qs = queries.get(q.id)
            if qs:
                f.write(json.dumps({"id": q.id, "question_sha": question_sha(q), "queries": list(qs)},
                                   ensure_ascii=False) + "\n")
                n += 1
    return n
