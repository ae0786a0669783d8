"""Eval inputs: queries (TSV / JSONL), qrels (TREC / BEIR TSV), BEIR datasets, TREC runs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from qbank.errors import EvalDataError

MAX_LINE_CHARS = 100_000  # a longer line is not a query or a judgment (and /dev/zero never ends)


def _lines(path: Path):
    """``(line number, line)`` of a text file (``.gz`` read through gzip), a UTF-8 BOM dropped; a
    missing file, a folder, a non-UTF-8, non-gzip or absurdly long line is a one-line error."""
    if path.is_dir():
        raise EvalDataError(f"{path}: is a folder, not a file")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig") as f:
            n = 0
            while True:
                line = f.readline(MAX_LINE_CHARS + 1)
                if not line:
                    return
                n += 1
                if len(line) > MAX_LINE_CHARS:
                    raise EvalDataError(f"{path}:{n}: line longer than {MAX_LINE_CHARS:,} characters")
                yield n, line
    except FileNotFoundError:
        raise EvalDataError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise EvalDataError(f"{path}: not UTF-8") from None
    except (gzip.BadGzipFile, EOFError):
        raise EvalDataError(f"{path}: not a gzip file (or a truncated one)") from None


def read_queries(path: Path) -> dict[str, str]:
    """``qid<TAB>text[<TAB>category]`` lines, or JSONL with ``_id``/``qid``/``id`` and ``text``.

    Only a query's text is used (BEIR ``metadata`` can hold the answers).
    """
    out: dict[str, str] = {}
    jsonl = path.suffix in (".jsonl", ".json") or path.name.endswith(".jsonl.gz")
    for n, line in _lines(path):
        if not line.strip() or line.startswith("#"):
            continue
        if jsonl:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            raw_id = next((obj[k] for k in ("_id", "qid", "id") if k in obj), None) if isinstance(obj, dict) else None
            text = obj.get("text") if isinstance(obj, dict) else None
            if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not isinstance(text, str):
                raise EvalDataError(f"{path}:{n}: expected a JSON object with '_id' (or 'qid', 'id': a string or a "
                                    "number) and 'text' (a string)")
            qid = str(raw_id)
        else:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2 or not parts[0].strip():
                raise EvalDataError(f"{path}:{n}: expected 'qid<TAB>query text'")
            qid, text = parts[0].strip(), parts[1]
        if qid in out:
            raise EvalDataError(f"{path}:{n}: duplicate query id {qid!r}")
        if not str(text).strip():
            raise EvalDataError(f"{path}:{n}: query {qid!r} has no text")
        out[qid] = str(text).strip()
    if not out:
        raise EvalDataError(f"{path}: no queries in it")
    return out


def read_query_categories(path: Path) -> dict[str, str]:
    """The optional third TSV column (the golden set's query category)."""
    out = {}
    if path.suffix not in (".tsv", ".txt"):
        return out
    for _, line in _lines(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) >= 3:
            out[parts[0].strip()] = parts[2].strip()
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TREC qrels (``qid iter doc grade``) or BEIR TSV (header ``query-id corpus-id score``)."""
    out: dict[str, dict[str, int]] = {}
    for n, line in _lines(path):
        if not line.strip():
            continue
        parts = line.split()
        if n == 1 and parts[:2] == ["query-id", "corpus-id"]:
            continue
        if len(parts) == 4:
            qid, _, doc, grade = parts
        elif len(parts) == 3:
            qid, doc, grade = parts
        else:
            raise EvalDataError(f"{path}:{n}: expected 'qid 0 doc grade' (TREC) or 'qid doc grade' (BEIR)")
        try:
            g = int(float(grade))
        except (ValueError, OverflowError):
            raise EvalDataError(f"{path}:{n}: grade {grade!r} is not a whole number") from None
        out.setdefault(qid, {})[doc] = g
    if not out:
        raise EvalDataError(f"{path}: no judgments in it")
    return out


def read_run(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for n, line in _lines(path):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise EvalDataError(f"{path}:{n}: expected 'qid Q0 doc rank score tag'")
        out.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return out


def write_run(run: dict[str, dict[str, float]], path: Path, tag: str) -> None:
    """TREC run with strictly decreasing scores per query (trec_eval re-sorts by score)."""
    from qbank.eval.metrics import ranked
    from qbank.fileio import write_atomic

    # written beside the target and renamed at the end: a killed run never leaves a truncated file
    write_atomic(path, "".join(f"{qid} Q0 {doc} {rank} {run[qid][doc]:.6f} {tag}\n"
                               for qid in run for rank, doc in enumerate(ranked(run[qid]), start=1)))


def load_beir(folder: Path, split: str = "test") -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    """BEIR layout: ``corpus.jsonl[.gz]``, ``queries.jsonl``, ``qrels/<split>.tsv``. Only the
    queries named in the split's qrels are returned."""
    corpus_path = next((folder / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (folder / n).exists()), None)
    if corpus_path is None:
        raise EvalDataError(f"{folder}: not a BEIR dataset (no corpus.jsonl or corpus.jsonl.gz)")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        raise EvalDataError(f"{folder}: no qrels/{split}.tsv")
    docs = []
    for n, line in _lines(corpus_path):
        if line.strip():
            try:
                o = json.loads(line)
                docs.append({"_id": str(o["_id"]), "title": o.get("title", ""), "text": o.get("text", "")})
            except (ValueError, KeyError):
                raise EvalDataError(f"{corpus_path}:{n}: expected a JSON object with '_id'") from None
    queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(qrels_path)
    return docs, {q: queries[q] for q in qrels if q in queries}, qrels


def check_consistency(queries: dict[str, str], qrels: dict[str, dict[str, int]], known_docs: set[str]) -> list[str]:
    """Warnings for qrels naming unknown docs, queries without qrels, and qrels without queries."""
    warns = []
    unknown = sorted({d for q in qrels.values() for d in q if d not in known_docs})
    if unknown:
        warns.append(f"{len(unknown)} judged doc ids are not in the index (e.g. {', '.join(unknown[:5])}); they count as never retrieved")
    no_qrels = sorted(set(queries) - set(qrels))
    if no_qrels:
        warns.append(f"{len(no_qrels)} queries have no judgments and are not scored (e.g. {', '.join(no_qrels[:5])})")
    no_query = sorted(set(qrels) - set(queries))
    if no_query:
        warns.append(f"{len(no_query)} judged query ids have no query text and are not scored (e.g. {', '.join(no_query[:5])})")
    if not set(queries) & set(qrels):
        raise EvalDataError("no query id appears in both the queries and the qrels")
    return warns
