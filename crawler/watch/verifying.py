"""Continuous verification: each cycle re-hashes a slice of the blobs (``--verify-slice``).

The slice is the next ``ceil(share × blobs)`` from the index's cursor (oldest-checked
first, wrapping around), so at 1% every blob is re-read within 100 cycles. A blob
whose bytes no longer hash to its name is an alert (the metrics), and the result is
recorded in the cycle's manifest (``verify_slice``). Hashing runs in a thread: the
loop keeps serving /metrics meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from crawler.archive import Archive
from crawler.archive.refs import BlobRef
from crawler.canonical import utc_now
from crawler.errors import ArchiveError

__all__ = ["SliceResult", "verify_slice"]

_CHUNK = 1 << 20


@dataclass
class SliceResult:
    checked: int = 0
    bytes: int = 0
    total_blobs: int = 0
    start: int = 0  # cursor before
    end: int = 0  # cursor after (0 after a wrap)
    at: str = ""
    bad: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.bad

    def summary(self) -> str:
        verdict = "ok" if self.passed else f"{len(self.bad)} BAD"
        return f"verify slice {self.checked}/{self.total_blobs} blobs {verdict}"

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "checked": self.checked,
            "bytes": self.bytes,
            "blobs": self.total_blobs,
            "cursor": {"from": self.start, "to": self.end},
            "passed": self.passed,
            "bad": self.bad,
        }


def _rehash(arc: Archive, ref: BlobRef) -> str | None:
    """None when the blob's bytes are its name; else what is wrong."""
    md5, sha, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    try:
        with arc.blobs.open(ref) as fh:
            while chunk := fh.read(_CHUNK):
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
    except (ArchiveError, OSError) as exc:
        return str(exc)
    if size != ref.size:
        return f"{size} bytes, expected {ref.size}"
    if md5.hexdigest() != ref.md5 or sha.hexdigest() != ref.sha256:
        return "its bytes no longer hash to its name"
    return None


async def verify_slice(arc: Archive, share: float) -> SliceResult:
    index = arc.index
    result = SliceResult(total_blobs=index.count_blobs(), at=utc_now())
    want = math.ceil(result.total_blobs * share) if share > 0 else 0
    position = result.start = index.verify_cursor()
    while result.checked < want:
        batch = index.blobs_after(position, min(500, want - result.checked))
        if not batch:
            if position == 0:
                break  # no blobs at all
            position = 0  # the pass is over: start the next from the oldest-checked again
            continue
        for at, ref, kind in batch:
            problem = await asyncio.to_thread(_rehash, arc, ref)
            if problem is not None:
                result.bad.append(
                    {"md5": ref.md5, "sha256": ref.sha256, "kind": kind, "problem": problem}
                )
            result.checked += 1
            result.bytes += ref.size
            position = at
    result.end = position
    index.save_verify_cursor(position)
    return result
