"""The blobs in slices, for ``crawler watch``'s continuous verification.

Part of :class:`~crawler.archive.index.Index`. Blobs are taken in the order they
were registered (rowid), from a cursor kept in ``meta`` (``verify_cursor``) that
wraps around: every blob is re-read once per pass, the one checked longest ago
first (a blob is hashed as it is written, which counts as its first check).
"""

from __future__ import annotations

from crawler.archive.db import Database
from crawler.archive.refs import BlobRef

__all__ = ["CURSOR_KEY", "BlobSlices"]

CURSOR_KEY = "verify_cursor"


class BlobSlices(Database):
    def blob_bytes(self) -> int:
        return int(self._one("SELECT coalesce(sum(size), 0) FROM blobs")[0])

    def blobs_after(self, position: int, limit: int) -> list[tuple[int, BlobRef, str]]:
        """Up to ``limit`` blobs past ``position``: (position, ref, kind)."""
        rows = self._all(
            "SELECT rowid, md5, sha256, size, kind FROM blobs WHERE rowid > ? "
            "ORDER BY rowid LIMIT ?",
            (position, limit),
        )
        return [(int(r[0]), BlobRef(r[1], r[2], int(r[3])), str(r[4])) for r in rows]

    def verify_cursor(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = ?", (CURSOR_KEY,))
        try:
            return int(row[0]) if row else 0
        except ValueError:
            return 0  # a damaged cursor only restarts the pass

    def save_verify_cursor(self, position: int) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (CURSOR_KEY, str(position)),
            )
