from qbank.retrieval.intent import Intent, detect_intent


def test_detects_kind_and_difficulty():
    assert detect_intent("hard coding questions about LRU caches") == Intent(("coding",), ("H",))
    assert detect_intent("behavioral questions about deadlines") == Intent(("behavioral",), ())
    assert detect_intent("warm-up questions on tokenization") == Intent((), ("W",))
    assert detect_intent("system design interview for a chatbot") == Intent(("design",), ())
    assert not detect_intent("kv cache memory")  # a topic alone carries no intent
    assert not detect_intent("design the chunking")  # "design" alone is a topic word


def test_intent_leg_lifts_matching_questions(tiny_searcher):
    res = tiny_searcher.search("coding questions about cache", 5, "hybrid")
    assert res.hits[0].question.kind == "coding"
    assert res.params["intent"] == {"kinds": ["coding"], "difficulties": []}
    assert "intent" in res.hits[0].legs and res.hits[0].legs["intent"].rank == 1
