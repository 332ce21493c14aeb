"""Writing a production's files: hashed while written, fsynced, listed as they are made.

A production is built in a hidden directory that is renamed into place when
whole (``crawler.produce.place``), so files inside it need no rename of their
own: each is written once, fsynced, and its directories are fsynced before
the rename. Every file is listed, as it is closed, in two checksum files
(``md5sum -c`` and ``sha256sum -c`` formats), streamed: no list of files is
kept in memory.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, BinaryIO

from crawler.archive.fs import AtomicFile, fsync_dir, os_error
from crawler.errors import ArchiveError

__all__ = ["FileSet", "Written"]

_CHUNK = 1024 * 1024

Written = tuple[str, str, int]  # md5, sha256, size


class _Out:
    """One output file under construction: hashed as written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._f: IO[bytes] = open(path, "xb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise os_error(exc, "write", path) from None
        self.md5 = hashlib.md5()
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.md5.update(data)
        self.sha.update(data)
        self.size += len(data)
        try:
            self._f.write(data)
        except OSError as exc:
            raise os_error(exc, "write", self.path) from None

    def close(self) -> Written:
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
        except OSError as exc:
            raise os_error(exc, "write", self.path) from None
        return self.md5.hexdigest(), self.sha.hexdigest(), self.size

    def discard(self) -> None:
        self._f.close()
        os.unlink(self.path)


class FileSet:
    """The files of one production under ``root``, with their checksum lists."""

    def __init__(self, root: Path, list_name: str) -> None:
        self.root = root
        self._dirs: set[str] = set()  # a few per 1,000 files
        self.count = 0
        self.bytes = 0
        self.md5_list = AtomicFile(root / f"{list_name}.md5")
        self.sha_list = AtomicFile(root / f"{list_name}.sha256")

    def open(self, rel: str) -> _Out:
        """A file written over time (the load files); :meth:`done` closes and lists it."""
        parent = rel.rpartition("/")[0]
        if parent and parent not in self._dirs:
            try:
                (self.root / parent).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise os_error(exc, "create", self.root / parent) from None
            parts = parent.split("/")
            self._dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return _Out(self.root / rel)

    def done(self, rel: str, out: _Out) -> Written:
        return self._listed(rel, out.close())

    def _listed(self, rel: str, written: Written) -> Written:
        md5, sha, size = written
        self.md5_list.write(f"{md5}  {rel}\n".encode())
        self.sha_list.write(f"{sha}  {rel}\n".encode())
        self.count += 1
        self.bytes += size
        return written

    def put(self, rel: str, data: bytes | Iterable[bytes]) -> Written:
        out = self.open(rel)
        for chunk in [data] if isinstance(data, bytes) else data:
            out.write(chunk)
        return self._listed(rel, out.close())

    def copy(
        self, rel: str, source: BinaryIO, expect_md5: str, text_rel: str | None
    ) -> tuple[Written, Written | None]:
        """Stream ``source`` into ``rel`` (and into ``text_rel`` while it is valid UTF-8).

        The copy is refused (ArchiveError) unless its md5 is ``expect_md5``: a
        damaged blob never becomes a native. The text copy is dropped if the
        bytes turn out not to be UTF-8.
        """
        out = self.open(rel)
        text = self.open(text_rel) if text_rel else None
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                if text is not None:
                    try:
                        decoder.decode(chunk)
                        text.write(chunk)
                    except UnicodeDecodeError:
                        text.discard()
                        text = None
            if text is not None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    text.discard()
                    text = None
        finally:
            source.close()
        native = out.close()
        if native[0] != expect_md5:
            raise ArchiveError(f"a blob read as md5 {native[0]}, not {expect_md5}: damaged")
        self._listed(rel, native)
        return native, (self._listed(text_rel, text.close()) if text and text_rel else None)

    def close(self) -> tuple[Written, Written]:
        """fsync every directory made, then commit the two lists."""
        for rel in sorted(self._dirs, key=len, reverse=True):
            fsync_dir(self.root / rel)
        fsync_dir(self.root)
        return self.md5_list.commit(), self.sha_list.commit()

    def abort(self) -> None:
        self.md5_list.abort()
        self.sha_list.abort()
