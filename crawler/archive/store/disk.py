"""The archive directory as an :class:`~crawler.archive.store.base.ObjectStore`.

Exactly the layout docs/ARCHIVE.md has always described: every write goes through
``tmp/`` (write, fsync, rename, fsync the directory), the one writer holds a flock on
``lock``. Disk has no WORM: ``retain`` and ``legal_hold`` are no-ops (file modes are
access control, not retention; see docs/COMPLIANCE.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from crawler.archive.fs import atomic_write, fsync_dir, make_dir, os_error, take_lock
from crawler.archive.store.base import Lease, ObjectInfo, ObjectMissingError, Source

__all__ = ["DiskStore"]


class _FlockLease:
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def beat(self) -> None:
        return None  # a flock lives as long as the process: nothing to renew

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


class DiskStore:
    kind = "disk"
    worm = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.tmp_dir = self.root / "tmp"

    def path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def where(self, key: str) -> str:
        return str(self.path(key))

    def put_once(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        hold: bool = False,  # no legal holds on disk (no WORM)
    ) -> bool:
        dest = self.path(key)
        if dest.exists():
            return False
        self._place(dest, source)
        return True

    async def put_once_async(
        self,
        key: str,
        source: Source,
        *,
        md5: str,
        sha256: str,
        size: int,
        kind: str = "",
        hold: bool = False,
    ) -> bool:
        put = functools.partial(self.put_once, key, source, md5=md5, sha256=sha256, size=size)
        return await asyncio.to_thread(put)

    @contextlib.asynccontextmanager
    async def uploading(self) -> AsyncIterator[None]:
        yield  # nothing to open: a rename is not a request

    def replace(self, key: str, source: Source) -> None:
        self._place(self.path(key), source)

    def _place(self, dest: Path, source: Source) -> None:
        if isinstance(source, bytes):
            atomic_write(self.tmp_dir, dest, source)
            return
        try:
            make_dir(dest.parent)
            os.replace(source, dest)  # ``source`` is a durable file in tmp/ (same disk)
            fsync_dir(dest.parent)
        except OSError as exc:
            raise os_error(exc, "write", dest) from exc

    def head(self, key: str) -> ObjectInfo | None:
        try:
            st = self.path(key).stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise os_error(exc, "stat", self.path(key)) from exc
        return ObjectInfo(key=key, size=st.st_size)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissingError(f"{path} is missing") from None
        except OSError as exc:
            raise os_error(exc, "read", path) from exc

    def stream(self, key: str) -> BinaryIO:
        path = self.path(key)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise ObjectMissingError(f"{path} is missing") from None
        except OSError as exc:
            raise os_error(exc, "read", path) from exc

    def list(self, prefix: str) -> Iterator[str]:
        # A key prefix, as S3 means it: walk the deepest directory it names, then filter.
        folder = prefix.rpartition("/")[0]
        base = self.path(folder) if folder else self.root
        if not base.is_dir():
            return
        found: list[str] = []
        for dirpath, _dirs, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            found += [name if rel == "." else f"{rel}/{name}" for name in filenames]
        yield from sorted(k for k in found if k.startswith(prefix))

    def lock(self, owner: str) -> Lease:
        return _FlockLease(take_lock(self.root))

    def retain(self, key: str, until: datetime) -> bool:
        return False

    def keep(self, key: str) -> bool:
        return False

    def legal_hold(self, key: str, on: bool) -> None:
        return None

    def close(self) -> None:
        return None
