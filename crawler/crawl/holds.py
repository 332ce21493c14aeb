"""Steps 2c and 9b: a held project's objects go up under the S3 legal hold.

A bucket's legal holds (``crawler hold add``) cover every object of the held
projects; objects a run writes later must be held too (docs/ARCHIVE.md,
"Object Lock"). The run reads the holds in force when it starts
(:meth:`HeldProjects.refresh`); a project they cover (by its list entry, as
``hold add`` and ``release`` judge it) is fetched inside
:func:`~crawler.archive.holding.holding`, so its bodies and record are written
held in their own PUTs and whatever already existed is held once the record is
stored. Before the manifest the holds are read again and every held project
this snapshot wrote is made whole (:meth:`catch_up`): a hold placed during the
run, or a run killed between a write and its hold, is caught up there, and a
hold released during the run has what this run held for it lifted (where no
hold in force still covers it). On disk there are no legal holds: nothing is
read and nothing is sent.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from crawler.archive import Archive
from crawler.archive.holding import record_keys
from crawler.archive.remote import object_lock_enabled
from crawler.archive.store.s3 import S3Store
from crawler.retention.bucket import covered_keys, open_retention_reader
from crawler.retention.holds import Hold, active_holds, holds_covering

__all__ = ["HeldProjects"]


def _warn(message: str) -> None:
    print(f"crawler: warning: {message}", file=sys.stderr)


class HeldProjects:
    """The legal holds in force, as the crawl needs them (always none on disk)."""

    def __init__(self, archive: Archive, warn: Callable[[str], None] = _warn) -> None:
        self.archive = archive
        self.holds: list[Hold] = []
        self._warn = warn
        self._possible: bool | None = None

    def refresh(self) -> list[Hold]:
        """Read the holds in force again (from the bucket's retention rows); the holds
        released since the last read."""
        if not self.archive.held.active:
            return []
        with open_retention_reader(self.archive) as store:
            holds = active_holds(store.hold_events())
        before, self.holds = self.holds, holds if holds and self._can_hold() else []
        return [h for h in before if h not in self.holds]

    def _can_hold(self) -> bool:
        if self._possible is None:
            store = self.archive.store
            self._possible = isinstance(store, S3Store) and object_lock_enabled(store)
            if not self._possible:
                self._warn(
                    f"{self.archive.location} has no Object Lock: the S3 legal hold cannot be "
                    "put on held projects' objects (the holds still keep them from retention)"
                )
        return self._possible

    def covers(self, entry: Mapping[str, Any]) -> bool:
        """Whether a hold in force covers the project of this list entry."""
        return bool(self.holds) and bool(holds_covering(self.holds, entry))

    def catch_up(self, snapshot_id: str) -> int:
        """Hold every object of every held project whose record this snapshot wrote.

        Carried records were held when they were written, or by ``hold add``, which
        covers every snapshot it can see. Objects this run already held cost nothing.
        """
        if self.refresh():
            self._lift_released()
        if not self.holds:
            return 0
        archive, placed = self.archive, 0
        for row in archive.index.projects(snapshot_id):
            if row.record is None or row.state == "carried" or not self.covers(row.list_entry):
                continue
            record = archive.read_record(row.record)
            if record.get("fetched_in") != snapshot_id:
                continue  # a gone record carried from the parent
            placed += archive.held.ensure(record_keys(archive.blobs.key_of, row.record, record))
        return placed

    def _lift_released(self) -> None:
        """A hold was released during the run: lift what this run held that no hold in
        force covers now (``hold release`` could not see this run's objects)."""
        held = self.archive.held
        keep = set(covered_keys(self.archive, self.holds))
        held.lift(sorted(held.known() - keep))
