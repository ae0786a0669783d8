import argparse
import json

import pytest

from qbank.ui.cli import main


@pytest.fixture
def tiny_cli(monkeypatch):
    """The CLI reads QBANK_* like a user's shell: point it at the tiny index's settings."""
    monkeypatch.setenv("QBANK_EMBEDDING_MODEL", "hashing-256")
    monkeypatch.setenv("QBANK_USE_CORELEVANCE", "false")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_json(capsys):
    code, out, _ = run(capsys, "show", "E12-501", "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["id"] == "E12-501" and "idempotency" in d["question"]
    assert d["rubric"][0].startswith("Generate a UUID") and d["kind"] == "coding"
    assert {"id", "section", "number", "difficulty", "roles", "chapters", "question", "testing", "companies",
            "kind", "rubric"} <= set(d)
    code, out, _ = run(capsys, "show", "E11-501", "--format", "json")
    assert "CUDA warp" in json.loads(out)["question"]


def test_show_text_and_unknown(capsys):
    code, out, _ = run(capsys, "show", "e1-9")
    assert code == 0 and "MHA, MQA, and GQA" in out and "Companies: Meta, Mistral, Google" in out
    code, out, err = run(capsys, "show", "E99-1")
    assert code == 2 and out == "" and err.startswith("error: unknown question id 'E99-1'") and err.count("\n") == 1


def test_ingest_counts(capsys, tmp_path):
    (tmp_path / "none").mkdir(exist_ok=True)
    code, out, _ = run(capsys, "ingest", "--out", str(tmp_path), "--chapters", str(tmp_path / "none"))
    assert code == 0
    assert out.startswith("535 questions kept of 535 question lines (0 skipped, 0 warnings)")
    assert "110 cited chapters" in out and "E.12:40" in out
    assert (tmp_path / "questions.jsonl").read_text().count("\n") == 535


def test_ingest_reports_sample_queries(capsys, tmp_path):
    (tmp_path / "none").mkdir(exist_ok=True)
    code, out, _ = run(capsys, "ingest", "--out", str(tmp_path), "--chapters", str(tmp_path / "none"))
    assert "expansions:    3210 sample queries for 535 questions from " in out


def test_ingest_names_questions_whose_sample_queries_went_stale(capsys, tmp_path):
    from qbank.ingest.expansions import question_sha

    bank = tmp_path / "b.txt"
    bank.write_text("E.1 ML (Chapters 1–2)\n\n1. [W][MLE] What is x? Chapter 1\n2. [W][MLE] What is y? Chapter 1\n")
    (tmp_path / "b.expansions.jsonl").write_text(
        json.dumps({"id": "E1-1", "question_sha": question_sha("What was x?"), "queries": ["x"]}) + "\n"
        + json.dumps({"id": "E1-2", "question_sha": question_sha("What is y?"), "queries": ["y", "why"]}) + "\n")
    code, out, err = run(capsys, "ingest", "--bank", str(bank), "--out", str(tmp_path / "o"))
    assert code == 0 and "expansions:    2 sample queries for 1 questions" in out
    assert "warning: 1 questions changed since their sample queries were written" in err and "(E1-1)" in err
    (tmp_path / "b.expansions.jsonl").write_text("{oops\n")
    code, out, err = run(capsys, "ingest", "--bank", str(bank), "--out", str(tmp_path / "o"))
    assert code == 2 and err == f"error: {tmp_path / 'b.expansions.jsonl'}:1: not a JSON object\n"


def test_ingest_bad_bank(capsys, tmp_path):
    p = tmp_path / "b.txt"
    p.write_text("E.1 ML (Chapters 1–2)\n\n1. [Q][MLE] x? Chapter 1\n2. [W][MLE] y? Chapter 1\n")
    code, out, err = run(capsys, "ingest", "--bank", str(p), "--out", str(tmp_path / "o"))
    assert code == 0 and "1 questions kept of 2 question lines (1 skipped" in out
    assert f"warning: {p}:3: E1-1: unknown tag [Q]" in err


def test_chapters_json(capsys):
    code, out, _ = run(capsys, "chapters", "--format", "json")
    cat = json.loads(out)
    assert sum(1 for c in cat if c["cited_by"]) == 110


def test_search_errors(capsys, tiny_index, tiny_settings, tiny_cli):
    idx = str(tiny_settings.index_dir)
    bank = str(tiny_settings.bank)
    code, out, err = run(capsys, "search", "  ", "--index-dir", idx, "--bank", bank)
    assert code == 2 and err.startswith("error: empty query")
    code, out, err = run(capsys, "search", "cache", "--mode", "nope", "--index-dir", idx, "--bank", bank)
    assert code == 2 and "unknown mode 'nope'" in err
    code, out, err = run(capsys, "search", "cache", "--difficulty", "Z", "--index-dir", idx, "--bank", bank)
    assert code == 2 and "unknown difficulty 'Z'" in err
    code, out, err = run(capsys, "search", "cache", "--index-dir", str(tiny_settings.index_dir) + "-none")
    assert code == 2 and "run `qbank build` first" in err


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_search_output(capsys, tiny_index, tiny_settings, tiny_cli, fmt):
    code, out, err = run(capsys, "search", "kv cache", "--k", "3", "--format", fmt, "--index-dir",
                         str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank))
    assert code == 0
    if fmt == "json":
        body = json.loads(out)  # the API's search response: hits, match, corrected_query, timings ...
        assert body["match"] == "strong" and body["corrected_query"] is None and body["query"] == "kv cache"
        hits = body["hits"]
        assert "E3-81" in [h["id"] for h in hits] and {"id", "rank", "score", "question", "difficulty", "roles", "section",
                                              "chapters", "kind", "legs"} <= set(hits[0])
    else:
        assert "E3-81" in out


