"""The embedding cache: text sha256 → vector, per model, checkpointed as it grows.

Lives in ``cache_dir/embeddings/<model>-<weights hash>/`` (``keys.json`` + ``vectors.npy``), so a
rebuild after an edit re-embeds only the changed texts and a killed build resumes from its last
checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from qbank.index.dense import Embedder


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


CHECKPOINT_TEXTS = 512  # the embedding cache is saved after every this many new texts


class EmbeddingCache:
    """text sha256 → vector, for one model (name + weights hash)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys: list[str] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        kp, vp = folder / "keys.json", folder / "vectors.npy"
        if folder.is_dir():  # temp folders of a save that was killed
            for d in folder.iterdir():
                if d.is_dir():
                    shutil.rmtree(d, ignore_errors=True)
        if kp.exists() and vp.exists():
            try:
                keys = json.loads(kp.read_text())
                vecs = np.load(vp, allow_pickle=False)
                if len(keys) == len(vecs):
                    self.keys, self.vectors = keys, vecs
            except (ValueError, OSError):
                pass  # a broken cache is only a slower build
        self._pos = {k: i for i, k in enumerate(self.keys)}

    def embed(self, texts: list[str], embedder: Embedder, batch_size: int, progress=None,
              checkpoint: int = CHECKPOINT_TEXTS) -> tuple[np.ndarray, int]:
        """Vectors of ``texts`` (cached ones reused); new ones are embedded and saved every
        ``checkpoint`` texts, so a build killed half-way resumes from there."""
        keys = [text_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._pos}.items())
        for i in range(0, len(missing), checkpoint):
            part = missing[i : i + checkpoint]
            new = embedder.encode_documents([t for _, t in part], batch_size, progress)
            base = self.vectors if self.vectors.size else np.zeros((0, new.shape[1]), np.float32)
            self.vectors = np.vstack([base, new]).astype(np.float32)
            for k, _ in part:
                self._pos[k] = len(self.keys)
                self.keys.append(k)
            self._save()
        dim = self.vectors.shape[1] if self.vectors.size else embedder.dim
        out = self.vectors[[self._pos[k] for k in keys]] if keys else np.zeros((0, dim), np.float32)
        return out, len(missing)

    def _save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder))
        (tmp / "keys.json").write_text(json.dumps(self.keys))
        np.save(tmp / "vectors.npy", self.vectors)
        os.replace(tmp / "vectors.npy", self.folder / "vectors.npy")
        os.replace(tmp / "keys.json", self.folder / "keys.json")
        shutil.rmtree(tmp, ignore_errors=True)
