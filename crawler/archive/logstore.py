"""Where the seal's bytes live: ``log/`` in the archive, every file written once.

The log's only persistence: four calls (:func:`put_once`, :func:`get`,
:func:`names`, :func:`locked`) over names relative to ``log/`` (``leaves/12``,
``checkpoints/12``, ``key.json``), on either backend (docs/ARCHIVE.md, "The seal").
``where`` is the archive: its directory (a Path, or its :class:`DiskStore`), or
any other :class:`ObjectStore` (a bucket), where each name is the object
``log/<name>``.

Put-once on disk: tmp, fsync, ``link(2)`` to the name (which fails if the name
exists, unlike ``rename``: two writers can never replace each other's leaf),
fsync of the directory. Temporary files go to ``log/tmp/``, not the archive's
``tmp/``, because ``hold add`` writes without the archive's lock, while a
crawl sweeps ``tmp/``.

In a bucket: the store's own put-once (``If-None-Match: *``, with the run's
Object Lock), then the same comparison of bytes on a conflict. :func:`locked`
takes no lock there: a crawl's writes are serialised by the archive's lease,
and ``hold add`` or ``keys init`` (which run without it) may race one; the loser's leaf put
finds the index taken (:class:`LogRaceError`) and :meth:`Log.append` re-reads
the log and retries at the next index, so two writers never replace or fork
a leaf.

:func:`leaf_cache`: a bucket's leaves also have copies in the local cache (a hint
that :class:`~crawler.archive.log.Log` checks against the bucket's signed
checkpoint before it uses one; ``crawler.archive.leafcache``). A disk archive has
none: its leaves are local files already.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from crawler.archive.fs import fsync_dir, make_dir, os_error, tmp_name, unlink_quietly, write_all
from crawler.archive.leafcache import LEAF_CACHE, LeafCache
from crawler.archive.store.base import ObjectMissingError, ObjectStore
from crawler.archive.store.disk import DiskStore
from crawler.errors import SealError

__all__ = [
    "LOG_DIR",
    "LogRaceError",
    "Where",
    "get",
    "is_sealed",
    "leaf_cache",
    "locked",
    "names",
    "put_once",
    "where",
]

LOG_DIR = "log"
_SUBDIRS = ("tmp", "leaves", "checkpoints", "superseded")

# The archive whose log it is: a directory, or a store (a DiskStore is its directory).
Where = Path | ObjectStore


class LogRaceError(SealError):
    """The name is taken by other bytes: written once, never replaced (another writer won)."""


def _check(name: str) -> str:
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bad log name {name!r}")
    return name


def _path(root: Path, name: str) -> Path:
    return root / LOG_DIR / _check(name)


def _disk(place: Where) -> Path | None:
    """The directory of a disk archive; None for a bucket."""
    if isinstance(place, Path):
        return place
    return place.root if isinstance(place, DiskStore) else None


def where(place: Where, name: str = "") -> str:
    """``log/<name>`` as a person finds it (a path, or an s3:// URL)."""
    root = _disk(place)
    key = f"{LOG_DIR}/{_check(name)}" if name else LOG_DIR
    if root is not None:
        return str(root / key)
    assert not isinstance(place, Path)
    return place.where(key)


def leaf_cache(place: Where, log_id: str) -> LeafCache | None:
    """The local copies of a bucket's leaves (None on disk, or for a store without a cache).

    The cache directory is the one whose ``objects/`` the store reads small blobs from
    (``S3Store.local``, set by ``crawler.archive.remote.connect_store``).
    """
    if _disk(place) is not None:
        return None
    local = getattr(place, "local", None)
    if not isinstance(local, Path) or not local.parent.is_dir():
        return None
    return LeafCache(local.parent / LEAF_CACHE, log_id)


def is_sealed(place: Where) -> bool:
    """True once ``crawler keys init`` gave the archive a log (its key.json)."""
    root = _disk(place)
    if root is not None:
        return (root / LOG_DIR / "key.json").is_file()
    assert not isinstance(place, Path)
    return place.exists(f"{LOG_DIR}/key.json")


def _prepare(root: Path) -> None:
    try:
        make_dir(root / LOG_DIR)
        for sub in _SUBDIRS:
            make_dir(root / LOG_DIR / sub)
    except OSError as exc:
        raise os_error(exc, "create", root / LOG_DIR) from exc


def put_once(place: Where, name: str, data: bytes) -> bool:
    """Write ``log/<name>`` once; True if written, False if it already held these bytes.

    LogRaceError (a SealError) if it holds other bytes: a log file is never replaced.
    (In a bucket, identical bytes already there may read as True: the store takes an
    object holding this write's sha256 for this write's own, landed.)
    """
    root = _disk(place)
    if root is None:
        assert not isinstance(place, Path)
        return _put_object(place, name, data)
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
            raise LogRaceError(
                f"{dest} already exists with other bytes: log files are written once"
            ) from None
        fsync_dir(dest.parent)
        return True
    except OSError as exc:
        raise os_error(exc, "write", dest) from exc
    finally:
        unlink_quietly(tmp)


def _put_object(store: ObjectStore, name: str, data: bytes) -> bool:
    key = f"{LOG_DIR}/{_check(name)}"
    md5, sha = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    if store.put_once(key, data, md5=md5, sha256=sha, size=len(data), kind="log"):
        return True
    if get(store, name) == data:
        return False
    raise LogRaceError(
        f"{store.where(key)} already exists with other bytes: log files are written once"
    )


def get(place: Where, name: str) -> bytes | None:
    """``log/<name>``'s bytes, or None if there is no such file."""
    root = _disk(place)
    if root is None:
        assert not isinstance(place, Path)
        try:
            return place.get(f"{LOG_DIR}/{_check(name)}")
        except ObjectMissingError:
            return None
    path = _path(root, name)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(exc, "read", path) from exc


def names(place: Where, folder: str) -> list[str]:
    """The file names in ``log/<folder>`` (unordered); [] when it does not exist."""
    root = _disk(place)
    if root is None:
        assert not isinstance(place, Path)
        prefix = f"{LOG_DIR}/{_check(folder)}/"
        found = (k.removeprefix(prefix) for k in place.list(prefix))
        return [n for n in found if n and "/" not in n]
    try:
        return [e.name for e in os.scandir(_path(root, folder)) if e.is_file()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise os_error(exc, "list", _path(root, folder)) from exc


@contextlib.contextmanager
def locked(place: Where) -> Iterator[None]:
    """One appender at a time (a crawl, ``hold add`` and ``apply`` may all append).

    A bucket has no lock to take: see the module's docstring (put-once settles races).
    """
    root = _disk(place)
    if root is None:
        yield
        return
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
