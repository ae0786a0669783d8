"""Study-set exports: :func:`to_markdown` (questions, then an answer key), :func:`to_csv`,
:func:`to_json`, :func:`to_apkg` (an Anki deck; note GUIDs come from question ids, so a re-export
updates the cards). The CLI, the API and the web app all export through :func:`export`."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

from qbank.errors import UnknownNameError
from qbank.records import DIFFICULTY_NAMES, Question
from qbank.retrieval.studyset import StudySet

FORMATS = ("md", "csv", "json", "anki")
MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
               "json": "application/json", "anki": "application/octet-stream"}
EXTENSIONS = {"md": "md", "csv": "csv", "json": "json", "anki": "apkg"}

# A fixed Anki note-type id (a random 31-bit number chosen once): a re-import finds the same note type.
ANKI_MODEL_ID = 1_607_392_319


def _tags(q: Question) -> str:
    return (f"[{q.difficulty}] {DIFFICULTY_NAMES[q.difficulty]} · {'/'.join(q.roles)} · {q.kind} · "
            f"E.{q.section} {q.section_title}" + (f" · Ch. {', '.join(map(str, q.chapters))}" if q.chapters else ""))


def _bulleted(q: Question) -> bool:
    """Rubrics are bullets, except a one-paragraph solution sketch (as `qbank show` prints them)."""
    return len(q.rubric) > 1 or q.rubric_label != "Solution sketch"


def to_markdown(ss: StudySet) -> str:
    """Questions first (to practise cold), then an answer key with each testing note and rubric."""
    topics = ", ".join(ss.spec.topics)
    lines = [f"# Study set: {topics}", "",
             f"{len(ss.items)} questions · about {ss.total_minutes} min · "
             + " ".join(f"{d}:{n}" for d, n in ss.by_difficulty().items()), ""]
    if ss.messages:
        lines += ["> Notes:", *[f"> - {m}" for m in ss.messages], ""]
    lines += ["## Questions", ""]
    for n, it in enumerate(ss.items, start=1):
        q = it.question
        lines.append(f"{n}. **{q.id}** {q.question}  ")
        lines.append(f"   _{_tags(q)} · ~{it.minutes} min_")
    lines += ["", "## Answer key", ""]
    for n, it in enumerate(ss.items, start=1):
        q = it.question
        lines += [f"### {n}. {q.id}", "", q.question, ""]
        if q.testing:
            lines += [f"**{(q.testing_label or 'testing').capitalize()}:** {q.testing}", ""]
        if q.rubric:
            lines.append(f"**{q.rubric_label or 'Rubric'}:**")
            lines += ["", *[f"- {b}" for b in q.rubric]] if _bulleted(q) else ["", q.rubric[0]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


CSV_COLUMNS = ("position", "id", "difficulty", "minutes", "roles", "kind", "section", "section_title", "chapters",
               "companies", "topic", "question", "testing_label", "testing", "rubric_label", "rubric")


def to_csv(ss: StudySet) -> str:
    """One row per question; list fields joined with ``;``, rubric bullets with `` | ``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for n, it in enumerate(ss.items, start=1):
        q = it.question
        w.writerow([n, q.id, q.difficulty, it.minutes, ";".join(q.roles), q.kind, q.section, q.section_title,
                    ";".join(map(str, q.chapters)), ";".join(q.companies), it.topic, q.question, q.testing_label,
                    q.testing, q.rubric_label, " | ".join(q.rubric)])
    return buf.getvalue()


def to_json(ss: StudySet) -> str:
    return json.dumps(ss.to_dict(), indent=1, ensure_ascii=False) + "\n"


