"""The search index, ``search.sqlite``: the one codec for its schema (docs/ARCHIVE.md).

A derived file, never the source of truth: everything in it is rebuilt from the
blobs by ``crawler reindex``. Each *body* (a document's text, a project's words,
a filename) is stored and tokenised once, keyed by the md5 and sha256 of its
UTF-8 bytes, however many projects and snapshots hold it. A *record* (one
project record blob) is read once and says which bodies it holds; a snapshot's
*members* point at records, so a carried project costs one small row.

Two FTS5 tables index the same text: ``body_words`` (``unicode61``, diacritics
folded: words in any script that separates words with spaces) and
``body_grams`` (``trigram``: any substring of three or more characters, which is
what finds CJK text and emoji). Both are external-content tables over
``bodies``, so the text is stored once.

Writes happen inside ``tx()``, in batches of a few hundred projects (records,
bodies and members together); a snapshot is marked indexed in its last batch,
so a kill at any moment leaves an index that a rerun completes (``add_record``
and ``add_members`` are idempotent).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from crawler.archive.sqlite import connect, immediate, run_script, user_version
from crawler.canonical import utc_now
from crawler.errors import ArchiveError
from crawler.read.member_scope import DELTA_SCHEMA_VERSION, MemberScopes

__all__ = [
    "KINDS",
    "MEMBER_SORTS",
    "SEARCH_FILE",
    "Body",
    "Member",
    "Occurrence",
    "SearchIndex",
    "body_of",
]

SEARCH_FILE = "search.sqlite"
SCHEMA_VERSION = 2  # what a new index is created with
READABLE_VERSIONS = (SCHEMA_VERSION, DELTA_SCHEMA_VERSION)  # 3: delta snapshots
# What an occurrence of a body is: a document's text, a project's own words
# (name, description, instructions, creator, collaborators), an attachment's filename.
KINDS = ("document", "project", "filename")

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bodies (
  id INTEGER PRIMARY KEY, md5 TEXT NOT NULL, sha256 TEXT NOT NULL, text TEXT NOT NULL,
  UNIQUE (md5, sha256));
CREATE VIRTUAL TABLE body_words USING fts5(
  text, content='bodies', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE body_grams USING fts5(
  text, content='bodies', content_rowid='id', tokenize='trigram');
CREATE TABLE records (
  id INTEGER PRIMARY KEY, md5 TEXT NOT NULL, sha256 TEXT NOT NULL,
  project_id TEXT NOT NULL, name TEXT, UNIQUE (md5, sha256));
CREATE TABLE occurrences (
  record_id INTEGER NOT NULL, kind TEXT NOT NULL, item_id TEXT, label TEXT,
  body_id INTEGER NOT NULL);
CREATE INDEX occurrences_body ON occurrences (body_id);
CREATE INDEX occurrences_record ON occurrences (record_id);
CREATE TABLE members (
  snapshot_id TEXT NOT NULL, project_id TEXT NOT NULL, record_id INTEGER,
  organization_uuid TEXT, organization_id TEXT, user_id TEXT, user_email TEXT,
  created_key TEXT, updated_key TEXT, name_key TEXT, deleted INTEGER NOT NULL, state TEXT,
  PRIMARY KEY (snapshot_id, project_id)) WITHOUT ROWID;
CREATE INDEX members_record ON members (record_id, snapshot_id);
CREATE INDEX members_created ON members (snapshot_id, created_key, project_id);
CREATE INDEX members_updated ON members (snapshot_id, updated_key, project_id);
CREATE INDEX members_name ON members (snapshot_id, name_key, project_id);
CREATE TABLE snapshots (
  id TEXT PRIMARY KEY, manifest_sha256 TEXT, indexed_at TEXT NOT NULL)
"""


@dataclass(frozen=True)
class Body:
    """Text to index, named by the md5 and sha256 of its UTF-8 bytes."""

    md5: str
    sha256: str
    text: str


def body_of(text: str) -> Body:
    raw = text.encode("utf-8", "surrogatepass")
    return Body(hashlib.md5(raw).hexdigest(), hashlib.sha256(raw).hexdigest(), text)


