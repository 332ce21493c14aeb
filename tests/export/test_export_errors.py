"""Bad input gets clear errors: exit 2 naming the problem; a damaged archive exit 1
naming the project and the blob. And an export's memory does not grow with projects."""

from __future__ import annotations

import asyncio
import shutil
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from crawler.archive import Archive
from crawler.cli import main

if TYPE_CHECKING:
    from conftest import Crawled  # tests/export/conftest.py

UNKNOWN = "20200101T000000Z-abcdef"


def flip(path: Path, offset: int = 5) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def err(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("command", ["export", "snapshots", "diff"])
def test_not_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello")
    extra = [UNKNOWN, UNKNOWN] if command == "diff" else []
    assert main([command, "--archive", str(tmp_path / "plain"), *extra]) == 2
    assert "not a crawler archive" in err(capsys)
    assert main([command, "--archive", str(tmp_path / "nowhere"), *extra]) == 2
    assert "does not exist" in err(capsys)


def test_empty_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Archive.open_for_writing(tmp_path / "empty").close()
    assert main(["export", "--archive", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "is empty" in err(capsys)
    assert not (tmp_path / "o").exists()
    assert main(["snapshots", "--archive", str(tmp_path / "empty")]) == 0
    assert "no snapshots" in capsys.readouterr().out


def test_unknown_and_malformed_snapshot(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = str(crawled.archive)
    assert main(["export", "--archive", archive, "--snapshot", UNKNOWN]) == 2
    assert f"unknown snapshot {UNKNOWN}" in err(capsys)
    assert main(["export", "--archive", archive, "--snapshot", "../../etc"]) == 2
    assert "malformed snapshot id" in err(capsys)
    assert main(["diff", "--archive", archive, crawled.s1, UNKNOWN]) == 2
    assert f"unknown snapshot {UNKNOWN}" in err(capsys)
    assert main(["export", "--archive", archive, "--since", "yesterday"]) == 2
    assert "--since" in err(capsys)


def test_damaged_record_names_project_and_blob(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(crawled.archive, copy)
    with Archive.open_for_reading(copy) as a:
        row = next(r for r in a.index.projects(crawled.s2) if r.state == "done")
        assert row.record is not None
        path = a.blobs.path_of(row.record)
    flip(path)  # same size: only a hash check notices
    out = tmp_path / "o.ndjson"
    code = main(["export", "--archive", str(copy), "--snapshot", crawled.s2, "--out", str(out)])
    assert code == 1
    message = err(capsys)
    assert row.project_id in message and row.record.md5 in message and "damaged" in message
    # Nothing half-written is left: no output, no manifest, no temporary file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]
    assert main(["diff", "--archive", str(copy), crawled.s1, crawled.s2]) == 1
    assert row.project_id in err(capsys)


def test_damaged_file_body_is_not_exported(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(crawled.archive, copy)
    big = crawled.dataset.file(str(crawled.dataset.cases.big_file))
    with Archive.open_for_reading(copy) as a:
        (ref, _variant), *_ = a.index.blobs_with_md5(big.md5)
        path = a.blobs.path_of(ref)
    flip(path, 1000)
    out = tmp_path / "o.ndjson"
    code = main(
        ["export", "--archive", str(copy), "--out", str(out), "--files-dir", str(tmp_path / "f")]
    )
    assert code == 1
    assert big.md5 in err(capsys)
    assert not out.exists()
    assert big.md5 not in {p.name for p in (tmp_path / "f").iterdir()}


def test_failed_project_is_exported_as_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_synthetic(tmp_path / "a", 3, failed=1))
    out = tmp_path / "o.ndjson"
    assert main(["export", "--archive", str(tmp_path / "a"), "--out", str(out)]) == 0
    assert "partial" in err(capsys)
    failed, done, _ = (orjson.loads(x) for x in out.read_bytes().splitlines())
    assert failed["id"] == "p0000000" and failed["name"] == "x" * 2000  # list fields kept
    assert failed["details"] is None
    assert failed["attachments"] is None and failed["collaborators"] is None  # unknown
    assert failed["gone"] is False and failed["_archive"]["state"] == "failed"
    assert done["details"]["attachments_count"] == 0 and done["attachments"] == []
    assert done["collaborators"] == []
    manifest = orjson.loads((tmp_path / "o.ndjson.manifest.json").read_bytes())
    assert manifest["counts"]["incomplete"] == 1
    assert manifest["snapshot"]["status"] == "partial"


# -- flat memory ----------------------------------------------------------------------------


async def _synthetic(path: Path, n: int, failed: int = 0) -> None:
    """One snapshot of ``n`` projects sharing one record (as carried projects do)."""
    sid = "20250101T000000Z-aaaaaa"
    with Archive.open_for_writing(path) as a:
        a.index.create_snapshot(
            sid,
            filters={},
            filter_key="{}",
            settings={},
            incremental=False,
            parent_id=None,
            started_at="2025-01-01T00:00:00Z",
        )
        detail = await a.blobs.put(b'{"id": "p", "name": "n", "attachments_count": 0}', "json")
        collab = await a.blobs.put(b'{"data": [], "has_more": false, "next_page": null}', "json")
        fetch = {"endpoint": "projects.get", "status": 200, "blob": detail.ref.to_json()}
        record = {
            "record_format": 1,
            "project_id": "p",
            "fetched_in": sid,
            "carried_from": None,
            "list_entry": {},
            "state": "done",
            "detail": fetch,
            "attachments": [],
            "collaborators": [{"status": 200, "blob": collab.ref.to_json()}],
            "documents": [],
            "files": [],
            "failures": [],
        }
        stored = await a.put_record(record)
        for start in range(0, n, 1000):
            entries = [
                {
                    "id": f"p{i:07d}",
                    "created_at": f"2024-01-01T00:00:00.{i:06d}Z",
                    "name": "x" * 2000,
                    "user": None,
                }
                for i in range(start, min(n, start + 1000))
            ]
            a.index.record_list_page(sid, entries, watermark=None, request_id=None)
            for e in entries:
                a.index.set_project(sid, e["id"], "done", stored.ref)
        for i in range(failed):  # the detail failed past its retries: no record
            a.index.set_project(sid, f"p{i:07d}", "failed", None)
        status = "partial" if failed else "complete"
        a.index.set_snapshot_status(sid, status, finished_at="2025-01-01T00:01:00Z")


def _export_peak(archive: Path, out: Path, n: int) -> int:
    tracemalloc.start()
    try:
        assert main(["export", "--archive", str(archive), "--out", str(out)]) == 0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    lines = out.read_bytes().splitlines()
    assert len(lines) == n
    assert orjson.loads(lines[-1])["id"] == f"p{n - 1:07d}"
    return peak


def test_export_memory_is_flat_in_the_number_of_projects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_synthetic(tmp_path / "small", 300))
    asyncio.run(_synthetic(tmp_path / "large", 3000))
    # Warm up first: imports and interpreter-wide caches must not count.
    _export_peak(tmp_path / "small", tmp_path / "warm.ndjson", 300)
    small = _export_peak(tmp_path / "small", tmp_path / "s.ndjson", 300)
    large = _export_peak(tmp_path / "large", tmp_path / "l.ndjson", 3000)
    # Holding every record would take well over 6 MB here (3000 x 2 KB names alone).
    # Allow for one resize of CPython's interned-strings table (~2 MB), which
    # pathlib's churn can trigger in a long run whatever its size.
    assert large < small + 3 * 1024 * 1024, (small, large)
