"""Open the archive for writing, waiting up to ``--lock-wait`` while another holds it.

The lock is an ``flock`` (``archive.fs.take_lock``): the kernel drops it when its
holder dies, so a lock left by a killed process never blocks; only a live holder
makes us wait, and past the wait the run ends with ``LockWaitError`` (exit 75).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from crawler.archive import Archive
from crawler.archive.store.location import S3Location
from crawler.errors import ArchiveBusyError, LockWaitError

__all__ = ["POLL_SECONDS", "open_when_free"]

POLL_SECONDS = 1.0


async def open_when_free(
    path: Path | S3Location,
    wait: float,
    *,
    on_wait: Callable[[str], None] = lambda _msg: None,
    poll: float = POLL_SECONDS,
) -> Archive:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    said = False
    while True:
        try:
            return Archive.open_for_writing(path)
        except ArchiveBusyError as err:
            left = deadline - loop.time()
            if left <= 0:
                raise LockWaitError(f"{err.message}; gave up after --lock-wait {wait:g}s") from None
            if not said:
                on_wait(f"{err.message}: waiting up to {left:.0f}s for it (--lock-wait)")
                said = True
            await asyncio.sleep(min(poll, left))
