"""The ``qbank`` command line. Heavy libraries load only in the commands that need them."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import qbank
from qbank.errors import QbankError

FORMATS_ONE = ("text", "json")
FORMATS_LIST = ("table", "json")


def _settings(args):
    from qbank.config import Settings

    over = {}
    for name in ("bank", "index_dir", "chapters_dir"):
        v = getattr(args, name, None)
        if v is not None:
            over[name] = Path(v)
    return Settings(**over)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-dir", metavar="DIR", help="index directory (default: data/index, or QBANK_INDEX_DIR)")
    p.add_argument("--bank", metavar="PATH", help="question bank file (default: the shipped data/question_bank.txt)")


def _progress_factory(label: str):
    def factory(total: int):
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="chunk", file=sys.stderr, disable=None)
        return bar.update

    return factory


# ---------------------------------------------------------------------------- ingest / show / chapters
def cmd_ingest(args) -> int:
    from qbank.ingest.pipeline import ingest, write_corpus

    s = _settings(args)
    corpus = ingest(s, Path(args.bank) if args.bank else None, Path(args.chapters) if args.chapters else None)
    for p in corpus.problems:
        print(f"warning: {p}", file=sys.stderr)
    files = write_corpus(corpus, Path(args.out))
    sm = corpus.summary()
    if args.format == "json":
        print(json.dumps({**sm, "files": {k: str(v) for k, v in files.items()}}, indent=2))
        return 0
    print(f"{sm['questions']} questions kept of {sm['question_lines']} question lines"
          f" ({sm['skipped']} skipped, {sm['warnings']} warnings) from {corpus.bank_path}")
    print(f"{sm['cited_chapters']} cited chapters; {sm['chapter_files']} chapter files → {sm['passages']} passages;"
          f" {sm['chunks']} chunks")
    print("by section:    " + "  ".join(f"E.{k}:{v}" for k, v in sm["by_section"].items()))
    print("by kind:       " + "  ".join(f"{k}:{v}" for k, v in sm["by_kind"].items()))
    print("by difficulty: " + "  ".join(f"{k}:{v}" for k, v in sm["by_difficulty"].items()))
    _print_expansions(corpus)
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


def _print_expansions(corpus) -> None:
    e = corpus.expansions
    if e is None:
        return
    sm = e.summary()
    print(f"expansions:    {sm['queries']} sample queries for {sm['questions']} questions from {e.path}")
    if e.stale:
        print(f"warning: {len(e.stale)} questions changed since their sample queries were written; their queries are "
              f"left out until rewritten ({', '.join(e.stale[:5])}{' …' if len(e.stale) > 5 else ''})", file=sys.stderr)
    if e.unknown:
        print(f"warning: {len(e.unknown)} ids in {e.path} are not in the bank ({', '.join(e.unknown[:5])}"
              f"{' …' if len(e.unknown) > 5 else ''})", file=sys.stderr)


def _load_questions(args):
    """Questions for show/chapters: from the index when present (fast), else by parsing the bank."""
    from qbank.ingest.bank import chapter_catalogue, parse_bank

    s = _settings(args)
    bank = parse_bank(Path(args.bank) if args.bank else s.bank)
    return bank, chapter_catalogue(bank)


def format_question(q) -> str:
    from qbank.records import DIFFICULTY_NAMES, ROLE_NAMES

    lines = [f"{q.id}  [{q.difficulty}] {DIFFICULTY_NAMES[q.difficulty]} · "
             f"{', '.join(f'{r} ({ROLE_NAMES[r]})' for r in q.roles)} · {q.kind}",
             f"E.{q.section} {q.section_title}" + (f" · Chapter{'s' if len(q.chapters) > 1 else ''} {', '.join(map(str, q.chapters))}" if q.chapters else ""),
             "", q.question, ""]
    if q.testing:
        lines.append(f"{q.testing_label.capitalize()}: {q.testing}")
    if q.companies:
        lines.append(f"Companies: {', '.join(q.companies)}")
    if q.rubric:
        lines += ["", f"{q.rubric_label}:"]
        lines += [f"  • {b}" for b in q.rubric] if len(q.rubric) > 1 or q.rubric_label != "Solution sketch" else [f"  {q.rubric[0]}"]
    lines.append(f"\n(line {q.line})")
    return "\n".join(lines)


def cmd_show(args) -> int:
    from qbank.retrieval.searcher import normalise_id

    from qbank.errors import UnknownIdError

    bank, _ = _load_questions(args)
    qid = normalise_id(args.id)
    q = bank.by_id().get(qid)
    if q is None:
        raise UnknownIdError(f"unknown question id {args.id!r}; ids look like E5-193 (sections 1–"
                             f"{max(s.number for s in bank.sections)})")
    print(json.dumps(q.to_dict(), indent=2, ensure_ascii=False) if args.format == "json" else format_question(q))
    return 0


def cmd_chapters(args) -> int:
    _, cat = _load_questions(args)
    if args.format == "json":
        print(json.dumps([c.to_dict() for c in cat], indent=2, ensure_ascii=False))
        return 0
    print(f"{'ch':>4}  {'section':<40} {'cited by':>8}  questions")
    for c in cat:
        sec = f"E.{c.section} {c.section_title}" if c.section else "(no section range)"
        out_of_range = [s for s in c.cited_from_sections if s != c.section]
        note = f"  [also cited from E.{', E.'.join(map(str, out_of_range))}]" if out_of_range else ""
        ids = " ".join(c.cited_by[:6]) + (" …" if len(c.cited_by) > 6 else "")
        print(f"{c.number:>4}  {sec[:40]:<40} {len(c.cited_by):>8}  {ids}{note}")
    print(f"{len(cat)} chapters; {sum(1 for c in cat if c.cited_by)} cited")
    return 0


# ---------------------------------------------------------------------------- build / search / related
def cmd_build(args) -> int:
    from qbank.retrieval.engine import build

    s = _settings(args)
    corpus, rep = build(s, _progress_factory("embedding"))
    for p in corpus.problems:
        print(f"warning: {p}", file=sys.stderr)
    sm = corpus.summary()
    _print_expansions(corpus)
    t = rep.seconds
    print(f"indexed {sm['questions']} questions, {sm['passages']} chapter passages → {rep.chunks} chunks "
          f"({rep.vectors} with vectors: {rep.embedded} embedded now, {rep.vectors - rep.embedded} from the cache) "
          f"in {t['total']:.1f} s "
          f"(model {t['load_model']:.1f} s, embed {t['embed']:.1f} s, ANN {t['ann']:.2f} s)")
    print(f"wrote {rep.path}")
    if getattr(args, "with_reranker", False):
        from qbank.retrieval.rerank import train_default_reranker

        train_default_reranker(s)
    return 0


def _filters(args, searcher):
    return searcher.parse_filters(difficulty=args.difficulty, role=args.role, section=args.section,
                                  chapter=args.chapter, kind=args.kind, company=args.company)


def _hit_rows(hits, explain: bool) -> str:
    lines = []
    for h in hits:
        legs = " ".join(f"{n}:{v.rank if v.rank else '-'}" for n, v in h.legs.items())
        if h.question is not None:
            q = h.question
            head = f"{h.rank:>3}. {h.id:<8} [{q.difficulty}][{'/'.join(q.roles)}] {q.kind:<10} {h.score:8.4f}  {legs}"
            text = q.question
        else:
            p = h.passage
            head = f"{h.rank:>3}. {h.id:<8} [chapter {p.chapter}] passage    {h.score:8.4f}  {legs}"
            text = " › ".join(p.heading_path) or p.text[:100]
        lines.append(head)
        lines.append(f"       {text}")
        if explain:
            lines.append(f"       matched {h.chunk_id} ({h.chunk_field}): {h.chunk_text[:160]}")
            if h.highlights:
                lines.append(f"       terms: {', '.join(h.highlights)}")
    return "\n".join(lines)


def read_queries_file(path: Path) -> list[tuple[str, str]]:
    from qbank.eval.data import read_queries

    return list(read_queries(path).items())


def cmd_search(args) -> int:
    from qbank.retrieval.engine import open_searcher

    from qbank.errors import InvalidQueryError

    if args.format not in (("table", "json", "trec") if args.queries else FORMATS_LIST):
        raise InvalidQueryError(f"--format {args.format} needs {'--queries' if args.format == 'trec' else 'table|json|trec'}")
    if not args.queries and args.query is None:
        raise InvalidQueryError("give a QUERY or --queries FILE")
    s = _settings(args)
    searcher = open_searcher(s)
    filters = _filters(args, searcher)
    if args.queries:
        queries = read_queries_file(Path(args.queries))
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
        try:
            for qid, text in queries:
                res = searcher.search(text, args.k, args.mode, filters)
                if args.format == "trec":
                    for h in res.hits:
                        out.write(f"{qid} Q0 {h.id} {h.rank} {h.score:.6f} qbank-{args.mode}\n")
                elif args.format == "json":
                    out.write(json.dumps({"qid": qid, **res.to_dict()}, ensure_ascii=False) + "\n")
                else:
                    out.write(f"# {qid}: {text}\n{_hit_rows(res.hits, args.explain)}\n")
        finally:
            if args.out:
                out.close()
        if args.out:
            print(f"wrote {len(queries)} queries to {args.out}", file=sys.stderr)
        return 0
    res = searcher.search(args.query, args.k, args.mode, filters)
    if args.format == "json":
        print(json.dumps([h.to_dict() for h in res.hits], indent=2, ensure_ascii=False))
    else:
        if res.hits:
            print(_hit_rows(res.hits, args.explain))
        t = res.timings_ms
        print(f"({len(res.hits)} hits, {args.mode}, {t['total']:.1f} ms"
              + (f"; {res.message}" if res.message else "") + ")", file=sys.stderr)
    if not res.hits and res.message:
        print(f"note: {res.message}", file=sys.stderr)
    return 0


def cmd_related(args) -> int:
    from qbank.retrieval.engine import open_searcher

    searcher = open_searcher(_settings(args))
    hits = searcher.related(args.id, args.k)
    if args.format == "json":
        print(json.dumps([h.to_dict() for h in hits], indent=2, ensure_ascii=False))
    else:
        print(_hit_rows(hits, False))
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qbank", description="Search a bank of ML-systems interview questions.")
    ap.add_argument("--version", action="version", version=f"qbank {qbank.__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="parse the bank (and chapter files) into records and chunks (JSONL)")
    _add_common(p)
    p.add_argument("--chapters", metavar="DIR", help="folder of chapter files (default: data/chapters)")
    p.add_argument("--out", default="out/ingest", metavar="DIR", help="where to write the JSONL (default: out/ingest)")
    p.add_argument("--format", choices=FORMATS_ONE, default="text")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("show", help="print one question in full")
    _add_common(p)
    p.add_argument("id", help="question id, e.g. E12-501")
    p.add_argument("--format", choices=FORMATS_ONE, default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("chapters", help="list the chapter catalogue")
    _add_common(p)
    p.add_argument("--format", choices=FORMATS_LIST, default="table")
    p.set_defaults(func=cmd_chapters)

    p = sub.add_parser("build", help="ingest + index (BM25 and dense vectors), with a progress bar")
    _add_common(p)
    p.add_argument("--chapters", dest="chapters_dir", metavar="DIR", help="folder of chapter files")
    p.add_argument("--with-reranker", action="store_true", help="also train the offline reranker (minutes)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("search", help="search the bank")
    _add_common(p)
    p.add_argument("query", nargs="?", help="free text")
    p.add_argument("--queries", metavar="FILE", help="many queries: TSV 'qid<TAB>text' or JSONL {_id|qid, text}")
    p.add_argument("--out", metavar="FILE", help="with --queries: write here instead of stdout")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--mode", default="hybrid", help="bm25 | dense | hybrid | full (default hybrid)")
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
    _add_common(p)
    p.add_argument("id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--format", choices=FORMATS_LIST, default="table")
    p.set_defaults(func=cmd_related)

    from qbank.ui import cli_more

    cli_more.register(sub, _add_common)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not getattr(args, "func", None):
        ap.print_help()
        return 0
    try:
        return args.func(args) or 0
    except QbankError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the CLI never shows a traceback unless asked
        if os.environ.get("QBANK_DEBUG"):
            raise
        print(f"error: internal error: {type(e).__name__}: {e} (set QBANK_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
