"""Pseudo-queries written from each question's own material, for training the reranker.

Nothing here reads an evaluation set: the queries come from a question's text, its testing note,
its rubric bullets, its companies and its section's topic. Each generator is a small pure function
``(question, ctx, rng) -> list[PseudoQuery]``; the registry :data:`GENERATORS` names them and
:func:`pseudo_queries` runs them all, seeded per question id, so the output never depends on the
order of the bank or on other questions' randomness.

Two families, mirroring how people type into a search box:

* **short keyword queries** — the most distinctive words of the stem, a rubric bullet or the
  testing note (distinctive = highest IDF over the bank's questions), sometimes with a typo;
* **natural questions** — templates over a key phrase ("how does X work", "X trade-offs",
  "questions about X for inference engineers"), the stem cut down to its first clause, the
  testing note turned into "how do you …", acronym/expansion pairs found in the text.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qbank.records import DIFFICULTY_NAMES, ROLE_NAMES, Question

# words too generic to stand for a question on their own (beyond the tokenizer's stop words)
GENERIC = frozenset(
    """explain describe design walk through what whats how why when would you your does do make use using used
    one two three time way ways good better best thing things difference between versus vs give example
    examples tell talk system systems model models approach problem work works working need needs just like
    implement write build built case cases handle happens happen part parts main key say know want hear
    testing canonical story minute minutes simple basic""".split()
)

WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9’'\-_/.+×]*[A-Za-z0-9+]|[A-Za-z0-9]")
ACRONYM_RE = re.compile(r"\b((?:[A-Z][a-z]+[\s-]){1,5}[A-Z][a-z]+)\s*\(([A-Z][A-Za-z0-9]{1,7})\)")
LEAD_RE = re.compile(r"^(?:what(?:’s|'s| is| are)|how (?:do|does|would|should|can) (?:you|we|it|i)|why (?:do|does|is|are)|"
                     r"explain|describe|walk (?:me )?through|design|implement|write|when (?:do|would|should) you)\s+", re.I)

KEYWORD_KINDS = ("kw_stem", "kw_rubric", "kw_testing", "kw_typo", "acronym")
NATURAL_KINDS = ("phrase_template", "stem_clause", "testing_howto", "topic_phrase", "intent", "company")


@dataclass(frozen=True, slots=True)
class PseudoQuery:
    """A query written from a question's own material; ``doc_id`` is the question it came from."""

    text: str
    doc_id: str
    kind: str  # generator name


@dataclass(frozen=True)
class BankStats:
    """Document frequencies of stemmed terms over the questions (the "distinctive word" signal)."""

    df: dict[str, int]
    n_docs: int

    def idf(self, term: str) -> float:
        return math.log((self.n_docs + 1) / (self.df.get(term, 0) + 0.5))


def question_text(q: Question) -> str:
    return " ".join([q.question, q.testing, *q.rubric])


def bank_stats(questions: Iterable[Question]) -> BankStats:
    from qbank.index.lexical import tokenize

    df: Counter[str] = Counter()
    n = 0
    for q in questions:
        df.update(set(tokenize(question_text(q))))
        n += 1
    return BankStats(dict(df), n)


@functools.lru_cache(maxsize=100_000)
def _terms(word: str) -> tuple[str, ...]:
    from qbank.index.lexical import tokenize

    return tuple(tokenize(word))


def content_words(text: str) -> list[str]:
    """Words of ``text`` as written (punctuation trimmed) that carry a term and are not generic."""
    out = []
    for m in WORD_RE.finditer(text):
        w = m.group().strip(".-/'’")
        if not w or w.lower() in GENERIC or not _terms(w):
            continue
        out.append(w)
    return out


def word_weight(word: str, stats: BankStats) -> float:
    ts = _terms(word)
    return max(stats.idf(t) for t in ts) if ts else 0.0


def top_words(text: str, stats: BankStats, n: int, keep_order: bool = True) -> list[str]:
    """The ``n`` most distinctive content words of ``text`` (first occurrence, original order)."""
    words: dict[str, str] = {}
    for w in content_words(text):
        words.setdefault(w.lower(), w)
    ranked = sorted(words.values(), key=lambda w: (-word_weight(w, stats), w.lower()))[:n]
    if keep_order:
        pos = {w: i for i, w in enumerate(words.values())}
        ranked.sort(key=lambda w: pos[w])
    return ranked


def key_phrases(text: str, stats: BankStats, max_len: int = 3) -> list[str]:
    """Runs of 1..max_len adjacent content words, best (sum of IDF) first."""
    tokens = [m.group().strip(".-/'’") for m in WORD_RE.finditer(text)]
    cands: dict[str, float] = {}
    run: list[str] = []

    def flush():
        for i in range(len(run)):
            for j in range(i + 1, min(len(run), i + max_len) + 1):
                ph = run[i:j]
                score = sum(word_weight(w, stats) for w in ph) + 0.5 * (len(ph) - 1)
                key = " ".join(ph)
                cands[key] = max(cands.get(key, 0.0), score)
        run.clear()

    for t in tokens:
        if t and t.lower() not in GENERIC and _terms(t):
            run.append(t)
        else:
            flush()
    flush()
    return [p for p, _ in sorted(cands.items(), key=lambda x: (-x[1], x[0]))]


def add_typo(word: str, rng: random.Random) -> str:
    """One deletion, swap or doubled letter inside a word of 6+ letters (first letter kept)."""
    if len(word) < 6 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "double"))
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i] + word[i:]


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s[:2].lower() == s[:2] or not s[1:2].isupper() else s


# ------------------------------------------------------------------ generators
# each returns a few candidates; pseudo_queries() samples from the pool