def test_search_table_notes_a_correction_and_a_weak_or_absent_match(capsys, tiny_index, tiny_settings, tiny_cli):
    where = ["--index-dir", str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank)]
    code, out, err = run(capsys, "search", "prodcut quantization", "--k", "2", *where)
    assert code == 0 and 'note: showing results for "product quantization"' in err and "match" not in err
    code, out, err = run(capsys, "search", "qwxzv plmkj", "--k", "2", *where)  # hybrid: the dense leg still returns hits
    assert code == 0 and "note: no match: no word of the query is in the bank" in err
    code, out, err = run(capsys, "search", "product quantization", "--k", "2", "--kind", "behavioral", *where)
    assert code == 0 and "in the questions these filters allow" in err and "try dropping a filter" in err
    assert "note: dropping one filter: kind behavioral → " in err
    code, out, err = run(capsys, "search", "product quantization", "--k", "2", *where)
    assert code == 0 and "note:" not in err  # a strong match, nothing corrected: no notes


def test_studyset_from_text_prints_the_plan(capsys, tiny_index, tiny_settings, tiny_cli, tmp_path, monkeypatch):
    import qbank.retrieval.jobplan as jp

    monkeypatch.setattr(jp, "MIN_COSINE", 0.2)  # the hashing embedder's cosines are low
    jd = tmp_path / "jd.txt"
    jd.write_text("Junior ML engineer\nYou will help with product quantization and KV cache sizing.\n")
    where = ["--index-dir", str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank)]
    code, out, err = run(capsys, "studyset", "--from-text", str(jd), *where)
    assert code == 0 and "topic: " in err and "seniority: junior (junior)" in err and "mix W:3,M:5,H:2" in err
    assert out.startswith("# Study set: ")
    code, out, err = run(capsys, "studyset", "--from-text", str(tmp_path / "none.txt"), *where)
    assert code == 2 and err.startswith("error: --from-text") and "No such file" in err


