"""Training groups from the judged data (``data/training``): real queries, graded candidates, no
assumed negatives.

Each training query gives one group per relevant question (grade 2 first, then grade 1). A group
is the positive and ``negatives`` questions the judge graded *below* it: the hardest ones first
(highest in the hybrid ranking, where the reranker has to work), the rest drawn at random from
the query's other judged candidates. A grade-2 group may hold one grade-1 question as a negative,
so the listwise loss also learns "squarely about it" above "related". An ungraded question is
never a negative.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from qbank.retrieval.rerank import question_document
from qbank.training.data import TrainingData


@dataclass(frozen=True, slots=True)
class TrainGroup:
    """One training group: a query, its positive document and its negatives (texts)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    source: str  # "judged:<style>:g<grade>" or "scifact"


def judged_groups(searcher, data: TrainingData, split: str = "train", negatives: int = 7, hard: int = 5,
                  depth: int = 30, seed: int = 13, progress=None) -> list[TrainGroup]:
    """Listwise groups ``(query, positive, negatives)`` from the ``split`` queries' judgments.

    Args:
        searcher: ranks each query's candidates (hybrid) so the hardest judged negatives come first.
        negatives: negatives per group (every group has exactly this many, so batches stay rectangular;
            a query with fewer judged negatives is skipped).
        hard: how many of them are the top-ranked judged negatives; the rest are random judged ones.
    """
    queries, qrels = data.split(split)
    by_id = {q.id: q for q in searcher.index.questions}
    docs = {qid: question_document(q) for qid, q in by_id.items()}
    rng = random.Random(seed)
    groups: list[TrainGroup] = []
    for qid in sorted(queries):
        if progress:
            progress(1)
        grades = {d: g for d, g in qrels.get(qid, {}).items() if d in by_id}
        ranked = [h.id for h in searcher.search(queries[qid], depth, "hybrid").hits if h.id in grades]
        rank = {d: i for i, d in enumerate(ranked)}
        by_hardness = sorted(grades, key=lambda d: (rank.get(d, depth), d))
        positives = sorted((d for d, g in grades.items() if g > 0), key=lambda d: (-grades[d], rank.get(d, depth), d))
        for j, pos in enumerate(positives):
            below = [d for d in by_hardness if grades[d] < grades[pos]]
            zeros = [d for d in below if grades[d] == 0]
            ones = [d for d in below if grades[d] == 1]
            if len(zeros) + min(1, len(ones)) < negatives:
                continue
            chosen = ones[:1] if ones else []
            # rotate the hard window so a query's positives do not all meet the same negatives
            n_hard = max(0, hard - len(chosen))
            start = (j * n_hard) % max(1, min(len(zeros), depth))
            window = (zeros[start:] + zeros[:start])[:n_hard]
            chosen += window
            rest = [d for d in zeros if d not in chosen]
            chosen += rng.sample(rest, negatives - len(chosen))
            groups.append(TrainGroup(queries[qid], docs[pos], tuple(docs[d] for d in chosen),
                                     f"judged:{data.queries[qid].style}:g{grades[pos]}"))
    rng.shuffle(groups)
    return groups


def style_counts(groups: Sequence[TrainGroup]) -> dict[str, int]:
    out: dict[str, int] = {}
    for g in groups:
        key = g.source.split(":")[1] if g.source.startswith("judged:") else g.source
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def cap_groups(groups: Sequence[TrainGroup], n: int, seed: int = 13) -> list[TrainGroup]:
    """At most ``n`` groups: every grade-2 group first, then grade-1 ones, in a seeded shuffle."""
    top = [g for g in groups if g.source.endswith(":g2")]
    rest = [g for g in groups if not g.source.endswith(":g2")]
    out = (top + rest)[:n]
    random.Random(seed).shuffle(out)
    return out
