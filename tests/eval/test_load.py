"""The load script's pieces (eval/load.py) and the benchmark's README table (eval/bench.py)."""

from __future__ import annotations

import json

import pytest

from qbank.eval.bench import markdown
from qbank.eval.load import _pct, make_requests, parse_mix, run_load


def test_percentiles_are_nearest_rank_on_the_sorted_latencies():
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert (_pct(xs, 0), _pct(xs, 50), _pct(xs, 100)) == (1.0, 3.0, 5.0)
    assert _pct(list(range(1, 101)), 99) == 99  # round(0.99 * 99) = 98 → the 99th value


def test_mix_parses_shares_and_refuses_unknown_routes():
    assert parse_mix("search:8,related:1,studyset:1") == {"search": 8.0, "related": 1.0, "studyset": 1.0}
    assert parse_mix("search") == {"search": 1.0}
    with pytest.raises(SystemExit, match="unknown route 'delete'"):
        parse_mix("search,delete:2")
    with pytest.raises(SystemExit, match="bad share"):
        parse_mix("search:lots")


def test_requests_follow_the_mix_and_are_reproducible():
    reqs = make_requests({"search": 1.0, "studyset": 1.0}, 200, seed=3)
    assert reqs == make_requests({"search": 1.0, "studyset": 1.0}, 200, seed=3)
    gets = [r for r in reqs if r[0] == "GET"]
    posts = [r for r in reqs if r[0] == "POST"]
    assert 60 < len(gets) < 140 and len(gets) + len(posts) == 200
    assert all(p.startswith("/search?") and "k=10" in p for _, p, _ in gets)
    assert all(p == "/studysets" and len(json.loads(b)["topics"]) == 2 for _, p, b in posts)
    # the server's default mode unless one is asked for
    assert not any("mode=" in p for _, p, _ in gets)
    hybrid = make_requests({"search": 1.0}, 5, seed=3, mode="hybrid")
    assert all(p.endswith("&mode=hybrid") for _, p, _ in hybrid)


def test_an_unknown_mode_is_refused_in_one_line(capsys):
    from qbank.eval.load import main

    assert main(["--mode", "magic", "--requests", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown mode 'magic' in --mode (known: bm25,")


def test_load_runs_over_loopback_only():
    with pytest.raises(SystemExit, match="loopback only"):
        run_load("http://example.com:8000", 1, [])


def test_bench_table_puts_the_reference_and_the_ratio_beside_each_figure():
    res = {"warm": {"hybrid": {"p50_ms": 3.0, "p95_ms": 6.0}}, "load": {"clients=16": {"p50_ms": 90, "p99_ms": 180}}}
    ref = {"warm": {"hybrid": {"p50_ms": 6.0}}}
    rows = {line.split(" | ")[0].lstrip("| "): line for line in markdown(res, ref).splitlines()}
    assert rows["warm hybrid p50"] == "| warm hybrid p50 | 3 ms | 6 ms | 0.50× | ≤ 5 ms |"
    assert rows["warm hybrid p95"].startswith("| warm hybrid p95 | 6 ms | – |  |")  # no reference figure, no ratio
    assert "| 90 / 180 ms |" in rows["API, 16 clients: p50 / p99"]
