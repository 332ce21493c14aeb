"""``productions.sqlite``: the production register, its one codec (docs/ARCHIVE.md).

Every Bates range ``crawler produce`` hands out is a row here, append-only
(triggers refuse UPDATE and DELETE), so a number is never reused and a
selection is never produced twice by accident. A file of its own beside the
index, like ``retention.sqlite``: an archive without it reads as "no
productions", it can be written while a crawl holds the lock, and it runs
with ``synchronous=FULL``.

This module is the register's whole persistence: rows in, rows out, and the
two checks that must hold inside the inserting transaction. In a bucket the
file is a cache: ``journal`` (set by :mod:`crawler.produce.bucket`) puts each
row as an object inside that transaction, after the checks, and
:meth:`ProductionRegister.replay` applies another machine's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields
from typing import Any

from crawler.archive.journal import applied_keys, mark_applied
from crawler.archive.sidefile import SideFile
from crawler.errors import ArchiveError, UsageError

__all__ = ["FILENAME", "JOURNAL_KINDS", "ProductionRegister", "ProductionRow", "ReproductionRow"]

FILENAME = "productions.sqlite"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE productions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  prefix TEXT NOT NULL, digits INTEGER NOT NULL,
  first_number INTEGER NOT NULL, last_number INTEGER NOT NULL CHECK (last_number >= first_number),
  volume TEXT NOT NULL,
  snapshot_id TEXT NOT NULL, manifest_sha256 TEXT,
  selection TEXT NOT NULL, selection_sha256 TEXT NOT NULL,
  families INTEGER NOT NULL, documents INTEGER NOT NULL,
  load_file_md5 TEXT NOT NULL, load_file_sha256 TEXT NOT NULL, load_file_size INTEGER NOT NULL,
  by TEXT NOT NULL, at TEXT NOT NULL, tool_version TEXT NOT NULL);
CREATE INDEX productions_by_prefix ON productions (prefix, last_number);
CREATE INDEX productions_by_selection ON productions (selection_sha256);
CREATE TABLE reproductions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, production_id INTEGER NOT NULL,
  by TEXT NOT NULL, at TEXT NOT NULL);
CREATE TRIGGER productions_keep_update BEFORE UPDATE ON productions
  BEGIN SELECT RAISE(ABORT, 'registered productions are never changed'); END;
CREATE TRIGGER productions_keep_delete BEFORE DELETE ON productions
  BEGIN SELECT RAISE(ABORT, 'registered productions are never deleted'); END;
CREATE TRIGGER reproductions_keep_update BEFORE UPDATE ON reproductions
  BEGIN SELECT RAISE(ABORT, 'reproductions are never changed'); END;
CREATE TRIGGER reproductions_keep_delete BEFORE DELETE ON reproductions
  BEGIN SELECT RAISE(ABORT, 'reproductions are never deleted'); END;
"""


@dataclass(frozen=True)
class ProductionRow:
    """One registered production."""

    id: int
    prefix: str
    digits: int
    first_number: int
    last_number: int
    volume: str
    snapshot_id: str
    manifest_sha256: str | None
    selection: str
    selection_sha256: str
    families: int
    documents: int
    load_file_md5: str
    load_file_sha256: str
    load_file_size: int
    by: str
    at: str
    tool_version: str

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ReproductionRow:
    """One ``--reproduce`` that rewrote a registered production's volume."""

    seq: int
    production_id: int
    by: str
    at: str

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_COLUMNS = tuple(f.name for f in fields(ProductionRow))


