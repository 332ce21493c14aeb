"""Where the seal's bytes live: ``log/`` in the archive, every file written once.

The log's only persistence: four calls (:func:`put_once`, :func:`get`,
:func:`names`, :func:`locked`) over names relative to ``log/`` (``leaves/12``,
``checkpoints/12``, ``key.json``), so the store interface of issue 18 (disk or
S3 with Object Lock) can take them over unchanged: put-once is a conditional
write (``If-None-Match: *``) there, the lock a lease.

Put-once on disk: tmp, fsync, ``link(2)`` to the name (which fails if the name
exists, unlike ``rename``: two writers can never replace each other's leaf),
fsync of the directory. Temporary files go to ``log/tmp/``, not the archive's
``tmp/``, because ``hold add`` writes without the archive's lock, while a
crawl sweeps ``tmp/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from crawler.archive.fs import fsync_dir, make_dir, os_error, tmp_name, unlink_quietly, write_all
from crawler.errors import SealError

__all__ = ["LOG_DIR", "get", "is_sealed", "locked", "names", "put_once"]

LOG_DIR = "log"
_SUBDIRS = ("tmp", "leaves", "checkpoints", "superseded")


def _path(root: Path, name: str) -> Path:
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bad log name {name!r}")
    return root / LOG_DIR / name


def is_sealed(root: Path) -> bool:
    """True once ``crawler keys init`` gave the archive a log (its key.json)."""
    return (root / LOG_DIR / "key.json").is_file()


def _prepare(root: Path) -> None:
    try:
        make_dir(root / LOG_DIR)
        for sub in _SUBDIRS:
            make_dir(root / LOG_DIR / sub)
    except OSError as exc:
        raise os_error(exc, "create", root / LOG_DIR) from exc


def put_once(root: Path, name: str, data: bytes) -> bool:
    """Write ``log/<name>`` once; True if written, False if it already held these bytes.

    SealError if it holds other bytes: a log file is never replaced.
    """
    dest = _path(root, name)
    _prepare(root)
    tmp = tmp_name(root / LOG_DIR / "tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, dest)
        except FileExistsError:
            if get(root, name) == data:
                return False
            raise SealError(
                f"{dest} already exists with other bytes: log files are written once"
            ) from None
        fsync_dir(dest.parent)
        return True
    except OSError as exc:
        raise os_error(exc, "write", dest) from exc
    finally:
        unlink_quietly(tmp)


def get(root: Path, name: str) -> bytes | None:
    """``log/<name>``'s bytes, or None if there is no such file."""
    path = _path(root, name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(exc, "read", path) from exc


def names(root: Path, folder: str) -> list[str]:
    """The file names in ``log/<folder>`` (unordered); [] when it does not exist."""
    try:
        return [e.name for e in os.scandir(_path(root, folder)) if e.is_file()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise os_error(exc, "list", _path(root, folder)) from exc


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """One appender at a time (a crawl, ``hold add`` and ``apply`` may all append)."""
    _prepare(root)
    path = root / LOG_DIR / "lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise os_error(exc, "create", path) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
