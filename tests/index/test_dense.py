

def test_auto_ann_is_flat_below_the_threshold_and_hnsw_above():
    from qbank.index.dense import resolve_ann_kind

    assert resolve_ann_kind("auto", 3745, 10_000) == "flat"
    assert resolve_ann_kind("auto", 10_000, 10_000) == "hnsw"
    assert resolve_ann_kind("hnsw", 10, 10_000) == "hnsw" and resolve_ann_kind("flat", 10**6, 10_000) == "flat"
