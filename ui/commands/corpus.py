"""Corpus commands: ``qbank ingest``, ``show``, ``chapters`` and ``build``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qbank.ui.commands.common import add_common, format_question, print_expansions, progress_factory, settings_from_args

FORMATS_ONE = ("text", "json")
FORMATS_LIST = ("table", "json")


def cmd_ingest(args) -> int:
    from qbank.ingest.pipeline import ingest, write_corpus

    s = settings_from_args(args)
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
    print_expansions(corpus)
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


def _load_questions(args):
    """Questions for show/chapters: from the index when present (fast), else by parsing the bank."""
    from qbank.ingest.bank import chapter_catalogue, parse_bank

    s = settings_from_args(args)
    bank = parse_bank(Path(args.bank) if args.bank else s.bank)
    return bank, chapter_catalogue(bank)


def cmd_show(args) -> int:
    from qbank.errors import UnknownIdError
    from qbank.records import normalise_id

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


def cmd_build(args) -> int:
    from qbank.retrieval.engine import build

    s = settings_from_args(args)
    corpus, rep = build(s, progress_factory("embedding"))
    for p in corpus.problems:
        print(f"warning: {p}", file=sys.stderr)
    sm = corpus.summary()
    print_expansions(corpus)
    t = rep.seconds
    print(f"indexed {sm['questions']} questions, {sm['passages']} chapter passages → {rep.chunks} chunks "
          f"({rep.vectors} with vectors; of {rep.texts} texts to embed, chunks and whole questions: {rep.embedded} "
          f"embedded now, {rep.texts - rep.embedded} from the cache) "
          f"in {t['total']:.1f} s "
          f"(model {t['load_model']:.1f} s, embed {t['embed']:.1f} s, ANN {t['ann']:.2f} s)")
    print(f"wrote {rep.path}")
    return 0



def register(sub) -> None:
    p = sub.add_parser("ingest", help="parse the bank (and chapter files) into records and chunks (JSONL)")
    add_common(p)
    p.add_argument("--chapters", metavar="DIR", help="folder of chapter files (default: data/chapters)")
    p.add_argument("--out", default="out/ingest", metavar="DIR", help="where to write the JSONL (default: out/ingest)")
    p.add_argument("--format", choices=FORMATS_ONE, default="text")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("show", help="print one question in full")
    add_common(p)
    p.add_argument("id", help="question id, e.g. E12-501")
    p.add_argument("--format", choices=FORMATS_ONE, default="text")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("chapters", help="list the chapter catalogue")
    add_common(p)
    p.add_argument("--format", choices=FORMATS_LIST, default="table")
    p.set_defaults(func=cmd_chapters)

    p = sub.add_parser("build", help="ingest + index (BM25 and dense vectors), with a progress bar")
    add_common(p)
    p.add_argument("--chapters", dest="chapters_dir", metavar="DIR", help="folder of chapter files")
    p.set_defaults(func=cmd_build)
