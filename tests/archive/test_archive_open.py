"""Opening archives: creation, refusal, locking, readers that write nothing, manifests."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.archive import Archive, new_snapshot_id
from crawler.errors import ArchiveBusyError, ArchiveError

SID = "20261123T101500Z-a1b2c3"


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and dir under root with (size, mtime_ns): to prove nothing changed."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return out


def make_snapshot(archive: Archive, sid: str = SID) -> None:
    archive.index.create_snapshot(
        sid,
        filters={},
        filter_key="{}",
        settings={},
        incremental=False,
        parent_id=None,
        started_at="2026-11-23T10:15:00Z",
    )


def manifest(sid: str = SID, status: str = "complete") -> dict[str, object]:
    return {
        "manifest_format": 1,
        "snapshot_id": sid,
        "status": status,
        "finished_at": "2026-11-23T11:00:00Z",
        "projects": [],
    }


def test_new_snapshot_id_shape() -> None:
    sid = new_snapshot_id(datetime(2026, 11, 23, 10, 15, 0, tzinfo=UTC))
    assert re.fullmatch(r"20261123T101500Z-[0-9a-f]{6}", sid)
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_snapshot_id())


def test_creates_in_missing_and_empty_dirs(tmp_path: Path) -> None:
    for path in (tmp_path / "new" / "arc", tmp_path / "empty"):
        if path.name == "empty":
            path.mkdir()
        with Archive.open_for_writing(path):
            pass
        marker = json.loads((path / "ARCHIVE").read_text())
        assert marker["format"] == "crawler-archive" and marker["version"] == 2
        assert {p.name for p in path.iterdir()} >= {
            "ARCHIVE",
            "lock",
            "tmp",
            "blobs",
            "snapshots",
            "index.sqlite",
        }
        with Archive.open_for_writing(path):  # reopening an existing archive
            pass


def test_refuses_a_directory_that_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(
        ArchiveError, match=r"not a crawler archive \(no ARCHIVE marker\); refusing"
    ):
        Archive.open_for_writing(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no lock file left


def test_refuses_unknown_format_version(tmp_path: Path) -> None:
    with Archive.open_for_writing(tmp_path / "arc"):
        pass
    (tmp_path / "arc" / "ARCHIVE").write_text('{"format": "crawler-archive", "version": 3}')
    with pytest.raises(ArchiveError, match="version 3"):
        Archive.open_for_writing(tmp_path / "arc")
    with pytest.raises(ArchiveError, match="version 3"):
        Archive.open_for_reading(tmp_path / "arc")


def test_lock_is_exclusive(tmp_path: Path) -> None:
    with Archive.open_for_writing(tmp_path / "arc"):
        with pytest.raises(
            ArchiveBusyError, match=rf"another crawler is writing to .* \(pid {os.getpid()}\)"
        ):
            Archive.open_for_writing(tmp_path / "arc")
        Archive.open_for_reading(tmp_path / "arc").close()  # readers take no lock
    with Archive.open_for_writing(tmp_path / "arc"):  # released on close
        pass


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_directory_is_named(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    try:
        with pytest.raises(ArchiveError, match=r"ro.*Permission denied"):
            Archive.open_for_writing(ro / "arc")
    finally:
        ro.chmod(0o700)


def test_writer_sweeps_tmp_reader_does_not(tmp_path: Path) -> None:
    with Archive.open_for_writing(tmp_path / "arc"):
        pass
    leftover = tmp_path / "arc" / "tmp" / "123-deadbeef"
    leftover.write_bytes(b"half a blob")
    Archive.open_for_reading(tmp_path / "arc").close()
    assert leftover.exists()
    with Archive.open_for_writing(tmp_path / "arc"):
        assert not leftover.exists()


async def test_reader_never_writes(tmp_path: Path) -> None:
    from crawler.read.verify import verify

    path = tmp_path / "arc"
    with Archive.open_for_writing(path) as archive:
        make_snapshot(archive)
        stored = await archive.put_record({"project_id": "p"})
        archive.write_manifest(SID, manifest())
    before = tree(path)
    with Archive.open_for_reading(path) as reader:
        assert [s.id for s in reader.index.list_snapshots()] == [SID]
        assert reader.read_record(stored.ref) == {"project_id": "p"}
        assert reader.read_manifest(SID)["status"] == "complete"
        assert verify(reader, full=True).ok
        with pytest.raises(ArchiveError, match="read-only"):
            await reader.put_record({})
        with pytest.raises(ArchiveError, match="read-only"):
            make_snapshot(reader, "20261123T101500Z-ffffff")
    assert tree(path) == before


def test_reader_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="does not exist"):
        Archive.open_for_reading(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ArchiveError, match="not a crawler archive"):
        Archive.open_for_reading(tmp_path / "plain")
    path = tmp_path / "arc"
    with Archive.open_for_writing(path):
        pass
    with Archive.open_for_reading(path) as reader:
        with pytest.raises(ArchiveError, match="empty: it holds no snapshots"):
            reader.require_snapshot()
        with pytest.raises(ArchiveError, match="unknown snapshot"):
            reader.require_snapshot("20990101T000000Z-000000")
    (path / "index.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match="damaged index"):
        Archive.open_for_reading(path)


def test_missing_index_with_blobs_is_damage_not_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "arc"
    with Archive.open_for_writing(path):
        pass
    (path / "blobs" / "ab").mkdir()
    (path / "index.sqlite").unlink()
    with pytest.raises(ArchiveError, match=r"index\.sqlite is missing"):
        Archive.open_for_writing(path)


def test_manifest_write_read(tmp_path: Path) -> None:
    with Archive.open_for_writing(tmp_path / "arc") as archive:
        make_snapshot(archive)
        sha = archive.write_manifest(SID, manifest())
        snap = archive.index.get_snapshot(SID)
        # The manifest's status is recorded with its sha256, in one transaction.
        assert snap.manifest_sha256 == sha and snap.status == "complete"
        assert snap.finished_at == "2026-11-23T11:00:00Z"
        assert archive.read_manifest(SID) == manifest()
        assert archive.write_manifest(SID, manifest()) == sha  # the same again: fine
        with pytest.raises(ArchiveError, match="already has a manifest"):
            archive.write_manifest(SID, manifest(status="partial"))
        with pytest.raises(ArchiveError, match="names snapshot"):
            archive.write_manifest(SID, manifest(sid="20261123T101500Z-000000"))
        path = archive.manifest_path(SID)
        assert path == tmp_path / "arc" / "snapshots" / f"{SID}.json"
        path.write_bytes(path.read_bytes()[:-20])
        with pytest.raises(ArchiveError, match="damaged or truncated"):
            archive.read_manifest(SID)
        with pytest.raises(ArchiveError, match="malformed snapshot id"):
            archive.read_manifest("../x")


def test_os_errors_become_archive_errors_naming_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs as root too (where a 0500 directory would not stop us).
    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(ArchiveError, match=r"cannot create .*arc: Permission denied"):
        Archive.open_for_writing(tmp_path / "arc")


def test_a_version_1_archive_still_opens(tmp_path: Path) -> None:
    # Archives made before the seal (format 2) are version 1: read and written unchanged.
    with Archive.open_for_writing(tmp_path / "arc"):
        pass
    (tmp_path / "arc" / "ARCHIVE").write_text('{"format": "crawler-archive", "version": 1}')
    with Archive.open_for_writing(tmp_path / "arc"):
        pass
    Archive.open_for_reading(tmp_path / "arc").close()
    assert '"version": 1' in (tmp_path / "arc" / "ARCHIVE").read_text()
