"""The co-relevance graph of the judged data: ``python -m qbank.training.corelevance`` writes
``data/training/corelevance.json`` from ``queries.tsv`` and ``qrels.tsv``.

Two bank questions are linked when the judge graded both relevant (1 or 2) to the same training
query; an edge weighs the sum, over those queries, of the product of the two grades (2·2 = 4 for
two questions squarely about one query, 1 for two merely related ones). Intent queries ("design
questions for an infra role") are left out: they group questions by kind, not by topic. Both the
train and dev queries contribute (the graph is a fact about the bank, not a model fitted on a
split); related questions are evaluated on ``eval/related``, judged separately.

The file also records a hash of each judged question's full text (:func:`qbank.index.related.text_hash`)
so that an index built over an edited bank uses only the edges whose questions are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

from qbank.index.related import CORELEVANCE_KIND, CORELEVANCE_SCHEMA, text_hash
from qbank.records import Question
from qbank.training.data import TRAINING_DIR, TrainingData, load_training_data

SKIP_STYLES = ("intent",)


def corelevance_graph(data: TrainingData, questions: list[Question]) -> dict:
    """The graph as the JSON object :func:`qbank.index.related.read_corelevance` reads."""
    known = {q.id for q in questions}
    edges: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    used = 0
    for qid in sorted(data.queries):
        if data.queries[qid].style in SKIP_STYLES:
            continue
        rel = sorted((d, g) for d, g in data.qrels[qid].items() if g > 0 and d in known)
        if len(rel) < 2:
            continue
        used += 1
        for a, ga in rel:
            for b, gb in rel:
                if a != b:
                    edges[a][b] += ga * gb
    return {
        "kind": CORELEVANCE_KIND, "schema": CORELEVANCE_SCHEMA,
        "made_from": {"queries": used, "skipped_styles": list(SKIP_STYLES),
                      "weight": "sum over training queries of grade(a) * grade(b), both graded >= 1"},
        "questions": {q.id: text_hash(q) for q in sorted(questions, key=lambda q: (q.section, q.number))},
        "edges": {a: dict(sorted(nb.items(), key=lambda x: (-x[1], x[0]))) for a, nb in sorted(edges.items())},
    }


def write_corelevance(out: Path, data: TrainingData, questions: list[Question]) -> dict:
    graph = corelevance_graph(data, questions)
    text = json.dumps(graph, ensure_ascii=False, indent=0, sort_keys=False) + "\n"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return {"file": str(out), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
            "questions": len(graph["questions"]), "linked": len(graph["edges"]),
            "edges": sum(len(v) for v in graph["edges"].values()) // 2, "queries": graph["made_from"]["queries"]}


def main(argv: list[str] | None = None) -> int:
    from qbank.config import Settings
    from qbank.ingest.pipeline import ingest

    settings = Settings()
    questions = ingest(settings).questions
    stats = write_corelevance(TRAINING_DIR / "corelevance.json", load_training_data(), questions)
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