def test_search_queries_trec(capsys, tiny_index, tiny_settings, tmp_path, tiny_cli):
    q = tmp_path / "q.tsv"
    q.write_text("a\tkv cache\nb\tsoftmax\n")
    out_file = tmp_path / "run.trec"
    code, _, _ = run(capsys, "search", "--queries", str(q), "--format", "trec", "--out", str(out_file), "--k", "2",
                     "--mode", "bm25", "--index-dir", str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank))
    lines = out_file.read_text().splitlines()
    assert code == 0 and lines[0].startswith("a Q0 E3-81 1 ") and lines[0].endswith("qbank-bm25")
    assert [line.split()[0] for line in lines] == ["a", "a", "b"]  # only one question says softmax


def test_cli_registration():
    from qbank.ui.commands.train import register

    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers()
    register(sub)
    args = ap.parse_args(["train-reranker", "--layers", "3", "--loss", "bce", "--seed", "7"])
    assert (args.layers, args.loss, args.seed) == (3, "bce", 7)


def test_eval_related_modes_need_a_related_set(capsys):
    code, out, err = run(capsys, "eval", "--set", "related", "--mode", "hybrid")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "queries are question ids: use --mode related,mlt (got hybrid)" in err
    code, out, err = run(capsys, "eval", "--mode", "related,mlt")
    assert code == 2 and "related modes take a related set" in err and err.count("\n") == 1


def test_serve_with_a_missing_index_is_one_line(capsys, tmp_path, tiny_cli):
    code, out, err = run(capsys, "serve", "--index-dir", str(tmp_path / "none"), "--bank", str(tmp_path / "b.txt"))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")


def test_bad_cli_input_is_one_line_and_exit_2(capsys, tmp_path):
    cases = [
        ("show", "E5-" + "9" * 5000),  # an id too long to be a number: unknown, not a crash
        ("search", "kv \udcff cache"),  # bytes that are not UTF-8 (PEP 383 surrogates)
        ("eval", "--queries", str(tmp_path), "--qrels", str(tmp_path)),  # folders, not files
    ]
    inf = tmp_path / "q.qrels"
    inf.write_text("q1 0 E1-1 inf\n")
    qs = tmp_path / "q.tsv"
    qs.write_text("q1\tkv cache\n")
    cases.append(("eval", "--queries", str(qs), "--qrels", str(inf), "--mode", "bm25"))
    (tmp_path / "empty").mkdir()
    cases.append(("ingest", "--out", "/proc/qbank-cannot-write-here", "--chapters", str(tmp_path / "empty")))
    cases.append(("ingest", "--out", str(tmp_path / "o"), "--chapters", str(tmp_path / "no-such-folder")))
    cases.append(("studyset", "--topic", "kv cache", "--mix", ",,,"))
    for argv in cases:
        code, out, err = run(capsys, *argv)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (argv[:2], err[:300])
        assert "internal error" not in err and len(err) < 400


def test_search_queries_checks_every_query_first_and_writes_atomically(capsys, tiny_index, tiny_settings, tmp_path,
                                                                       tiny_cli):
    qs = tmp_path / "q.tsv"
    qs.write_text("q1\tkv cache\nq2\t" + "x" * 2000 + "\n")
    out = tmp_path / "run.trec"
    out.write_text("an earlier run\n")
    code, _, err = run(capsys, "search", "--queries", str(qs), "--format", "trec", "--out", str(out),
                       "--mode", "bm25", "--index-dir", str(tiny_settings.index_dir), "--bank", str(tiny_settings.bank))
    assert code == 2 and "query 'q2': query is 2,000 characters" in err and err.count("\n") == 1
    assert out.read_text() == "an earlier run\n"  # nothing half-written
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.trec")]  # no temp file left


def test_training_commands_report_json_or_a_summary(capsys):
    import argparse

    from qbank.ui.commands.train import _report

    man = {"name": "qbank-minilm", "dev_table": {"trained:dense": 0.8551}}
    assert _report(argparse.Namespace(format="json"), man, "encoder: …", "wrote data/encoder") == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == man and out.err == ""
    assert _report(argparse.Namespace(format="text"), man, "encoder: …", "wrote data/encoder") == 0
    out = capsys.readouterr()
    assert out.out == "encoder: …\n" and out.err == "wrote data/encoder\n"
