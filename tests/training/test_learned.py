"""Fitting the learned ranker: a hidden layer learns what a linear one cannot."""

from __future__ import annotations

import numpy as np
import pytest

from qbank.errors import QbankError
from qbank.retrieval.learned import FEATURES
from qbank.training.learned import fit_learned_ranker


def _lists(seed: int, n_lists: int = 300):
    """Lists of 10 hits; the relevant one has its first feature nearest 0 (neither high nor low), so
    no weight on it ranks that hit first; the other features are noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_lists):
        x = rng.normal(size=(10, len(FEATURES)))
        y = np.zeros(10)
        y[np.argmin(np.abs(x[:, 0]))] = 2
        out.append((x, y))
    return out


def _first_right(ranker, lists) -> float:
    return float(np.mean([y[np.argmax(ranker.score(x))] == 2 for x, y in lists]))


def test_a_hidden_layer_learns_a_middle_value_a_linear_ranker_cannot():
    train, test = _lists(0), _lists(1)
    linear = fit_learned_ranker(train, hidden=0)
    small = fit_learned_ranker(train, hidden=4)
    assert linear.hidden is None and small.hidden.shape == (len(FEATURES), 4)
    assert _first_right(linear, test) < 0.2 < 0.6 < _first_right(small, test)  # chance: 0.1
    # seeded: the same fit twice
    assert np.array_equal(fit_learned_ranker(train, hidden=4).to_dict()["hidden"]["out"], small.to_dict()["hidden"]["out"])


def test_lists_without_a_relevant_hit_are_refused():
    x = np.zeros((3, len(FEATURES)))
    with pytest.raises(QbankError, match="nothing to fit"):
        fit_learned_ranker([(x, np.zeros(3))])
