import pytest

from qbank.errors import EvalDataError
from qbank.eval.data import check_consistency, read_qrels, read_queries, read_run, write_run


def test_queries_tsv_and_jsonl(tmp_path):
    t = tmp_path / "q.tsv"
    t.write_text("q1\tkv cache\tcat\nq2\tpq\n")
    assert read_queries(t) == {"q1": "kv cache", "q2": "pq"}
    j = tmp_path / "q.jsonl"
    j.write_text('{"_id": "1", "text": "a", "metadata": {"x": 1}}\n{"qid": "2", "text": "b"}\n')
    assert read_queries(j) == {"1": "a", "2": "b"}


def test_malformed_lines_named(tmp_path):
    t = tmp_path / "q.tsv"
    t.write_text("q1\tok\nno tab here\n")
    with pytest.raises(EvalDataError, match=r"q.tsv:2: expected 'qid<TAB>query text'"):
        read_queries(t)
    r = tmp_path / "r.qrels"
    r.write_text("q1 0 d1 1\nq1 d2\n")
    with pytest.raises(EvalDataError, match=r"r.qrels:2: expected 'qid 0 doc grade'"):
        read_qrels(r)
    e = tmp_path / "empty.tsv"
    e.write_text("\n")
    with pytest.raises(EvalDataError, match="no queries in it"):
        read_queries(e)


def test_beir_qrels_header_and_consistency(tmp_path):
    r = tmp_path / "test.tsv"
    r.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n3\td9\t1\n")
    qrels = read_qrels(r)
    assert qrels == {"1": {"d1": 1}, "3": {"d9": 1}}
    warns = check_consistency({"1": "a", "2": "b"}, qrels, {"d1"})
    assert warns[0].startswith("1 judged doc ids are not in the index (e.g. d9)")
    assert warns[1].startswith("1 queries have no judgments")
    assert warns[2].startswith("1 judged query ids have no query text")
    with pytest.raises(EvalDataError, match="no query id appears in both"):
        check_consistency({"x": "a"}, qrels, {"d1"})


def test_run_round_trip(tmp_path):
    p = tmp_path / "run.trec"
    write_run({"q": {"a": 2.0, "b": 3.0}}, p, "t")
    assert p.read_text().splitlines() == ["q Q0 b 1 3.000000 t", "q Q0 a 2 2.000000 t"]
    assert read_run(p) == {"q": {"b": 3.0, "a": 2.0}}


def test_bad_query_files_are_one_line_errors(tmp_path):
    import gzip

    import pytest

    from qbank.errors import EvalDataError
    from qbank.eval.data import MAX_LINE_CHARS, read_queries

    bom = tmp_path / "bom.tsv"
    bom.write_bytes("\ufeffq1\tkv cache\nq2\tlora\n".encode())
    assert read_queries(bom) == {"q1": "kv cache", "q2": "lora"}  # the BOM is not part of the first id
    with pytest.raises(EvalDataError, match="is a folder, not a file"):
        read_queries(tmp_path)
    fake = tmp_path / "q.tsv.gz"
    fake.write_text("q1\tnot gzip\n")
    with pytest.raises(EvalDataError, match="not a gzip file"):
        read_queries(fake)
    long = tmp_path / "long.tsv"
    long.write_text("q1\t" + "x" * (MAX_LINE_CHARS + 5) + "\n")
    with pytest.raises(EvalDataError, match=r"long.tsv:1: line longer than 100,000 characters"):
        read_queries(long)
    good = tmp_path / "g.tsv.gz"
    with gzip.open(good, "wt") as f:
        f.write("q1\tkv\n")
    assert read_queries(good) == {"q1": "kv"}


def test_write_run_is_atomic(tmp_path, monkeypatch):
    import pytest

    import qbank.eval.data as data

    out = tmp_path / "run.trec"
    data.write_run({"q1": {"a": 2.0, "b": 1.0}}, out, "t")
    assert out.read_text().splitlines()[0] == "q1 Q0 a 1 2.000000 t"

    def boom(*a, **k):
        raise KeyboardInterrupt

    import qbank.fileio

    monkeypatch.setattr(qbank.fileio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        data.write_run({"q9": {"z": 1.0}}, out, "t")
    assert out.read_text().startswith("q1 Q0 a 1")  # the old file is intact, no temp file left
    assert [p.name for p in tmp_path.iterdir()] == ["run.trec"]


def test_jsonl_queries_are_type_checked(tmp_path):
    import pytest

    from qbank.errors import EvalDataError
    from qbank.eval.data import read_queries

    p = tmp_path / "q.jsonl"
    for line in ('{"_id": "q1", "text": null}', '{"text": "kv cache"}', '{"_id": "q1", "text": ["a", "b"]}',
                 '{"_id": true, "text": "kv"}', '[1, 2]', 'not json'):
        p.write_text(line + "\n")
        with pytest.raises(EvalDataError, match=r"q.jsonl:1: expected a JSON object with '_id'"):
            read_queries(p)
    p.write_text('{"_id": 7, "text": "kv cache", "metadata": {"answer": "x"}}\n')
    assert read_queries(p) == {"7": "kv cache"}
