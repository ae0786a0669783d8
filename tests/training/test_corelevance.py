import json

from qbank.index.related import read_corelevance, text_hash
from qbank.ingest.bank import parse_bank_text
from qbank.training.corelevance import corelevance_graph, write_corelevance
from qbank.training.data import TRAINING_DIR, TrainingData, TrainingQuery, load_training_data


def _data(rows, qrels):
    return TrainingData({q: TrainingQuery(q, t, style, seed, "train") for q, t, style, seed in rows}, qrels)


def test_edges_sum_grade_products_and_skip_intent(tiny_bank_text):
    qs = parse_bank_text(tiny_bank_text).questions
    data = _data([("T1", "kv cache size", "keywords", "E3-81"), ("T2", "how big is the cache", "learner", "E3-81"),
                  ("T3", "coding questions", "intent", "E12-466")],
                 {"T1": {"E3-81": 2, "E12-467": 1, "E1-3": 0},
                  "T2": {"E3-81": 2, "E12-467": 2, "E1-3": 1},
                  "T3": {"E12-466": 2, "E12-467": 2}})
    g = corelevance_graph(data, qs)
    # T1: 2*1 = 2 for (E3-81, E12-467); T2: 2*2 = 4 for it, 2*1 = 2 for (E3-81, E1-3) and (E12-467, E1-3); T3 skipped
    assert g["edges"] == {"E1-3": {"E12-467": 2, "E3-81": 2}, "E12-467": {"E3-81": 6, "E1-3": 2},
                          "E3-81": {"E12-467": 6, "E1-3": 2}}
    assert g["made_from"]["queries"] == 2
    assert g["questions"]["E3-81"] == text_hash(next(q for q in qs if q.id == "E3-81"))


def test_written_file_reads_back(tmp_path, tiny_bank_text):
    qs = parse_bank_text(tiny_bank_text).questions
    data = _data([("T1", "kv", "keywords", "E3-81")], {"T1": {"E3-81": 2, "E12-467": 1}})
    stats = write_corelevance(tmp_path / "g.json", data, qs)
    assert stats["edges"] == 1 and stats["linked"] == 2
    assert read_corelevance(tmp_path / "g.json")["edges"]["E12-467"] == {"E3-81": 2}


def test_shipped_graph_is_made_from_the_shipped_judgments(tmp_path):
    """data/training/corelevance.json is exactly what the judged data and the shipped bank give."""
    from qbank.config import Settings
    from qbank.ingest.pipeline import ingest

    qs = ingest(Settings()).questions
    write_corelevance(tmp_path / "g.json", load_training_data(), qs)
    assert (tmp_path / "g.json").read_bytes() == (TRAINING_DIR / "corelevance.json").read_bytes()
    shipped = json.loads((TRAINING_DIR / "corelevance.json").read_text())
    assert len(shipped["questions"]) == len(qs) and len(shipped["edges"]) > 0.9 * len(qs)
