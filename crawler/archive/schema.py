"""The catalogue's schema (docs/ARCHIVE.md, "The index") and its rows as Python values.

The SQL, the snapshot id shape, the states, and the two row types
(:class:`SnapshotRow`, :class:`ProjectRow`) with their converters. No connection
here: :mod:`crawler.archive.db` holds it, :mod:`crawler.archive.index` queries it.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError

SCHEMA_VERSION = 1  # what a new index is created with
# An index holding delta snapshots (snapshot_deltas rows) says 2, so that a crawler that
# cannot resolve them refuses the archive instead of reading a delta as a whole snapshot.
DELTA_SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)
SNAPSHOT_ID_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
SNAPSHOT_STATUSES = frozenset({"running", "complete", "partial", "abandoned"})
FINISHED_STATUSES = frozenset({"complete", "partial"})
PROJECT_STATES = frozenset({"listed", "done", "partial", "gone", "failed", "carried"})

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs (
  md5 TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  kind TEXT NOT NULL, variant INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (md5, sha256));
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  filter_key TEXT NOT NULL,
  filters TEXT NOT NULL,
  settings TEXT NOT NULL,
  incremental INTEGER NOT NULL, parent_id TEXT,
  started_at TEXT NOT NULL, finished_at TEXT,
  watermark TEXT,
  list_pages INTEGER NOT NULL DEFAULT 0,
  last_page_request_id TEXT,
  stats TEXT,
  manifest_sha256 TEXT);
CREATE TABLE snapshot_projects (
  snapshot_id TEXT NOT NULL, project_id TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT,
  organization_id TEXT, organization_uuid TEXT,
  user_id TEXT, user_email TEXT, deleted_at TEXT,
  list_entry TEXT NOT NULL,
  list_page TEXT,
  state TEXT NOT NULL,
  record_md5 TEXT, record_sha256 TEXT, record_size INTEGER,
  PRIMARY KEY (snapshot_id, project_id));
CREATE TABLE snapshot_documents (
  snapshot_id TEXT NOT NULL, document_id TEXT NOT NULL,
  entry TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, document_id));
CREATE TABLE failures (
  snapshot_id TEXT NOT NULL, project_id TEXT, kind TEXT NOT NULL, item_id TEXT,
  reason TEXT NOT NULL, status INTEGER, error_type TEXT, request_id TEXT, at TEXT NOT NULL);
CREATE INDEX failures_by_snapshot ON failures (snapshot_id, project_id);
CREATE INDEX snapshots_by_filter ON snapshots (filter_key, status);
"""

# The Activity Feed's tables (crawler/archive/feed_rows.py). Every writer creates them if
# missing, so an archive made before them gains them and simply has no feed position.
FEED_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot_feed (
  snapshot_id TEXT PRIMARY KEY,
  state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feed_events (
  snapshot_id TEXT NOT NULL, activity_id TEXT NOT NULL,
  project_id TEXT, type TEXT, created_at TEXT, created_key TEXT NOT NULL,
  acted INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, activity_id));
CREATE INDEX IF NOT EXISTS feed_events_by_project ON feed_events (project_id, created_key);
CREATE TABLE IF NOT EXISTS snapshot_deltas (
  snapshot_id TEXT PRIMARY KEY, base_id TEXT NOT NULL, depth INTEGER NOT NULL)
