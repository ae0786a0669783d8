"""What a query says about the *type* of question wanted, beside its topic.

"coding questions about caches", "behavioral question about a conflict", "hard kubernetes
questions", "warm-up questions on tokenization": the words name a kind or a difficulty. Hybrid
search turns a detected intent into a third RRF leg (the fused list restricted to matching
questions), a soft preference: matching questions rise, the others stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qbank.records import Question

KIND_PATTERNS = {
    "coding": r"\bcoding\b|\bcode\s+(?:question|interview|exercise|problem)s?\b|\bimplement(?:ation)?s?\b|\bfrom scratch\b|\bwrite (?:a|an|the)\b",
    "behavioral": r"\bbehaviou?ral\b|\btell me about a time\b|\bstor(?:y|ies)\b|\bsoft skills?\b|\bleadership\b",
    "design": r"\bsystem[- ]design\b|\bdesign (?:question|interview|problem|exercise)s?\b|\bdesign (?:a|an)\b",
}
DIFFICULTY_PATTERNS = {
    "W": r"\bwarm[- ]?ups?\b|\beasy\b|\bbasic\b|\bbeginner\b|\bintro(?:ductory)?\b",
    "M": r"\bmedium\b|\bintermediate\b",
    "H": r"\bhard\b|\bdifficult\b|\badvanced\b|\btough\b|\bsenior\b",
    "S": r"\bstretch\b|\bphd\b|\bresearch[- ]level\b",
}


@dataclass(frozen=True, slots=True)
class Intent:
    kinds: tuple[str, ...] = ()
    difficulties: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kinds or self.difficulties)

    def accepts(self, q: Question | None) -> bool:
        if q is None:
            return False
        return (not self.kinds or q.kind in self.kinds) and (not self.difficulties or q.difficulty in self.difficulties)

    def to_dict(self) -> dict:
        return {"kinds": list(self.kinds), "difficulties": list(self.difficulties)}


def detect_intent(query: str) -> Intent:
    """``detect_intent("hard coding questions about LRU caches")`` → kinds=('coding',), difficulties=('H',)."""
    q = query.lower()
    kinds = tuple(k for k, p in KIND_PATTERNS.items() if re.search(p, q))
    diffs = tuple(d for d, p in DIFFICULTY_PATTERNS.items() if re.search(p, q))
    return Intent(kinds, diffs)
