"""The scale benchmark (eval/scale.py): corpora grown from an index, its findings, and tiny runs end to end."""

import json
import math

import numpy as np

from qbank.eval import scale


def test_segments_lay_out_segments_end_to_end():
    pos, off = scale.segments(np.array([0, 2, 5, 5]), np.array([1, 2, 0]))
    assert pos.tolist() == [2, 3, 4, 0, 1] and off.tolist() == [0, 3, 3, 5]  # segment 2 is empty


def test_synthetic_corpus_follows_its_template(tiny_index):
    t = scale.Template.from_index(tiny_index)
    c = scale.synthesize(t, 500, seed=3)
    assert len(c.chunk_template) == len(c.chunk_doc) == len(c.legs) == 500
    assert c.term_offsets[-1] == len(c.term_ids) and c.vectors.shape == (500, t.vectors.shape[1])
    assert c.vectors.dtype == np.float32 and c.term_ids.dtype == np.uint32
    # whole documents are copied: each synthetic document's chunks are its template's rows, in order
    for d in np.unique(c.chunk_doc)[:-1]:  # the last one may be cut at N
        real = t.doc_chunk_rows[t.doc_offsets[c.template_doc[d]]:t.doc_offsets[c.template_doc[d] + 1]]
        assert c.chunk_template[c.chunk_doc == d].tolist() == real.tolist()
    # a chunk has its template's number of terms, about KEEP of them its template's own
    assert (np.diff(c.term_offsets) == np.diff(t.term_offsets)[c.chunk_template]).all()
    pos, _ = scale.segments(t.term_offsets, c.chunk_template)
    same = float((c.term_ids == t.term_ids[pos]).mean())
    assert scale.KEEP - 0.05 < same < scale.KEEP + 0.2  # a drawn term may be the same one
    # unit vectors near their template's (cosine ≈ 1/√(1 + 0.5²) ≈ 0.89), zero rows where the chunk has none
    has = t.legs[c.chunk_template] != scale.LEXICAL
    norms = np.linalg.norm(c.vectors, axis=1)
    assert np.allclose(norms[has], 1.0, atol=1e-5) and (norms[~has] == 0).all()
    cos = (c.vectors[has] * t.vectors[c.chunk_template[has]]).sum(axis=1)
    assert 0.85 < cos.mean() < 0.93 and cos.max() < 0.99
    # seeded
    again = scale.synthesize(t, 500, seed=3)
    assert np.array_equal(again.term_ids, c.term_ids) and np.array_equal(again.vectors, c.vectors)
    assert not np.array_equal(scale.synthesize(t, 500, seed=4).vectors, c.vectors)
    # the product's BM25 input: the vocabulary's strings, one list per chunk
    lists = c.term_lists(t.vocab)
    assert len(lists) == 500 and sum(map(len, lists)) == len(c.term_ids)


def test_selective_filter_is_one_section_and_one_difficulty(tiny_index):
    f = scale.selective_filter(tiny_index)
    assert len(f.section) == 1 and len(f.difficulty) == 1 and not (f.role or f.kind or f.company or f.chapter)


def _rec(n, hnsw_s, hybrid_ms, rss_mb):
    return {"n": n, "build": {"hnsw_build_s": hnsw_s}, "memory_mb": {"serving_peak": rss_mb},
            "latency": {"hybrid": {"p50_ms": hybrid_ms}, "hybrid_stages_p50_ms": {"embed": 3.0}}}


def test_growth_and_findings_on_hand_made_figures():
    sizes = [_rec(10_000, 1.0, 10.0, 500.0), _rec(100_000, 20.0, 25.0, 1000.0)]
    grown = scale.growth(sizes)
    assert grown["hnsw_build_s"] == [{"from": 10_000, "to": 100_000, "exponent": round(math.log10(20), 2)}]
    notes, targets = scale.findings(sizes, grown)
    assert any(x.startswith("hnsw_build_s grows super-linearly from 10,000 to 100,000 chunks: N^1.3") for x in notes)
    assert targets["hybrid_p50_ms"]["first_missed_at_n"] == 100_000 and not targets["hybrid_p50_ms"]["met_at_target_n"]
    assert "target hybrid_p50_ms ≤ 20: at 100,000 chunks MISSED (25); p50 by stage at 100,000: embed 3.0 ms" in notes
    rss = targets["serving_rss_mb"]
    # a line through (10k, 500) and (100k, 1000) reaches 1536 MB at 100k + 536 / (500 / 90k)
    assert rss["met_at_target_n"] and rss["first_missed_at_n"] is None
    assert rss["extrapolated_crossing_n"] == 196_480
    assert ("target serving_rss_mb ≤ 1536: at 100,000 chunks met (1000); a straight line through the two largest "
            "sizes crosses it near 196,480 chunks") in notes
    assert targets["hybrid_filtered_p50_ms"]["measured"] == {}  # not in these figures: no note


