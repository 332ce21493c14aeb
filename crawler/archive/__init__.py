"""The archive on disk (format v1; the full contract is docs/ARCHIVE.md).

Layout::

    ARCHIVE_DIR/            0700, files 0600
      ARCHIVE               marker: {"format": "crawler-archive", "version": 2, ...}
      lock                  flock'ed by the one writer
      tmp/                  every write starts here; leftovers are garbage, swept on open
      blobs/ab/<md5>        content-addressed bodies (<md5>.<sha256> for a collision)
      index.sqlite          catalogue and run state
      snapshots/<id>.json   one manifest per finished snapshot

Write order, as restic: blobs, then the index rows that refer to them, then the
snapshot manifest. So every index reference resolves to a durable blob, and a crash
leaves at worst orphan blobs and tmp files, which ``crawler verify`` reports as notes.

Modules, leaves first (each imports only those above it)::

    refs        BlobRef (md5, sha256, size), the hash shapes, hashing a file
    fs          atomic writes, directory fsync, umask and the writer's lock, OSError mapping
    layout      the marker, the fixed names, snapshot ids
    schema      the index's SQL and its row types; db: the connection; blob_rows, index: queries
    blobs       BlobStore: md5-named files on disk, streamed, deduplicated, collisions kept
    records     the one project-record codec (records_read: its typed accessors)
    manifest    snapshot manifests, streamed, written last
    repository  Archive: puts blobs, then their rows; records; manifests; opening and closing

This face re-exports what callers outside the package use.
"""

from crawler.archive.blobs import StoredBlob
from crawler.archive.index import ProjectRow, SnapshotRow
from crawler.archive.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MARKER,
    new_snapshot_id,
    read_marker,
)
from crawler.archive.refs import BlobRef
from crawler.archive.repository import Archive

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MARKER",
    "Archive",
    "BlobRef",
    "ProjectRow",
    "SnapshotRow",
    "StoredBlob",
    "new_snapshot_id",
    "read_marker",
]
