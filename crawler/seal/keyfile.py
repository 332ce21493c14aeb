"""The seal's keys: where a command finds the signing key, and ``keys init``.

The private key never enters the archive (``keys init`` refuses a path inside
it) and is named only by its path in messages. Writers read it from
``CRAWLER_SIGNING_KEY_FILE`` or ``[archive] signing_key_file``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import Archive
from crawler.archive.log import LogKey, init_log
from crawler.archive.logstore import Where
from crawler.archive.note import write_private_key
from crawler.archive.store.base import ObjectStore
from crawler.archive.store.location import ArchiveLocation
from crawler.config_sources import load_toml, signing_key_path
from crawler.errors import UsageError

__all__ = ["LogPlace", "default_origin", "init_keys", "key_file_from_args", "open_log_place"]


@dataclass(frozen=True)
class LogPlace:
    """Where a command finds an archive's log: its directory (a bucket's cache), its store."""

    root: Path
    store: ObjectStore | None  # None: the directory itself
    name: str  # what a person calls the archive

    @property
    def where(self) -> Where:
        return self.root if self.store is None else self.store


@contextlib.contextmanager
def open_log_place(location: ArchiveLocation) -> Iterator[LogPlace]:
    """A directory as it is; a bucket opened read-only (no lease: the log settles races)."""
    if isinstance(location, Path):
        yield LogPlace(location, None, str(location))
        return
    with Archive.open_for_reading(location) as archive:
        yield LogPlace(archive.path, archive.store, archive.location)


def key_file_from_args(args: argparse.Namespace) -> Path | None:
    """For the offline writers (``hold``): the environment, then ``--config``'s table."""
    data = load_toml(Path(args.config)) if getattr(args, "config", None) else {}
    return signing_key_path(os.environ, data.get("archive", {}))


def default_origin(org: str | None) -> str:
    """``crawler-archive/<org>/<archive id>``: says which archive, never reused."""
    return f"crawler-archive/{org or 'local'}/{secrets.token_hex(8)}"


def _inside(path: Path, root: Path) -> bool:
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def init_keys(root: Path, key_file: Path, origin: str, log: Where | None = None) -> LogKey:
    """Make the key pair: the private key to ``key_file`` (0600), the public one in ``log/``.

    ``root``: the archive's directory (a bucket's cache); ``log``: where its log is
    (default the directory)."""
    if _inside(key_file, root):
        raise UsageError(
            f"--key-file {key_file} is inside the archive {root}: keep the signing key elsewhere"
        )
    if key_file.exists():
        raise UsageError(f"--key-file {key_file} already exists: refusing to overwrite a key")
    if not key_file.parent.is_dir():
        raise UsageError(f"--key-file {key_file}: directory {key_file.parent} does not exist")
    key = Ed25519PrivateKey.generate()
    write_private_key(key_file, key)
    return init_log(root if log is None else log, origin, key)
