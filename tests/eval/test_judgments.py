import pytest

from qbank.eval.data import read_qrels
from qbank.eval.judgments import agreement, cohen_kappa, merge_grades, merge_qrels, write_qrels
from qbank.eval.sets import NAMED_SETS, load_eval_set


def test_merge_rule_by_hand():
    assert [merge_grades(a, b) for a, b in ((2, 2), (2, 1), (1, 2), (2, 0), (1, 1), (1, 0), (0, 0))] == [2, 2, 2, 1, 1, 0, 0]
    a = {"q": {"x": 1, "y": 1}, "r": {"x": 2}}
    b = {"q": {"x": 1, "y": 0}, "r": {"x": 0, "z": 1}}
    # q has no 2 after merging: items both judges marked relevant are promoted
    assert merge_qrels(a, b, ["q", "r"]) == {"q": {"x": 2, "y": 0}, "r": {"x": 1, "z": 0}}


def test_kappa_by_hand():
    # po = 3/4; pe = (1*1 + 1*2 + 2*1) / 16 = 5/16 → (12/16 - 5/16) / (11/16) = 7/11
    assert cohen_kappa([0, 1, 2, 2], [0, 1, 2, 1]) == pytest.approx(7 / 11)
    assert cohen_kappa([1, 1], [1, 1]) == 1.0
    with pytest.raises(ValueError):
        cohen_kappa([1], [])
    ag = agreement({"q": {"a": 2, "b": 0}}, {"q": {"a": 2, "b": 1}})
    assert ag.pairs == 2 and ag.exact == 0.5


def test_golden_qrels_are_the_merge_of_the_two_judges(tmp_path):
    folder = NAMED_SETS["golden"][0]
    j1, j2 = read_qrels(folder / "judge1.qrels"), read_qrels(folder / "judge2.qrels")
    queries = list(load_eval_set("golden").queries)
    out = tmp_path / "qrels.tsv"
    write_qrels(merge_qrels(j1, j2, queries), out)
    assert out.read_text() == (folder / "qrels.tsv").read_text()
    ag = agreement(j1, j2)
    assert ag.pairs == 630 and round(ag.kappa, 2) == 0.54  # as eval/golden/README.md says


def test_pasted_set_qrels_are_the_merge_of_its_judges():
    folder = NAMED_SETS["pasted"][0]
    j1, j2 = read_qrels(folder / "judge1.qrels"), read_qrels(folder / "judge2.qrels")
    es = load_eval_set("pasted")
    merged = merge_qrels(j1, j2, list(es.queries))
    assert {q: {d: g for d, g in m.items() if g} for q, m in merged.items()} == es.qrels
    assert len(es.queries) >= 40 and all(len(t.split()) >= 20 for t in es.queries.values())
