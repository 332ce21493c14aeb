"""Blobs: atomic writes, dedup, collisions kept as variants, disk full, permissions."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.archive import Archive, BlobRef
from crawler.archive import blobs as blobs_mod
from crawler.errors import ArchiveError, DiskFullError


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive.open_for_writing(tmp_path / "arc") as a:
        yield a


def blob_files(archive: Archive) -> list[Path]:
    return sorted(p for p in (archive.path / "blobs").rglob("*") if p.is_file())


def tmp_files(archive: Archive) -> list[Path]:
    return sorted((archive.path / "tmp").iterdir())


def ref_of(data: bytes) -> BlobRef:
    return BlobRef(hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data))


class FakeMd5:
    """Every body hashes to the same "md5": a collision on demand."""

    def update(self, data: bytes, /) -> None:
        pass

    def hexdigest(self) -> str:
        return "ab" * 16


async def test_put_names_blob_by_md5_and_indexes_sha256(archive: Archive) -> None:
    data = b'{"hello": "world"}'
    stored = await archive.blobs.put(data, "json")
    assert stored.ref == ref_of(data)
    assert stored.created and not stored.collision and stored.kind == "json"
    path = archive.path / "blobs" / stored.ref.md5[:2] / stored.ref.md5
    assert archive.blobs.path_of(stored.ref) == path
    assert path.read_bytes() == data
    assert archive.blobs.read(stored.ref) == data
    with archive.blobs.open(stored.ref) as f:
        assert f.read() == data
    assert archive.index.find_blob(stored.ref.md5, stored.ref.sha256) == ("json", False)
    assert archive.blobs.find_md5(stored.ref.md5) == stored.ref
    assert archive.blobs.find_md5("0" * 32) is None
    assert tmp_files(archive) == []


async def test_identical_body_is_deduplicated(archive: Archive) -> None:
    first = await archive.blobs.put(b"same bytes", "text")
    second = await archive.blobs.put(b"same bytes", "file")
    assert second.ref == first.ref
    assert not second.created and not second.collision
    assert len(blob_files(archive)) == 1
    assert tmp_files(archive) == []
    assert archive.index.count_blobs() == 1


async def test_streaming_write_hashes_while_writing(archive: Archive) -> None:
    chunks = [os.urandom(100_000) for _ in range(12)] + [b"tail"]
    body = b"".join(chunks)
    async with archive.blobs.writer("file") as w:
        for c in chunks:
            await w.write(c)
        stored = await w.commit()
    assert stored.ref == ref_of(body)
    assert archive.blobs.read(stored.ref) == body


async def test_empty_body_is_a_blob(archive: Archive) -> None:
    stored = await archive.blobs.put(b"", "text")
    assert stored.ref == ref_of(b"")
    assert archive.blobs.read(stored.ref) == b""


async def test_abort_and_exception_leave_nothing(archive: Archive) -> None:
    w = archive.blobs.writer("file")
    await w.write(b"x" * 300_000)  # past the flush threshold: a tmp file exists
    assert len(tmp_files(archive)) == 1
    await w.abort()
    await w.abort()  # idempotent
    assert tmp_files(archive) == []
    with pytest.raises(RuntimeError):
        async with archive.blobs.writer("file") as w2:
            await w2.write(b"y" * 300_000)
            raise RuntimeError("connection reset")
    assert tmp_files(archive) == [] and blob_files(archive) == []
    with pytest.raises(ArchiveError):
        await w.write(b"late")


async def test_collision_is_kept_as_variant(archive: Archive) -> None:
    archive.blobs.md5_factory = FakeMd5
    a = await archive.blobs.put(b"body A", "file")
    b = await archive.blobs.put(b"body B", "file")
    assert a.ref.md5 == b.ref.md5 == "ab" * 16
    assert a.created and not a.collision
    assert b.created and b.collision
    shard = archive.path / "blobs" / "ab"
    assert (shard / a.ref.md5).read_bytes() == b"body A"
    assert (shard / f"{b.ref.md5}.{b.ref.sha256}").read_bytes() == b"body B"
    assert archive.blobs.read(a.ref) == b"body A"
    assert archive.blobs.read(b.ref) == b"body B"
    assert archive.index.find_blob(b.ref.md5, b.ref.sha256) == ("file", True)
    # The md5 alone no longer says which body: callers must download.
    assert archive.blobs.find_md5(a.ref.md5) is None
    again = await archive.blobs.put(b"body B", "file")
    assert again.ref == b.ref and not again.created and again.collision
    assert len(blob_files(archive)) == 2


async def test_collision_with_a_blob_the_index_knows(archive: Archive) -> None:
    # Fabricate: blobs/<md5(B)> holds body A, registered under md5(B) with A's sha256.
    body_a, body_b = b"original body", b"different body"
    fake = BlobRef(ref_of(body_b).md5, ref_of(body_a).sha256, len(body_a))
    shard = archive.path / "blobs" / fake.md5[:2]
    shard.mkdir()
    (shard / fake.md5).write_bytes(body_a)
    archive.index.add_blob(fake, "file")
    stored = await archive.blobs.put(body_b, "file")
    assert stored.collision and stored.created
    assert (shard / fake.md5).read_bytes() == body_a  # never replaced
    assert archive.blobs.read(stored.ref) == body_b
    assert archive.blobs.path_of(stored.ref).name == f"{fake.md5}.{stored.ref.sha256}"


async def test_collision_with_an_unindexed_blob_on_disk(archive: Archive) -> None:
    # A crash between rename and index row leaves an unindexed blob: it is hashed.
    archive.blobs.md5_factory = FakeMd5
    shard = archive.path / "blobs" / "ab"
    shard.mkdir()
    (shard / ("ab" * 16)).write_bytes(b"orphan body")
    stored = await archive.blobs.put(b"new body", "json")
    assert stored.collision
    assert (shard / ("ab" * 16)).read_bytes() == b"orphan body"


async def test_damaged_unindexed_blob_is_replaced(archive: Archive) -> None:
    data = b"the real body"
    ref = ref_of(data)
    shard = archive.path / "blobs" / ref.md5[:2]
    shard.mkdir()
    (shard / ref.md5).write_bytes(b"the reaL body")  # bit rot in an orphan
    stored = await archive.blobs.put(data, "json")
    assert stored.created and not stored.collision
    assert (shard / ref.md5).read_bytes() == data


async def test_orphan_with_same_body_is_reused(archive: Archive) -> None:
    data = b"crash left me here"
    ref = ref_of(data)
    shard = archive.path / "blobs" / ref.md5[:2]
    shard.mkdir()
    (shard / ref.md5).write_bytes(data)
    stored = await archive.blobs.put(data, "json")
    assert not stored.created and not stored.collision
    assert archive.index.find_blob(ref.md5, ref.sha256) == ("json", False)


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
async def test_disk_full_leaves_nothing_partial(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_mod.os, where, full)
    with pytest.raises(DiskFullError, match="disk full"):
        async with archive.blobs.writer("file") as w:
            await w.write(b"z" * 600_000)
            await w.commit()
    monkeypatch.undo()
    assert tmp_files(archive) == []
    assert blob_files(archive) == []
    assert archive.index.count_blobs() == 0


async def test_disk_full_on_small_put(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_mod.os, "write", full)
    with pytest.raises(DiskFullError):
        await archive.put_record({"project_id": "p"})
    monkeypatch.undo()
    assert tmp_files(archive) == [] and blob_files(archive) == []


async def test_permissions(tmp_path: Path) -> None:
    original = os.umask(0o022)  # a permissive umask: the archive must not depend on it
    try:
        await _check_permissions(tmp_path)
        assert os.umask(0o022) == 0o022  # restored on close
    finally:
        os.umask(original)


async def _check_permissions(tmp_path: Path) -> None:
    with Archive.open_for_writing(tmp_path / "arc") as archive:
        stored = await archive.blobs.put(b"secret", "text")
        await archive.put_record({"project_id": "p"})
        root = archive.path
        blob = archive.blobs.path_of(stored.ref)
        dirs = [root, root / "tmp", root / "blobs", root / "snapshots", blob.parent]
        files = [root / "ARCHIVE", root / "lock", root / "index.sqlite", blob]
        files += [root / n for n in ("index.sqlite-wal", "index.sqlite-shm")]
        for d in dirs:
            assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
        for f in files:
            assert f.exists(), f
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_blobref_json_round_trip_and_validation() -> None:
    ref = ref_of(b"x")
    assert BlobRef.from_json(ref.to_json()) == ref
    bad = [
        {"md5": ref.md5.upper(), "sha256": ref.sha256, "size": 1},
        {"md5": "../../etc/passwd", "sha256": ref.sha256, "size": 1},
        {"md5": ref.md5, "sha256": ref.sha256[:-1], "size": 1},
        {"md5": ref.md5, "sha256": ref.sha256, "size": -1},
        {"md5": ref.md5, "sha256": ref.sha256, "size": True},
        {"md5": ref.md5, "sha256": ref.sha256},
        [],
    ]
    for d in bad:
        with pytest.raises(ArchiveError):
            BlobRef.from_json(d)  # type: ignore[arg-type]


async def test_reading_a_missing_or_truncated_blob(archive: Archive) -> None:
    stored = await archive.blobs.put(b"0123456789", "text")
    path = archive.blobs.path_of(stored.ref)
    path.write_bytes(b"01234")
    with pytest.raises(ArchiveError, match="damaged"):
        archive.blobs.read(stored.ref)
    path.unlink()
    with pytest.raises(ArchiveError, match="missing"):
        archive.blobs.read(stored.ref)
    with pytest.raises(ArchiveError, match="missing"):
        archive.blobs.open(stored.ref)


async def test_records_round_trip(archive: Archive) -> None:
    record = {"record_format": 1, "project_id": "claude_proj_x", "ü": [1, None]}
    stored = await archive.put_record(record)
    assert stored.kind == "record"
    assert archive.read_record(stored.ref) == record
    bad = await archive.blobs.put(b"[1, 2]", "record")
    with pytest.raises(ArchiveError, match="damaged"):
        archive.read_record(bad.ref)
    bad2 = await archive.blobs.put(b"{not json", "record")
    with pytest.raises(ArchiveError, match="damaged"):
        archive.read_record(bad2.ref)
