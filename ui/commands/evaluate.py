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
    from qbank.eval.mlt import DEFAULT_RELATED_MODES, RELATED_MODES
    from qbank.eval.sets import RELATED_SETS
    from qbank.retrieval.modes import EVAL_DEFAULT_MODES, parse_modes
    from qbank.retrieval.rerank import reranker_available

    related_set = args.set in RELATED_SETS
    text = args.mode or ",".join(DEFAULT_RELATED_MODES if related_set else EVAL_DEFAULT_MODES)
    wanted = [m.strip() for m in text.split(",") if m.strip()]
    if related_set or (wanted and all(m in RELATED_MODES for m in wanted)):
        if not related_set and not (args.queries and args.qrels):
            raise EvalDataError("related modes take a related set: --set related, or --queries/--qrels whose "
                                "queries are question ids")
        bad = [m for m in wanted if m not in RELATED_MODES]
        if bad or not wanted:
            raise EvalDataError(f"the {args.set or 'given'} set's queries are question ids: use --mode "
                                f"{','.join(RELATED_MODES)} (got {', '.join(bad) or 'none'})")
        modes = list(dict.fromkeys(wanted))
    else:
        modes = parse_modes(text, reranker_available(s))
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
    p.add_argument("--set", metavar="NAME",
                   help="a shipped query set: golden (default), heldout, pasted or related (seed ids; modes related,mlt)")
    p.add_argument("--queries", metavar="F", help="queries: TSV 'qid<TAB>text' or JSONL (default: the golden set)")
    p.add_argument("--qrels", metavar="F", help="TREC qrels 'qid 0 doc grade' or BEIR TSV")
    p.add_argument("--dataset", metavar="DIR", help="a BEIR dataset folder (indexed into its own index)")
    p.add_argument("--split", default="test", help="BEIR qrels split (default test)")
    p.add_argument("--mode", help="comma-separated modes, or 'all' (default bm25,dense,hybrid; "
                   "on the related set related,mlt)")
    p.add_argument("--k", type=int, default=100, help="depth of each run (default 100)")
    p.add_argument("--out", metavar="DIR", help="write TREC runs and JSON/Markdown reports here")
    p.add_argument("--format", choices=("md", "json"), default="md")
    p.add_argument("--build", action="store_true", help="build the bank index first if it is missing")
    p.set_defaults(func=cmd_eval)
