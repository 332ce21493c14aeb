"""Bring the search index up to date with the archive, through the read model.

``update(reader)`` indexes every finished snapshot not yet indexed (or whose
manifest was replaced by a rerun): for each project row it reads the project's
record only when that record blob is new to the index, and each document text
only when its body is new, so the cost follows what is new, not the archive's
size. The projects an incremental snapshot carried are copied from its
parent's member rows in SQL, without parsing their rows. ``rebuild(reader)`` builds a new
index in ``tmp/`` and renames it over the old one: a kill at any moment leaves
the old index or the new, and never touches anything else in the archive.
"""

from __future__ import annotations

import itertools
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.archive import Archive
from crawler.archive.fs import commit_file
from crawler.archive.index import (
    FINISHED_STATUSES,
    PROJECT_STATES,
    ProjectRow,
    SnapshotRow,
    instant_key,
)
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader, ProjectData
from crawler.read.searchindex import (
    SEARCH_FILE,
    Body,
    Member,
    Occurrence,
    SearchIndex,
    body_of,
)

__all__ = [
    "IndexStats",
    "project_text",
    "rebuild",
    "search_path",
    "update",
    "update_after_snapshot",
]

_BATCH = 500
_UTC_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
PRINCIPAL_KEYS = ("user_id", "group_id", "organization_uuid", "organization_role")


@dataclass
class IndexStats:
    snapshots: list[str] = field(default_factory=list)
    projects: int = 0  # member rows written
    carried: int = 0  # of which copied from the parent snapshot's (carried projects)
    records: int = 0  # records read (new to the index)
    documents: int = 0  # document texts read (new bodies)
    bytes: int = 0  # bytes of document text read
    seconds: float = 0.0


def search_path(reader: ArchiveReader) -> Path:
    return Path(reader.path) / SEARCH_FILE


def update(
    reader: ArchiveReader, path: Path | None = None, log: Callable[[str], None] | None = None
) -> IndexStats:
    """Index every finished snapshot the index does not hold yet (resumable, idempotent)."""
    started = time.perf_counter()
    stats = IndexStats()
    index = SearchIndex.open_writer(path or search_path(reader))
    try:
        done = index.indexed_snapshots()
        for snap in reader.snapshots():
            if snap.status not in FINISHED_STATUSES or snap.manifest_sha256 is None:
                continue
            if snap.id in done and done[snap.id] == snap.manifest_sha256:
                continue
            if log is not None:
                log(f"indexing snapshot {snap.id}")
            _index_snapshot(reader, index, snap, stats)
    finally:
        index.close()
    stats.seconds = time.perf_counter() - started
    return stats