def gen_kw_stem(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    out = []
    for n in (2, 3, 4):
        ws = top_words(q.question, stats, n)
        if ws:
            out.append(" ".join(ws))
    return out


def gen_kw_rubric(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    out = []
    for bullet in q.rubric[:6]:
        ws = top_words(bullet, stats, rng.choice((2, 3, 3, 4)))
        if len(ws) >= 2:
            out.append(" ".join(ws))
    return out


def gen_kw_testing(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    ws = top_words(q.testing, stats, 4)
    if not ws or sum(word_weight(w, stats) for w in ws) < 4.0:  # "memory math": too generic alone
        extra = top_words(q.question, stats, 2)
        ws = [*ws, *[w for w in extra if w not in ws]]
    return [" ".join(ws)] if len(ws) >= 2 else []


def gen_kw_typo(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    ws = top_words(q.question, stats, 3)
    long_ = [i for i, w in enumerate(ws) if len(w) >= 6 and w.isalpha()]
    if not long_:
        return []
    i = rng.choice(long_)
    ws = [add_typo(w, rng) if j == i else w for j, w in enumerate(ws)]
    return [" ".join(w.lower() for w in ws)]


def gen_acronym(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    out = []
    for m in ACRONYM_RE.finditer(question_text(q)):
        out += [m.group(2), m.group(1).lower()]
    return out


def gen_phrase_template(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    phrases = [p for p in key_phrases(q.question, stats) if len(p.split()) >= 2][:3] or key_phrases(q.question, stats)[:2]
    templates = ("how does {p} work", "what is {p}", "{p} trade-offs", "questions about {p}", "when should you use {p}",
                 "why does {p} matter", "explain {p}", "{p} pitfalls", "how to debug {p}", "{p} best practices")
    return [rng.choice(templates).format(p=p.lower() if not p.isupper() else p) for p in phrases]


def gen_stem_clause(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    first = re.split(r"(?<=[?.!;:])\s+|\s+—\s+", q.question.strip())[0]
    first = LEAD_RE.sub("", first).rstrip("?.!;: ")
    words = first.split()
    if len(words) < 3:
        return []
    if len(words) > 9:
        words = words[: rng.randint(6, 9)]
    return [_lower_first(" ".join(words))]


def gen_testing_howto(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    if not q.testing or len(q.testing.split()) < 3:
        return []
    t = re.split(r"[;:(]|\s—\s", q.testing.strip())[0].rstrip(". ")
    t = " ".join(t.split()[:10])
    t = re.sub(r"^(you know|you can|whether you|can you|do you)\s+", "", t, flags=re.I)
    return [rng.choice(("how do you {t}", "{t}", "understanding {t}")).format(t=_lower_first(t))]


def gen_topic_phrase(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    ph = key_phrases(q.question, stats)[:1]
    if not ph or not q.section_title:
        return []
    topic = q.section_title.split("[")[0].strip().lower()
    return [f"{ph[0].lower()} in {topic}"]


def gen_intent(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    ph = (key_phrases(q.testing, stats) or key_phrases(q.question, stats))[:1]
    if not ph:
        return []
    p = ph[0].lower()
    role = ROLE_NAMES.get(q.roles[0], "") if q.roles else ""
    diff = DIFFICULTY_NAMES.get(q.difficulty, "")
    options = [f"{q.kind} questions on {p}", f"{diff} question about {p}"]
    if role:
        options.append(f"{p} for {role} interviews")
    if q.kind == "behavioral":
        options.append(f"behavioral questions about {p}")
    if q.kind == "coding":
        options.append(f"coding exercise {p}")
    if q.kind == "design":
        options.append(f"design a system for {p}")
    return [rng.choice(options)]


def gen_company(q: Question, stats: BankStats, rng: random.Random) -> list[str]:
    ph = key_phrases(q.question, stats)[:1]
    if not q.companies or not ph:
        return []
    return [f"{rng.choice(q.companies)} {ph[0].lower()}"]


GENERATORS: dict[str, Callable[[Question, BankStats, random.Random], list[str]]] = {
    "kw_stem": gen_kw_stem,
    "kw_rubric": gen_kw_rubric,
    "kw_testing": gen_kw_testing,
    "kw_typo": gen_kw_typo,
    "acronym": gen_acronym,
    "phrase_template": gen_phrase_template,
    "stem_clause": gen_stem_clause,
    "testing_howto": gen_testing_howto,
    "topic_phrase": gen_topic_phrase,
    "intent": gen_intent,
    "company": gen_company,
}


def question_rng(seed: int, qid: str) -> random.Random:
    h = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def pseudo_queries(questions: list[Question], per_question: int = 6, seed: int = 13,
                   stats: BankStats | None = None) -> list[PseudoQuery]:
    """Up to ``per_question`` distinct pseudo-queries per question, drawn across generators.

    One candidate from each generator first (in a seeded order), then the rest of the pool, so
    both keyword and natural forms are represented. Deterministic for a given bank and seed.
    """
    stats = stats or bank_stats(questions)
    out: list[PseudoQuery] = []
    for q in questions:
        rng = question_rng(seed, q.id)
        pools = {name: [t for t in gen(q, stats, rng) if t.strip()] for name, gen in GENERATORS.items()}
        names = sorted(pools)
        rng.shuffle(names)
        picked: dict[str, tuple[str, str]] = {}
        order = [(n, t) for n in names for t in pools[n][:1]] + [(n, t) for n in names for t in pools[n][1:]]
        for name, text in order:
            key = " ".join(text.lower().split())
            if len(key) < 3 or key in picked:
                continue
            picked[key] = (" ".join(text.split()), name)
            if len(picked) >= per_question:
                break
        out += [PseudoQuery(t, q.id, n) for t, n in picked.values()]
    return out
