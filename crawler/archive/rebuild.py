"""The local cache of a bucket's archive, rebuilt from the bucket alone (docs/ARCHIVE.md).

In an S3 archive ``index.sqlite`` is a cache: everything it must know is in the
bucket, in the manifests (snapshots, their projects and record references, runs,
failures, feed positions and pages, a delta's base) and the records they name (list
entries and pages, the blobs each record refers to). The feed events each read
returned are replayed from its pages (``rebuild_feed``); a delta snapshot
(``crawler watch``) is stored as a delta again, its tombstones from its base.
Rebuilding reads every current manifest revision, every record and every feed page
once, oldest snapshot first, into a new file in ``tmp/`` that is then renamed into
place.
A snapshot that never finished has no manifest: it is not rebuilt (its blobs stay,
and a rerun deduplicates against them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crawler.archive.deltas import REMOVED
from crawler.archive.fs import commit_file, unlink_quietly
from crawler.archive.index import Index
from crawler.archive.layout import INDEX
from crawler.archive.manifest import parse_manifest
from crawler.archive.rebuild_feed import rebuild_feed
from crawler.archive.records import decode_record
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectStore, blob_key
from crawler.canonical import canonical_json
from crawler.errors import ArchiveError

__all__ = ["bucket_manifests", "rebuild_index", "record_refs"]

Say = Callable[[str], None]


def bucket_manifests(store: ObjectStore) -> dict[str, str]:
    """snapshot id -> the key of its current (highest) manifest revision."""
    best: dict[str, tuple[int, str]] = {}
    for key in store.list("snapshots/"):
        name = key.removeprefix("snapshots/").removesuffix(".json")
        sid, _, rev = name.partition(".")
        if not key.endswith(".json") or (rev and not rev.isdigit()):
            continue
        n = int(rev) if rev else 1
        if sid not in best or best[sid][0] < n:
            best[sid] = (n, key)
    return {sid: key for sid, (_, key) in best.items()}


def rebuild_index(store: ObjectStore, cache: Path, say: Say) -> None:
    """A fresh ``cache/index.sqlite`` from the bucket; says what it does on ``say``."""
    manifests = bucket_manifests(store)
    if manifests:  # a new archive's empty index is no rebuild worth a word
        say(
            f"rebuilding the local cache of {store.url} from the bucket ({len(manifests)} snapshots)"
        )
    tmp = cache / "tmp" / f"index-{os.urandom(6).hex()}.sqlite"
    index = Index.open_writer(tmp, create=True)
    try:
        stored = set(store.list("blobs/"))
        loaded = []
        for sid, key in manifests.items():
            data = store.get(key)
            loaded.append((parse_manifest(data, sid, store.where(key)), data))
        loaded.sort(key=lambda m: (str(m[0].get("started_at")), m[0]["snapshot_id"]))
        for n, (manifest, data) in enumerate(loaded, 1):
            _snapshot(store, index, manifest, data, stored)
            say(f"  snapshot {manifest['snapshot_id']} ({n}/{len(loaded)})")
        index.close()
        commit_file(tmp, cache / INDEX)
    except BaseException:
        index.close()
        for name in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            unlink_quietly(name)
        raise
    os.chmod(cache / INDEX, 0o600)


def _snapshot(
    store: ObjectStore, index: Index, m: dict[str, Any], data: bytes, stored: set[str]
) -> None:
    sid = m["snapshot_id"]
    filters = m.get("filters") or {}
    key_form = dict(filters)
    for name in ("organization_ids", "user_ids"):
        key_form[name] = sorted(set(filters.get(name) or []))
    index.create_snapshot(
        sid,
        filters=filters,
        filter_key=canonical_json(key_form).decode(),
        settings=m.get("settings") or {},
        incremental=bool(m.get("incremental")),
        parent_id=m.get("parent_id"),
        started_at=str(m.get("started_at")),
    )
    for fetch in (m.get("feed") or {}).get("pages") or []:
        _add_refs(index, fetch, "json", stored)
    delta = m.get("delta") if isinstance(m.get("delta"), dict) else None
    removed = []
    for item in m["projects"]:
        if delta is not None and item.get("state") == REMOVED:
            removed.append(str(item["id"]))  # a tombstone: the base's row, below
            continue
        _project(store, index, sid, item, stored)
    if delta is not None:  # after its base's rows: the base started before it
        index.rebuild_delta(sid, str(delta["base_id"]), int(delta["depth"]), removed)
    for f in m.get("failures") or []:
        index.add_failure(
            sid, project_id=f.get("project_id"), kind=str(f.get("kind")),
            item_id=f.get("item_id"), reason=str(f.get("reason")), status=f.get("status"),
            error_type=f.get("error_type"), request_id=f.get("request_id"),
        )  # fmt: skip
    totals = {k: (m.get("counts") or {}).get(k, 0) for k in _TOTALS}
    index.save_stats(sid, {"runs": m.get("runs") or [], "totals": totals})
    if isinstance(m.get("feed"), dict):
        rebuild_feed(store, index, m, stored)  # after the parent's: it started before
    index.finish_snapshot(
        sid,
        manifest_sha256=hashlib.sha256(data).hexdigest(),
        status=str(m.get("status")),
        finished_at=m.get("finished_at"),
    )


_TOTALS = ("documents", "files", "collaborators", "attachments", "bytes")


def _project(
    store: ObjectStore, index: Index, sid: str, item: dict[str, Any], stored: set[str]
) -> None:
    pid = item["id"]
    ref = BlobRef.from_json(item["record"]) if item.get("record") else None
    entry: dict[str, Any] = {"id": pid}
    page = None
    if ref is not None:
        variant = blob_key(ref.md5, ref.sha256) in stored
        key = blob_key(ref.md5, ref.sha256 if variant else None)
        record = decode_record(store.get(key), f"record {store.where(key)}")
        listed = record.get("list_entry")
        entry = listed if isinstance(listed, dict) else entry
        page = record.get("list_page")
        index.add_blob(ref, "record", variant=variant)
        _add_refs(index, record, "json", stored)
    index.record_list_page(sid, [entry], watermark=None, request_id=None, page=page)
    index.set_project(sid, pid, str(item.get("state")), ref)


def _add_refs(index: Index, node: Any, kind: str, stored: set[str]) -> None:
    """Register every blob reference in a record or fetch (its kind from where it sits)."""
    for ref, ref_kind in record_refs(node, kind):
        variant = blob_key(ref.md5, ref.sha256) in stored
        index.add_blob(ref, ref_kind, variant=variant)


def record_refs(node: Any, kind: str) -> Iterator[tuple[BlobRef, str]]:
    if isinstance(node, list):
        for item in node:
            yield from record_refs(item, kind)
        return
    if not isinstance(node, dict):
        return
    if set(node) == {"md5", "sha256", "size"}:
        with contextlib.suppress(ArchiveError):  # not a reference after all: a field's value
            yield BlobRef.from_json(node), kind
        return
    for name, value in node.items():
        if name in ("list_entry",):
            continue
        child = {"text": "text"}.get(name, kind)
        if name == "files" and isinstance(value, list):
            for f in value:
                if isinstance(f, dict):
                    yield from record_refs(f.get("content"), "file")
                    yield from record_refs(f.get("blob"), "file")
            continue
        yield from record_refs(value, child)