"""

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def instant_key(ts: str | None) -> str:
    """A string that sorts as the instant ``ts`` names, whatever its RFC 3339 form.

    ``2025-01-01T00:00:00Z`` and ``2025-01-01T00:00:00.5+00:00`` and
    ``2025-01-01T01:00:00+01:00`` compare by time, not by text. Fractions are kept as
    digits (padded to nanoseconds), so nothing finer than a microsecond is lost.
    Unparseable text sorts after every timestamp, by its text.
    """
    if ts is None:
        return "~"
    m = _RFC3339.fullmatch(ts)
    if m is None:
        return "~" + ts
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "").ljust(9, "0")[:9]
    zone = m.group(8)
    if second == 60:  # a leap second: the last instant of that minute
        second, frac = 59, "999999999"
    try:
        tz = UTC
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        dt = datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return "~" + ts
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{frac}Z"


def check_snapshot_id(snapshot_id: str) -> str:
    """Snapshot ids become file names: only the generated shape gets through."""
    if not isinstance(snapshot_id, str) or not SNAPSHOT_ID_RE.fullmatch(snapshot_id):
        raise ArchiveError(f"malformed snapshot id {snapshot_id!r:.80}")
    return snapshot_id


def dumps_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads_text(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"damaged index: {what} is not valid JSON") from None


@dataclass
class SnapshotRow:
    id: str
    status: str
    filter_key: str
    filters: dict[str, Any]
    settings: dict[str, Any]
    incremental: bool
    parent_id: str | None
    started_at: str
    finished_at: str | None
    watermark: str | None
    list_pages: int
    last_page_request_id: str | None
    stats: dict[str, Any] | None
    manifest_sha256: str | None

    def summary(self) -> dict[str, Any]:
        """What a listing or an export says of the snapshot (``crawler snapshots``, export)."""
        return {
            "id": self.id,
            "status": self.status,
            "incremental": self.incremental,
            "parent_id": self.parent_id,
            "filters": self.filters,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


@dataclass
class ProjectRow:
    snapshot_id: str
    project_id: str
    created_at: str
    updated_at: str | None
    organization_id: str | None
    organization_uuid: str | None
    user_id: str | None
    user_email: str | None
    deleted_at: str | None
    list_entry: dict[str, Any]
    state: str
    record: BlobRef | None
    list_page: dict[str, Any] | None = None  # fetch of the list page the entry came from


SNAPSHOT_COLS = (
    "id, status, filter_key, filters, settings, incremental, parent_id, started_at, "
    "finished_at, watermark, list_pages, last_page_request_id, stats, manifest_sha256"
)
PROJECT_COLS = (
    "snapshot_id, project_id, created_at, updated_at, organization_id, organization_uuid, "
    "user_id, user_email, deleted_at, list_entry, state, record_md5, record_sha256, record_size, "
    "list_page"
)


def snapshot_row(row: sqlite3.Row | tuple[Any, ...]) -> SnapshotRow:
    sid = row[0]
    return SnapshotRow(
        id=sid,
        status=row[1],
        filter_key=row[2],
        filters=loads_text(row[3], f"snapshot {sid} filters"),
        settings=loads_text(row[4], f"snapshot {sid} settings"),
        incremental=bool(row[5]),
        parent_id=row[6],
        started_at=row[7],
        finished_at=row[8],
        watermark=row[9],
        list_pages=row[10],
        last_page_request_id=row[11],
        stats=loads_text(row[12], f"snapshot {sid} stats"),
        manifest_sha256=row[13],
    )


def project_row(row: tuple[Any, ...]) -> ProjectRow:
    record = None
    if row[11] is not None:
        record = BlobRef.from_json({"md5": row[11], "sha256": row[12], "size": row[13]})
    return ProjectRow(
        snapshot_id=row[0],
        project_id=row[1],
        created_at=row[2],
        updated_at=row[3],
        organization_id=row[4],
        organization_uuid=row[5],
        user_id=row[6],
        user_email=row[7],
        deleted_at=row[8],
        list_entry=loads_text(row[9], f"project {row[1]} list entry"),
        state=row[10],
        record=record,
        list_page=loads_text(row[14], f"project {row[1]} list page") if row[14] else None,
    )


def opt_str(value: Any) -> str | None:
    # Columns hold strings; anything else the API sends stays in list_entry as sent.
    return value if isinstance(value, str) else None


def list_row(snapshot_id: str, entry: Any, page_json: str | None) -> tuple[Any, ...]:
    """The ``snapshot_projects`` columns of one list entry (state set by the caller)."""
    pid = entry.get("id") if isinstance(entry, dict) else None
    if not isinstance(pid, str) or not pid:
        raise ArchiveError(f"list entry without an id in snapshot {snapshot_id}")
    user = entry.get("user")
    user = user if isinstance(user, dict) else {}
    created = entry.get("created_at")
    return (
        snapshot_id,
        pid,
        created if isinstance(created, str) else "",
        opt_str(entry.get("updated_at")),
        opt_str(entry.get("organization_id")),
        opt_str(entry.get("organization_uuid")),
        opt_str(user.get("id")),
        opt_str(user.get("email_address")),
        opt_str(entry.get("deleted_at")),
        dumps_text(entry),
        page_json,
    )
