"""Merge two independent judges' qrels into the golden qrels (run: python eval/golden/merge.py).

Rule, per (query, question): 2 when one judge gave 2 and the other at least 1; 1 when one gave 2
and the other nothing, or both gave 1; left out when only one judge gave 1. A query left with no
grade-2 question keeps its judges' grade-1 items promoted by agreement (both gave 1 → 2).
Prints agreement figures (Cohen's kappa over the union of judged pairs, graded 0/1/2).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent


def read(p: Path) -> dict[tuple[str, str], int]:
    out = {}
    for line in p.read_text().splitlines():
        if line.strip():
            q, _, d, g = line.split()
            out[(q, d)] = int(g)
    return out


def merge_grades(a: int, b: int) -> int:
    hi, lo = max(a, b), min(a, b)
    if hi == 2:
        return 2 if lo >= 1 else 1
    if hi == 1 and lo == 1:
        return 1
    return 0


def main() -> None:
    j1, j2 = read(HERE / "judge1.qrels"), read(HERE / "judge2.qrels")
    pairs = sorted(set(j1) | set(j2))
    merged = {p: merge_grades(j1.get(p, 0), j2.get(p, 0)) for p in pairs}
    queries = [line.split("\t")[0] for line in (HERE / "queries.tsv").read_text().splitlines() if line.strip()]
    for q in queries:
        if not any(g == 2 for (qq, _), g in merged.items() if qq == q):
            for p in pairs:
                if p[0] == q and j1.get(p, 0) >= 1 and j2.get(p, 0) >= 1:
                    merged[p] = 2
    with (HERE / "qrels.tsv").open("w") as f:
        for (q, d), g in sorted(merged.items(), key=lambda x: (x[0][0], -x[1], x[0][1])):
            if g:
                f.write(f"{q} 0 {d} {g}\n")
    # agreement
    a = [j1.get(p, 0) for p in pairs]
    b = [j2.get(p, 0) for p in pairs]
    po = sum(x == y for x, y in zip(a, b)) / len(pairs)
    ca, cb = Counter(a), Counter(b)
    pe = sum(ca[g] * cb[g] for g in (0, 1, 2)) / len(pairs) ** 2
    kappa = (po - pe) / (1 - pe)
    grades = Counter(g for g in merged.values() if g)
    no2 = [q for q in queries if not any(g == 2 for (qq, _), g in merged.items() if qq == q)]
    print(f"judged pairs: {len(pairs)}; exact agreement {po:.3f}; Cohen's kappa {kappa:.3f}")
    print(f"merged: {grades[2]} grade-2, {grades[1]} grade-1 over {len(queries)} queries; queries without a 2: {no2}")


if __name__ == "__main__":
    main()
