"""What each page shows, as plain values: read through the read model, never rendered here.

Every function takes the open ``ArchiveReader`` and returns a template context.
An unknown snapshot, project, document or file raises ``NotFound``; nothing here
writes, and nothing loads a whole snapshot: project lists are one SQL page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawler.archive.index import ProjectRow, SnapshotRow
from crawler.archive.project_pages import ProjectQuery
from crawler.archive.records import Fetch, Record
from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError, UsageError
from crawler.read.diff import compare_projects, diff_snapshots
from crawler.read.reader import ArchiveReader, ProjectData
from crawler.read.searchindex import SearchIndex
from crawler.read.searching import project_page

__all__ = ["NotFound", "document", "find_file", "history", "project", "projects", "snapshots"]

PAGE_SIZE = 50
DOC_SHOWN = 300_000  # characters of a document shown on its page; the rest is a download


class NotFound(Exception):
    """The thing a URL names is not in the archive (a 404, never a traceback)."""


def snapshot_or_404(reader: ArchiveReader, snapshot_id: str | None) -> SnapshotRow:
    try:
        return reader.snapshot(snapshot_id or None)
    except (UsageError, ArchiveError) as exc:
        raise NotFound(str(exc)) from None


def row_or_404(reader: ArchiveReader, snapshot_id: str, project_id: str) -> ProjectRow:
    row = reader.row(snapshot_id, project_id)
    if row is None:
        raise NotFound(f"project {project_id} is not in snapshot {snapshot_id}")
    return row


def snapshots(reader: ArchiveReader) -> dict[str, Any]:
    items = []
    for snap in reversed(reader.snapshots()):
        counts = reader.state_counts(snap.id)
        item: dict[str, Any] = {
            "snap": snap,
            "projects": sum(counts.values()),
            "by_state": sorted(counts.items()),
            "requests": None,
            "failures": None,
            "manifest_error": None,
        }
        if snap.manifest_sha256 is not None:
            try:
                manifest = reader.manifest(snap.id)
            except ArchiveError as exc:
                item["manifest_error"] = str(exc)
            else:
                item["requests"] = (manifest.get("requests") or {}).get("total")
                item["failures"] = len(manifest.get("failures") or [])
                item["counts"] = manifest.get("counts") or {}
        items.append(item)
    return {"snapshots": items}


def projects(
    reader: ArchiveReader,
    search: SearchIndex | None,
    snapshot_id: str,
    params: dict[str, str],
    orgs_cache: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    snap = snapshot_or_404(reader, snapshot_id)
    page = max(1, _int(params.get("page"), 1))
    deleted = {"yes": True, "no": False}.get(params.get("deleted", ""))
    query = ProjectQuery(
        organization=params.get("org") or None,
        creator=params.get("creator") or None,
        deleted=deleted,
        text=params.get("q") or None,
        sort=params.get("sort") or "created",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    try:
        rows, total = project_page(reader, search, snap.id, query)
    except UsageError as exc:
        raise NotFound(str(exc)) from None
    return {
        "snap": snap,
        "rows": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "params": params,
        "orgs": _organizations(reader, snap, orgs_cache),
    }


def _organizations(
    reader: ArchiveReader, snap: SnapshotRow, cache: dict[str, list[str]] | None
) -> list[str]:
    """A finished snapshot's organisations never change: asked once (a scan of its rows)."""
    if cache is None or snap.finished_at is None:
        return reader.organizations(snap.id)
    if snap.id not in cache:
        cache[snap.id] = reader.organizations(snap.id)
    return cache[snap.id]


def custody(record: Record) -> list[tuple[str, Fetch]]:
    """Every response the record names, with what it was for."""
    out: list[tuple[str, Fetch]] = []
    if record.list_page is not None:
        out.append(("list page", record.list_page))
    if record.detail is not None:
        out.append(("detail", record.detail))
    out += [(f"attachments page {i + 1}", f) for i, f in enumerate(record.attachment_pages)]
    out += [(f"collaborators page {i + 1}", f) for i, f in enumerate(record.collaborator_pages)]
    for doc in record.documents:
        if doc.response is not None:
            out.append((f"document {doc.id}", doc.response))
        if doc.metadata is not None:
            out.append((f"document metadata {doc.id}", doc.metadata))
    for f in record.files:
        if f.content is not None:
            out.append((f"file {f.id}", f.content))
    return out


