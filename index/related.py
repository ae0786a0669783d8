"""Whole-question representations for related questions, and the co-relevance graph.

``Searcher.related`` compares questions as wholes: BM25 with the seed's full text (stem, testing
note, rubric) over one document per question, cosine between one vector per question (its full
text embedded at build time, not the mean of its chunks and never its sample queries), and — where
the judged data covers the bank — the **co-relevance graph**: two questions are linked when judges
graded both relevant to the same training query, weighted by the sum of the grade products over
those queries (``data/training/corelevance.json``, made by ``python -m qbank.training.corelevance``).

The graph file records a hash of each judged question's full text; at build time an edge is kept
only when both of its questions still have that text, so an edited or renumbered question drops
out of the graph (and falls back to the two text legs) instead of inheriting stale judgments.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qbank.errors import QbankError
from qbank.records import Question

CORELEVANCE_KIND = "qbank-corelevance"
CORELEVANCE_SCHEMA = 1


def text_hash(q: Question) -> str:
    """16 hex digits of the sha256 of the question's full text."""
    return hashlib.sha256(q.full_text().encode("utf-8")).hexdigest()[:16]


def read_corelevance(path: Path) -> dict:
    """The graph file, checked for its shape (a clear error names the file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise QbankError(f"{path}: cannot read the co-relevance graph ({type(e).__name__})") from None
    if (not isinstance(data, dict) or data.get("kind") != CORELEVANCE_KIND
            or data.get("schema") != CORELEVANCE_SCHEMA or not isinstance(data.get("questions"), dict)
            or not isinstance(data.get("edges"), dict)):
        raise QbankError(f"{path}: not a {CORELEVANCE_KIND} file of schema {CORELEVANCE_SCHEMA}")
    return data


def corelevance_edges(data: dict, questions: list[Question]) -> tuple[dict[str, dict[str, float]], dict]:
    """The graph's edges between questions of this corpus whose text is unchanged since judging.

    Returns ``(edges {id: {other: weight}}, stats)``; both directions are present for each edge.
    """
    current = {q.id: text_hash(q) for q in questions}
    judged = data["questions"]
    valid = {qid for qid, h in current.items() if judged.get(qid) == h}
    edges: dict[str, dict[str, float]] = {}
    for a, nbrs in data["edges"].items():
        if a not in valid:
            continue
        kept = {b: float(w) for b, w in nbrs.items() if b in valid and b != a and float(w) > 0}
        if kept:
            edges[a] = kept
    stats = {"questions_judged": len(judged), "questions_matched": len(valid),
             "questions_changed": sum(1 for qid in current if qid in judged and qid not in valid),
             "edges": sum(len(v) for v in edges.values()) // 2}
    return edges, stats
