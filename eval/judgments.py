"""Relevance judgments from two independent judges: merging and agreement.

Every judged set in the repo (golden, related, pasted, the training data's double-judged sample)
is made the same way: two judges grade (query, question) pairs 0/1/2 without seeing each other's
grades, and :func:`merge_qrels` combines them. Grades are the golden set's: **2** = squarely about
it (a user typing this query wants this question), **1** = clearly related, **0** = not relevant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Qrels = dict[str, dict[str, int]]


def merge_grades(a: int, b: int) -> int:
    """2 when one judge gave 2 and the other at least 1; 1 when one gave 2 and the other 0, or both
    gave 1; 0 when only one judge gave 1.

    >>> [merge_grades(2, 1), merge_grades(2, 0), merge_grades(1, 1), merge_grades(1, 0)]
    [2, 1, 1, 0]
    """
    hi, lo = max(a, b), min(a, b)
    if hi == 2:
        return 2 if lo >= 1 else 1
    return 1 if hi == 1 and lo == 1 else 0


def merge_qrels(a: Qrels, b: Qrels, queries: Iterable[str]) -> Qrels:
    """Merge two judges' qrels (unlisted pairs count as 0). A query left without a grade-2 item
    has the items both judges graded >= 1 promoted to 2. Zero grades are kept (they are judgments)."""
    merged: Qrels = {}
    for q in queries:
        docs = sorted(set(a.get(q, {})) | set(b.get(q, {})))
        m = {d: merge_grades(a.get(q, {}).get(d, 0), b.get(q, {}).get(d, 0)) for d in docs}
        if m and not any(g == 2 for g in m.values()):
            for d in docs:
                if a.get(q, {}).get(d, 0) >= 1 and b.get(q, {}).get(d, 0) >= 1:
                    m[d] = 2
        merged[q] = m
    return merged


@dataclass(frozen=True, slots=True)
class Agreement:
    pairs: int
    exact: float  # share of pairs with the same grade
    kappa: float  # Cohen's kappa over the three grades
    kappa_binary: float  # Cohen's kappa of relevant (>= 1) vs not

    def __str__(self) -> str:
        return (f"{self.pairs} pairs; exact agreement {self.exact:.3f}; Cohen's kappa {self.kappa:.3f} "
                f"(graded), {self.kappa_binary:.3f} (relevant or not)")


def cohen_kappa(x: list[int], y: list[int]) -> float:
    """Cohen's kappa of two equally long label lists (1.0 when both are constant and equal).

    >>> round(cohen_kappa([0, 1, 2, 2], [0, 1, 2, 1]), 4)
    0.6364
    """
    if len(x) != len(y) or not x:
        raise ValueError("kappa needs two non-empty lists of the same length")
    n = len(x)
    po = sum(a == b for a, b in zip(x, y)) / n
    cx, cy = Counter(x), Counter(y)
    pe = sum(cx[g] * cy[g] for g in set(cx) | set(cy)) / n**2
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def agreement(a: Qrels, b: Qrels, pairs: Iterable[tuple[str, str]] | None = None) -> Agreement:
    """Agreement over ``pairs`` (default: the union of the pairs either judge listed)."""
    if pairs is None:
        pairs = {(q, d) for j in (a, b) for q, docs in j.items() for d in docs}
    pairs = sorted(pairs)
    x = [a.get(q, {}).get(d, 0) for q, d in pairs]
    y = [b.get(q, {}).get(d, 0) for q, d in pairs]
    exact = sum(i == j for i, j in zip(x, y)) / len(pairs)
    return Agreement(len(pairs), exact, cohen_kappa(x, y),
                     cohen_kappa([int(i >= 1) for i in x], [int(j >= 1) for j in y]))


def write_qrels(qrels: Mapping[str, Mapping[str, int]], path, keep_zero: bool = False) -> None:
    """TREC qrels, one ``qid 0 doc grade`` line each, grade-2 first; zeros only with ``keep_zero``."""
    with open(path, "w", encoding="utf-8") as f:
        for q in qrels:
            for d, g in sorted(qrels[q].items(), key=lambda x: (-x[1], x[0])):
                if g or keep_zero:
                    f.write(f"{q} 0 {d} {g}\n")
