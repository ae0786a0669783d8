import pytest

from qbank.retrieval.fusion import rrf


def test_rrf_hand_values():
    out = rrf({"bm25": ["a", "b", "c"], "dense": ["c", "a"]}, rrf_k=60)
    assert out[0] == ("a", pytest.approx(1 / 61 + 1 / 62))
    assert out[1] == ("c", pytest.approx(1 / 63 + 1 / 61))
    assert out[2] == ("b", pytest.approx(1 / 62))


def test_rrf_ties_break_by_id_and_weights():
    assert [d for d, _ in rrf({"x": ["b"], "y": ["a"]}, rrf_k=1)] == ["a", "b"]
    out = rrf({"bm25": ["a"], "dense": ["b"]}, rrf_k=10, weights={"bm25": 1.0, "dense": 2.0})
    assert out == [("b", pytest.approx(2 / 11)), ("a", pytest.approx(1 / 11))]
    assert rrf({"bm25": ["a"], "dense": ["b"]}, weights={"dense": 0.0}) == [("a", pytest.approx(1 / 61))]
    assert rrf({"x": ["a", "b", "c"]}, k=2) == [("a", pytest.approx(1 / 61)), ("b", pytest.approx(1 / 62))]