class ProductionRegister(SideFile):
    """Open with :meth:`open` (creating it) or :meth:`open_reader` (never writes)."""

    FILENAME = FILENAME
    SCHEMA = SCHEMA
    SCHEMA_VERSION = SCHEMA_VERSION

    # -- reading ---------------------------------------------------------------------------

    def productions(self) -> list[ProductionRow]:
        rows = self._rows(f"SELECT {', '.join(_COLUMNS)} FROM productions ORDER BY id")
        return [ProductionRow(*r) for r in rows]

    def get(self, production_id: int) -> ProductionRow | None:
        rows = self._rows(
            f"SELECT {', '.join(_COLUMNS)} FROM productions WHERE id = ?", (production_id,)
        )
        return ProductionRow(*rows[0]) if rows else None

    def next_number(self, prefix: str) -> int:
        """The first number no production under ``prefix`` has used."""
        rows = self._rows("SELECT MAX(last_number) FROM productions WHERE prefix = ?", (prefix,))
        return 1 if not rows or rows[0][0] is None else int(rows[0][0]) + 1

    def by_selection(self, selection_sha256: str) -> ProductionRow | None:
        rows = self._rows(
            f"SELECT {', '.join(_COLUMNS)} FROM productions WHERE selection_sha256 = ? "
            "ORDER BY id LIMIT 1",
            (selection_sha256,),
        )
        return ProductionRow(*rows[0]) if rows else None

    def reproductions(self, production_id: int) -> list[tuple[str, str]]:
        """(by, at) of every rewrite of a production, oldest first."""
        rows = self._rows(
            "SELECT by, at FROM reproductions WHERE production_id = ? ORDER BY seq",
            (production_id,),
        )
        return [(r[0], r[1]) for r in rows]

    def reproduction_rows(self) -> list[ReproductionRow]:
        """Every rewrite of every production, in the order they were registered."""
        rows = self._rows("SELECT seq, production_id, by, at FROM reproductions ORDER BY seq")
        return [ReproductionRow(*r) for r in rows]

    # -- writing ---------------------------------------------------------------------------

    def next_id(self) -> int:
        rows = self._rows("SELECT MAX(id) FROM productions")
        return 1 if not rows or rows[0][0] is None else int(rows[0][0]) + 1

    def add(self, row: ProductionRow) -> ProductionRow:
        """Register ``row`` under its id (from :meth:`next_id`, written into the volume).

        Refused, inside the same transaction, when the selection is registered
        already or the range reaches into numbers its prefix has used: another
        production may have been registered since the caller last looked.
        """
        with self._tx() as c:
            used = c.execute(
                "SELECT MAX(last_number) FROM productions WHERE prefix = ?", (row.prefix,)
            ).fetchone()[0]
            if used is not None and row.first_number <= used:
                raise UsageError(
                    f"Bates numbers {row.prefix} up to {used} are already used; "
                    f"this production would start at {row.first_number}: produce again"
                )
            same = c.execute(
                "SELECT id FROM productions WHERE selection_sha256 = ?", (row.selection_sha256,)
            ).fetchone()
            if same is not None:
                raise UsageError(
                    f"this selection is production {same[0]} already; "
                    f"--reproduce {same[0]} rewrites it"
                )
            if c.execute("SELECT 1 FROM productions WHERE id = ?", (row.id,)).fetchone():
                raise UsageError(
                    f"production {row.id} was registered by someone else meanwhile: produce again"
                )
            self._journalled(c, "production", row.to_json())
            _insert_production(c, row.to_json())
        return row

    def add_reproduction(self, production_id: int, *, by: str, at: str) -> None:
        with self._tx() as c:
            if self.journal is None:  # on disk: numbered by SQLite, as ever
                c.execute(
                    "INSERT INTO reproductions (production_id, by, at) VALUES (?, ?, ?)",
                    (production_id, by, at),
                )
                return
            # In a bucket the number is the object's key: chosen here, claimed by put-once.
            seq = int(
                c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM reproductions").fetchone()[0]
            )
            row = {"seq": seq, "production_id": production_id, "by": by, "at": at}
            self._journalled(c, "reproduction", row)
            _insert_reproduction(c, row)

    # -- in a bucket: each row is an object first (crawler.produce.bucket) -------------------

    def _journalled(self, c: sqlite3.Connection, kind: str, row: dict[str, Any]) -> None:
        """Inside the row's transaction, after its checks: its object, then its key applied."""
        if self.journal is not None:
            mark_applied(c, self.journal(kind, row))

    def replay(self, key: str, kind: str, row: dict[str, Any]) -> None:
        """Apply a bucket's row object to this cache, once (no object written)."""
        with self._tx() as c:
            if not mark_applied(c, key):
                return
            try:
                (_insert_production if kind == "production" else _insert_reproduction)(c, row)
            except (KeyError, TypeError, sqlite3.IntegrityError) as exc:
                raise ArchiveError(f"{self.path}: {kind} object {key}: {exc}") from None

    def applied_keys(self) -> set[str]:
        return applied_keys(self._rows)


JOURNAL_KINDS = ("production", "reproduction")


def _insert_production(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    c.execute(
        f"INSERT INTO productions ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_COLUMNS))})",
        [row[name] for name in _COLUMNS],
    )


def _insert_reproduction(c: sqlite3.Connection, row: dict[str, Any]) -> None:
    c.execute(
        "INSERT INTO reproductions (seq, production_id, by, at) VALUES (?, ?, ?, ?)",
        (row["seq"], row["production_id"], row["by"], row["at"]),
    )
