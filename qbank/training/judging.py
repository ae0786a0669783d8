"""Judged training data by distillation from helper judges (InPars / Promptagator style).

The steps, each reproducible from the files in ``data/training/``:

1. helpers write queries from bank questions (``briefs/write_queries.md``) →
   ``<seed id>\\t<style>\\t<text>`` lines, read by :func:`read_written`;
2. every query is **pooled**: the union of the top ``depth`` questions of bm25, dense and hybrid
   (:func:`pool`), so each judged candidate is one a retriever would show;
3. judge batches group queries by their seed's section (their pools overlap, so a judge reads each
   candidate once) and list each query's pool in id order, never in a retriever's order
   (:func:`write_judge_batch`);
4. a judge answers one line per query, ``qid<TAB>2:ID,ID<TAB>1:ID`` (:func:`read_judgments`): every
   pooled candidate it does not list is graded 0 — a judgment, not an assumed negative. A
   candidate outside the query's pool is never graded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from qbank.errors import EvalDataError
from qbank.records import Question

POOL_MODES = ("bm25", "dense", "hybrid")
POOL_DEPTH = 30


def read_written(paths: Iterable[Path], styles: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """``(seed id, style, text)`` from the writers' TSV files, in file order."""
    out = []
    for p in paths:
        for n, line in enumerate(Path(p).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(x.strip() for x in parts):
                raise EvalDataError(f"{p}:{n}: expected '<seed id>\\t<style>\\t<query>'")
            seed, style, text = (x.strip() for x in parts)
            if styles is not None and style not in styles:
                raise EvalDataError(f"{p}:{n}: unknown style {style!r}")
            out.append((seed, style, text))
    return out


def pool(searcher, text: str, depth: int = POOL_DEPTH, modes: Sequence[str] = POOL_MODES) -> list[str]:
    """The question ids any of ``modes`` ranks in its top ``depth`` for ``text``, sorted by id."""
    ids: set[str] = set()
    for m in modes:
        ids.update(h.id for h in searcher.search(text, depth, m).hits if h.question is not None)
    return sorted(ids, key=_id_key)


def _id_key(qid: str) -> tuple[int, int]:
    sec, num = qid[1:].split("-")
    return int(sec), int(num)


def candidate_record(q: Question) -> dict:
    """What a judge reads of a candidate: the question's full text."""
    return {"id": q.id, "section": f"E.{q.section} {q.section_title}", "kind": q.kind, "difficulty": q.difficulty,
            "roles": list(q.roles), "question": q.question,
            "testing": f"{q.testing_label}: {q.testing}" if q.testing else "",
            "rubric": (f"{q.rubric_label}: " if q.rubric_label else "") + " | ".join(q.rubric)}


def write_judge_batch(folder: Path, queries: Sequence[tuple[str, str, list[str]]], questions: dict[str, Question]
                      ) -> None:
    """``queries.jsonl`` (qid, text, pool) and ``candidates.jsonl`` (each pooled question once)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = sorted({d for _, _, p in queries for d in p}, key=_id_key)
    with (folder / "candidates.jsonl").open("w", encoding="utf-8") as f:
        for d in ids:
            f.write(json.dumps(candidate_record(questions[d]), ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for qid, text, p in queries:
            f.write(json.dumps({"qid": qid, "query": text, "pool": p}, ensure_ascii=False) + "\n")


def read_judgments(path: Path, pools: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """A judge's answer file → qrels over the pools (unlisted pooled candidates graded 0).

    Refuses (file:line) an unknown query id, a candidate outside the query's pool, a candidate
    given two grades, or a query of the batch without an answer line.
    """
    out: dict[str, dict[str, int]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        qid = parts[0].strip()
        if qid not in pools:
            raise EvalDataError(f"{path}:{n}: query {qid!r} is not in this batch")
        if qid in out:
            raise EvalDataError(f"{path}:{n}: query {qid!r} answered twice")
        grades = dict.fromkeys(pools[qid], 0)
        for field in parts[1:]:
            field = field.strip()
            if not field:
                continue
            g, _, ids = field.partition(":")
            if g not in ("1", "2"):
                raise EvalDataError(f"{path}:{n}: expected '2:ID,ID' or '1:ID', got {field[:40]!r}")
            for d in (x.strip() for x in ids.split(",")):
                if not d:
                    continue
                if d not in grades:
                    raise EvalDataError(f"{path}:{n}: {d} is not in the pool of {qid}")
                if grades[d]:
                    raise EvalDataError(f"{path}:{n}: {d} graded twice for {qid}")
                grades[d] = int(g)
        out[qid] = grades
    missing = [q for q in pools if q not in out]
    if missing:
        raise EvalDataError(f"{path}: no answer for {len(missing)} queries (e.g. {', '.join(missing[:3])})")
    return out


def split_by_seed(seeds: Sequence[str], dev_fraction: float, seed: int = 13) -> set[str]:
    """The seed questions whose queries form the dev split: ``dev_fraction`` of each section's seeds,
    drawn with a fixed seed. Splitting by seed keeps a question's queries on one side."""
    by_sec: dict[str, list[str]] = {}
    for s in sorted(set(seeds), key=_id_key):
        by_sec.setdefault(s.split("-")[0], []).append(s)
    rng = random.Random(seed)
    dev: set[str] = set()
    for sec in sorted(by_sec):
        ids = by_sec[sec]
        dev.update(rng.sample(ids, round(len(ids) * dev_fraction)))
    return dev
