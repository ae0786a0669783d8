"""A study plan from a job description: the topics a job ad (or a list of responsibilities) mentions
that the bank covers, the role and seniority it suggests, and the study-set spec that covers them.

How topics are found (no model beyond the search itself, nothing hard-coded per topic):

1. candidate phrases: runs of 1–4 words inside a sentence or bullet, not starting or ending on a stop
   word, whose every BM25 term is in the index's vocabulary and at least one of which is *specific* —
   IDF over whole-question documents ≥ :data:`MIN_IDF` ("team", "experience", "model" are not);
2. each candidate is searched (the default mode) and kept when the best BM25 chunk holds ≥
   :data:`MIN_LEXICAL` of its IDF mass and its nearest chunk is at cosine ≥ :data:`MIN_COSINE`, i.e.
   the bank has questions about *that* ("friendly" is in the bank, but nothing is about it);
3. candidates are taken closest first; one inside or around a taken phrase, or whose top 5 questions
   overlap a taken topic's (Jaccard ≥ 0.5: "tail latency" and "p99"), joins that topic's words;
4. at most :data:`MAX_TOPICS`, in the order the text mentions them.

Each topic carries the words of the text that led to it and its top questions, so a user can see
and edit the list. Role and seniority come from word lists over the text, with the words that decided
them. Measured on helper-written job ads: ``eval/jd/`` (README there has the figures).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qbank.index.lexical import STOPWORDS, WORD_RE, normalise, tokenize
from qbank.records import ROLES

MAX_TOPICS = 10
MAX_WORDS = 4
MIN_IDF = 2.0  # a phrase needs one term at least this rare over the bank's questions
MIN_LEXICAL = 0.8
MIN_COSINE = 0.6  # a topic's phrase must sit this close to a text of the bank (stricter than a "strong" search)
MAX_TEXT_CHARS = 20_000

# evidence for a role: words of the ad (normalised, matched whole) → role
ROLE_WORDS = {
    "INF": ("infrastructure", "platform", "kubernetes", "serving", "inference", "latency", "throughput", "sre",
            "deployment", "mlops", "pipelines", "orchestration"),
    "MLS": ("systems", "distributed", "gpu", "gpus", "cuda", "kernels", "parallelism", "quantization", "compiler",
            "fsdp", "deepspeed"),
    "AS": ("scientist", "experimentation", "a/b", "causal", "statistics", "recommender", "recommendation",
           "ranking", "metrics"),
    "RE": ("research", "researcher", "pretraining", "pre-training", "papers", "publications", "novel"),
    "MLE": ("production", "engineer", "features", "end-to-end", "ship", "product"),
}
SENIORITY = (  # first match wins, most senior first
    ("staff", ("staff", "principal", "distinguished", "architect")),
    ("senior", ("senior", "sr", "lead", "7+", "8+", "10+")),
    ("junior", ("junior", "new grad", "graduate", "entry-level", "entry level", "intern", "0-2")),
)
# words a job ad uses to talk about the job, not about what it is about: a phrase never holds one
# (they are generic for any ad; nothing here names a topic)
JOB_WORDS = frozenset("""
senior junior staff principal lead intern graduate engineer engineers engineering scientist scientists
developer developers researcher role roles team teams experience experienced years year ability able
strong solid deep excellent proven familiarity familiar knowledge understanding proficiency proficient
skills skill background degree bs ms phd plus nice have must required requirements responsibilities
responsible own owning ownership work working build building develop developing apply applying
management manage managing help helping drive driving collaborate collaborating partner partners
closely cross-functional stakeholders company customers users product products world-class exciting
passionate opportunity benefits salary equity remote hybrid office join us we our you your
""".split())
# words every ML ad uses: they may sit inside a topic ("model registry") but never make one alone, and
# the specific term a phrase needs must be another
GENERIC = frozenset("""
machine learning ml ai model models data system systems software tool tools metric metrics pipeline pipelines
production deep large scale scalable modern real-time end-to-end best practices quality performance
""".split())
# words that end one topic and start another inside a sentence ("vLLM and TensorRT-LLM")
SPLIT_WORDS = frozenset({"and", "or", "with", "using", "including", "like", "via", "such", "as", "e.g", "etc",
                         "to", "for", "at", "on", "in", "from", "into", "across", "of"})

MIX_BY_SENIORITY = {"junior": "W:3,M:5,H:2", "mid": "W:2,M:5,H:3", "senior": "W:1,M:4,H:4,S:1",
                    "staff": "M:3,H:5,S:2"}


@dataclass
class PlanTopic:
    topic: str  # the phrase as the text writes it
    words: list[str]  # the words of the text that led to it
    questions: list[str]  # its top questions
    specificity: float  # the phrase's cosine to its nearest bank text
    position: int  # where the text first mentions it

    def to_dict(self) -> dict:
        return {"topic": self.topic, "words": self.words, "questions": self.questions,
                "specificity": round(self.specificity, 3)}


@dataclass
class JobPlan:
    topics: list[PlanTopic]
    role: str | None
    role_words: list[str]
    seniority: str
    seniority_words: list[str]
    mix: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"topics": [t.to_dict() for t in self.topics], "role": self.role, "role_words": self.role_words,
                "seniority": self.seniority, "seniority_words": self.seniority_words, "mix": self.mix,
                "notes": self.notes}


def _segments(text: str) -> list[tuple[int, list[tuple[str, str]]]]:
    """(offset, [(word as written, normalised word)]) per run of words between punctuation, joining
    words (:data:`SPLIT_WORDS`) and job words (:data:`JOB_WORDS`)."""
    out = []
    for m in re.finditer(r"[^\n.;:!?•·,()\[\]]+", text):
        run: list[tuple[str, str]] = []
        start = m.start()
        for w in re.finditer(r"[\w][\w+#./-]*[\w+#]|\w", m.group()):
            raw, norm = w.group(), normalise(w.group())
            if norm in SPLIT_WORDS or norm in JOB_WORDS:
                if run:
                    out.append((start, run))
                run, start = [], m.start() + w.end()
                continue
            run.append((raw, norm))
        if run:
            out.append((start, run))
    return out


def _candidates(text: str, vocab, idf) -> dict[tuple[str, ...], tuple[str, int, float]]:
    """term tuple → (phrase as written, first offset, IDF sum) for every candidate phrase."""
    cands: dict[tuple[str, ...], tuple[str, int, float]] = {}
    for offset, words in _segments(text):
        for n in range(MAX_WORDS, 0, -1):
            for i in range(len(words) - n + 1):
                span = words[i: i + n]
                if span[0][1] in STOPWORDS or span[-1][1] in STOPWORDS or not WORD_RE.fullmatch(span[-1][1]):
                    continue
                terms = tuple(tokenize(" ".join(w for _, w in span)))
                if not terms or any(t not in vocab for t in terms):
                    continue
                spec = sum(idf.get(t, 0.0) for t in dict.fromkeys(terms))
                specific = [t for _, w in span if w not in GENERIC for t in tokenize(w)]
                if max((idf.get(t, 0.0) for t in specific), default=0.0) < MIN_IDF:
                    continue
                key = tuple(sorted(set(terms)))
                if key not in cands:
                    cands[key] = (" ".join(raw for raw, _ in span), offset, spec)
    return cands


def extract_plan(searcher, text: str, max_topics: int = MAX_TOPICS) -> JobPlan:
    """The topics ``text`` mentions that the bank covers, with the role and seniority it suggests."""
    from qbank.errors import InvalidQueryError
    from qbank.retrieval.modes import DEFAULT_MODE

    text = (text or "").strip()
    if not text:
        raise InvalidQueryError("the job description is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidQueryError(f"the job description is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}")
    idx = searcher.index
    mode = DEFAULT_MODE if idx.has_dense else "bm25"
    scored = []
    for key, (phrase, offset, spec) in _candidates(text, idx.bm25.vocabulary, idx.question_bm25.idf).items():
        res = searcher.search(phrase, 5, mode)
        cos, lex = res.match_signals.get("cosine"), res.match_signals.get("lexical") or 0.0
        if not res.hits or lex < MIN_LEXICAL or (cos is not None and cos < MIN_COSINE):
            continue
        # how squarely the bank is about the phrase: the cosine to its nearest text (BM25-only: IDF)
        scored.append((cos if cos is not None else spec / 100, spec, key, phrase, offset, [h.id for h in res.hits]))
    found: list[PlanTopic] = []
    keys: list[set[str]] = []
    for cos, _spec, key, phrase, offset, top in sorted(scored, key=lambda x: (-x[0], -x[1], x[4])):
        near = next((i for i, k in enumerate(keys) if set(key) <= k or k <= set(key)), None)
        if near is None:  # the same questions under other words ("tail latency", "p99") are one topic
            near = next((i for i, t in enumerate(found)
                         if len(set(t.questions) & set(top)) / len(set(t.questions) | set(top)) >= 0.5), None)
        if near is not None:
            t = found[near]
            t.words = list(dict.fromkeys([*t.words, phrase]))
            t.position = min(t.position, offset)
            continue
        if len(found) >= max_topics:
            continue
        found.append(PlanTopic(phrase, [phrase], top, cos, offset))
        keys.append(set(key))
    found.sort(key=lambda t: t.position)
    role, role_words = _role(text)
    seniority, seniority_words = _seniority(text)
    notes = [] if found else ["no topic of the text matched the bank closely: add topics by hand"]
    return JobPlan(found, role, role_words, seniority, seniority_words, MIX_BY_SENIORITY[seniority], notes)


def _words_of(text: str) -> list[str]:
    return [normalise(w) for w in re.findall(r"[\w][\w+/-]*", text)]


def _role(text: str) -> tuple[str | None, list[str]]:
    words = _words_of(text)
    seen: dict[str, list[str]] = {}
    for role in ROLES:
        hits = [w for w in words if w in ROLE_WORDS[role]]
        if hits:
            seen[role] = hits
    if not seen:
        return None, []
    best = max(seen, key=lambda r: (len(seen[r]), -ROLES.index(r)))
    return best, list(dict.fromkeys(seen[best]))


def _seniority(text: str) -> tuple[str, list[str]]:
    """From the title (the first non-empty line) when it says; else from the whole text, most senior
    first ("mentored by senior engineers" in a new-grad ad does not make it senior: its title says)."""
    title = next((line for line in text.splitlines() if line.strip()), "")
    for part in (normalise(title), normalise(text)):
        for level, words in SENIORITY:
            hits = [w for w in words if re.search(rf"(?<![\w+]){re.escape(w)}(?![\w])", part)]
            if hits:
                return level, hits
    return "mid", []


def plan_spec(plan: JobPlan, spec):
    """``spec`` (a :class:`~qbank.retrieval.studyset.StudySetSpec`) with the plan's topics added and,
    where the spec leaves them open, the plan's difficulty mix (by seniority)."""
    from dataclasses import replace

    topics = tuple(dict.fromkeys([*spec.topics, *(t.topic for t in plan.topics)]))
    mix = spec.mix if spec.mix else plan.mix
    size = spec.size
    if size is None and not spec.mix:
        from qbank.retrieval.studyset import parse_mix

        size = max(sum(parse_mix(plan.mix).values()), len(topics))
    return replace(spec, topics=topics, mix=mix, size=size)
