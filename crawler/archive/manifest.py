"""Snapshot manifests, ``snapshots/<snapshot_id>.json``: written once, last.

The caller builds the manifest dict (shape in docs/ARCHIVE.md); this module writes it
atomically (tmp, fsync, rename, fsync the directory), and only then records its sha256
in the index, together with the status it states, in one transaction. Reading checks
that the file parses, has the manifest shape, and matches the sha256 in the index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from crawler.archive.fs import spool, unlink_quietly
from crawler.archive.index import FINISHED_STATUSES, Index, check_snapshot_id
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectMissingError, ObjectStore, manifest_key
from crawler.errors import ArchiveError

MANIFEST_FORMAT = 1
# 2: a delta snapshot's manifest (a "delta" header; "projects" lists only its own rows).
MANIFEST_FORMATS = (1, 2)


def manifest_path(root: Path, snapshot_id: str) -> Path:
    return root / "snapshots" / f"{check_snapshot_id(snapshot_id)}.json"


def manifest_revisions(store: ObjectStore, snapshot_id: str) -> list[int]:
    """The revisions of a snapshot's manifest in the store, oldest first (disk: [1] at most)."""
    check_snapshot_id(snapshot_id)
    found: list[int] = []
    for key in store.list(f"snapshots/{snapshot_id}."):
        middle = key.removeprefix(f"snapshots/{snapshot_id}.").removesuffix(".json")
        if key.endswith(".json") and (middle == "" or key == manifest_key(snapshot_id)):
            found.append(1)
        elif middle.isdigit() and manifest_key(snapshot_id, int(middle)) == key:
            found.append(int(middle))
    return sorted(found)


def current_manifest_key(store: ObjectStore, snapshot_id: str) -> str:
    """The key of the manifest in force: the highest revision (a bucket keeps them all)."""
    if not store.worm:
        return manifest_key(check_snapshot_id(snapshot_id))
    revisions = manifest_revisions(store, snapshot_id)
    return manifest_key(snapshot_id, revisions[-1] if revisions else 1)


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
    if manifest.get("manifest_format") not in MANIFEST_FORMATS:
        raise ArchiveError(
            f"manifest {where} has manifest_format {manifest.get('manifest_format')!r}; "
            f"this crawler reads {', '.join(map(str, MANIFEST_FORMATS))}"
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


def write_manifest(
    store: ObjectStore, tmp_dir: Path, index: Index, snapshot_id: str, manifest: dict[str, Any]
) -> str:
    """Write the snapshot's manifest from a dict; see :func:`write_manifest_stream`.

    Writing the same manifest again is a no-op; a different one is refused.
    """
    header = {k: v for k, v in manifest.items() if k != "projects"}
    projects = manifest.get("projects", [])
    data = b"".join(_chunks(snapshot_id, header, projects))
    parse_manifest(data, snapshot_id, store.where(manifest_key(snapshot_id)))
    if index.get_snapshot(snapshot_id).manifest_sha256 == hashlib.sha256(data).hexdigest():
        return hashlib.sha256(data).hexdigest()
    return write_manifest_stream(store, tmp_dir, index, snapshot_id, header, projects)


def write_manifest_stream(
    store: ObjectStore,
    tmp_dir: Path,
    index: Index,
    snapshot_id: str,
    header: dict[str, Any],
    projects: Iterable[dict[str, Any]],
) -> str:
    """Write the snapshot's manifest, streaming its project list; returns its sha256.

    Memory stays flat however many projects the snapshot holds: each entry is
    checked, encoded, hashed and written as it comes. Once the file is durable,
    one index transaction records its sha256 and, when ``status`` is ``complete``
    or ``partial``, that status and ``finished_at``: a crash can never leave a
    finished snapshot without its manifest. A recorded manifest is never replaced;
    a partial snapshot that is resumed is reopened first (:func:`reopen_snapshot`).
    """
    row = index.get_snapshot(snapshot_id)
    if row.manifest_sha256 is not None:
        where = store.where(current_manifest_key(store, snapshot_id))
        raise ArchiveError(f"snapshot {snapshot_id} already has a manifest ({where})")
    tmp, md5, sha, size = spool(tmp_dir, _chunks(snapshot_id, header, projects))
    try:
        _place_manifest(store, snapshot_id, tmp, md5, sha, size)
    finally:
        unlink_quietly(tmp)
    status = header.get("status")
    finished_at = header.get("finished_at")
    index.finish_snapshot(
        snapshot_id,
        manifest_sha256=sha,
        status=status if status in FINISHED_STATUSES else row.status,
        finished_at=finished_at if isinstance(finished_at, str) else None,
    )
    return sha


def _place_manifest(
    store: ObjectStore, snapshot_id: str, tmp: Path, md5: str, sha: str, size: int
) -> None:
    """Disk: replace the file. A bucket: put the next revision once (nothing is replaced)."""
    if not store.worm:
        store.replace(manifest_key(snapshot_id), tmp)
        return
    revisions = manifest_revisions(store, snapshot_id)
    key = manifest_key(snapshot_id, revisions[-1] + 1 if revisions else 1)
    if not store.put_once(key, tmp, md5=md5, sha256=sha, size=size, kind="manifest"):
        raise ArchiveError(f"manifest {store.where(key)} appeared while this run wrote it")


def _chunks(
    snapshot_id: str, header: dict[str, Any], projects: Iterable[dict[str, Any]]
) -> Iterator[bytes]:
    """The manifest's bytes, the project list last, one entry a line."""
    if header.get("manifest_format") not in MANIFEST_FORMATS:
        raise ArchiveError(
            f"manifest for {snapshot_id}: manifest_format must be one of {MANIFEST_FORMATS}"
        )
    if header.get("snapshot_id") != snapshot_id:
        raise ArchiveError(
            f"manifest for {snapshot_id} names snapshot {header.get('snapshot_id')!r}"
        )
    head = encode_manifest(header).rstrip()
    yield head[:-1].rstrip() + b',\n  "projects": ['
    for n, item in enumerate(projects):
        if not isinstance(item.get("id"), str):
            raise ArchiveError(f"manifest for {snapshot_id}: a project entry has no id")
        if item.get("record") is not None:
            BlobRef.from_json(item["record"])
        yield (b"\n    " if n == 0 else b",\n    ") + orjson.dumps(item)
    yield b"\n  ]\n}\n"


def reopen_snapshot(index: Index, snapshot_id: str) -> None:
    """Make a finished (partial) snapshot running again, so a rerun can retry its failures.

    The index forgets the manifest first; the file stays until the rerun replaces it
    atomically. A crash in between leaves an unfinished snapshot whose manifest is not
    recorded, which verify reports as a note, not a problem.
    """
    index.reopen_snapshot(snapshot_id)


def read_manifest_bytes(store: ObjectStore, snapshot_id: str) -> bytes:
    key = current_manifest_key(store, snapshot_id)
    try:
        return store.get(key)
    except ObjectMissingError:
        raise ArchiveError(f"snapshot {snapshot_id} has no manifest ({store.where(key)})") from None


def read_manifest(store: ObjectStore, index: Index, snapshot_id: str) -> dict[str, Any]:
    """The snapshot's manifest, checked against the sha256 the index holds for it."""
    path = store.where(current_manifest_key(store, snapshot_id))
    data = read_manifest_bytes(store, snapshot_id)
    manifest = parse_manifest(data, snapshot_id, path)
    expected = index.get_snapshot(snapshot_id).manifest_sha256
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise ArchiveError(f"manifest {path} does not match the sha256 in the index")
    return manifest
