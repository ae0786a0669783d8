"""retrieval/legs.py: the partial sort gives exactly the full order's head."""

from __future__ import annotations

import numpy as np
import pytest

from qbank.retrieval.legs import bm25_leg, ranked


@pytest.mark.parametrize("n, need, levels", [(10, 2, 3), (1000, 20, 30), (5000, 10, 4), (300, 100, 1000), (50, 1, 1)])
def test_ranked_is_the_full_sort_s_head_ties_included(n, need, levels):
    rng = np.random.default_rng(n + need)
    rows = rng.permutation(n)
    scores = rng.integers(0, levels, n).astype(float)  # few levels: many ties at the cut
    full = np.lexsort((rows, -scores))
    got = ranked(rows, scores, need)
    assert len(got) >= need and (got == full[: len(got)]).all()


def test_ranked_keeps_every_row_tied_with_the_last_one_needed():
    rows = np.arange(20)
    scores = np.array([5.0] + [3.0] * 10 + [1.0] * 9)
    got = ranked(rows, scores, 2)  # 20 > 4 × 2: cut at the 2nd best (3.0), which ten rows share
    assert got.tolist() == list(range(11))


def test_bm25_leg_fills_its_depth_past_the_cut(tiny_index):
    """A depth larger than the documents in the cut falls back to the full order: every document
    holding a query term is returned, in the same order either way."""
    leg = bm25_leg(tiny_index, ["cach"], None, 1000)
    ok = tiny_index.bm25.matched(["cach"])
    assert len(leg.docs) == len(set(tiny_index.doc_ids[tiny_index.lexical_rows[ok]].tolist()))
    assert bm25_leg(tiny_index, ["cach"], None, 2).docs == leg.docs[:2]


def test_bm25_leg_counts_every_document_holding_a_query_term(tiny_index):
    rows = [r for r in tiny_index.lexical_rows.tolist() if "cach" in tiny_index.tokens[r]]
    want = len({tiny_index.doc_ids[r] for r in rows})
    assert bm25_leg(tiny_index, ["cach"], None, 1).total == want > 1  # counted before the depth cut