def test_bad_options_are_one_line_errors(capsys, monkeypatch):
    assert scale.main(["--sizes", "ten"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --sizes takes whole numbers separated by commas, "
                                               "e.g. 10000,100000; got 'ten'")
    monkeypatch.setattr(scale, "_has_matplotlib", lambda: False)
    assert scale.main(["--sizes", "10", "--plot", "x.png"]) == 2
    assert capsys.readouterr().err.strip() == "error: --plot needs matplotlib: pip install 'qbank[bench]'"


def _check_result(res: dict, sizes: list[int]) -> None:
    assert [r["n"] for r in res["sizes"]] == sizes
    for r in res["sizes"]:
        assert r["lexical_rows"] > 0 and r["dense_rows"] > 0 and r["docs"] > 0
        assert r["ann_product"] == ("flat" if r["dense_rows"] < res["settings"]["ann_flat_below"] else "hnsw")
        assert all(v > 0 for v in r["disk_mb"].values())
        assert all(r["build"][k] >= 0 for k in ("synthesize_s", "bm25_s", "flat_build_s", "hnsw_build_s", "write_s"))
        assert r["build"]["peak_rss_mb"] > 0 and r["memory_mb"]["serving_peak"] > 0
        assert r["memory_mb"]["serving_peak"] >= r["memory_mb"]["baseline"]
        for name in ("embed", "filter_mask", "bm25", "bm25_filtered", "dense_flat", "dense_flat_filtered",
                     "dense_hnsw", "dense_hnsw_filtered", "hybrid", "hybrid_filtered", "hybrid_without_embed"):
            st = r["latency"][name]
            assert st["n"] > 0 and 0 <= st["p50_ms"] <= st["p95_ms"], name
        for name, v in r["recall@10"].items():
            if name.startswith("hnsw_vs_flat"):
                assert 0.0 <= v <= 1.0, name
        assert 0 < r["filter"]["rows"] < r["n"] and r["filter"]["dense_path"] in ("exact", "ann")
        assert set(r["estimates"]) == {"tokenize_s", "embed_documents_s", "chunk_records_mb", "chunks_jsonl_mb"}


def test_a_tiny_run_end_to_end(tiny_index, tiny_settings, tmp_path, capsys):
    """Two sizes grown from the tiny bank (hashing embedder: no model), each in its own processes."""
    out = tmp_path / "scale.json"
    work = tmp_path / "work"
    work.mkdir()
    assert scale.main(["--sizes", "3000,2000", "--queries", "12", "--index-dir", str(tiny_settings.index_dir),
                       "--out", str(out), "--workdir", str(work), "--markdown"]) == 0
    printed = capsys.readouterr().out
    assert "| 2,000 |" in printed and "| 3,000 |" in printed and "What breaks first" in printed
    res = json.loads(out.read_text())
    _check_result(res, [2000, 3000])
    assert res["queries"]["n"] == 12 and res["queries"]["encoder"] == "hashing"
    assert "hybrid_p50_ms" in res["growth"] and set(res["targets"]) == set(scale.TARGETS)
    assert not any(work.iterdir())  # the synthetic index files are gone
    # --from renders a saved result again without running anything
    assert scale.main(["--from", str(out), "--markdown"]) == 0
    assert capsys.readouterr().out == printed


def test_the_real_index_and_query_encoder(real_searcher, real_settings, tmp_path):
    """The shipped bank and its int8 query encoder, at a tiny N (slow: the real index)."""
    out = tmp_path / "scale.json"
    assert scale.main(["--sizes", "2000", "--queries", "10", "--index-dir", str(real_settings.index_dir),
                       "--out", str(out), "--workdir", str(tmp_path)]) == 0
    res = json.loads(out.read_text())
    _check_result(res, [2000])
    assert res["queries"]["encoder"] == "onnx-int8" and res["queries"]["source"].endswith(".expansions.jsonl")
    assert res["per_chunk"]["embed_backend"] == "onnx-int8"
