"""The production register in a bucket: its rows as objects, the cache replayed.

In an S3 archive ``productions.sqlite`` is a local cache (docs/ARCHIVE.md, "The
production register"), as ``retention.sqlite`` is (:mod:`crawler.archive.journal`,
the shared codec). Each row is first put once as ``productions/production-<id>.json``
or ``productions/reproduction-<seq>.json``: the key is the row's number, so two
machines that chose the same one cannot both register it (the second put is
refused), and a machine whose cache is empty replays every row before it numbers
anything. On disk, all of this is the plain file.
"""

from __future__ import annotations

from typing import Any

from crawler.archive import Archive
from crawler.archive.journal import journalled, put_row, replay
from crawler.archive.productions import JOURNAL_KINDS, ProductionRegister
from crawler.errors import UsageError

__all__ = ["open_register", "open_register_reader"]

_PREFIX = "productions/"
_NUMBER = {"production": "id", "reproduction": "seq"}


def open_register(archive: Archive) -> ProductionRegister:
    """The writer's register: in a bucket, brought up to date and journalled to it."""
    reg = ProductionRegister.open(archive.path)
    return journalled(
        archive.store, reg, lambda r: _sync(archive, r), lambda kind, row: _put(archive, kind, row)
    )


def open_register_reader(archive: Archive) -> ProductionRegister:
    """A reader's register; in a bucket the cache is brought up to date first."""
    if archive.store.kind != "disk":
        open_register(archive).close()
    return ProductionRegister.open_reader(archive.path)


def _put(archive: Archive, kind: str, row: dict[str, Any]) -> str:
    number = int(row[_NUMBER[kind]])
    key = f"{_PREFIX}{kind}-{number:09d}.json"
    if not put_row(archive.store, key, kind, row, "production"):
        raise UsageError(f"{kind} {number} was registered by someone else meanwhile: produce again")
    return key


def _sync(archive: Archive, reg: ProductionRegister) -> None:
    replay(archive.store, _PREFIX, reg.applied_keys(), JOURNAL_KINDS, reg.replay, "register row")
