"""What a query says about the *type* of question wanted, beside its topic.

"coding questions about caches", "behavioral question about a conflict", "hard kubernetes
questions", "warm-up questions on tokenization", "KV cache questions for an infra engineer": the
words name a kind, a difficulty or a role. Hybrid
search turns a detected intent into a third RRF leg (the fused list restricted to matching
questions), a soft preference: matching questions rise, the others stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qbank.records import Question

KIND_PATTERNS = {
    # "code" as a verb or the thing asked for: "code a ring that …", "how would I code …", "code that
    # rotates …", "write code …", "in PyTorch", a keyword query ending in "code"; not "code review",
    # "generated code", "code execution agent" (a noun among others)
    "coding": r"\bcoding\b|\bcode\s+(?:question|interview|exercise|problem)s?\b|\bimplement(?:ation)?s?\b|\bfrom scratch\b"
              r"|\bwrite (?:a|an|the)\b|\bcode (?:a|an|the|up|that)\b|\b(?:how (?:do|would|can|should|to) (?:i |you |we )?)code\b"
              r"|\bwrite (?:some |the )?code\b|\bin (?:python|numpy|pytorch|torch|jax|c\+\+|cuda)\b|^(?:\S+\s+){1,6}code\W*$",
    "behavioral": r"\bbehaviou?ral\b|\btell me about a time\b|\bstor(?:y|ies)\b|\bsoft skills?\b|\bleadership\b",
    "conceptual": r"\bconceptual\b",
    "design": r"\bsystem[- ]design\b|\bdesign (?:question|interview|problem|exercise)s?\b|\bdesign (?:a|an)\b",
}
DIFFICULTY_PATTERNS = {
    "W": r"\bwarm[- ]?ups?\b|\beasy\b|\bbasic\b|\bbeginner\b|\bintro(?:ductory)?\b",
    "M": r"\bmedium\b|\bintermediate\b",
    "H": r"\bhard\b|\bdifficult\b|\badvanced\b|\btough\b|\bsenior\b",
    "S": r"\bstretch\b|\bphd\b|\bresearch[- ]level\b",
}

# the bank's role tags, named the way people write them; the short tags AS and RE are ordinary
# words, so only their long names count
ROLE_PATTERNS = {
    "MLE": r"\bmles?\b|\bml engineer(?:s|ing)?\b|\bmachine[- ]learning engineer(?:s|ing)?\b",
    "MLS": r"\bmls\b|\bml[- ]systems? engineer(?:s|ing)?\b|\bmachine[- ]learning systems? engineer(?:s|ing)?\b",
    "AS": r"\bapplied scien(?:tists?|ce)\b",
    "RE": r"\bresearch engineer(?:s|ing)?\b",
    "INF": r"\b(?:for (?:an? |the )?)?infra(?:structure)?[- ](?:engineer(?:s|ing)?|roles?|interviews?|candidates?"
           r"|loops?|positions?|teams?)\b|\bfor (?:an? |the )?infra(?:structure)?\b|\bsres?\b|\bplatform engineer(?:s|ing)?\b",
}

# a longer text is a pasted question, where "hard to adopt" or "a basic check" names no difficulty
INTENT_MAX_WORDS = 25
# a short query naming a type is searched for its topic: "medium conceptual question on dropout for an
# MLE" → "medium on dropout" (role tags are in no question's text; they go to the intent leg, not to
# BM25 and the encoder). Kind words other than "conceptual" stay ("story", "implement", "design a" are
# also how such questions are worded), and so do difficulty words (a warm-up is about the basics; the
# judged dev and train splits could not tell keeping them from dropping them: 0.9048 / 0.9129 against
# 0.9054 / 0.9124 learned nDCG@10)
TOPIC_MAX_WORDS = 15
_TYPE_WORDS = [*ROLE_PATTERNS.values(), KIND_PATTERNS["conceptual"], r"\bquestions?\b", r"\binterviews?\b"]


@dataclass(frozen=True, slots=True)
class Intent:
    kinds: tuple[str, ...] = ()
    difficulties: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kinds or self.difficulties or self.roles)

    def accepts(self, q: Question | None) -> bool:
        if q is None:
            return False
        return (not self.kinds or q.kind in self.kinds) and (not self.difficulties or q.difficulty in self.difficulties) \
            and (not self.roles or not set(self.roles).isdisjoint(q.roles))

    def to_dict(self) -> dict:
        return {"kinds": list(self.kinds), "difficulties": list(self.difficulties), "roles": list(self.roles)}


def detect_intent(query: str) -> Intent:
    """``detect_intent("hard coding questions about LRU caches")`` → kinds=('coding',), difficulties=('H',)."""
    q = query.lower()
    if len(q.split()) > INTENT_MAX_WORDS:
        return Intent()
    kinds = tuple(k for k, p in KIND_PATTERNS.items() if re.search(p, q))
    diffs = tuple(d for d, p in DIFFICULTY_PATTERNS.items() if re.search(p, q))
    roles = tuple(r for r, p in ROLE_PATTERNS.items() if re.search(p, q))
    return Intent(kinds, diffs, roles)


def topic_of(query: str, intent: Intent) -> str:
    """The words a short typed query gives its topic: without its role, "conceptual", "question" and
    "interview" words (``topic_of("warm-up question on runbooks for an infra engineer", …)`` →
    ``"warm-up on runbooks"``). Other queries, and a query that would be left empty, are kept whole."""
    if not intent or len(query.split()) > TOPIC_MAX_WORDS:
        return query
    t = query
    for p in _TYPE_WORDS:
        t = re.sub(p, " ", t, flags=re.IGNORECASE)
    t = " ".join(w for w in t.split() if w.strip(",:;-")).strip(" ,-:")
    # the words that tied the type to the topic: "… on tokenization", "… for an", "…, MLE"
    t = re.sub(r"^(?:(?:on|about|for|of|in|to)\b\s*(?:(?:an?|the)\b\s*)?)+|(?:\s+(?:for|on|about|of|in)(?:\s+(?:an?|the))?)+$",
               "", t, flags=re.IGNORECASE)
    t = t.strip(" ,-:")
    return t or query
