"""Issue #7, disk faults: an unwritable archive and a disk that fills up mid-blob.

Each must end the run with a clear error (exit 1, naming what failed where),
leave no partial blob visible (every file under ``blobs/`` hashes to its name,
``tmp/`` is empty), pass ``verify --full``, and resume: a rerun once the
problem is gone completes the snapshot.

The tests run as root too, where permission bits stop nothing, so both faults
are injected at the OS layer the archive writes through (``os`` as
``crawler.archive.blobs`` uses it), during a real in-process crawl.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.archive import blobs as blobs_mod
from crawler.errors import ArchiveError, DiskFullError, FatalError
from crawler.read.verify import verify
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from tests.support import crawl
from tests.test_archive_run import check_archive_matches

FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}
SPEC = DatasetSpec(
    seed=31, projects=20, big_document_bytes=20_000, big_file_bytes=200_000, file_size_max=16_384
)


async def _crawl(base_url: str, key: str, archive: Path) -> tuple[int, FatalError | None]:
    try:
        return await crawl(base_url, key, archive, **FAST), None
    except FatalError as exc:  # what `crawler` prints, and its exit code
        return exc.exit_code, exc


def _no_partial_blob(archive_dir: Path, *, tmp_empty: bool = True) -> int:
    """Every blob file's content hashes to its name; nothing is left in tmp/.

    A run that stops on a fatal error cancels its other writers at once; one cut
    short in a worker thread may leave a file in tmp/ (never in blobs/), which
    the next open sweeps (docs/ARCHIVE.md).
    """
    count = 0
    for path in (archive_dir / "blobs").rglob("*"):
        if path.is_file():
            md5_name, _, sha_name = path.name.partition(".")
            data = path.read_bytes()
            assert hashlib.md5(data).hexdigest() == md5_name, path
            if sha_name:
                assert hashlib.sha256(data).hexdigest() == sha_name, path
            count += 1
    if tmp_empty:
        assert list((archive_dir / "tmp").iterdir()) == []
    return count


def _verify_ok(archive_dir: Path) -> None:
    with Archive.open_for_reading(archive_dir) as archive:
        report = verify(archive, full=True)
    assert report.ok, [str(p) for p in report.problems]


class FillingDisk:
    """``os.write`` that accepts ``budget`` more bytes, part of one write included, then ENOSPC."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.full_hits = 0
        self._real = os.write
        self._lock = threading.Lock()  # blob writers run in worker threads

    def __call__(self, fd: int, data: Any) -> int:
        with self._lock:
            room = min(len(data), self.budget)
            self.budget -= room
            if room == 0:
                self.full_hits += 1
                raise OSError(errno.ENOSPC, "No space left on device")
        return self._real(fd, bytes(memoryview(data)[:room]))


async def test_disk_fills_up_mid_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "a"
    disk = FillingDisk(budget=300_000)  # runs out inside a file body (files go to 200 kB)
    monkeypatch.setattr(blobs_mod.os, "write", disk)
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        code, error = await _crawl(sim.base_url, sim.key, archive)
        assert disk.full_hits >= 1
        assert code == 1 and isinstance(error, DiskFullError), error
        message = str(error)
        assert "disk full" in message and str(archive) in message and "free space" in message
        assert "No space left on device" in message

        monkeypatch.undo()  # space freed
        assert _no_partial_blob(archive, tmp_empty=False) > 0
        _verify_ok(archive)
        with Archive.open_for_reading(archive) as a:
            assert [s.status for s in a.index.list_snapshots()] == ["failed"] or all(
                s.status != "complete" for s in a.index.list_snapshots()
            )

        code, error = await _crawl(sim.base_url, sim.key, archive)
        assert (code, error) == (0, None)
        _no_partial_blob(archive)
        _verify_ok(archive)
        check_archive_matches(archive, sim.dataset)
        with Archive.open_for_reading(archive) as a:
            assert len(a.index.list_snapshots()) == 1  # the same snapshot, resumed


async def test_unwritable_archive_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "a"
    real_open = os.open
    tmp_dir = str(archive / "tmp")

    def denied(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(tmp_dir) and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        # An archive that exists (created, opened once) but cannot take a new file now.
        with Archive.open_for_writing(archive):
            pass
        monkeypatch.setattr(blobs_mod.os, "open", denied)
        code, error = await _crawl(sim.base_url, sim.key, archive)
        assert code == 1 and isinstance(error, ArchiveError), error
        assert not isinstance(error, DiskFullError)
        assert "Permission denied" in str(error) and str(archive / "tmp") in str(error)

        monkeypatch.undo()  # permissions fixed
        _no_partial_blob(archive, tmp_empty=False)
        _verify_ok(archive)
        code, error = await _crawl(sim.base_url, sim.key, archive)
        assert (code, error) == (0, None)
        _verify_ok(archive)
        check_archive_matches(archive, sim.dataset)


async def test_archive_parent_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    archive = tmp_path / "ro" / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None)) as sim:
        monkeypatch.setattr(Path, "mkdir", denied)
        code, error = await _crawl(sim.base_url, sim.key, archive)
        monkeypatch.undo()
        assert code == 1 and isinstance(error, ArchiveError), error
        assert f"cannot create {archive}: Permission denied" in str(error)
        assert not archive.exists()
        # Nothing was sent: the archive is checked before the first request.
        assert sim.counters.total == 0
        assert (await _crawl(sim.base_url, sim.key, archive)) == (0, None)
        check_archive_matches(archive, sim.dataset)
