from qbank.retrieval.intent import Intent, detect_intent, topic_of


def test_detects_kind_and_difficulty():
    assert detect_intent("hard coding questions about LRU caches") == Intent(("coding",), ("H",))
    assert detect_intent("behavioral questions about deadlines") == Intent(("behavioral",), ())
    assert detect_intent("warm-up questions on tokenization") == Intent((), ("W",))
    assert detect_intent("system design interview for a chatbot") == Intent(("design",), ())
    assert not detect_intent("kv cache memory")  # a topic alone carries no intent
    assert not detect_intent("design the chunking")  # "design" alone is a topic word


def test_code_as_the_thing_asked_for_is_a_coding_intent():
    for q in ("code a ring that assigns keys to servers", "how would I code logit masking",
              "consistent hashing virtual nodes code", "write code for top-k sampling", "an LRU cache in Python"):
        assert detect_intent(q).kinds == ("coding",), q
    # code as one noun among others names no kind
    for q in ("code review and giving constructive feedback", "code execution agent sandbox",
              "I want the model's generated code to run live for users in a safe sandbox",
              "visual of stacked function calls where width shows time spent, used to find slow code"):
        assert detect_intent(q).kinds == (), q


def test_intent_leg_lifts_matching_questions(tiny_searcher):
    res = tiny_searcher.search("coding questions about cache", 5, "hybrid")
    assert res.hits[0].question.kind == "coding"
    assert res.params["intent"] == {"kinds": ["coding"], "difficulties": [], "roles": []}
    assert "intent" in res.hits[0].legs and res.hits[0].legs["intent"].rank == 1


def test_roles_and_the_conceptual_kind():
    assert detect_intent("medium conceptual question on dropout for an MLE") == Intent(("conceptual",), ("M",), ("MLE",))
    assert detect_intent("warm-up question on runbooks for an infra engineer").roles == ("INF",)
    assert detect_intent("kv cache questions for ML systems engineers").roles == ("MLS",)
    assert detect_intent("hard question for an applied scientist").roles == ("AS",)
    assert detect_intent("research engineer questions on RoPE").roles == ("RE",)
    # the short tags are ordinary words, and infrastructure alone is a topic
    assert not detect_intent("as a rule, re-ranking helps")
    assert not detect_intent("feature store infrastructure")


def test_accepts_needs_every_named_facet(tiny_bank_text):
    from qbank.ingest.bank import parse_bank_text

    by_id = parse_bank_text(tiny_bank_text).by_id()
    q = by_id["E1-1"]  # [W][MLE] conceptual
    assert Intent((), ("W",), ("MLE",)).accepts(q)
    assert not Intent((), ("W",), ("INF",)).accepts(q)
    assert not Intent(("coding",), (), ("MLE",)).accepts(q)
    assert Intent(roles=("MLE",)).to_dict() == {"kinds": [], "difficulties": [], "roles": ["MLE"]}


def test_a_long_pasted_question_names_no_type():
    pasted = ("H100s advertise twice the matmul throughput in 8-bit floats, yet many labs still pretrain in BF16. "
              "What makes 8-bit training hard to adopt by default, and what would you check first?")
    assert len(pasted.split()) > 25 and not detect_intent(pasted)


def test_topic_drops_role_and_filler_words_but_keeps_difficulty():
    def topic(q):
        return topic_of(q, detect_intent(q))

    assert topic("medium conceptual question on dual vs joint encoders for an MLE") == "medium on dual vs joint encoders"
    assert topic("warm-up question on on-call runbooks for an infra engineer") == "warm-up on on-call runbooks"
    assert topic("hard coding question: implement LM loss from scratch") == "hard coding implement LM loss from scratch"
    assert topic("questions for an MLE") == "questions for an MLE"  # nothing left: the query stays whole
    assert topic("kv cache memory") == "kv cache memory"  # no type named


def test_search_reads_the_topic_and_says_so(tiny_searcher):
    res = tiny_searcher.search("medium conceptual question on attention scaling for an MLE", 5, "hybrid")
    assert res.params["topic"] == "medium on attention scaling"
    assert res.params["intent"] == {"kinds": ["conceptual"], "difficulties": ["M"], "roles": ["MLE"]}
    assert "topic" not in tiny_searcher.search("attention scaling", 5, "hybrid").params
