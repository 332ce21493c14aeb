"""The archive directory's fixed parts: the marker, the names in it, snapshot ids.

See docs/ARCHIVE.md, "Layout". Nothing here writes, except :func:`sweep_tmp`
(called only by the writer holding the lock).
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson

from crawler.archive.fs import os_error
from crawler.canonical import utc_now_seconds
from crawler.errors import ArchiveError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "INDEX",
    "MARKER",
    "check_marker",
    "is_empty_store",
    "new_marker",
    "new_snapshot_id",
    "read_marker",
    "sweep_tmp",
]

FORMAT_NAME = "crawler-archive"
FORMAT_VERSION = 2
# Version 2 added the seal (log/); a version 1 archive is the same without it.
READABLE_VERSIONS = (1, 2)
MARKER = "ARCHIVE"
INDEX = "index.sqlite"


def new_snapshot_id(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ-xxxxxx``: the UTC start time and 6 random hex digits."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # a naive time is taken to be UTC
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def read_marker(path: Path) -> None:
    """Check the ARCHIVE marker; ArchiveError if it is absent or not ours."""
    marker = path / MARKER
    try:
        data = marker.read_bytes()
    except FileNotFoundError:
        raise ArchiveError(f"{path} is not a crawler archive (no {MARKER} marker)") from None
    except OSError as exc:
        raise os_error(exc, "read", marker) from exc
    check_marker(data, str(path), str(marker))


def new_marker(store: str | None = None) -> bytes:
    """A new archive's marker; a bucket's says ``"store": "s3"`` (readers ignore it)."""
    doc: dict[str, object] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "created_at": utc_now_seconds(),
    }
    if store is not None:
        doc["store"] = store
    return orjson.dumps(doc) + b"\n"


def check_marker(data: bytes, path: str, marker: str) -> None:
    """The marker's bytes are ours and of a version this crawler reads."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"{marker} is damaged: not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise ArchiveError(f"{path} is not a crawler archive ({marker} is not ours)")
    if doc.get("version") not in READABLE_VERSIONS:
        raise ArchiveError(
            f"{path} is archive format version {doc.get('version')!r}; "
            f"this crawler reads versions {', '.join(map(str, READABLE_VERSIONS))}"
        )


def sweep_tmp(tmp: Path) -> None:
    # Anything in tmp/ belongs to a writer that died: we hold the lock, so none is alive.
    for entry in os.scandir(tmp):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def is_empty_store(path: Path) -> bool:
    blobs = path / "blobs"
    snaps = path / "snapshots"
    return not (blobs.is_dir() and any(blobs.iterdir())) and not (
        snaps.is_dir() and any(snaps.iterdir())
    )
