"""Snapshot manifests, ``snapshots/<snapshot_id>.json``: written once, last.

The caller builds the manifest dict (shape in docs/ARCHIVE.md); this module writes it
atomically (tmp, fsync, rename, fsync the directory), and only then records its sha256
in the index, together with the status it states, in one transaction. Reading checks
that the file parses, has the manifest shape, and matches the sha256 in the index.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from crawler.archive.blobs import BlobRef, atomic_write, os_error
from crawler.archive.index import FINISHED_STATUSES, check_snapshot_id
from crawler.errors import ArchiveError

if TYPE_CHECKING:
    from crawler.archive import Archive

MANIFEST_FORMAT = 1


def manifest_path(archive: Archive, snapshot_id: str) -> Path:
    return archive.path / "snapshots" / f"{check_snapshot_id(snapshot_id)}.json"


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    """The manifest's bytes: indented for a human reader, keys in the caller's order."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"


def parse_manifest(data: bytes, snapshot_id: str, where: Path | str) -> dict[str, Any]:
    """Parse and check a manifest's shape; ArchiveError naming ``where`` if it is wrong."""
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArchiveError(f"manifest {where} is damaged or truncated: {exc}") from None
    if not isinstance(manifest, dict):
        raise ArchiveError(f"manifest {where} is not a JSON object")
    if manifest.get("manifest_format") != MANIFEST_FORMAT:
        raise ArchiveError(
            f"manifest {where} has manifest_format {manifest.get('manifest_format')!r}; "
            f"this crawler reads {MANIFEST_FORMAT}"
        )
    if manifest.get("snapshot_id") != snapshot_id:
        raise ArchiveError(
            f"manifest {where} names snapshot {manifest.get('snapshot_id')!r}, not {snapshot_id}"
        )
    projects = manifest.get("projects")
    if not isinstance(projects, list):
        raise ArchiveError(f"manifest {where} has no projects list")
    for item in projects:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ArchiveError(f"manifest {where} has a malformed projects entry")
        if item.get("record") is not None:
            try:
                BlobRef.from_json(item["record"])
            except ArchiveError as exc:
                raise ArchiveError(f"manifest {where}: project {item['id']}: {exc}") from None
    return manifest


def write_manifest(archive: Archive, snapshot_id: str, manifest: dict[str, Any]) -> str:
    """Write the snapshot's manifest; returns its sha256 (also stored in the index).

    Once the file is durable, one index transaction records its sha256 and, when the
    manifest's ``status`` is ``complete`` or ``partial``, that status and
    ``finished_at``: a crash can never leave a finished snapshot without its manifest.
    A manifest is written once: a second, different one is refused.
    """
    path = manifest_path(archive, snapshot_id)
    row = archive.index.get_snapshot(snapshot_id)
    data = encode_manifest(manifest)
    parse_manifest(data, snapshot_id, path)  # never write what read_manifest would refuse
    sha = hashlib.sha256(data).hexdigest()
    if row.manifest_sha256 is not None:
        if row.manifest_sha256 == sha:
            return sha  # the same manifest again: nothing to do
        raise ArchiveError(f"snapshot {snapshot_id} already has a manifest ({path})")
    atomic_write(archive.path / "tmp", path, data)
    status = manifest.get("status")
    finished_at = manifest.get("finished_at")
    archive.index.finish_snapshot(
        snapshot_id,
        manifest_sha256=sha,
        status=status if status in FINISHED_STATUSES else row.status,
        finished_at=finished_at if isinstance(finished_at, str) else None,
    )
    return sha


def read_manifest_bytes(archive: Archive, snapshot_id: str) -> bytes:
    path = manifest_path(archive, snapshot_id)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArchiveError(f"snapshot {snapshot_id} has no manifest ({path})") from None
    except OSError as exc:
        raise os_error(exc, "read", path) from exc


def read_manifest(archive: Archive, snapshot_id: str) -> dict[str, Any]:
    """The snapshot's manifest, checked against the sha256 the index holds for it."""
    path = manifest_path(archive, snapshot_id)
    data = read_manifest_bytes(archive, snapshot_id)
    manifest = parse_manifest(data, snapshot_id, path)
    expected = archive.index.get_snapshot(snapshot_id).manifest_sha256
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ArchiveError(f"manifest {path} does not match the sha256 in the index")
    return manifest
