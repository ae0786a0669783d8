"""The labelled query sets, loaded one way for the CLI, the API, the web app and the gate.

A set is a name the repo ships (:data:`NAMED_SETS`) or a pair of files (queries + qrels). The
shipped sets live beside this module; each folder's README says how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from qbank.errors import EvalDataError, UnknownNameError
from qbank.eval.data import read_qrels, read_queries, read_query_categories

HERE = Path(__file__).parent
# name → (folder, title); each folder holds queries.tsv and qrels.tsv
NAMED_SETS: dict[str, tuple[Path, str]] = {
    "golden": (HERE / "golden", "golden set"),
    "heldout": (HERE / "heldout", "held-out paraphrase set"),
    "pasted": (HERE / "pasted", "pasted interview questions"),
    "related": (HERE / "related", "related questions (queries are seed question ids)"),
}
RELATED_SETS = ("related",)  # sets whose queries are seed ids (evaluated with qbank.eval.mlt modes)
DEFAULT_SET = "golden"


@dataclass(frozen=True)
class EvalSet:
    name: str  # shown in reports
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    categories: dict[str, str] = field(default_factory=dict)  # query type per qid, where the file says


def load_eval_set(name: str | None = None, queries: Path | None = None, qrels: Path | None = None,
                  title: str | None = None) -> EvalSet:
    """A shipped set by ``name`` (default: the golden set), or the ``queries`` + ``qrels`` files."""
    if queries is not None or qrels is not None:
        if name is not None:
            raise EvalDataError("give a set name or a queries + qrels pair, not both")
        if queries is None or qrels is None:
            raise EvalDataError("queries and qrels go together")
        for p, what in ((queries, "queries"), (qrels, "qrels")):
            if Path(p).is_dir():
                raise EvalDataError(f"{p}: is a folder; the {what} must be a file")
        return EvalSet(title or Path(queries).name, read_queries(Path(queries)), read_qrels(Path(qrels)),
                       read_query_categories(Path(queries)))
    name = name or DEFAULT_SET
    if name not in NAMED_SETS:
        raise UnknownNameError("query set", name, list(NAMED_SETS))
    folder, label = NAMED_SETS[name]
    q = folder / "queries.tsv"
    return EvalSet(title or label, read_queries(q), read_qrels(folder / "qrels.tsv"), read_query_categories(q))
