

def test_auto_ann_is_flat_below_the_threshold_and_hnsw_above():
    from qbank.index.dense import resolve_ann_kind

    assert resolve_ann_kind("auto", 3745, 10_000) == "flat"
    assert resolve_ann_kind("auto", 10_000, 10_000) == "hnsw"
    assert resolve_ann_kind("hnsw", 10, 10_000) == "hnsw" and resolve_ann_kind("flat", 10**6, 10_000) == "flat"


def test_document_batches_hold_a_piece_budget_longest_first():
    from qbank.index.dense import piece_batches

    # lengths 3, 9, 4: the 9 fills a budget of 10 alone; 4 and 3 pad to 4 × 2 = 8 ≤ 10
    assert piece_batches([3, 9, 4], max_texts=8, max_pieces=10) == [[1], [2, 0]]
    # a text longer than the budget still goes (alone); the text cap binds short texts
    assert piece_batches([300, 2, 2, 2], max_texts=2, max_pieces=256) == [[0], [1, 2], [3]]
    assert piece_batches([], 4, 256) == []
