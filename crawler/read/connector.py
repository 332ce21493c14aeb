"""One project of a snapshot as the connector's record, and the export's filters.

The exported record (one NDJSON line per project) is the existing connector's
shape (docs: /work/shared/API.md, last section), extended:

* every field of the project's list entry, as the API sent it (unknown ones kept);
* ``details``: the detail response, parsed from its raw blob (``null`` if the
  project was gone, i.e. the detail answered 404, or was never fetched);
* ``attachments``: every attachment entry as listed, each extended with
  ``archived`` (bool: is its body in the archive?) and ``archived_body``
  (``{"md5", "sha256", "size_bytes"}`` of the archived document text or file
  body, else ``null``). ``md5`` and ``size_bytes`` are added *only where the API
  sent no such key* (always for documents, whose listing has none): a value the
  API sent, even ``null`` or a stale md5, is never overwritten.
  ``--include-content`` adds ``content`` (the document response object) to each
  archived document; ``--files-dir`` adds ``exported_file`` (path relative to the
  NDJSON file's directory) to each file whose body was copied out;
* ``collaborators``: every collaborator entry as listed;
* ``gone``: true when the detail answered 404 (the project was hard-deleted
  between the list and the fetch). Its list fields are kept, ``details`` is
  ``null``, ``attachments`` and ``collaborators`` are ``[]`` (a hard delete removes
  them upstream);
* ``_archive``: provenance: snapshot id, project state, the snapshot it was
  fetched in, ``carried_from``, the record blob, and the project's failures.
  A project whose record is missing (state ``failed`` or ``listed`` in a partial
  or running snapshot) has ``details``, ``attachments`` and ``collaborators``
  ``null``: unknown, not empty;
* ``activities`` (``--include-activity`` only): the Activity Feed events naming
  the project that this snapshot or an earlier one read, oldest first, as the
  API sent them (who uploaded, replaced or deleted what, granted or revoked
  whom, and when). ``[]`` when none were read (a full snapshot reads none: its
  successor's incremental does).

Projects soft-deleted in claude.ai (``deleted_at`` set) are exported like any
other unless ``--exclude-deleted`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from crawler.archive import ProjectRow
from crawler.archive.index import instant_key
from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader, ProjectData

__all__ = ["ATTACHMENT_EXTENSIONS", "RECORD_EXTENSIONS", "ExportFilters", "export_record"]

# Keys this tool adds to the connector's record and to attachment entries.
RECORD_EXTENSIONS = ("details", "attachments", "collaborators", "gone", "activities", "_archive")
ATTACHMENT_EXTENSIONS = ("archived", "archived_body", "content", "exported_file")


# -- the exported record ------------------------------------------------------------------------


def export_record(
    reader: ArchiveReader,
    data: ProjectData,
    *,
    include_content: bool,
    exported_file: Callable[[BlobRef], str] | None = None,
    activities: list[Any] | None = None,
) -> dict[str, Any]:
    """The connector-shaped record of one project (see the module docstring)."""
    row, record = data.row, data.record
    out: dict[str, Any] = dict(row.list_entry)
    out["details"] = data.details
    attachments = None
    if data.attachments is not None:
        attachments = [
            _attachment(reader, data, entry, include_content, exported_file)
            for entry in data.attachments
        ]
    out["attachments"] = attachments
    out["collaborators"] = data.collaborators
    out["gone"] = data.gone
    if data.gone:
        # A hard delete removes the project's documents, files and grants upstream.
        out["attachments"], out["collaborators"] = [], []
    if activities is not None:
        out["activities"] = activities
    out["_archive"] = {
        "snapshot_id": row.snapshot_id,
        "state": row.state,
        "fetched_in": record.fetched_in if record else None,
        # The crawl carries a project by reusing the earlier record as is, so the
        # record's own carried_from stays null: name the snapshot it was fetched in.
        "carried_from": record.carried_from if record and row.state == "carried" else None,
        "record": row.record.to_json() if row.record else None,
        "failures": record.raw.get("failures", []) if record else [],
    }
    return out


def _attachment(
    reader: ArchiveReader,
    data: ProjectData,
    entry: Any,
    include_content: bool,
    exported_file: Callable[[BlobRef], str] | None,
) -> dict[str, Any]:
    """One attachment entry as listed, extended with what the archive holds for it."""
    att = dict(entry) if isinstance(entry, dict) else {"value": entry}
    aid = str(att.get("id"))
    body = data.bodies.get(aid)
    if body is not None:
        # Never overwrite what the API sent, even null: only fill a missing key.
        att.setdefault("md5", body.md5)
        att.setdefault("size_bytes", body.size)
        att["archived"] = True
        att["archived_body"] = {"md5": body.md5, "sha256": body.sha256, "size_bytes": body.size}
    else:
        att["archived"] = False
        att["archived_body"] = None
    kind = att.get("type")
    if include_content and kind == "project_doc" and aid in data.doc_responses:
        try:
            att["content"] = reader.json_blob(data.doc_responses[aid])
        except ArchiveError as exc:
            raise ArchiveError(f"project {data.project_id}: document {aid}: {exc}") from None
    if exported_file is not None and kind == "project_file" and body is not None:
        try:
            att["exported_file"] = exported_file(body)
        except ArchiveError as exc:
            raise ArchiveError(f"project {data.project_id}: file {aid}: {exc}") from None
    return att


# -- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """Which projects of a snapshot to export. Every filter given must match."""

    orgs: tuple[str, ...] = ()  # tagged org id or organization UUID
    users: tuple[str, ...] = ()  # creator's user id or email address
    since: str | None = None  # created_at >= since (as instants)
    until: str | None = None  # created_at < until
    updated_since: str | None = None  # updated_at >= updated_since
    updated_until: str | None = None  # updated_at < updated_until
    exclude_deleted: bool = False

    def matches(self, row: ProjectRow) -> bool:
        if self.orgs and not (
            row.organization_id in self.orgs or row.organization_uuid in self.orgs
        ):
            return False
        if self.users and row.user_id not in self.users:
            # Email addresses are case-insensitive in practice; ids are not.
            email = (row.user_email or "").lower()
            if not email or email not in (u.lower() for u in self.users):
                return False
        since, until, updated_since, updated_until = self._bounds
        if not _inside(instant_key(row.created_at), since, until):
            return False
        if updated_since is not None or updated_until is not None:
            if row.updated_at is None:
                return False  # no updated_at: not updated in any window
            if not _inside(instant_key(row.updated_at), updated_since, updated_until):
                return False
        return not (self.exclude_deleted and row.deleted_at is not None)

    @cached_property
    def _bounds(self) -> tuple[str | None, ...]:
        """The windows' bounds as instant keys, worked out once, not per row.

        Compared as instants, whatever RFC 3339 form the API or the user wrote.
        """
        bounds = (self.since, self.until, self.updated_since, self.updated_until)
        return tuple(None if b is None else instant_key(b) for b in bounds)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "organization_ids": list(self.orgs),
            "users": list(self.users),
            "created_at_gte": self.since,
            "created_at_lt": self.until,
            "exclude_deleted": self.exclude_deleted,
        }
        if self.updated_since is not None:
            out["updated_at_gte"] = self.updated_since
        if self.updated_until is not None:
            out["updated_at_lt"] = self.updated_until
        return out


def _inside(key: str, since: str | None, until: str | None) -> bool:
    """``since <= key < until``, either bound optional."""
    return (since is None or key >= since) and (until is None or key < until)
