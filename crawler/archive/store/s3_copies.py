"""Small bodies this machine wrote, kept in the cache directory for reads.

The search index built at a crawl's end reads every text and json body it just
wrote; reading them back from the bucket was a GET each. A copy is only a
shortcut: missing or unwritable, reads go to the bucket (``S3Store.stream``
always does). Keys are the store's own (``blobs/ab/<md5>``), never API names.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["LOCAL_BYTES", "LocalCopies"]

LOCAL_BYTES = 1024 * 1024  # bodies up to this size keep a local copy


class LocalCopies:
    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._dirs: set[Path] = set()  # 256 of them: not a mkdir per blob

    def keep(self, key: str, source: Path, size: int) -> None:
        """Move the uploaded tmp file into the cache (a blob up to LOCAL_BYTES)."""
        if self.root is None or not key.startswith("blobs/") or size > LOCAL_BYTES:
            return
        dest = self.root.joinpath(*key.split("/"))
        with contextlib.suppress(OSError):  # a cache: without it, reads go to the bucket
            if dest.parent not in self._dirs:
                dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._dirs.add(dest.parent)
            os.replace(source, dest)

    def read(self, key: str) -> bytes | None:
        if self.root is None or not key.startswith("blobs/"):
            return None
        with contextlib.suppress(OSError):
            return self.root.joinpath(*key.split("/")).read_bytes()
        return None
