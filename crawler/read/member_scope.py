"""Delta snapshots in the search index (``search.sqlite``): members over a base.

A delta snapshot of the archive (``crawler watch``'s changes cycles; docs/ARCHIVE.md,
"Delta snapshots") is indexed as what it stores, plus a ``member_bases`` row naming
its base; searching it, or paging its project list, reads its members *resolved*:
per project the nearest snapshot of its chain (an inherited ``done`` is ``carried``),
in a TEMP table built once per connection and set of snapshots. So a cycle costs the
search index what it changed, not one row per project of the organisation.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from crawler.archive.sqlite import user_version

__all__ = ["DELTA_SCHEMA_VERSION", "MEMBER_BASES", "MemberScopes"]

# 3: the index holds delta snapshots (member_bases rows): a reader that cannot resolve
# them refuses it (rebuild) rather than search a delta's changes as the whole snapshot.
DELTA_SCHEMA_VERSION = 3
MEMBER_BASES = (
    "CREATE TABLE IF NOT EXISTS member_bases (snapshot_id TEXT PRIMARY KEY, base_id TEXT NOT NULL)"
)
_MEMBER_COLS = (
    "project_id, record_id, organization_uuid, organization_id, user_id, user_email, "
    "created_key, updated_key, name_key, deleted"
)


class MemberScopes:
    """Part of :class:`~crawler.read.searchindex.SearchIndex`."""

    conn: sqlite3.Connection

    def add_delta(self, snapshot_id: str, base_id: str) -> None:
        """A delta snapshot: its members are what it stores, over its base's. Inside ``tx()``."""
        self.conn.execute(MEMBER_BASES)
        self.conn.execute(
            "INSERT OR REPLACE INTO member_bases VALUES (?, ?)", (snapshot_id, base_id)
        )
        self.conn.execute(f"PRAGMA user_version = {DELTA_SCHEMA_VERSION}")
        self.__dict__["_scopes"] = {}  # resolved scopes are of the members before

    def member_chain(self, snapshot_id: str) -> list[str]:
        """The snapshot, its base, the base's base, ... (one element: not a delta)."""
        out = [snapshot_id]
        if user_version(self.conn) < DELTA_SCHEMA_VERSION:
            return out
        while True:
            row = self.conn.execute(
                "SELECT base_id FROM member_bases WHERE snapshot_id = ?", (out[-1],)
            ).fetchone()
            if row is None or row[0] in out:
                return out
            out.append(str(row[0]))

    def member_scope(self, snapshot_ids: Sequence[str]) -> str:
        """The table holding these snapshots' members whole: ``members`` itself, or, when one
        is a delta, a TEMP table of the resolved rows (per project the nearest snapshot of
        its chain; an inherited ``done`` is ``carried``), built once per connection."""
        chains = [self.member_chain(s) for s in snapshot_ids]
        if all(len(c) == 1 for c in chains):
            return "members"
        key = tuple(snapshot_ids)
        scopes: dict[tuple[str, ...], str] = self.__dict__.setdefault("_scopes", {})
        if key not in scopes:
            name = f"scope_{len(scopes)}"
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            self.conn.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM members WHERE 0")
            for sid, chain in zip(snapshot_ids, chains, strict=True):
                self._resolve_into(name, sid, chain)
            self.conn.execute(f"CREATE INDEX temp.{name}_record ON {name} (record_id, snapshot_id)")
            self.conn.execute(f"CREATE INDEX temp.{name}_snap ON {name} (snapshot_id, project_id)")
            scopes[key] = f"temp.{name}"
        return scopes[key]

    def _resolve_into(self, table: str, snapshot_id: str, chain: list[str]) -> None:
        values = ", ".join(f"(?, {d})" for d in range(len(chain)))
        self.conn.execute(
            f"WITH chain(sid, depth) AS (VALUES {values}) "
            f"INSERT INTO temp.{table} SELECT ?, {_MEMBER_COLS}, "
            "CASE WHEN depth > 0 AND state = 'done' THEN 'carried' ELSE state END "
            f"FROM (SELECT m.*, chain.depth AS depth, row_number() OVER (PARTITION BY "
            "m.project_id ORDER BY chain.depth) AS rn FROM members m "
            "JOIN chain ON m.snapshot_id = chain.sid) "
            "WHERE rn = 1 AND coalesce(state, '') != 'removed'",
            [*chain, snapshot_id],
        )
