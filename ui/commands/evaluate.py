"""``qbank eval``: retrieval modes side by side on a labelled query set."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbank.errors import EvalDataError
from qbank.ui.commands.common import add_common, progress_factory, settings_from_args


def cmd_eval(args) -> int:
    from qbank.eval.runner import evaluate_modes

    s = settings_from_args(args)
    if args.dataset and (args.queries or args.qrels):
        raise EvalDataError("give either --dataset DIR or --queries F --qrels F, not both")
    if args.set and (args.queries or args.qrels or args.dataset):
        raise EvalDataError("give --set NAME, --queries F --qrels F or --dataset DIR, one of them")
    if bool(args.queries) != bool(args.qrels):
        raise EvalDataError("--queries and --qrels go together")
    from qbank.retrieval.modes import parse_modes
    from qbank.retrieval.rerank import reranker_available

    modes = parse_modes(args.mode, reranker_available(s))
    if args.dataset:
        from qbank.eval.beir import beir_searcher

        folder = Path(args.dataset)
        dense = any(m != "bm25" for m in modes)
        searcher, queries, qrels = beir_searcher(folder, s, dense, progress_factory("embedding"), args.split)
        name, questions, categories = f"BEIR {folder.resolve().name} ({args.split})", None, None
    else:
        from qbank.eval.sets import load_eval_set
        from qbank.retrieval.engine import open_searcher

        es = load_eval_set(args.set, Path(args.queries) if args.queries else None,
                           Path(args.qrels) if args.qrels else None)
        queries, qrels, name, categories = es.queries, es.qrels, es.name, es.categories
        searcher = open_searcher(s, build_if_missing=args.build)
        questions = searcher.index.question_by_id
    from tqdm import tqdm

    bar = tqdm(total=len(queries) * len(modes), desc="evaluating", unit="query", file=sys.stderr, disable=None)
    report = evaluate_modes(searcher, queries, qrels, modes, name, k=args.k, questions=questions, progress=bar.update,
                            categories=categories)
    bar.close()
    for w in report.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.out:
        files = report.write(Path(args.out))
        print(f"wrote {', '.join(str(p) for p in files.values())}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps({k: v for k, v in report.to_dict().items() if k != "per_query"}, indent=1))
    else:
        print(report.markdown())
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate retrieval modes side by side (golden set, TREC pair or BEIR dataset)")
    add_common(p)
    p.add_argument("--set", metavar="NAME", help="a shipped query set: golden (default), heldout or pasted")
    p.add_argument("--queries", metavar="F", help="queries: TSV 'qid<TAB>text' or JSONL (default: the golden set)")
    p.add_argument("--qrels", metavar="F", help="TREC qrels 'qid 0 doc grade' or BEIR TSV")
    p.add_argument("--dataset", metavar="DIR", help="a BEIR dataset folder (indexed into its own index)")
    p.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    p.add_argument("--mode", default="bm25,dense,hybrid", help="comma-separated modes, or 'all'")
    p.add_argument("--k", type=int, default=100, help="depth of each run (default 100)")
    p.add_argument("--out", metavar="DIR", help="write TREC runs and JSON/Markdown reports here")
    p.add_argument("--format", choices=("md", "json"), default="md")
    p.add_argument("--build", action="store_true", help="build the bank index first if it is missing")
    p.set_defaults(func=cmd_eval)