def rebuild(reader: ArchiveReader, log: Callable[[str], None] | None = None) -> IndexStats:
    """A fresh index from the blobs, swapped in atomically when complete."""
    dest = search_path(reader)
    tmp = Path(reader.path) / "tmp" / f"search-{os.urandom(6).hex()}.sqlite"
    try:
        stats = update(reader, tmp, log)
        commit_file(tmp, dest)
    finally:
        for suffix in ("", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
    return stats


def _index_snapshot(
    reader: ArchiveReader, index: SearchIndex, snap: SnapshotRow, stats: IndexStats
) -> None:
    states = None
    base = reader.delta_base(snap.id)
    if base is not None and base in index.indexed_snapshots():
        # A delta: its members are only what it changed, over its base's (resolved when
        # searched, searchindex.member_scope), so a cycle of crawler watch costs its changes.
        with index.tx():
            index.add_delta(snap.id, base)
        rows: Iterator[ProjectRow] = iter(reader.own_rows(snap.id))
    elif snap.parent_id is not None and snap.parent_id in index.indexed_snapshots():
        # An incremental snapshot: what it carried is its parent's, row for row.
        carried = reader.project_ids(snap.id, ["carried"])
        with index.tx():
            copied = index.carry_members(snap.parent_id, snap.id, carried)
        if copied == len(carried):
            states = PROJECT_STATES - {"carried"}
            stats.projects += copied
            stats.carried += copied
        rows = reader.rows(snap.id, states=states)
    else:
        rows = reader.rows(snap.id)
    while True:
        # One transaction per batch: a commit per record would cost an fsync per project.
        with index.tx():
            members: list[tuple[Member, int | None]] = []
            taken = 0
            for row in itertools.islice(rows, _BATCH):
                taken += 1
                record_id = None  # listed or failed: in the list, nothing to search
                if row.record is not None:
                    record_id = index.record_id(row.record.md5, row.record.sha256)
                    if record_id is None:
                        record_id = _index_record(reader, index, row, stats)
                members.append((_member(row), record_id))
            index.add_members(snap.id, members)
            stats.projects += len(members)
            if taken < _BATCH:  # the last batch: the snapshot is whole
                index.mark_indexed(snap.id, snap.manifest_sha256)
                break
    stats.snapshots.append(snap.id)


def _member(row: ProjectRow) -> Member:
    name = row.list_entry.get("name")
    return Member(
        project_id=row.project_id,
        organization_uuid=row.organization_uuid,
        organization_id=row.organization_id,
        user_id=row.user_id,
        user_email=row.user_email,
        created_key=_instant(row.created_at),
        updated_key=_instant(row.updated_at),
        name_key=name.casefold() if isinstance(name, str) else None,
        deleted=row.deleted_at is not None,
        state=row.state,
    )


def _index_record(
    reader: ArchiveReader, index: SearchIndex, row: ProjectRow, stats: IndexStats
) -> int:
    assert row.record is not None
    data = reader.project(row)
    about = data.details or row.list_entry
    name = about.get("name")
    occ = [Occurrence("project", None, _str(name), body_of(project_text(data)))]
    names: dict[str, str] = {}
    for att in data.attachments or []:
        if isinstance(att, dict) and isinstance(att.get("filename"), str):
            att_id = str(att.get("id"))
            names[att_id] = att["filename"]
            occ.append(Occurrence("filename", att_id, att["filename"], body_of(att["filename"])))
    record = data.record
    for doc in record.documents if record is not None else []:
        if doc.text is None:
            continue
        if index.has_body(doc.text.md5, doc.text.sha256):
            body = Body(doc.text.md5, doc.text.sha256, "")  # already indexed: named, not read
        else:
            raw = reader.read_blob(doc.text)
            body = Body(doc.text.md5, doc.text.sha256, raw.decode("utf-8", "replace"))
            stats.documents += 1
            stats.bytes += len(raw)
        occ.append(Occurrence("document", doc.id, names.get(doc.id), body))
    stats.records += 1
    return index.add_record(row.record.md5, row.record.sha256, row.project_id, _str(name), occ)


def project_text(data: ProjectData) -> str:
    """A project's own words: name, description, instructions, creator, collaborators."""
    about: dict[str, Any] = data.details or data.row.list_entry
    lines = [_str(about.get(k)) for k in ("name", "description", "instructions")]
    creator = about.get("creator", about.get("user"))
    if isinstance(creator, dict):
        lines += [_str(v) for v in creator.values()]
    lines += [data.row.user_id, data.row.user_email]
    for collab in data.collaborators or []:
        if isinstance(collab, dict):
            lines += [_str(collab.get(k)) for k in PRINCIPAL_KEYS]
    seen: dict[str, None] = {}
    for line in lines:
        if line:
            seen.setdefault(line, None)
    return "\n".join(seen)


def _instant(ts: str | None) -> str:
    """``instant_key``, with a fast path for the common ``...Z`` spelling (20,000 rows a snapshot)."""
    if ts is not None and _UTC_Z.fullmatch(ts) and ts[17:19] != "60":
        frac = ts[20:-1] if ts[19] == "." else ""
        return f"{ts[:19]}.{frac.ljust(9, '0')[:9]}Z"
    return instant_key(ts)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def update_after_snapshot(archive: Archive, warn: Callable[[str], None]) -> IndexStats | None:
    """The crawl's last step: index what the snapshot added. Never fails the crawl.

    The search index is derived data: if it cannot be updated now (a damaged
    index file, a full disk), the snapshot stands and ``crawler reindex`` catches up.
    """
    try:
        return update(ArchiveReader(archive))
    except (ArchiveError, sqlite3.Error, OSError) as exc:
        warn(f"search index not updated ({exc}); the snapshot is saved: run crawler reindex")
        return None
