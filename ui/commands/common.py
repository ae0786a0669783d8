"""What every command shares: settings from the command line, the common options, progress bars
and the text renderings of questions and hits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def settings_from_args(args):
    """The settings object, with ``--bank``/``--index-dir``/``--chapters`` applied over the environment."""
    from qbank.config import Settings
    from qbank.errors import QbankError

    over = {}
    for name in ("bank", "index_dir", "chapters_dir", "chapters"):
        v = getattr(args, name, None)
        if v is not None:
            over["chapters_dir" if name == "chapters" else name] = Path(v)
    ch = over.get("chapters_dir")
    if ch is not None and not ch.is_dir():  # a folder named on purpose must exist (the default may not)
        raise QbankError(f"--chapters {ch}: no such folder")
    return Settings(**over)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-dir", metavar="DIR", help="index directory (default: data/index, or QBANK_INDEX_DIR)")
    p.add_argument("--bank", metavar="PATH", help="question bank file (default: the shipped data/question_bank.txt)")


def progress_factory(label: str):
    def factory(total: int):
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="chunk", file=sys.stderr, disable=None)
        return bar.update

    return factory


def print_expansions(corpus) -> None:
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


def hit_rows(hits, explain: bool) -> str:
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
