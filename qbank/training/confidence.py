"""Choose the match-strength thresholds (:mod:`qbank.retrieval.confidence`) on the judged training data.

    python -m qbank.training.confidence [--split train]

Each training query of the split is searched (hybrid) three ways: as written, under a filter that
keeps none of its judged-relevant questions (the "kind = behavioral + KV cache memory" case: ten hits,
none about it), and — as queries with nothing to find — :data:`OFF_TOPIC` and random letter strings.
A search's label is whether its first hit was judged relevant (grade ≥ 1; an off-topic query's never
is). Over a grid, ``strong`` must be right (first hit relevant) for ≥ :data:`MIN_PRECISION` of the
searches it labels, and keep as many relevant first hits as it can; the ``none`` floor is the highest
cosine that leaves ≤ 1% of the relevant first hits below it with no query term in the index. The golden
and held-out sets are never read.
"""

from __future__ import annotations

import argparse
import random
import string
import sys

import numpy as np

MIN_PRECISION = 0.9
OFF_TOPIC = [
    "banana bread recipe without eggs", "best hiking trails near denver", "how to fix a leaking kitchen faucet",
    "who won the world cup in 1998", "cheap flights to lisbon in march", "how to train a puppy to sit",
    "symptoms of vitamin d deficiency", "knitting a scarf for beginners", "what is the capital of australia",
    "how long to boil an egg", "tax deductions for freelancers", "guitar chords for wonderwall",
    "how to grow tomatoes on a balcony", "renaissance painters in florence", "marathon training plan 16 weeks",
    "wedding speech ideas for best man", "how do tides work", "history of the roman empire",
    "repair a bicycle puncture", "what wine goes with salmon", "yoga poses for lower back pain",
    "how to write a cover letter for a nursing job", "football offside rule explained",
    "best sourdough starter hydration", "learn french verbs conjugation", "how to descale a kettle",
    "origami crane instructions", "planting tulip bulbs in autumn", "how to negotiate rent with a landlord",
    "birthday party games for kids",
]


def gibberish(n: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [" ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
                     for _ in range(rng.randint(1, 3))) for _ in range(n)]


def collect(split: str = "train", limit: int = 600, seed: int = 11) -> list[tuple[dict, bool]]:
    """(signals, first hit relevant) for each search described above."""
    from qbank.config import Settings
    from qbank.retrieval.engine import open_searcher
    from qbank.retrieval.filters import Filters
    from qbank.training.data import load_training_data

    searcher = open_searcher(Settings())
    queries, qrels = load_training_data().split(split)
    ids = sorted(queries)
    random.Random(seed).shuffle(ids)
    qs = searcher.index.question_by_id
    out = []
    for qid in ids[:limit]:
        rel = {d for d, g in qrels.get(qid, {}).items() if g >= 1}
        r = searcher.search(queries[qid], 10)
        if r.hits:
            out.append((r.match_signals, r.hits[0].id in rel))
        kinds = {qs[d].kind for d in rel if d in qs}
        other = next((k for k in ("behavioral", "coding", "design", "conceptual") if k not in kinds), None)
        if other:
            r = searcher.search(queries[qid], 10, filters=Filters(kind=(other,)))
            if r.hits:
                out.append((r.match_signals, r.hits[0].id in rel))
    for q in OFF_TOPIC + gibberish(60):
        r = searcher.search(q, 10)
        if r.hits:
            out.append((r.match_signals, False))
    return out


def choose(rows: list[tuple[dict, bool]]) -> tuple[dict, list[str]]:
    """The thresholds and a Markdown table of the grid's best rows."""
    cos = np.array([s["cosine"] or 0.0 for s, _ in rows])
    lex = np.array([s["lexical"] or 0.0 for s, _ in rows])
    y = np.array([ok for _, ok in rows])
    best, table = None, []
    for cs in np.arange(0.40, 0.80, 0.025):
        for ls in np.arange(0.30, 1.01, 0.05):
            strong = (cos >= cs) | (lex >= ls)
            if not strong.any():
                continue
            prec = float(y[strong].mean())
            rec = float((strong & y).sum() / max(1, y.sum()))
            if prec >= MIN_PRECISION and (best is None or rec > best[2]):
                best = (round(float(cs), 3), round(float(ls), 2), rec, prec, float(strong.mean()))
    if best is None:
        raise SystemExit("error: no thresholds reach the precision asked for")
    cs, ls = best[0], best[1]
    no_lex = lex == 0
    floor = 0.0
    for c in np.arange(0.05, cs + 1e-9, 0.01):  # at most the strong threshold: above it a search is strong
        if ((cos < c) & no_lex & y).sum() <= 0.01 * y.sum():
            floor = round(float(c), 2)
    strong = (cos >= cs) | (lex >= ls)
    none = ~strong & no_lex & (cos < floor)
    weak = ~strong & ~none
    for name, m in (("strong", strong), ("weak", weak), ("none", none)):
        table.append(f"| {name} | {int(m.sum())} | {m.mean():.3f} | {y[m].mean() if m.any() else float('nan'):.3f} |")
    return {"cosine_strong": cs, "lexical_strong": ls, "cosine_none": floor}, table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qbank.training.confidence", description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="train", choices=("train", "dev"))
    args = ap.parse_args(argv)
    rows = collect(args.split)
    th, table = choose(rows)
    print(f"{len(rows)} searches on the {args.split} split ({sum(ok for _, ok in rows)} with a relevant first hit)")
    print("thresholds:", th)
    print("| label | searches | share | first hit relevant |\n|---|---:|---:|---:|")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
