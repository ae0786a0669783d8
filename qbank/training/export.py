"""A trained cross-encoder → one int8 ONNX file that :class:`qbank.retrieval.rerank.OnnxCrossEncoder`
runs with onnxruntime (no torch on the query path).

The graph is the whole scorer: the (cut) BERT encoder, mean pooling over the pair's tokens and the
linear head, inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` (batch × length, both
dynamic), output ``scores`` (batch). Dynamic int8 quantisation covers the MatMuls and the embedding
table (Gather), which is what brings a 2-layer MiniLM from ~60 MB to ~15 MB. Needs ``onnx``
(``pip install -e '.[train]'``), only here.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from qbank.errors import UnavailableError

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def _scorer(ce):
    import torch

    bert, head = ce[0].model, ce[len(ce) - 1]
    linear = getattr(head, "linear", None)
    if linear is None:
        raise UnavailableError("only mean-pooling cross-encoders made by qbank train-reranker can be exported")

    class Scorer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert, self.linear = bert, linear

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
            return self.linear(pooled).squeeze(-1)

    return Scorer().eval()


def export_onnx(ce, out_dir: Path, quantize: bool = True) -> Path:
    """Write ``out_dir/model.onnx`` (int8 unless ``quantize=False``) and ``out_dir/tokenizer.json``."""
    try:
        import onnx  # noqa: F401 - the exporter and the quantiser need it
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise UnavailableError("exporting the reranker needs onnx: pip install -e '.[train]'") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scorer = _scorer(ce)
    enc = ce.tokenizer([("a query", "a document")], return_tensors="pt", padding=True)
    args = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "float.onnx"
        axes = {0: "batch", 1: "length"}
        with torch.no_grad():
            torch.onnx.export(scorer, args, str(raw), input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["scores"], dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                                                     "token_type_ids": axes, "scores": {0: "batch"}},
                              opset_version=17, dynamo=False)
        target = out_dir / ONNX_FILE
        if quantize:
            quantize_dynamic(str(raw), str(target), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul", "Gather"], per_channel=True)
        else:
            shutil.copyfile(raw, target)
    ce.tokenizer.save_pretrained(str(Path(tmp_tok := out_dir / ".tok")))
    shutil.move(str(tmp_tok / TOKENIZER_FILE), out_dir / TOKENIZER_FILE)
    shutil.rmtree(tmp_tok, ignore_errors=True)
    return target
