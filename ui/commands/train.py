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
    for name in ("seed", "layers", "epochs", "loss", "max_length", "max_groups"):
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
    from pathlib import Path

    manifest = train_default_reranker(s, cfg, progress=True, out_dir=Path(args.out) if args.out else None,
                                      data_dir=Path(args.data) if args.data else None)
    if args.format == "json":
        print(json.dumps(manifest, indent=1, ensure_ascii=False))
    else:
        tr, comb = manifest["training"], manifest["combine"]
        print(f"reranker: MiniLM first {manifest['layers']} layers, int8 ONNX, {manifest['data']['groups_total']:,} "
              f"training groups ({tr['pairs_seen']:,} pairs), {tr['total_seconds']:.0f} s; dev nDCG@10 "
              f"{comb['dev_ndcg@10']} (hybrid {comb['dev_hybrid_ndcg@10']}) rescoring the top {comb['top_n']} by "
              f"{comb['method']} (w={comb['weight']})")
        print(f"wrote {args.out or s.reranker_dir}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train-reranker",
                       help="retrain the cross-encoder reranker of --mode full from the judged data (minutes; seeded)")
    add_common(p)
    p.add_argument("--seed", type=int, help="random seed (default 13)")
    p.add_argument("--layers", type=int, help="keep the first N of MiniLM's 6 layers (default 2)")
    p.add_argument("--epochs", type=int, help="passes over the training groups (default 1)")
    p.add_argument("--max-groups", dest="max_groups", type=int,
                   help="train on at most N groups, grade-2 ones first (default: all)")
    p.add_argument("--loss", help="listwise | bce | margin (default listwise)")
    p.add_argument("--data", metavar="DIR", help="judged training data (default data/training)")
    p.add_argument("--out", metavar="DIR", help="write the model here (default data/reranker, the shipped one)")
    p.add_argument("--max-length", dest="max_length", type=int, help="word pieces per pair (default 128)")
    p.add_argument("--scifact", metavar="DIR", help="also train on a BEIR SciFact folder's train split")
    p.add_argument("--build", action="store_true", help="build the index first if it is missing")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_train_reranker)
