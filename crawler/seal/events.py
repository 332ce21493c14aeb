"""What the archive records as its history, as log events, in the order they happened.

Each gatherer reads one register (the index's finished snapshots, retention's
hold events, plans, open intents and receipts) and turns every entry into an
:class:`~crawler.archive.log.Event`. :func:`history` merges them by time, so a
catch-up after a crash logs what is missing in its order. A new register (issue
21's productions) adds a gatherer to :data:`GATHERERS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from typing import Any

from crawler.archive.index import FINISHED_STATUSES, Index
from crawler.archive.log import EVENT_TYPES, Event
from crawler.canonical import canonical_json
from crawler.retention.store import RetentionStore

__all__ = ["GATHERERS", "history", "inline_event"]

Gatherer = Callable[[Index | None, RetentionStore | None], Iterable[Event]]


def inline_event(type_: str, id_: str, at: str, record: dict[str, Any]) -> Event:
    """An event whose record lives in the leaf itself, named by its canonical JSON's sha256."""
    sha = hashlib.sha256(canonical_json(record)).hexdigest()
    return Event(type_, id_, sha, at, record)


def snapshots(index: Index | None, store: RetentionStore | None) -> Iterator[Event]:
    if index is None:
        return
    for row in index.list_snapshots():
        if row.status in FINISHED_STATUSES and row.manifest_sha256:
            yield Event("snapshot", row.id, row.manifest_sha256, row.finished_at or row.started_at)


def holds(index: Index | None, store: RetentionStore | None) -> Iterator[Event]:
    for e in store.hold_events() if store is not None else ():
        yield inline_event("hold", str(e.seq), e.at, asdict(e))


def plans(index: Index | None, store: RetentionStore | None) -> Iterator[Event]:
    for sha, ref, at in store.plans_stored() if store is not None else ():
        yield Event("plan", sha, ref.sha256, at)


def intents(index: Index | None, store: RetentionStore | None) -> Iterator[Event]:
    for i in store.intents() if store is not None else ():
        yield inline_event("intent", f"{i.kind}:{i.item_id}", i.at, asdict(i))


def receipts(index: Index | None, store: RetentionStore | None) -> Iterator[Event]:
    for r in store.receipts() if store is not None else ():
        yield Event("receipt", str(r.seq), r.blob.sha256, r.at)


GATHERERS: list[Gatherer] = [snapshots, holds, plans, intents, receipts]


def history(index: Index | None, store: RetentionStore | None) -> list[Event]:
    """Every event the archive records, oldest first (ties: type, then id as a number)."""
    events = [e for gather in GATHERERS for e in gather(index, store)]
    rank = {t: n for n, t in enumerate(EVENT_TYPES)}
    return sorted(events, key=lambda e: (e.at, rank[e.type], e.id.zfill(20)))