def project(reader: ArchiveReader, snapshot_id: str, project_id: str) -> dict[str, Any]:
    snap = snapshot_or_404(reader, snapshot_id)
    row = row_or_404(reader, snap.id, project_id)
    data = reader.project(row)
    about = data.details or row.list_entry
    attachments = []
    for att in data.attachments or []:
        if isinstance(att, dict):
            att_id = str(att.get("id"))
            attachments.append({"att": att, "id": att_id, "body": data.bodies.get(att_id)})
    return {
        "snap": snap,
        "row": row,
        "data": data,
        "about": about,
        "fields": _fields(about),
        "attachments": attachments,
        "collaborators": [c for c in data.collaborators or [] if isinstance(c, dict)],
        "custody": custody(data.record) if data.record is not None else [],
        "failures": data.record.failures if data.record is not None else [],
    }


def _fields(about: dict[str, Any]) -> list[tuple[str, Any]]:
    skip = {"description", "instructions", "name"}
    return [(k, v) for k, v in about.items() if k not in skip]


def _attachment_name(data: ProjectData, item_id: str) -> str | None:
    for att in data.attachments or []:
        if isinstance(att, dict) and str(att.get("id")) == item_id:
            filename = att.get("filename")
            return filename if isinstance(filename, str) else None
    return None


def document(
    reader: ArchiveReader, snapshot_id: str, project_id: str, doc_id: str
) -> dict[str, Any]:
    snap = snapshot_or_404(reader, snapshot_id)
    row = row_or_404(reader, snap.id, project_id)
    data = reader.project(row)
    record = data.record
    entry = next((d for d in record.documents if d.id == doc_id), None) if record else None
    if entry is None or entry.text is None:
        raise NotFound(f"document {doc_id} has no archived text in this snapshot")
    body = reader.read_blob(entry.text).decode("utf-8", "replace")
    return {
        "snap": snap,
        "row": row,
        "about": data.details or row.list_entry,
        "doc_id": doc_id,
        "filename": _attachment_name(data, doc_id),
        "ref": entry.text,
        "text": body[:DOC_SHOWN],
        "cut": max(0, len(body) - DOC_SHOWN),
        "fetch": entry.response,
    }


@dataclass(frozen=True)
class Download:
    ref: BlobRef
    filename: str | None


def find_file(reader: ArchiveReader, snapshot_id: str, project_id: str, item_id: str) -> Download:
    """The body of an attachment (file or document text) to download."""
    snap = snapshot_or_404(reader, snapshot_id)
    data = reader.project(row_or_404(reader, snap.id, project_id))
    ref = data.bodies.get(item_id)
    if ref is None:
        raise NotFound(f"attachment {item_id} has no archived body in this snapshot")
    return Download(ref, _attachment_name(data, item_id))


def history(reader: ArchiveReader, project_id: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for snap in reader.snapshots():
        row = reader.row(snap.id, project_id)
        if row is None:
            continue
        step = {
            "snap": snap,
            "row": row,
            "name": row.list_entry.get("name"),
            "same": previous is not None
            and row.record is not None
            and previous["row"].record == row.record,
            "previous": previous["snap"].id if previous else None,
        }
        steps.append(step)
        previous = step
    if not steps:
        raise NotFound(f"project {project_id} is in no snapshot of this archive")
    return {"project_id": project_id, "steps": list(reversed(steps))}


def diff(reader: ArchiveReader, a_id: str, b_id: str, project_id: str | None) -> dict[str, Any]:
    a = snapshot_or_404(reader, a_id)
    b = snapshot_or_404(reader, b_id)
    if project_id is None:
        return {"a": a, "b": b, "project_id": None, "result": diff_snapshots(reader, a, b)}
    old, new = reader.row(a.id, project_id), reader.row(b.id, project_id)
    if old is None or new is None:
        raise NotFound(f"project {project_id} is not in both snapshots")
    change = compare_projects(reader.project(old), reader.project(new))
    return {"a": a, "b": b, "project_id": project_id, "change": change, "result": None}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default
