"""What names a blob: ``BlobRef`` (md5, sha256, size), the hash shapes, hashing a file.

A leaf of the archive package: it imports nothing from it, so the store, the
index, the record codec, the manifest and every reader can share it without
a cycle.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.errors import ArchiveError

__all__ = ["MD5_RE", "SHA256_RE", "BlobRef", "check_ref", "hash_file"]

MD5_RE = re.compile(r"[0-9a-f]{32}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BlobRef:
    """What names a blob anywhere (records, manifests, the index)."""

    md5: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"md5": self.md5, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> BlobRef:
        if not isinstance(d, Mapping):
            raise ArchiveError(f"malformed blob reference: {d!r:.200}")
        md5, sha, size = d.get("md5"), d.get("sha256"), d.get("size")
        if not (isinstance(md5, str) and MD5_RE.fullmatch(md5)):
            raise ArchiveError(f"malformed blob reference: md5 {md5!r:.80}")
        if not (isinstance(sha, str) and SHA256_RE.fullmatch(sha)):
            raise ArchiveError(f"malformed blob reference: sha256 {sha!r:.80}")
        # bool is an int subclass: refuse it so that `true` never passes for a size.
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArchiveError(f"malformed blob reference: size {size!r:.80}")
        return cls(md5, sha, size)


def check_ref(ref: BlobRef) -> None:
    """A ref becomes a path: never let anything but lowercase hex through."""
    if not (MD5_RE.fullmatch(ref.md5) and SHA256_RE.fullmatch(ref.sha256)):
        raise ArchiveError(f"malformed blob reference: {ref!r:.200}")


def hash_file(path: Path) -> tuple[str, str, int]:
    """(md5, sha256, size) of a file, read in flat-memory chunks."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_READ_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return md5.hexdigest(), sha.hexdigest(), size
