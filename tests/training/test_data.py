import json

import pytest

from qbank.errors import EvalDataError
from qbank.training.data import STYLES, load_training_data, read_training_queries
from qbank.training.judging import read_judgments, read_written, split_by_seed, write_judge_batch


def test_shipped_training_data_is_consistent():
    d = load_training_data()
    assert len(d.queries) >= 1500
    styles = [q.style for q in d.queries.values()]
    assert set(styles) == set(STYLES) and styles.count("pasted") / len(styles) >= 0.25
    train, dev = d.split("train"), d.split("dev")
    assert len(train[0]) + len(dev[0]) == len(d.queries) and 0.15 < len(dev[0]) / len(d.queries) < 0.25
    seeds = {s: {q.split for q in d.queries.values() if q.seed == s} for s in {q.seed for q in d.queries.values()}}
    assert all(len(v) == 1 for v in seeds.values())  # a seed question's queries sit on one side
    # every query was judged over its whole pool, zeros included
    assert min(len(j) for j in d.qrels.values()) >= 30
    assert sum(any(g == 2 for g in j.values()) for j in d.qrels.values()) >= 0.99 * len(d.queries)


def test_no_training_query_is_an_evaluation_query():
    from qbank.eval.sets import NAMED_SETS, load_eval_set

    train = {q.text.lower() for q in load_training_data().queries.values()}
    for name in NAMED_SETS:
        assert not train & {t.lower() for t in load_eval_set(name).queries.values()}, name


def test_bad_training_files(tmp_path):
    p = tmp_path / "queries.tsv"
    p.write_text("T1\tkv cache\tkeywords\tE3-81\ttrain\nT2\tx\tshouting\tE3-81\ttrain\n")
    with pytest.raises(EvalDataError, match=r"queries.tsv:2: unknown style 'shouting'"):
        read_training_queries(p)
    p.write_text("T1\tkv cache\tkeywords\tE3-81\ttrain\nT2\tkv\tkeywords\tE3-81\tdev\n")
    (tmp_path / "qrels.tsv").write_text("T1 0 E3-81 2\nT2 0 E3-81 2\n")
    with pytest.raises(EvalDataError, match="seed questions on both sides of the split: E3-81"):
        load_training_data(tmp_path)
    (tmp_path / "qrels.tsv").write_text("T1 0 E3-81 2\n")
    with pytest.raises(EvalDataError, match="1 queries have no judgments"):
        load_training_data(tmp_path)


def test_judge_answers_cover_the_pool(tmp_path):
    pools = {"T1": ["E1-1", "E1-2", "E3-81"], "T2": ["E1-1"]}
    p = tmp_path / "grades.tsv"
    p.write_text("T1\t2:E3-81\t1:E1-2\nT2\n")
    assert read_judgments(p, pools) == {"T1": {"E1-1": 0, "E1-2": 1, "E3-81": 2}, "T2": {"E1-1": 0}}
    for text, message in (("T1\t2:E9-9\nT2\n", "E9-9 is not in the pool of T1"),
                          ("T1\t2:E1-1\t1:E1-1\nT2\n", "E1-1 graded twice"),
                          ("T1\t3:E1-1\nT2\n", "expected '2:ID,ID'"),
                          ("T1\n", "no answer for 1 queries"),
                          ("T1\nT1\n", "answered twice")):
        p.write_text(text)
        with pytest.raises(EvalDataError, match=message):
            read_judgments(p, pools)


def test_written_queries_and_batches(tmp_path, tiny_index):
    w = tmp_path / "out.tsv"
    w.write_text("E3-81\tkeywords\tkv cache size\nE3-83\tpasted\tWalk me through draft-and-verify decoding.\n")
    assert read_written([w], STYLES)[1] == ("E3-83", "pasted", "Walk me through draft-and-verify decoding.")
    w.write_text("E3-81\tkv cache size\n")
    with pytest.raises(EvalDataError, match="out.tsv:1: expected"):
        read_written([w])
    write_judge_batch(tmp_path / "b", [("T1", "kv cache", ["E3-81", "E1-1"])], tiny_index.question_by_id)
    cands = [json.loads(x) for x in (tmp_path / "b" / "candidates.jsonl").read_text().splitlines()]
    assert [c["id"] for c in cands] == ["E1-1", "E3-81"] and "2 × layers" in cands[1]["rubric"]


def test_split_by_seed_is_per_section_and_seeded():
    seeds = [f"E{s}-{n}" for s in (1, 2) for n in range(1, 11)]
    dev = split_by_seed(seeds, 0.2, seed=13)
    assert dev == split_by_seed(seeds, 0.2, seed=13) and len(dev) == 4
    assert sum(d.startswith("E1-") for d in dev) == 2
