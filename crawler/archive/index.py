"""The catalogue, ``index.sqlite``: snapshots, their projects, blobs, run state.

The schema is exactly docs/ARCHIVE.md's (plus indexes). Every write is one small
transaction. A row that refers to a blob is only ever added after the blob is durable
(the callers' side of the write order). sqlite3 is synchronous; each call is small, so
the asyncio code calls it directly.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError, DiskFullError

SCHEMA_VERSION = 1
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(text: str | None, what: str) -> Any:
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


_SNAPSHOT_COLS = (
    "id, status, filter_key, filters, settings, incremental, parent_id, started_at, "
    "finished_at, watermark, list_pages, last_page_request_id, stats, manifest_sha256"
)
_PROJECT_COLS = (
    "snapshot_id, project_id, created_at, updated_at, organization_id, organization_uuid, "
    "user_id, user_email, deleted_at, list_entry, state, record_md5, record_sha256, record_size, "
    "list_page"
)


def _snapshot(row: sqlite3.Row | tuple[Any, ...]) -> SnapshotRow:
    sid = row[0]
    return SnapshotRow(
        id=sid,
        status=row[1],
        filter_key=row[2],
        filters=_loads(row[3], f"snapshot {sid} filters"),
        settings=_loads(row[4], f"snapshot {sid} settings"),
        incremental=bool(row[5]),
        parent_id=row[6],
        started_at=row[7],
        finished_at=row[8],
        watermark=row[9],
        list_pages=row[10],
        last_page_request_id=row[11],
        stats=_loads(row[12], f"snapshot {sid} stats"),
        manifest_sha256=row[13],
    )


def _project(row: tuple[Any, ...]) -> ProjectRow:
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
        list_entry=_loads(row[9], f"project {row[1]} list entry"),
        state=row[10],
        record=record,
        list_page=_loads(row[14], f"project {row[1]} list page") if row[14] else None,
    )


def _opt_str(value: Any) -> str | None:
    # Columns hold strings; anything else the API sends stays in list_entry as sent.
    return value if isinstance(value, str) else None


# Sort orders of ``page_projects``: name -> "column direction".
PROJECT_SORTS = {
    "created": "instant(created_at) ASC",
    "-created": "instant(created_at) DESC",
    "updated": "instant(updated_at) ASC",
    "-updated": "instant(updated_at) DESC",
    "name": "lower(json_extract(list_entry, '$.name')) ASC",
    "-name": "lower(json_extract(list_entry, '$.name')) DESC",
    "state": "state ASC",
}


@dataclass(frozen=True)
class ProjectQuery:
    """Filters, sort and page of a snapshot's project list."""

    organization: str | None = None  # uuid or tagged id
    creator: str | None = None  # user id or email
    deleted: bool | None = None
    text: str | None = None  # in the name, or the exact project id
    sort: str = "created"
    limit: int = 50
    offset: int = 0