@dataclass(frozen=True)
class Occurrence:
    """Where a body appears in a record: ``kind``, the item's id and its label."""

    kind: str
    item_id: str | None
    label: str | None
    body: Body


@dataclass(frozen=True)
class Member:
    """A project of a snapshot, with what search filters and the project list sort on."""

    project_id: str
    organization_uuid: str | None
    organization_id: str | None
    user_id: str | None
    user_email: str | None
    created_key: str | None
    updated_key: str | None = None
    name_key: str | None = None  # the name, case-folded
    deleted: bool = False
    state: str | None = None


# Sort orders of ``page_members``, as in ``crawler.archive.project_pages.PROJECT_SORTS``.
MEMBER_SORTS = {
    "created": ("created_key", "ASC"),
    "-created": ("created_key", "DESC"),
    "updated": ("updated_key", "ASC"),
    "-updated": ("updated_key", "DESC"),
    "name": ("name_key", "ASC"),
    "-name": ("name_key", "DESC"),
    "state": ("state", "ASC"),
}


class SearchIndex(MemberScopes):
    """``search.sqlite``: open with :meth:`open_writer` or :meth:`open_reader`."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open_writer(cls, path: Path) -> SearchIndex:
        """Open for update, creating the file and its schema when missing."""
        try:
            conn = connect(path)
            conn.execute("PRAGMA busy_timeout = 10000")
            # A rollback journal, not WAL: a read-only opener (crawler serve) never creates
            # -wal/-shm files in the archive.
            conn.execute("PRAGMA journal_mode = DELETE")
            index = cls(conn, path)
            version = user_version(conn)
            if version == 0:
                with index.tx() as c:
                    run_script(c, SCHEMA)
                    c.execute(
                        "INSERT INTO meta VALUES ('format', '1'), ('created_at', ?)", (utc_now(),)
                    )
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            else:
                index._check_version(version)
        except sqlite3.Error as exc:
            raise ArchiveError(f"search index {path}: {exc}") from exc
        return index

    @classmethod
    def open_reader(cls, path: Path) -> SearchIndex | None:
        """Read-only (SQLite ``mode=ro``), or None when the archive has no search index yet."""
        if not path.is_file():
            return None
        try:
            conn = connect(path, read_only=True)
            conn.execute("PRAGMA busy_timeout = 10000")
            index = cls(conn, path)
            index._check_version(user_version(conn))
        except sqlite3.Error as exc:
            raise ArchiveError(f"search index {path}: {exc}; rebuild it: crawler reindex") from exc
        return index

    def _check_version(self, version: int) -> None:
        if version not in READABLE_VERSIONS:
            self.conn.close()
            raise ArchiveError(
                f"search index {self.path} has version {version}, this crawler reads "
                f"{SCHEMA_VERSION}; rebuild it: crawler reindex --rebuild"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self.conn)

    # -- what is there ----------------------------------------------------------------------------

    def indexed_snapshots(self) -> dict[str, str | None]:
        """Snapshot id -> the manifest sha256 it was indexed as (a rerun may replace it)."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT id, manifest_sha256 FROM snapshots")}

    def record_id(self, md5: str, sha256: str) -> int | None:
        row = self.conn.execute(
            "SELECT id FROM records WHERE md5 = ? AND sha256 = ?", (md5, sha256)
        ).fetchone()
        return None if row is None else int(row[0])

    def has_body(self, md5: str, sha256: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM bodies WHERE md5 = ? AND sha256 = ?", (md5, sha256)
        ).fetchone()
        return row is not None

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("bodies", "records", "occurrences", "members", "snapshots"):
            out[table] = int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return out

    # -- writing ----------------------------------------------------------------------------------

    def add_record(
        self, md5: str, sha256: str, project_id: str, name: str | None, occ: Sequence[Occurrence]
    ) -> int:
        """Index one record and the bodies it holds, once; returns its id. Inside ``tx()``."""
        c = self.conn
        existing = self.record_id(md5, sha256)
        if existing is not None:
            return existing
        cur = c.execute(
            "INSERT INTO records (md5, sha256, project_id, name) VALUES (?, ?, ?, ?)",
            (md5, sha256, project_id, name),
        )
        record_id = int(cur.lastrowid or 0)
        rows = [(record_id, o.kind, o.item_id, o.label, self._body_id(c, o.body)) for o in occ]
        c.executemany("INSERT INTO occurrences VALUES (?, ?, ?, ?, ?)", rows)
        return record_id

    def _body_id(self, c: sqlite3.Connection, body: Body) -> int:
        row = c.execute(
            "SELECT id FROM bodies WHERE md5 = ? AND sha256 = ?", (body.md5, body.sha256)
        ).fetchone()
        if row is not None:
            return int(row[0])
        cur = c.execute(
            "INSERT INTO bodies (md5, sha256, text) VALUES (?, ?, ?)",
            (body.md5, body.sha256, body.text),
        )
        body_id = int(cur.lastrowid or 0)
        c.execute("INSERT INTO body_words (rowid, text) VALUES (?, ?)", (body_id, body.text))
        c.execute("INSERT INTO body_grams (rowid, text) VALUES (?, ?)", (body_id, body.text))
        return body_id

    def add_members(self, snapshot_id: str, members: Iterable[tuple[Member, int | None]]) -> None:
        """Each project of the snapshot and its record, if any (idempotent). Inside ``tx()``."""
        rows = [
            (
                snapshot_id,
                m.project_id,
                record_id,
                m.organization_uuid,
                m.organization_id,
                m.user_id,
                m.user_email,
                m.created_key,
                m.updated_key,
                m.name_key,
                int(m.deleted),
                m.state,
            )
            for m, record_id in members
        ]
        self.conn.executemany(
            "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )

    def carry_members(self, parent_id: str, snapshot_id: str, project_ids: Sequence[str]) -> int:
        """Copy projects carried unchanged from the parent's members (same record, state
        ``carried``); how many were copied. Inside ``tx()``."""
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR REPLACE INTO members SELECT ?, project_id, record_id, organization_uuid, "
            "organization_id, user_id, user_email, created_key, updated_key, name_key, deleted, "
            "'carried' FROM members WHERE snapshot_id = ? AND project_id = ?",
            [(snapshot_id, parent_id, pid) for pid in project_ids],
        )
        return self.conn.total_changes - before

    def page_members(
        self,
        snapshot_id: str,
        *,
        organization: str | None,
        creator: str | None,
        deleted: bool | None,
        text: str | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> tuple[list[str], int]:
        """Project ids of one page of a snapshot's project list, and the total that match.

        Served from indexes on the sort keys, so a page of a 20,000-project snapshot
        costs a short index walk; the rows themselves come from the archive's index.
        """
        where, params = ["snapshot_id = ?"], [snapshot_id]
        for value, sql in (
            (organization, "(organization_uuid = ? OR organization_id = ?)"),
            (creator, "(user_id = ? OR user_email = ?)"),
        ):
            if value:
                where.append(sql)
                params += [value, value]
        if deleted is not None:
            where.append(f"deleted = {int(deleted)}")
        if text:
            where.append("(instr(name_key, ?) > 0 OR project_id = ?)")
            params += [text.casefold(), text]
        cond = " AND ".join(where)
        table = self.member_scope([snapshot_id])
        total = int(
            self.conn.execute(f"SELECT count(*) FROM {table} WHERE {cond}", params).fetchone()[0]
        )
        column, direction = MEMBER_SORTS[sort]
        rows = self.conn.execute(
            f"SELECT project_id FROM {table} WHERE {cond} "
            f"ORDER BY {column} {direction}, project_id {direction} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [r[0] for r in rows], total

    def mark_indexed(self, snapshot_id: str, manifest_sha256: str | None) -> None:
        """The snapshot is whole in the index. Inside ``tx()``, with its last members."""
        self.conn.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)",
            (snapshot_id, manifest_sha256, utc_now()),
        )
