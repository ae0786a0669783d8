"""Writing a file (or a folder) so that it is either the old one or the complete new one, never half
of either; and the sha256 that manifests record of files."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with Path(p).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def replace_dir(tmp: Path, target: Path) -> None:
    """Put the complete folder ``tmp`` (written beside ``target``) in the place of ``target``."""
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path`` (a killed write leaves no trace)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
