"""The catalogue's Activity Feed tables: each snapshot's feed state and the events it read.

Two tables beside the catalogue (``schema.FEED_SCHEMA``, ARCHIVE.md), created
by every writer if missing, so an archive made before them has no feed position:

* ``snapshot_feed``: one JSON state per snapshot: its position (where the next
  incremental starts), the window it read, the after_id cursor, the raw pages
  (their fetches), the event count, or why the feed was not used;
* ``feed_events``: the events a snapshot read, each with the project it
  touched and whether it was acted on (0: read already by the parent, or a
  repeat: delivery is at least once).

Events of one page and the cursor past them are written in one transaction,
after the page's blob is durable: a crash re-reads at most one page.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import orjson

from crawler.archive.db import Database
from crawler.archive.schema import instant_key
from crawler.errors import ArchiveError

# feed_events.event of an event a snapshot read again (the overlap): its id is what counts.
REPEAT = "{}"


class SeenEvent(Protocol):
    """One event of a read, as the crawl digests it (``crawler.archive.feed_digest.SeenEvent``)."""

    @property
    def activity_id(self) -> str: ...
    @property
    def project_id(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def created_at(self) -> str | None: ...
    @property
    def acted(self) -> bool: ...
    @property
    def event(self) -> Mapping[str, Any]: ...


def _loads(text: str, what: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"damaged index: {what} is not valid JSON") from None


_PUT_STATE = (
    "INSERT INTO snapshot_feed (snapshot_id, state) VALUES (?, ?) "
    "ON CONFLICT (snapshot_id) DO UPDATE SET state = excluded.state"
)


class FeedRows(Database):
    """The feed tables' queries (part of :class:`~crawler.archive.index.Index`)."""

    def _feed_tables(self) -> bool:
        """Writers create them; a reader of an archive made before them finds none.

        Asked once per project by an export with activity, so a "yes" is kept (tables
        are never dropped); a "no" is asked again, in case a writer has since made them.
        """
        if self.writable or getattr(self, "_has_feed_tables", False):
            return True
        row = self._one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshot_feed'"
        )
        self._has_feed_tables = row is not None
        return self._has_feed_tables

    def feed_state(self, snapshot_id: str) -> dict[str, Any] | None:
        if not self._feed_tables():
            return None
        row = self._one("SELECT state FROM snapshot_feed WHERE snapshot_id = ?", (snapshot_id,))
        if row is None:
            return None
        state = _loads(row[0], f"feed state of {snapshot_id}")
        return state if isinstance(state, dict) else None

    def save_feed_state(self, snapshot_id: str, state: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(_PUT_STATE, (snapshot_id, orjson.dumps(state).decode()))

    def add_feed_page(
        self, snapshot_id: str, events: Iterable[SeenEvent], state: dict[str, Any]
    ) -> None:
        """A page's events and the state past it (cursor, pages), in one transaction."""
        with self._tx() as c:
            c.executemany(
                "INSERT OR IGNORE INTO feed_events (snapshot_id, activity_id, project_id, type, "
                "created_at, created_key, acted, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        snapshot_id,
                        e.activity_id,
                        e.project_id,
                        e.type,
                        e.created_at,
                        instant_key(e.created_at),
                        int(e.acted),
                        # A repeat's JSON is in the earlier row that first read it.
                        REPEAT if getattr(e, "repeat", False) else orjson.dumps(e.event).decode(),
                    )
                    for e in events
                ],
            )
            c.execute(_PUT_STATE, (snapshot_id, orjson.dumps(state).decode()))

    def feed_seen_ids(self, snapshot_id: str) -> set[str]:
        """Every event id the snapshot read: the next read's overlap is deduplicated on them."""
        if not self._feed_tables():
            return set()
        rows = self._all(
            "SELECT activity_id FROM feed_events WHERE snapshot_id = ?", (snapshot_id,)
        )
        return {str(r[0]) for r in rows}

    def feed_touched(self, snapshot_id: str) -> dict[str, list[str]]:
        """Project id -> the ids of the events that made this snapshot fetch it."""
        out: dict[str, list[str]] = {}
        if not self._feed_tables():
            return out
        for pid, aid in self._stream(
            "SELECT project_id, activity_id FROM feed_events WHERE snapshot_id = ? AND acted = 1 "
            "AND project_id IS NOT NULL ORDER BY created_key, activity_id",
            (snapshot_id,),
        ):
            out.setdefault(str(pid), []).append(str(aid))
        return out

    def feed_event_counts(self, snapshot_id: str) -> dict[str, int]:
        if not self._feed_tables():
            return {"read": 0, "acted": 0}
        row = self._one(
            "SELECT COUNT(*), COALESCE(SUM(acted), 0) FROM feed_events WHERE snapshot_id = ?",
            (snapshot_id,),
        )
        return {"read": int(row[0]), "acted": int(row[1])}

    def project_events(self, project_id: str, snapshot_ids: Iterable[str]) -> Iterator[Any]:
        """The events naming a project read by any of ``snapshot_ids``, once each, oldest first."""
        if not self._feed_tables():
            return
        ids = list(snapshot_ids)
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        seen: set[str] = set()
        for aid, text in self._stream(
            f"SELECT activity_id, event FROM feed_events WHERE project_id = ? "
            f"AND snapshot_id IN ({marks}) ORDER BY created_key, activity_id",
            (project_id, *ids),
        ):
            if aid in seen or text == REPEAT:
                continue
            seen.add(aid)
            yield _loads(text, f"feed event {aid}")


__all__ = ["FeedRows", "SeenEvent"]
