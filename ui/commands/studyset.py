"""``qbank studyset``: a study set covering topics, as Markdown, CSV, JSON or an Anki deck."""

from __future__ import annotations

import sys
from pathlib import Path

from qbank.errors import InvalidQueryError, QbankError
from qbank.ui.commands.common import add_common, settings_from_args


def cmd_studyset(args) -> int:
    from qbank.retrieval.engine import open_searcher
    from qbank.retrieval.studyset import StudySetSpec, build_study_set
    from qbank.ui.exports import FORMATS, export

    if args.format not in FORMATS:
        raise InvalidQueryError(f"unknown --format {args.format!r}; choose one of: {', '.join(FORMATS)}")
    if args.format == "anki" and not args.out:
        raise InvalidQueryError("--format anki writes a binary .apkg file: give --out FILE")
    spec = StudySetSpec(topics=tuple(args.topic or ()), size=args.size, mix=args.mix, roles=tuple(args.role or ()),
                        sections=tuple(args.section or ()), kinds=tuple(args.kind or ()),
                        include=tuple(args.include or ()), exclude=tuple(args.exclude or ()), minutes=args.minutes,
                        lam=args.lam, dup_threshold=args.dup_threshold)
    if not spec.topics and not spec.include and not args.from_text:
        raise InvalidQueryError("give at least one --topic (e.g. --topic 'KV cache'), --include ID or --from-text FILE")
    searcher = open_searcher(settings_from_args(args))
    if args.from_text:
        from qbank.retrieval.jobplan import extract_plan, plan_spec

        try:
            text = Path(args.from_text).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidQueryError(f"--from-text {args.from_text}: {getattr(e, 'strerror', None) or e}") from None
        plan = extract_plan(searcher, text)
        for t in plan.topics:
            print(f"topic: {t.topic}  ← {', '.join(repr(w) for w in t.words)}", file=sys.stderr)
        print(f"role: {plan.role or 'not said'}" + (f" ({', '.join(plan.role_words)})" if plan.role_words else "")
              + f"; seniority: {plan.seniority}" + (f" ({', '.join(plan.seniority_words)})" if plan.seniority_words
                                                    else "") + f"; mix {plan.mix}", file=sys.stderr)
        for n in plan.notes:
            print(f"note: {n}", file=sys.stderr)
        spec = plan_spec(plan, spec)
        if not spec.topics and not spec.include:
            raise InvalidQueryError(f"--from-text {args.from_text}: no topic the bank covers was found; give --topic")
    ss = build_study_set(searcher, spec)
    data = export(ss, args.format, deck=args.deck)
    for m in ss.messages:
        print(f"note: {m}", file=sys.stderr)
    if args.out:
        from qbank.fileio import write_atomic

        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(out, data)
        except OSError as e:
            raise QbankError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"wrote {len(ss.items)} questions (~{ss.total_minutes} min) to {out}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("studyset", help="build a study set covering topics (Markdown, CSV, JSON or Anki)")
    add_common(p)
    p.add_argument("--topic", action="append", metavar="T", help="a topic (repeatable; every topic gets covered)")
    p.add_argument("--size", type=int, help="number of questions (default: the mix's total, else 12)")
    p.add_argument("--mix", metavar="MIX", help="difficulty mix, e.g. W:2,M:5,H:5")
    p.add_argument("--role", action="append", help="MLE, MLS, AS, RE or INF (repeatable)")
    p.add_argument("--section", action="append", help="section number (repeatable)")
    p.add_argument("--kind", action="append", help="conceptual, design, coding or behavioral (repeatable)")
    p.add_argument("--include", action="append", metavar="ID", help="a question id that must be in the set")
    p.add_argument("--exclude", action="append", metavar="ID", help="a question id that must not be")
    p.add_argument("--minutes", type=int, help="time budget in minutes (W=3, M=8, H=15, S=25 per question)")
    p.add_argument("--lambda", dest="lam", type=float, default=0.7, metavar="L",
                   help="MMR trade-off: 1 = relevance only, 0 = diversity only (default 0.7)")
    p.add_argument("--dup-threshold", type=float, default=0.92,
                   help="cosine at which two questions count as near-duplicates (default 0.92)")
    p.add_argument("--format", default="md", help="md | csv | json | anki (anki needs --out)")
    p.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--deck", metavar="NAME", help="anki: the deck's name (default: qbank::<topics>)")
    p.add_argument("--from-text", metavar="FILE", help="a job description: its topics the bank covers (and a "
                   "difficulty mix from its seniority) go into the set; printed on stderr")
    p.set_defaults(func=cmd_studyset)
