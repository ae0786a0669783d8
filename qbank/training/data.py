"""The judged training data in ``data/training/`` (see its README): queries, graded qrels, splits.

``queries.tsv``: ``qid<TAB>text<TAB>style<TAB>seed<TAB>split`` — the style the writer was asked for,
the bank question it was written from, and ``train`` or ``dev`` (split by seed question, so a
question's queries sit on one side). ``qrels.tsv``: TREC ``qid 0 doc grade`` for EVERY pooled
candidate, zeros included: a pair that is not listed was never judged and is not a negative.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qbank.config import DATA_DIR
from qbank.errors import EvalDataError
from qbank.eval.data import read_qrels

TRAINING_DIR = DATA_DIR / "training"
STYLES = ("pasted", "keywords", "paraphrase", "symptom", "learner", "multi", "intent")
SPLITS = ("train", "dev")


@dataclass(frozen=True, slots=True)
class TrainingQuery:
    qid: str
    text: str
    style: str
    seed: str  # the bank question the writer started from (not necessarily the only relevant one)
    split: str


@dataclass(frozen=True)
class TrainingData:
    queries: dict[str, TrainingQuery]
    qrels: dict[str, dict[str, int]]  # every judged pair, grade 0 included

    def split(self, name: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """``(queries {qid: text}, qrels)`` of one split, ready for :func:`qbank.eval.runner.evaluate_modes`."""
        if name not in SPLITS:
            raise EvalDataError(f"unknown split {name!r}; choose one of: {', '.join(SPLITS)}")
        qs = {q: t.text for q, t in self.queries.items() if t.split == name}
        return qs, {q: self.qrels[q] for q in qs}


def read_training_queries(path: Path) -> dict[str, TrainingQuery]:
    out: dict[str, TrainingQuery] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalDataError(f"{path}: no such file") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 5 or not all(p.strip() for p in parts):
            raise EvalDataError(f"{path}:{n}: expected 'qid<TAB>text<TAB>style<TAB>seed<TAB>split'")
        qid, text, style, seed, split = (p.strip() for p in parts)
        if style not in STYLES:
            raise EvalDataError(f"{path}:{n}: unknown style {style!r}; one of {', '.join(STYLES)}")
        if split not in SPLITS:
            raise EvalDataError(f"{path}:{n}: unknown split {split!r}; one of {', '.join(SPLITS)}")
        if qid in out:
            raise EvalDataError(f"{path}:{n}: duplicate query id {qid!r}")
        out[qid] = TrainingQuery(qid, text, style, seed, split)
    if not out:
        raise EvalDataError(f"{path}: no queries in it")
    return out


def load_training_data(folder: Path = TRAINING_DIR) -> TrainingData:
    """Queries and qrels, checked against each other: every query judged, every judgment's query known,
    and a query's seed split never on both sides."""
    queries = read_training_queries(folder / "queries.tsv")
    qrels = read_qrels(folder / "qrels.tsv")
    unknown = sorted(set(qrels) - set(queries))
    if unknown:
        raise EvalDataError(f"{folder / 'qrels.tsv'}: judgments for unknown queries ({', '.join(unknown[:3])})")
    unjudged = sorted(set(queries) - set(qrels))
    if unjudged:
        raise EvalDataError(f"{folder / 'queries.tsv'}: {len(unjudged)} queries have no judgments "
                            f"({', '.join(unjudged[:3])})")
    sides: dict[str, set[str]] = {}
    for q in queries.values():
        sides.setdefault(q.seed, set()).add(q.split)
    mixed = sorted(s for s, v in sides.items() if len(v) > 1)
    if mixed:
        raise EvalDataError(f"seed questions on both sides of the split: {', '.join(mixed[:3])}")
    return TrainingData(queries, qrels)
