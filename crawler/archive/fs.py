"""Filesystem helpers: atomic writes, directory fsync, permissions, OSError mapping.

A leaf of the archive package, used by the blob store, the manifest writer, the
archive's opening, and by the offline writers (export, bag) for their output
files. Every durable write here is: temporary file, fsync, rename, fsync of the
directory; a failure never leaves the temporary file behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from crawler.errors import ArchiveBusyError, ArchiveError, DiskFullError

__all__ = [
    "AtomicFile",
    "atomic_write",
    "atomic_write_chunks",
    "commit_file",
    "fsync_dir",
    "hold_private_umask",
    "make_dir",
    "os_error",
    "release_private_umask",
    "spool",
    "take_lock",
    "tmp_name",
    "unlink_quietly",
    "write_all",
    "write_file_atomic",
]

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def os_error(exc: OSError, action: str, path: Path | str) -> ArchiveError:
    """The one place an OSError becomes an archive error: disk full, or what failed where."""
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL_ERRNOS:
        return DiskFullError(f"disk full while {action} {path}: {reason}; free space, then rerun")
    return ArchiveError(f"cannot {action} {path}: {reason}")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir(path: Path) -> bool:
    """Create a 0700 directory (and fsync its parent) if missing; True if created."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return False
    # mkdir's mode is filtered by the umask; say exactly what we mean.
    os.chmod(path, 0o700)
    fsync_dir(path.parent)
    return True


def tmp_name(tmp_dir: Path) -> Path:
    return tmp_dir / f"{os.getpid()}-{secrets.token_hex(8)}"


def atomic_write(tmp_dir: Path, dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` all or nothing: tmp file, fsync, rename, fsync the dir.

    Raises ArchiveError (DiskFullError on ENOSPC); the temporary file never survives
    a failure.
    """
    atomic_write_chunks(tmp_dir, dest, (data,))


def atomic_write_chunks(tmp_dir: Path, dest: Path, chunks: Iterable[bytes]) -> str:
    """:func:`atomic_write` for a stream of chunks; returns the sha256 of what was written."""
    tmp = tmp_name(tmp_dir)
    digest = hashlib.sha256()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for chunk in chunks:
                digest.update(chunk)
                write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException as exc:
        unlink_quietly(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, "write", dest) from exc
        raise
    return digest.hexdigest()


def spool(tmp_dir: Path, chunks: Iterable[bytes]) -> tuple[Path, str, str, int]:
    """Write ``chunks`` to a new durable file in ``tmp_dir``: (path, md5, sha256, size).

    The caller puts the file under its name (a store's put or replace) and removes it.
    """
    tmp = tmp_name(tmp_dir)
    md5, sha, size = hashlib.md5(), hashlib.sha256(), 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for chunk in chunks:
                md5.update(chunk)
                sha.update(chunk)
                size += len(chunk)
                write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        unlink_quietly(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, "write", tmp) from exc
        raise
    return tmp, md5.hexdigest(), sha.hexdigest(), size


def commit_file(tmp: Path, dest: Path) -> None:
    """Make a file written elsewhere (SQLite's, say) durable as ``dest``: fsync, rename, dir.

    On failure ``tmp`` is left for the caller, who knows its companions (a journal).
    """
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as exc:
        raise os_error(exc, "write", dest) from exc


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def unlink_quietly(path: Path | str) -> None:
    # Already gone, or the disk is in trouble: tmp/ is swept on the next open anyway.
    with contextlib.suppress(OSError):
        os.unlink(path)


class AtomicFile(io.RawIOBase):
    """A file that appears under its name only when committed (tmp, fsync, rename).

    For output outside an archive (exports, bags): the temporary file is a hidden
    sibling of ``dest``. Hashes (md5, sha256) and counts the bytes as they are
    written, so a writer never reads its own output back. Usable as a binary
    stream, e.g. under ``gzip``. Errors are :func:`os_error`'s (disk full named).
    """

    def __init__(self, dest: Path) -> None:
        super().__init__()
        self.dest = dest
        self.tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # Owned by this object until commit() or abort(): no context manager fits.
            self._f: IO[bytes] = open(self.tmp, "xb")  # noqa: SIM115
        except OSError as exc:
            raise os_error(exc, "write", dest) from None
        self._md5 = hashlib.md5()
        self._sha = hashlib.sha256()
        self.size = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._md5.update(view)
        self._sha.update(view)
        try:
            self._f.write(view)
        except OSError as exc:
            raise os_error(exc, "write", self.dest) from None
        self.size += len(view)
        return len(view)

    @property
    def md5(self) -> str:
        """The md5 of what was written so far."""
        return self._md5.hexdigest()

    def commit(self) -> tuple[str, str, int]:
        """Make the file durable under its name; returns (md5, sha256, size)."""
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            os.replace(self.tmp, self.dest)
            fsync_dir(self.dest.parent)
        except OSError as exc:
            self.abort()
            raise os_error(exc, "write", self.dest) from None
        self._finished = True
        return self._md5.hexdigest(), self._sha.hexdigest(), self.size

    def abort(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            self._f.close()
        finally:
            unlink_quietly(self.tmp)


def write_file_atomic(dest: Path, data: bytes) -> tuple[str, str, int]:
    """Write ``data`` as ``dest`` through :class:`AtomicFile`; returns (md5, sha256, size)."""
    out = AtomicFile(dest)
    try:
        out.write(data)
    except BaseException:
        out.abort()
        raise
    return out.commit()


# -- permissions and the writer's lock -------------------------------------------------------

# umask is process-wide: set it while any archive is open for writing, restore it
# when the last one closes.
_umask_holders = 0
_saved_umask = 0


def hold_private_umask() -> None:
    """umask 077 (files 0600, directories 0700) until the matching release."""
    global _umask_holders, _saved_umask
    if _umask_holders == 0:
        _saved_umask = os.umask(0o077)
    _umask_holders += 1


def release_private_umask() -> None:
    global _umask_holders
    _umask_holders -= 1
    if _umask_holders == 0:
        os.umask(_saved_umask)


def take_lock(path: Path) -> int:
    """flock ``path/lock`` exclusively (ArchiveBusyError naming the holder's pid); its fd."""
    lock = path / "lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise os_error(exc, "create", lock) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        except OSError:
            pid = "unknown"
        os.close(fd)
        raise ArchiveBusyError(f"another crawler is writing to {path} (pid {pid})") from None
    except OSError as exc:
        os.close(fd)
        raise os_error(exc, "lock", lock) from exc
    try:
        os.fchmod(fd, 0o600)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise os_error(exc, "write", lock) from exc
    return fd
