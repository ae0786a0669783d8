"""``qbank train-reranker`` (the cross-encoder that the ``full`` mode uses) and ``qbank
train-encoder`` (the dense leg's bi-encoder): both retrain a shipped model from the judged data.

torch and sentence-transformers load only when a command runs; the training itself is
:mod:`qbank.training.reranker` and :mod:`qbank.training.encoder`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from qbank.ui.commands.common import add_common, progress_factory, settings_from_args


def cmd_train_reranker(args) -> int:
    from qbank.errors import QbankError
    from qbank.training.reranker import LOSSES, TrainConfig, train_default_reranker

    s = settings_from_args(args)
    if args.refit:
        from qbank.training.reranker import refit_combination

        if args.out:  # refit a copy, the shipped reranker stays as it is
            import shutil

            shutil.copytree(s.reranker_dir, args.out, dirs_exist_ok=True)
            s = s.model_copy(update={"reranker_path": Path(args.out)})
        manifest = refit_combination(s, data_dir=Path(args.data) if args.data else None)
        comb = manifest["combine"]
        print(f"refitted the learned ranker on this index's legs: dev nDCG@10 {comb['dev_ndcg@10']} (hybrid "
              f"{comb['dev_hybrid_ndcg@10']}) with {comb['method']} (w={comb['weight']}, N={comb['top_n']})")
        return 0
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
    manifest = train_default_reranker(s, cfg, progress=True, out_dir=Path(args.out) if args.out else None,
                                      data_dir=Path(args.data) if args.data else None)
    tr, comb = manifest["training"], manifest["combine"]
    return _report(args, manifest,
                   f"reranker: MiniLM first {manifest['layers']} layers, int8 ONNX, {manifest['data']['groups_total']:,} "
                   f"training groups ({tr['pairs_seen']:,} pairs), {tr['total_seconds']:.0f} s; dev nDCG@10 "
                   f"{comb['dev_ndcg@10']} (hybrid {comb['dev_hybrid_ndcg@10']}) rescoring the top {comb['top_n']} by "
                   f"{comb['method']} (w={comb['weight']})",
                   f"wrote {args.out or s.reranker_dir}")


def _report(args, manifest: dict, summary: str, wrote: str) -> int:
    """A training command's answer: the manifest as JSON (``--format json``), or a summary line and,
    on stderr, where the model went."""
    if args.format == "json":
        print(json.dumps(manifest, indent=1, ensure_ascii=False))
    else:
        print(summary)
        print(wrote, file=sys.stderr)
    return 0


def cmd_train_encoder(args) -> int:
    from qbank.training.encoder import EncoderConfig, train_default_encoder

    s = settings_from_args(args)
    over = {k: getattr(args, k) for k in ("seed", "layers", "epochs", "lr", "min_grade") if getattr(args, k, None) is not None}
    if args.no_sample_queries:
        over["sample_queries"] = False
    cfg = dataclasses.replace(EncoderConfig(), **over)
    manifest = train_default_encoder(s, cfg, out_dir=Path(args.out) if args.out else None,
                                     data_dir=Path(args.data) if args.data else None)
    d, tr, dev = manifest["data"], manifest["training"], manifest["dev_table"]
    return _report(args, manifest,
                   f"encoder: MiniLM {cfg.layers} layers, int8-weight ONNX, {d['judged_pairs']:,} judged + "
                   f"{d['sample_query_pairs']:,} sample-query pairs, {tr['steps']} steps, {tr['total_seconds']:.0f} s; "
                   f"dev nDCG@10 dense {dev['trained:dense']} (bundled {dev['bundled:dense']}), hybrid "
                   f"{dev['trained:hybrid']} (bundled {dev['bundled:hybrid']})",
                   f"wrote {args.out or 'data/encoder'}; rebuild the index to use it: qbank build")


def register(sub) -> None:
    p = sub.add_parser("train-encoder",
                       help="retrain the dense leg's bi-encoder (data/encoder) from the judged data (minutes; seeded)")
    add_common(p)
    p.add_argument("--seed", type=int, help="random seed (default 13)")
    p.add_argument("--layers", type=int, help="keep the first N of MiniLM's 6 layers (default 6)")
    p.add_argument("--epochs", type=int, help="passes over the pairs (default 1)")
    p.add_argument("--lr", type=float, help="learning rate (default 5e-5)")
    p.add_argument("--min-grade", dest="min_grade", type=int, choices=(1, 2),
                   help="judged positives: questions graded at least this (default 1)")
    p.add_argument("--no-sample-queries", dest="no_sample_queries", action="store_true",
                   help="train on the judged pairs only, not also on the shipped sample queries")
    p.add_argument("--data", metavar="DIR", help="judged training data (default data/training)")
    p.add_argument("--out", metavar="DIR", help="write the model here (default data/encoder, the shipped one)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_train_encoder)

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
    p.add_argument("--out", metavar="DIR", help="write the model here (default data/reranker, the shipped one; "
                   "with --refit: a copy of the shipped one, refitted)")
    p.add_argument("--max-length", dest="max_length", type=int, help="word pieces per pair (default 128)")
    p.add_argument("--scifact", metavar="DIR", help="also train on a BEIR SciFact folder's train split")
    p.add_argument("--build", action="store_true", help="build the index first if it is missing")
    p.add_argument("--refit", action="store_true",
                   help="keep the cross-encoder; refit only the learned ranker and the combination on this index "
                        "(after a new encoder; a few minutes)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_train_reranker)