class Index:
    """``index.sqlite``. Open it with :meth:`open_writer` or :meth:`open_reader`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
        self._conn = conn
        self.path = path
        self.writable = writable
        # One connection, possibly used from worker threads by callers: one at a time.
        self._lock = threading.RLock()
        conn.create_function("instant", 1, instant_key, deterministic=True)

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open_writer(cls, path: Path, *, create: bool) -> Index:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        index = cls(conn, path, writable=True)
        try:
            with index._lock:
                conn.execute("PRAGMA busy_timeout = 5000")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            if create:
                with index._tx() as c:
                    # Statement by statement: executescript() would COMMIT on its own.
                    for stmt in SCHEMA.split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES ('format', '1'), ('created_at', ?)",
                        (_now(),),
                    )
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            index._check_version()
        except BaseException:
            conn.close()
            raise
        return index

    @classmethod
    def open_reader(cls, path: Path) -> Index:
        """Read-only: SQLite is told ``mode=ro`` and so never writes, nor creates files.

        A writer that closed cleanly leaves the file in rollback-journal mode (see
        :meth:`close`), which a read-only opener reads without creating -wal/-shm.
        """
        if not path.is_file():
            raise ArchiveError(f"damaged archive: {path} is missing")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        if _wal_without_shm(path):
            # WAL mode but no -shm: no writer is alive and no WAL is pending (a writer from
            # before rollback-on-close). mode=ro would create -wal/-shm; immutable doesn't.
            uri += "&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        index = cls(conn, path, writable=False)
        try:
            index._check_version()
        except BaseException:
            conn.close()
            raise
        return index

    def _check_version(self) -> None:
        version = self._one("PRAGMA user_version")[0]
        if version != SCHEMA_VERSION:
            raise ArchiveError(
                f"index {self.path} has schema version {version}; this crawler reads version "
                f"{SCHEMA_VERSION}"
            )

    def close(self) -> None:
        with self._lock:
            if self.writable:
                # Back to rollback-journal mode (this checkpoints and removes -wal and
                # -shm), so that a read-only opener never has to create them. The next
                # writer switches to WAL again. If a reader holds the file this fails,
                # and staying in WAL is harmless.
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA journal_mode = DELETE")
            self._conn.close()

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One small write transaction; sqlite errors become archive errors."""
        if not self.writable:
            raise ArchiveError(f"index {self.path} is open read-only")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise _db_error(exc, self.path) from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise _db_error(exc, self.path) from exc

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _db_error(exc, self.path) from exc

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        # Rows are fetched a batch at a time: memory stays flat for any archive size.
        # A separate cursor, so the caller may write through this Index while iterating.
        try:
            with self._lock:
                cur = self._conn.cursor()
                cur.execute(sql, params)
            while True:
                with self._lock:
                    rows = cur.fetchmany(256)
                if not rows:
                    break
                yield from rows
        except sqlite3.Error as exc:
            raise _db_error(exc, self.path) from exc

    def integrity_check(self) -> list[str]:
        """SQLite's own check: ``["ok"]`` when the file is sound."""
        return [r[0] for r in self._all("PRAGMA integrity_check")]

    # -- blobs -------------------------------------------------------------------------------

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

    # -- snapshots ---------------------------------------------------------------------------

    def create_snapshot(
        self,
        snapshot_id: str,
        *,
        filters: dict[str, Any],
        filter_key: str,
        settings: dict[str, Any],
        incremental: bool,
        parent_id: str | None,
        started_at: str,
    ) -> None:
        check_snapshot_id(snapshot_id)
        if parent_id is not None:
            check_snapshot_id(parent_id)
        with self._tx() as c:
            try:
                c.execute(
                    "INSERT INTO snapshots (id, status, filter_key, filters, settings, "
                    "incremental, parent_id, started_at) VALUES (?, 'running', ?, ?, ?, ?, ?, ?)",
                    (
                        snapshot_id,
                        filter_key,
                        _dumps(filters),
                        _dumps(settings),
                        int(incremental),
                        parent_id,
                        started_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise ArchiveError(f"snapshot {snapshot_id} already exists") from None

    def get_snapshot(self, snapshot_id: str) -> SnapshotRow:
        row = self._one(f"SELECT {_SNAPSHOT_COLS} FROM snapshots WHERE id = ?", (snapshot_id,))
        if row is None:
            raise ArchiveError(f"unknown snapshot {snapshot_id}")
        return _snapshot(row)

    def list_snapshots(self) -> list[SnapshotRow]:
        rows = self._all(f"SELECT {_SNAPSHOT_COLS} FROM snapshots ORDER BY instant(started_at), id")
        return [_snapshot(r) for r in rows]

    def find_running(self, filter_key: str) -> SnapshotRow | None:
        row = self._one(
            f"SELECT {_SNAPSHOT_COLS} FROM snapshots WHERE status = 'running' AND filter_key = ? "
            "ORDER BY instant(started_at) DESC, id DESC LIMIT 1",
            (filter_key,),
        )
        return None if row is None else _snapshot(row)

    def latest_finished(self, filter_key: str | None = None) -> SnapshotRow | None:
        sql = f"SELECT {_SNAPSHOT_COLS} FROM snapshots WHERE status IN ('complete', 'partial')"
        params: tuple[str, ...] = ()
        if filter_key is not None:
            sql += " AND filter_key = ?"
            params = (filter_key,)
        row = self._one(sql + " ORDER BY instant(started_at) DESC, id DESC LIMIT 1", params)
        return None if row is None else _snapshot(row)

    def set_snapshot_status(
        self, snapshot_id: str, status: str, *, finished_at: str | None = None
    ) -> None:
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"unknown snapshot status {status!r}")
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET status = ?, finished_at = COALESCE(?, finished_at) "
                "WHERE id = ?",
                (status, finished_at, snapshot_id),
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")

    def save_stats(self, snapshot_id: str, stats: dict[str, Any]) -> None:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET stats = ? WHERE id = ?", (_dumps(stats), snapshot_id)
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")

    def set_manifest_sha256(self, snapshot_id: str, sha256: str) -> None:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET manifest_sha256 = ? WHERE id = ?", (sha256, snapshot_id)
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")

    def finish_snapshot(
        self, snapshot_id: str, *, manifest_sha256: str, status: str, finished_at: str | None
    ) -> None:
        """Record a durable manifest, and the status it states, in one transaction."""
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"unknown snapshot status {status!r}")
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET manifest_sha256 = ?, status = ?, "
                "finished_at = COALESCE(?, finished_at) WHERE id = ?",
                (manifest_sha256, status, finished_at, snapshot_id),
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")

    def reopen_snapshot(self, snapshot_id: str) -> None:
        """A finished snapshot becomes running again and forgets its manifest's sha256."""
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET status = 'running', manifest_sha256 = NULL, "
                "finished_at = NULL WHERE id = ?",
                (snapshot_id,),
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")

    # -- the list walk -----------------------------------------------------------------------

    def record_list_page(
        self,
        snapshot_id: str,
        entries: Sequence[dict[str, Any]],
        *,
        watermark: str | None,
        request_id: str | None,
        page: dict[str, Any] | None = None,
    ) -> list[str]:
        """Store one durable list page's items and advance the walk, in one transaction.

        Items already present (a page fetched again after a resume) are left as they
        are. Returns the ids newly inserted, in page order.
        """
        page_json = _dumps(page) if page is not None else None
        rows = []
        for entry in entries:
            pid = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(pid, str) or not pid:
                raise ArchiveError(f"list entry without an id in snapshot {snapshot_id}")
            user = entry.get("user")
            user = user if isinstance(user, dict) else {}
            created = entry.get("created_at")
            rows.append(
                (
                    snapshot_id,
                    pid,
                    created if isinstance(created, str) else "",
                    _opt_str(entry.get("updated_at")),
                    _opt_str(entry.get("organization_id")),
                    _opt_str(entry.get("organization_uuid")),
                    _opt_str(user.get("id")),
                    _opt_str(user.get("email_address")),
                    _opt_str(entry.get("deleted_at")),
                    _dumps(entry),
                    page_json,
                )
            )
        inserted: list[str] = []
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshots SET list_pages = list_pages + 1, "
                "watermark = COALESCE(?, watermark), "
                "last_page_request_id = COALESCE(?, last_page_request_id) WHERE id = ?",
                (watermark, request_id, snapshot_id),
            )
            _require_row(cur, f"unknown snapshot {snapshot_id}")
            for row in rows:
                cur = c.execute(
                    "INSERT OR IGNORE INTO snapshot_projects (snapshot_id, project_id, created_at, "
                    "updated_at, organization_id, organization_uuid, user_id, user_email, "
                    "deleted_at, list_entry, list_page, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'listed')",
                    row,
                )
                if cur.rowcount == 1:
                    inserted.append(row[1])
        return inserted

    # -- projects ----------------------------------------------------------------------------

    def project_ids(self, snapshot_id: str) -> set[str]:
        rows = self._all(
            "SELECT project_id FROM snapshot_projects WHERE snapshot_id = ?", (snapshot_id,)
        )
        return {r[0] for r in rows}

    def projects(
        self, snapshot_id: str, states: Collection[str] | None = None
    ) -> Iterator[ProjectRow]:
        """The snapshot's projects, by created_at as an instant, then id; streamed."""
        sql = f"SELECT {_PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ?"
        params: list[Any] = [snapshot_id]
        if states is not None:
            states = list(states)
            if not states:
                return
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            params += states
        sql += " ORDER BY instant(created_at), project_id"
        for row in self._stream(sql, params):
            yield _project(row)

    def get_project(self, snapshot_id: str, project_id: str) -> ProjectRow | None:
        row = self._one(
            f"SELECT {_PROJECT_COLS} FROM snapshot_projects WHERE snapshot_id = ? "
            "AND project_id = ?",
            (snapshot_id, project_id),
        )
        return None if row is None else _project(row)

    def set_project(
        self, snapshot_id: str, project_id: str, state: str, record: BlobRef | None
    ) -> None:
        """Set a listed project's state and record (call once the record blob is durable)."""
        _check_state(state)
        md5, sha, size = (record.md5, record.sha256, record.size) if record else (None,) * 3
        with self._tx() as c:
            cur = c.execute(
                "UPDATE snapshot_projects SET state = ?, record_md5 = ?, record_sha256 = ?, "
                "record_size = ? WHERE snapshot_id = ? AND project_id = ?",
                (state, md5, sha, size, snapshot_id, project_id),
            )
            _require_row(cur, f"unknown project {project_id} in snapshot {snapshot_id}")

    def mark_projects(self, snapshot_id: str, project_ids: Iterable[str], state: str) -> None:
        """Set the state of many projects at once (their records are left as they are)."""
        _check_state(state)
        with self._tx() as c:
            c.executemany(
                "UPDATE snapshot_projects SET state = ? WHERE snapshot_id = ? AND project_id = ?",
                ((state, snapshot_id, pid) for pid in project_ids),
            )

    def count_projects(self, snapshot_id: str) -> dict[str, int]:
        rows = self._all(
            "SELECT state, count(*) FROM snapshot_projects WHERE snapshot_id = ? GROUP BY state",
            (snapshot_id,),
        )
        return {r[0]: int(r[1]) for r in rows}

    # -- documents ---------------------------------------------------------------------------

    def get_document(self, snapshot_id: str, document_id: str) -> dict[str, Any] | None:
        row = self._one(
            "SELECT entry FROM snapshot_documents WHERE snapshot_id = ? AND document_id = ?",
            (snapshot_id, document_id),
        )
        return None if row is None else _loads(row[0], f"document {document_id} entry")

    def put_document(self, snapshot_id: str, document_id: str, entry: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO snapshot_documents (snapshot_id, document_id, entry) "
                "VALUES (?, ?, ?)",
                (snapshot_id, document_id, _dumps(entry)),
            )

    # -- failures ----------------------------------------------------------------------------

    def add_failure(
        self,
        snapshot_id: str,
        *,
        project_id: str | None,
        kind: str,
        item_id: str | None,
        reason: str,
        status: int | None,
        error_type: str | None,
        request_id: str | None,
    ) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO failures (snapshot_id, project_id, kind, item_id, reason, status, "
                "error_type, request_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    snapshot_id,
                    project_id,
                    kind,
                    item_id,
                    reason,
                    status,
                    error_type,
                    request_id,
                    _now(),
                ),
            )

    def failures(self, snapshot_id: str) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT project_id, kind, item_id, reason, status, error_type, request_id, at "
            "FROM failures WHERE snapshot_id = ? ORDER BY rowid",
            (snapshot_id,),
        )
        keys = (
            "project_id",
            "kind",
            "item_id",
            "reason",
            "status",
            "error_type",
            "request_id",
            "at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- pages of projects (the web view: never a whole 20,000-project snapshot) --------------

    def page_projects(self, snapshot_id: str, q: ProjectQuery) -> tuple[list[ProjectRow], int]:
        """One page of the snapshot's projects that pass ``q``, and how many pass in all."""
        where = ["snapshot_id = ?"]
        params: list[Any] = [snapshot_id]
        if q.organization:
            where.append("(organization_uuid = ? OR organization_id = ?)")
            params += [q.organization, q.organization]
        if q.creator:
            where.append("(user_id = ? OR user_email = ?)")
            params += [q.creator, q.creator]
        if q.deleted is not None:
            where.append("deleted_at IS NOT NULL" if q.deleted else "deleted_at IS NULL")
        if q.text:
            where.append(
                "(instr(lower(json_extract(list_entry, '$.name')), ?) > 0 OR project_id = ?)"
            )
            params += [q.text.lower(), q.text]
        cond = " AND ".join(where)
        total = int(self._one(f"SELECT count(*) FROM snapshot_projects WHERE {cond}", params)[0])
        column, _, direction = PROJECT_SORTS[q.sort].rpartition(" ")
        rows = self._all(
            f"SELECT {_PROJECT_COLS} FROM snapshot_projects WHERE {cond} "
            f"ORDER BY {column} {direction}, project_id {direction} LIMIT ? OFFSET ?",
            [*params, q.limit, q.offset],
        )
        return [_project(r) for r in rows], total

    def project_organizations(self, snapshot_id: str) -> list[str]:
        rows = self._all(
            "SELECT DISTINCT organization_uuid FROM snapshot_projects "
            "WHERE snapshot_id = ? AND organization_uuid IS NOT NULL ORDER BY 1",
            (snapshot_id,),
        )
        return [r[0] for r in rows]

    def clear_failures(self, snapshot_id: str, project_id: str) -> None:
        with self._tx() as c:
            c.execute(
                "DELETE FROM failures WHERE snapshot_id = ? AND project_id = ?",
                (snapshot_id, project_id),
            )


def _check_state(state: str) -> None:
    if state not in PROJECT_STATES:
        raise ValueError(f"unknown project state {state!r}")


def _require_row(cur: sqlite3.Cursor, message: str) -> None:
    if cur.rowcount == 0:
        raise ArchiveError(message)


def _wal_without_shm(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    # Bytes 18 and 19 of the header are the write/read format versions: 2 means WAL.
    in_wal = len(header) == 20 and header[18] == 2 and header[19] == 2
    shm = path.with_name(path.name + "-shm")
    wal = path.with_name(path.name + "-wal")
    return in_wal and not shm.exists() and not wal.exists()


def _db_error(exc: sqlite3.Error, path: Path) -> ArchiveError:
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        return DiskFullError(f"disk full while writing {path}: free space, then rerun")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return ArchiveError(f"damaged index {path}: {exc}")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return ArchiveError(f"cannot use index {path}: {exc}")
    return ArchiveError(f"index {path}: {exc}")
