"""Document text and file bytes, generated on demand from a seed, with cached hashes.

Nothing here is held in memory for long: a file's bytes are produced block by
block from ``(content_seed, size)``, so a 200 MB file costs nothing until it is
served, and its md5 is computed once, lazily, and cached. Identical seeds give
identical bodies, which is how the dataset makes duplicate content on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from functools import lru_cache

BLOCK = 64 * 1024

_ASCII_WORDS = [
    "compliance",
    "archive",
    "project",
    "quarterly",
    "report",
    "budget",
    "review",
    "policy",
    "draft",
    "notes",
    "meeting",
    "summary",
    "roadmap",
    "customer",
    "incident",
    "security",
    "access",
    "retention",
    "audit",
    "legal",
    "finance",
    "market",
    "launch",
    "design",
    "research",
    "data",
    "model",
    "export",
    "schedule",
]
_MULTIBYTE_WORDS = (
    "données",
    "日本語の文書",
    "Привет",
    "naïve",
    "straße",
    "中文内容",
    "🙂",
    "résumé",
    "Ελληνικά",
    "עברית",
    "🚀🚀",
    "ça",
    "κόσμε",
    "한국어",
)


@lru_cache(maxsize=128)
def document_text(seed: int, target_bytes: int, multibyte: bool) -> str:
    """A deterministic text of roughly ``target_bytes`` UTF-8 bytes (0 gives the empty text)."""
    if target_bytes <= 0:
        return ""
    rng = random.Random(seed)
    pool: list[str] = list(_ASCII_WORDS)
    if multibyte:
        # Mostly multi-byte, so the size in bytes is far from the size in characters.
        pool = pool[:6] + list(_MULTIBYTE_WORDS) * 3
    else:
        pool += ["café", "naïve"]
    pool += ["\n"]
    avg = sum(len(w.encode()) + 1 for w in pool) / len(pool)
    words = rng.choices(pool, k=max(1, int(target_bytes / avg)))
    return " ".join(words)


@lru_cache(maxsize=65536)
def text_digest(seed: int, target_bytes: int, multibyte: bool) -> tuple[str, int]:
    """(lowercase hex md5, size in bytes) of the UTF-8 encoding of ``document_text``."""
    raw = document_text(seed, target_bytes, multibyte).encode("utf-8")
    return hashlib.md5(raw).hexdigest(), len(raw)


def _block(content_seed: int, index: int, n: int) -> bytes:
    return random.Random(content_seed * 1_000_003 + index).randbytes(n)


def iter_file_bytes(content_seed: int, size: int) -> Iterator[bytes]:
    """The file's bytes in blocks of ``BLOCK`` (the last may be shorter); no block for 0 bytes."""
    index = 0
    remaining = size
    while remaining > 0:
        n = min(BLOCK, remaining)
        yield _block(content_seed, index, n)
        remaining -= n
        index += 1


_FILE_MD5: dict[tuple[int, int], str] = {}


def file_md5(content_seed: int, size: int) -> str:
    """Lowercase hex md5 of the file's bytes, computed once per (seed, size)."""
    key = (content_seed, size)
    cached = _FILE_MD5.get(key)
    if cached is None:
        h = hashlib.md5()
        for block in iter_file_bytes(content_seed, size):
            h.update(block)
        cached = h.hexdigest()
        _FILE_MD5[key] = cached
    return cached


def content_md5_header(hex_md5: str) -> str:
    """RFC 1864 Content-MD5: base64 of the raw 16-byte digest."""
    return base64.b64encode(bytes.fromhex(hex_md5)).decode("ascii")
