"""The catalogue's ``blobs`` table: every durable blob, its kind, and where it is stored.

A row is added only after the blob is durable (the archive's write order); a row
with ``variant`` 1 names a blob stored as ``<md5>.<sha256>`` after an md5 collision.
"""

from __future__ import annotations

from collections.abc import Iterator

from crawler.archive.db import Database
from crawler.archive.refs import BlobRef

__all__ = ["BlobRows"]


class BlobRows(Database):
    """The ``blobs`` table's queries (part of :class:`~crawler.archive.index.Index`)."""

    def add_blob(self, ref: BlobRef, kind: str, *, variant: bool = False) -> bool:
        """Register a durable blob; True if the row is new (the first kind stays)."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO blobs (md5, sha256, size, kind, variant) "
                "VALUES (?, ?, ?, ?, ?)",
                (ref.md5, ref.sha256, ref.size, kind, int(variant)),
            )
            return cur.rowcount == 1

    def find_blob(self, md5: str, sha256: str) -> tuple[str, bool] | None:
        """(kind, stored_as_variant) for a registered blob, else None."""
        row = self._one(
            "SELECT kind, variant FROM blobs WHERE md5 = ? AND sha256 = ?", (md5, sha256)
        )
        return None if row is None else (row[0], bool(row[1]))

    def blobs_with_md5(self, md5: str) -> list[tuple[BlobRef, bool]]:
        """Every registered blob with this md5 (more than one only after a collision)."""
        rows = self._all(
            "SELECT md5, sha256, size, variant FROM blobs WHERE md5 = ? ORDER BY variant", (md5,)
        )
        return [(BlobRef(r[0], r[1], r[2]), bool(r[3])) for r in rows]

    def variant_blobs(self) -> set[tuple[str, str]]:
        """(md5, sha256) of every blob stored as ``<md5>.<sha256>`` (after a collision)."""
        return {(r[0], r[1]) for r in self._all("SELECT md5, sha256 FROM blobs WHERE variant = 1")}

    def iter_blobs(self) -> Iterator[tuple[BlobRef, str, bool]]:
        """(ref, kind, variant) for every registered blob."""
        for r in self._stream("SELECT md5, sha256, size, kind, variant FROM blobs"):
            yield BlobRef(r[0], r[1], r[2]), r[3], bool(r[4])

    def count_blobs(self) -> int:
        return int(self._one("SELECT count(*) FROM blobs")[0])
