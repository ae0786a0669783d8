"""Search commands: ``qbank search`` (one query, or a file of them) and ``related``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbank.retrieval.modes import DEFAULT_MODE, MODE_NAMES
from qbank.ui.commands.common import add_common, hit_rows, settings_from_args

FORMATS_LIST = ("table", "json")


def _filters(args, searcher):
    return searcher.parse_filters(difficulty=args.difficulty, role=args.role, section=args.section,
                                  chapter=args.chapter, kind=args.kind, company=args.company)


def read_queries_file(path: Path) -> list[tuple[str, str]]:
    from qbank.eval.data import read_queries

    return list(read_queries(path).items())


def cmd_search(args) -> int:
    from qbank.errors import InvalidQueryError
    from qbank.retrieval.engine import open_searcher

    if args.format not in (("table", "json", "trec") if args.queries else FORMATS_LIST):
        raise InvalidQueryError(f"--format {args.format} needs {'--queries' if args.format == 'trec' else 'table|json|trec'}")
    if not args.queries and args.query is None:
        raise InvalidQueryError("give a QUERY or --queries FILE")
    s = settings_from_args(args)
    searcher = open_searcher(s)
    filters = _filters(args, searcher)
    if args.queries:
        queries = read_queries_file(Path(args.queries))
        for qid, text in queries:  # every query checked before anything is written
            try:
                searcher.check_query(text, args.k)
            except InvalidQueryError as e:
                raise InvalidQueryError(f"{args.queries}: query {qid!r}: {e}") from None
        parts = []
        for qid, text in queries:
            res = searcher.search(text, args.k, args.mode, filters)
            if args.format == "trec":
                parts += [f"{qid} Q0 {h.id} {h.rank} {h.score:.6f} qbank-{args.mode}\n" for h in res.hits]
            elif args.format == "json":
                parts.append(json.dumps({"qid": qid, **res.to_dict()}, ensure_ascii=False) + "\n")
            else:
                parts.append(f"# {qid}: {text}\n{hit_rows(res.hits, args.explain)}\n")
        if args.out:  # written beside its target and renamed: never a truncated file
            from qbank.fileio import write_atomic

            write_atomic(Path(args.out), "".join(parts))
        else:
            sys.stdout.write("".join(parts))
        if args.out:
            print(f"wrote {len(queries)} queries to {args.out}", file=sys.stderr)
        return 0
    res = searcher.search(args.query, args.k, args.mode, filters)
    if args.format == "json":
        print(json.dumps(res.to_dict(), indent=2, ensure_ascii=False))
    else:
        if res.hits:
            print(hit_rows(res.hits, args.explain))
        t = res.timings_ms
        print(f"({len(res.hits)} hits, {args.mode}, {t['total']:.1f} ms"
              + (f"; {res.message}" if res.message else "") + ")", file=sys.stderr)
        from qbank.retrieval.confidence import match_notes

        for line in match_notes(res.match, res.corrected_query, bool(res.filters), bool(res.hits), res.relax):
            print(f"note: {line}", file=sys.stderr)
    if not res.hits and res.message:
        print(f"note: {res.message}", file=sys.stderr)
    return 0


def cmd_related(args) -> int:
    from qbank.retrieval.engine import open_searcher

    searcher = open_searcher(settings_from_args(args))
    hits = searcher.related(args.id, args.k)
    if args.format == "json":
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
    else:
        print(hit_rows(hits, False))
    return 0



def register(sub) -> None:
    p = sub.add_parser("search", help="search the bank")
    add_common(p)
    p.add_argument("query", nargs="?", help="free text")
    p.add_argument("--queries", metavar="FILE", help="many queries: TSV 'qid<TAB>text' or JSONL {_id|qid, text}")
    p.add_argument("--out", metavar="FILE", help="with --queries: write here instead of stdout")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", default=DEFAULT_MODE, help=f"{' | '.join(MODE_NAMES)} (default {DEFAULT_MODE})")
    p.add_argument("--difficulty", action="append", help="W, M, H or S (repeatable, or comma-separated)")
    p.add_argument("--role", action="append", help="MLE, MLS, AS, RE or INF")
    p.add_argument("--section", action="append", help="section number, e.g. 5")
    p.add_argument("--chapter", action="append", help="chapter number, e.g. 59")
    p.add_argument("--kind", action="append", help="conceptual, design, coding or behavioral")
    p.add_argument("--company", action="append", help="a company named in the bank, e.g. Meta")
    p.add_argument("--format", default="table", help="table | json | trec (trec with --queries)")
    p.add_argument("--explain", action="store_true", help="show the matching chunk and terms of each hit")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("related", help="questions most related to one question")
    add_common(p)
    p.add_argument("id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--format", choices=FORMATS_LIST, default="table")
    p.set_defaults(func=cmd_related)
