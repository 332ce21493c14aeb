"""A GetObject body as a file: read through the bridge, chunk by chunk (flat memory)."""

from __future__ import annotations

import io
from typing import Any

from crawler.archive.store.s3_client import S3Bridge
from crawler.errors import ArchiveError

__all__ = ["S3Body"]


class S3Body(io.RawIOBase):
    """A GetObject body read through the bridge, chunk by chunk (flat memory)."""

    def __init__(self, bridge: S3Bridge, body: Any, where: str) -> None:
        super().__init__()
        self._bridge, self._body, self._where = bridge, body, where

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        try:
            data: bytes = self._bridge.run(self._body.read(len(view)))
        except Exception as exc:
            raise ArchiveError(f"reading {self._where} failed: {type(exc).__name__}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()
