"""Fitting :class:`qbank.retrieval.learned.LinearRanker` on judged candidate lists."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qbank.errors import QbankError
from qbank.retrieval.learned import LinearRanker


def fit_linear_ranker(lists: Sequence[tuple[np.ndarray, np.ndarray]], l2: float = 1e-3,
                      temperature: float = 2.0) -> LinearRanker:
    """Fit on ``(features [n, F], grades [n])`` per query (ListNet: softmax of the scores against the
    softmax of ``temperature · grade``); lists without a relevant hit teach nothing and are skipped."""
    from scipy.optimize import minimize

    lists = [(x, y) for x, y in lists if len(y) > 1 and y.max() > 0]
    if not lists:
        raise QbankError("no judged query has a relevant hit among its candidates: nothing to fit")
    allx = np.concatenate([x for x, _ in lists])
    mean, std = allx.mean(0), allx.std(0)
    std = np.where(std > 1e-6, std, 1.0)  # a constant feature stays 0 after standardising
    zs = [((x - mean) / std, y) for x, y in lists]

    def loss(w):
        total, grad = 0.0, np.zeros_like(w)
        for z, y in zs:
            s = z @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            t = np.exp(temperature * (y - y.max()))
            t /= t.sum()
            total -= float(t @ np.log(p + 1e-12))
            grad += z.T @ (p - t)
        return total / len(zs) + l2 * float(w @ w), grad / len(zs) + 2 * l2 * w

    w = minimize(loss, np.zeros(allx.shape[1]), jac=True, method="L-BFGS-B").x
    return LinearRanker(w, mean, std)
