"""What passes between the crawl's parts: a job, its outcome, work shared by workers.

``ProjectJob`` goes from the listing producer to a worker; ``Outcome`` comes back
and is recorded. ``Outcome.totals`` is the project's contribution to the
manifest's content counts (``records.Record.totals``), so the run adds them up
as it goes instead of reading every record back at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from crawler.archive.refs import BlobRef

__all__ = ["Outcome", "ProjectJob", "SharedWork"]

T = TypeVar("T")


@dataclass
class ProjectJob:
    entry: dict[str, Any]  # the project's item from the list page, as served
    list_page: dict[str, Any]  # fetch of that page
    earlier: BlobRef | None = None  # incremental + refresh: the unchanged project's last record
    # A resumed partial project: what its earlier record added to the totals, taken
    # back when its new outcome is recorded (in the same transaction).
    replaces: dict[str, int] = field(default_factory=dict)

    @property
    def project_id(self) -> str:
        return str(self.entry["id"])


@dataclass
class Outcome:
    state: str  # done | partial | gone | failed | carried
    record: BlobRef | None
    failures: list[dict[str, Any]]
    counts: dict[str, int] = field(default_factory=dict)  # the record's counts
    totals: dict[str, int] = field(default_factory=dict)  # see the module docstring


class SharedWork:
    """Coalesces identical work across workers: the first asker fetches, the rest await it."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def once(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        existing = self._inflight.get(key)
        if existing is not None:
            result: T = await asyncio.shield(existing)
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await work()
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # mark retrieved: other waiters may not exist
            raise
        finally:
            # Only in-flight work is shared; what is done lives in the archive's index.
            self._inflight.pop(key, None)
        future.set_result(value)
        return value
