"""``qbank train-reranker``: train the offline cross-encoder that the ``full`` mode uses.

torch and sentence-transformers load only when the command runs; the training itself is
:mod:`qbank.training.reranker`.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from qbank.ui.commands.common import add_common, progress_factory, settings_from_args


def cmd_train_reranker(args) -> int:
    from qbank.errors import QbankError
    from qbank.training.reranker import LOSSES, TrainConfig, train_default_reranker

    s = settings_from_args(args)
    over = {}
    for name in ("seed", "layers", "epochs", "per_question", "loss", "max_length", "queries"):
        v = getattr(args, name, None)
        if v is not None:
            over[name] = v
    if args.scifact:
        over["scifact"] = args.scifact
    if over.get("loss") is not None and over["loss"] not in LOSSES:
        from qbank.errors import UnknownNameError

        raise UnknownNameError("loss", over["loss"], LOSSES)
    if over.get("layers") is not None and not 1 <= over["layers"] <= 6:
        raise QbankError(f"--layers must be between 1 and 6 (MiniLM has 6), got {over['layers']}")
    cfg = dataclasses.replace(TrainConfig(), **over)
    if args.build:
        from qbank.retrieval.engine import open_searcher

        open_searcher(s, build_if_missing=True, progress_factory=progress_factory("embedding"))
    manifest = train_default_reranker(s, cfg, progress=True)
    if args.format == "json":
        print(json.dumps(manifest, indent=1, ensure_ascii=False))
    else:
        tr, comb = manifest["training"], manifest["combine"]
        print(f"reranker: MiniLM first {manifest['layers']} layers, {manifest['data']['groups_total']:,} training "
              f"queries ({tr['pairs_seen']:,} pairs), {tr['total_seconds']:.0f} s; combines with the fused score "
              f"by {comb['method']} (w={comb['weight']}); `qbank search --mode full` now uses it")
        print(f"wrote {s.reranker_dir}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train-reranker",
                       help="train the offline cross-encoder reranker for --mode full (minutes; seeded)")
    add_common(p)
    p.add_argument("--seed", type=int, help="random seed (default 13)")
    p.add_argument("--layers", type=int, help="keep the first N of MiniLM's 6 layers (default 2)")
    p.add_argument("--epochs", type=int, help="passes over the training queries (default 1)")
    p.add_argument("--per-question", dest="per_question", type=int, help="pseudo-queries per question (default 6)")
    p.add_argument("--loss", help="listwise | bce | margin (default listwise)")
    p.add_argument("--queries", help="training queries: templates | expansions | both (default templates)")
    p.add_argument("--max-length", dest="max_length", type=int, help="word pieces per pair (default 128)")
    p.add_argument("--scifact", metavar="DIR", help="also train on a BEIR SciFact folder's train split")
    p.add_argument("--build", action="store_true", help="build the index first if it is missing")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_train_reranker)
