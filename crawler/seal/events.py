"""What the archive records as its history, as log events, in the order they happened.

Each gatherer reads one register of :class:`Registers` (the index's finished
snapshots; retention's hold events, plans, open intents and receipts; the
production register's productions and reproductions) and turns every entry
into an :class:`~crawler.archive.log.Event`. :func:`history` merges them by
time, so a catch-up after a crash logs what is missing in its order. A new
register is a field of :class:`Registers` and a gatherer in :data:`GATHERERS`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from crawler.archive.index import FINISHED_STATUSES, Index
from crawler.archive.log import EVENT_TYPES, Event
from crawler.archive.productions import ProductionRegister
from crawler.canonical import canonical_json
from crawler.retention.store import RetentionStore

__all__ = [
    "GATHERERS",
    "Registers",
    "history",
    "inline_event",
    "produced_id",
    "reproduced_id",
]


@dataclass(frozen=True)
class Registers:
    """The archive's registers a gatherer reads; None: absent (nothing recorded there)."""

    index: Index | None = None
    store: RetentionStore | None = None
    productions: ProductionRegister | None = None


Gatherer = Callable[[Registers], Iterable[Event]]


def inline_event(type_: str, id_: str, at: str, record: dict[str, Any]) -> Event:
    """An event whose record lives in the leaf itself, named by its canonical JSON's sha256."""
    sha = hashlib.sha256(canonical_json(record)).hexdigest()
    return Event(type_, id_, sha, at, record)


def produced_id(production_id: int) -> str:
    return f"produced:{production_id}"


def reproduced_id(seq: int) -> str:
    return f"reproduced:{seq}"


def snapshots(r: Registers) -> Iterator[Event]:
    for row in r.index.list_snapshots() if r.index is not None else ():
        if row.status in FINISHED_STATUSES and row.manifest_sha256:
            yield Event("snapshot", row.id, row.manifest_sha256, row.finished_at or row.started_at)


def holds(r: Registers) -> Iterator[Event]:
    for e in r.store.hold_events() if r.store is not None else ():
        yield inline_event("hold", str(e.seq), e.at, asdict(e))


def plans(r: Registers) -> Iterator[Event]:
    for sha, ref, at in r.store.plans_stored() if r.store is not None else ():
        yield Event("plan", sha, ref.sha256, at)


def intents(r: Registers) -> Iterator[Event]:
    for i in r.store.intents() if r.store is not None else ():
        yield inline_event("intent", f"{i.kind}:{i.item_id}", i.at, asdict(i))


def receipts(r: Registers) -> Iterator[Event]:
    for x in r.store.receipts() if r.store is not None else ():
        yield Event("receipt", str(x.seq), x.blob.sha256, x.at)


def productions(r: Registers) -> Iterator[Event]:
    """A registered production (its row) and each ``--reproduce`` rewrite (its row)."""
    reg = r.productions
    for p in reg.productions() if reg is not None else ():
        yield inline_event("production", produced_id(p.id), p.at, p.to_json())
    for rp in reg.reproduction_rows() if reg is not None else ():
        yield inline_event("production", reproduced_id(rp.seq), rp.at, rp.to_json())


GATHERERS: list[Gatherer] = [snapshots, holds, plans, intents, receipts, productions]


def history(registers: Registers) -> list[Event]:
    """Every event the archive records, oldest first (ties: type, then id as a number)."""
    events = [e for gather in GATHERERS for e in gather(registers)]
    rank = {t: n for n, t in enumerate(EVENT_TYPES)}
    return sorted(events, key=lambda e: (e.at, rank[e.type], e.id.zfill(20)))