def anki_model():
    import genanki

    return genanki.Model(
        ANKI_MODEL_ID, "qbank question",
        fields=[{"name": "Id"}, {"name": "Question"}, {"name": "Tags"}, {"name": "Testing"}, {"name": "Rubric"}],
        templates=[{"name": "Card 1",
                    "qfmt": "<div class=q>{{Question}}</div><div class=tags>{{Id}} · {{Tags}}</div>",
                    "afmt": "{{FrontSide}}<hr id=answer><div class=testing>{{Testing}}</div>{{Rubric}}"}],
        css=".card{font-family:sans-serif;font-size:18px;text-align:left}.tags{color:#666;font-size:13px;"
            "margin-top:8px}.testing{font-style:italic;margin-bottom:8px}",
    )


def deck_name(ss: StudySet) -> str:
    """The default deck: "qbank::" and the set's topics (or the ids it was built around)."""
    about = ", ".join(ss.spec.topics) or ", ".join(it.question.id for it in ss.items if it.reason == "include")
    return f"qbank::{about[:80] or 'study set'}"


def deck_id(name: str) -> int:
    """A deck id that follows the name (31 bits of its sha256): a set exported again under the same
    name updates its deck; another name makes another deck."""
    import hashlib

    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "big") & 0x7FFF_FFFF


def anki_notes(ss: StudySet) -> list:
    import genanki

    model = anki_model()
    notes = []
    for due, it in enumerate(ss.items):  # new cards come in `due` order: the previewed order
        q = it.question
        testing = f"<b>{html.escape((q.testing_label or 'testing').capitalize())}:</b> {html.escape(q.testing)}" \
            if q.testing else ""
        rubric = ""
        if q.rubric:
            body = ("<ul>" + "".join(f"<li>{html.escape(b)}</li>" for b in q.rubric) + "</ul>") if _bulleted(q) \
                else f"<p>{html.escape(q.rubric[0])}</p>"
            rubric = f"<b>{html.escape(q.rubric_label or 'Rubric')}:</b>{body}"
        tags = ["qbank", f"qbank::E{q.section}", f"qbank::difficulty::{q.difficulty}", f"qbank::kind::{q.kind}",
                *(f"qbank::role::{r}" for r in q.roles)]
        notes.append(genanki.Note(model=model, guid=genanki.guid_for(q.id), tags=tags, due=due,
                                  fields=[q.id, html.escape(q.question), html.escape(_tags(q)), testing, rubric]))
    return notes


def to_apkg(ss: StudySet, out: Path | io.BytesIO | None = None, deck: str | None = None) -> bytes | None:
    """Write an Anki package to ``out`` (path or binary file); with no ``out``, return its bytes.

    Note GUIDs are ``genanki.guid_for(question id)`` and the model id is fixed, so importing a later
    export of the same questions updates the cards instead of duplicating them. The deck is ``deck``
    (default :func:`deck_name`), its id derived from the name; cards are due in the set's order.
    """
    import genanki

    name = (deck or "").strip()[:200] or deck_name(ss)
    deck = genanki.Deck(deck_id(name), name)
    for note in anki_notes(ss):
        deck.add_note(note)
    pkg = genanki.Package(deck)
    if out is None:
        buf = io.BytesIO()
        pkg.write_to_file(buf)
        return buf.getvalue()
    pkg.write_to_file(str(out) if isinstance(out, Path) else out)
    return None


def export(ss: StudySet, fmt: str, deck: str | None = None) -> bytes:
    """The set in ``fmt`` (``md``, ``csv``, ``json`` or ``anki``, into the deck ``deck``) as bytes."""
    if fmt == "md":
        return to_markdown(ss).encode("utf-8")
    if fmt == "csv":
        return to_csv(ss).encode("utf-8")
    if fmt == "json":
        return to_json(ss).encode("utf-8")
    if fmt == "anki":
        return to_apkg(ss, deck=deck)  # type: ignore[return-value]
    raise UnknownNameError("format", fmt, FORMATS)


def filename(ss: StudySet, fmt: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(ss.spec.topics).lower()).strip("-")[:40] or "set"
    return f"studyset-{slug}.{EXTENSIONS[fmt]}"
