"""How well a query matched: ``strong``, ``weak`` or ``none``, from what the legs already measured.

Ten hits come back for any query, "asdfqwer zxcvbnm" included; this says whether to trust them.
Two signals, both read off the search that just ran (no extra model call):

* ``cosine``: the best cosine between the query vector and any allowed chunk (the dense leg's top
  score): how close the nearest text is in meaning;
* ``lexical``: the share of the query's IDF mass that the best BM25 chunk holds (each known query
  term weighted by its IDF; unknown words count against it): how much of what was typed is there.

``strong`` when either signal clears its strong threshold; ``none`` when no query term is in the
index and the cosine is below the floor; ``weak`` otherwise. The thresholds were chosen on the judged
training data's train split (never the golden or held-out sets): the share of queries whose first hit
the judges graded relevant, by signal (``python -m qbank.retrieval.confidence`` prints the table and
README, "Match strength", has it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the CLI imports match_notes while it builds its parser
    from qbank.index.store import LoadedIndex
    from qbank.retrieval.legs import LegRanking

MATCHES = ("strong", "weak", "none")


@dataclass(frozen=True, slots=True)
class MatchThresholds:
    cosine_strong: float = 0.425
    lexical_strong: float = 0.45
    cosine_none: float = 0.42


def match_signals(index: LoadedIndex, terms: list[str], legs: Mapping[str, LegRanking],
                  corrected: frozenset[str] = frozenset()) -> dict[str, float | None]:
    """The two signals (None for a leg the mode did not run). ``corrected``: terms of misspelt words
    whose correction is among ``terms`` (they count neither for nor against)."""
    out: dict[str, float | None] = {"cosine": None, "lexical": None}
    dense = legs.get("dense")
    if dense is not None:
        out["cosine"] = round(max(dense.scores.values()), 4) if dense.scores else 0.0
    bm25 = legs.get("bm25")
    if bm25 is not None:
        idf = index.bm25.idf
        plain = [t for t in dict.fromkeys(terms) if t not in corrected]
        mass = sum(max(idf.get(t, 0.0), 0.0) or UNKNOWN_IDF for t in plain)
        if not bm25.docs or not mass:
            out["lexical"] = 0.0
        else:
            row = bm25.best_row[bm25.docs[0]]
            have = set(index.tokens[row])
            out["lexical"] = round(sum(max(idf.get(t, 0.0), 0.0) for t in plain if t in have) / mass, 4)
    return out


UNKNOWN_IDF = 5.0  # the weight an unknown query word counts against the lexical share (≈ a rare term's IDF)


def match_strength(signals: Mapping[str, float | None], t: MatchThresholds = MatchThresholds()) -> str:
    """``strong`` / ``weak`` / ``none`` from :func:`match_signals`."""
    cos, lex = signals.get("cosine"), signals.get("lexical")
    if (cos is not None and cos >= t.cosine_strong) or (lex is not None and lex >= t.lexical_strong):
        return "strong"
    if not lex and (cos is None or cos < t.cosine_none):
        return "none"
    return "weak"


def match_notes(match: str, corrected_query: str | None, filtered: bool, has_hits: bool,
                relax: list[dict] = ()) -> list[str]:
    """What to tell the user, one line each (no client's vocabulary): a corrected query, a match that
    is not strong, and which filter to drop. Empty for a strong match with nothing corrected."""
    out = []
    if corrected_query:
        out.append(f'showing results for "{corrected_query}" (misspelt words corrected; '
                   "the words as typed were searched too)")
    if has_hits and match == "weak":
        out.append("weak match: these hits may not be about your query; try other words, "
                   "a question's own terms, or fewer filters")
    elif has_hits and match == "none":
        where = "the questions these filters allow" if filtered else "the bank"
        out.append(f"no match: no word of the query is in {where} and nothing there is close in meaning; "
                   "these are only the nearest questions" + (" (try dropping a filter)" if filtered else ""))
    if relax:
        out.append("dropping one filter: " + "; ".join(
            f"{r['drop']} {', '.join(map(str, r['values']))} → {r['questions']} questions left" for r in relax))
    return out
