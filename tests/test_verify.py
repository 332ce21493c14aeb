"""verify and ``crawler verify``: a small archive built through the API, then damaged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive, BlobRef
from crawler.cli import main
from crawler.errors import ArchiveError
from crawler.read.verify import record_blob_refs, verify
from crawler.seal.sealer import NOT_SEALED

SID = "20261123T101500Z-a1b2c3"
SID_RUNNING = "20261124T101500Z-d4e5f6"


def fetch(endpoint: str, path: str, blob: BlobRef | None, status: int = 200) -> dict[str, Any]:
    f: dict[str, Any] = {
        "endpoint": endpoint,
        "method": "GET",
        "path": path,
        "query": [],
        "status": status,
        "request_id": "req_1",
        "fetched_at": "2026-11-23T10:15:00.123456Z",
    }
    if blob is not None:
        f["blob"] = blob.to_json()
    return f


def new_snapshot(archive: Archive, sid: str) -> None:
    archive.index.create_snapshot(
        sid,
        filters={},
        filter_key="{}",
        settings={"files": True},
        incremental=False,
        parent_id=None,
        started_at=f"{sid[:4]}-{sid[4:6]}-{sid[6:8]}T10:15:00Z",
    )


async def build(path: Path) -> dict[str, BlobRef]:
    """One finished snapshot: p1 done (detail, a document, a file), p2 gone."""
    refs: dict[str, BlobRef] = {}
    with Archive.open_for_writing(path) as archive:
        new_snapshot(archive, SID)
        entries = [
            {"id": "p1", "created_at": "2025-01-01T00:00:00Z", "user": None},
            {"id": "p2", "created_at": "2025-01-02T00:00:00Z", "user": None},
        ]
        page = await archive.blobs.put(b'{"data": [...], "next_page": null}', "json")
        archive.index.record_list_page(
            SID, entries, watermark="2025-01-02T00:00:00Z", request_id="r"
        )
        list_page = fetch("projects.list", "/v1/compliance/apps/projects", page.ref)
        refs["page"] = page.ref
        refs["detail"] = (await archive.blobs.put(b'{"id": "p1", "name": "x"}', "json")).ref
        refs["doc"] = (await archive.blobs.put(b'{"id": "d1", "content": "hello"}', "json")).ref
        refs["text"] = (await archive.blobs.put(b"hello", "text")).ref
        refs["file"] = (await archive.blobs.put(b"%PDF-1.4 file body" * 50, "file")).ref
        record1 = {
            "record_format": 1,
            "project_id": "p1",
            "fetched_in": SID,
            "carried_from": None,
            "list_entry": entries[0],
            "list_page": list_page,
            "state": "done",
            "detail": fetch("projects.get", "/v1/compliance/apps/projects/p1", refs["detail"]),
            "attachments": [],
            "collaborators": [],
            "documents": [
                {
                    "id": "d1",
                    "response": fetch("documents.get", "/d/d1", refs["doc"]),
                    "text": refs["text"].to_json(),
                    "metadata": None,
                }
            ],
            "files": [{"id": "f1", "content": None, "blob": refs["file"].to_json()}],
            "failures": [],
        }
        record2 = {
            "record_format": 1,
            "project_id": "p2",
            "fetched_in": SID,
            "carried_from": None,
            "list_entry": entries[1],
            "list_page": list_page,
            "state": "gone",
            "detail": fetch("projects.get", "/v1/compliance/apps/projects/p2", None, 404),
        }
        refs["record1"] = (await archive.put_record(record1)).ref
        refs["record2"] = (await archive.put_record(record2)).ref
        archive.index.set_project(SID, "p1", "done", refs["record1"])
        archive.index.set_project(SID, "p2", "gone", refs["record2"])
        projects = [
            {"id": p.project_id, "state": p.state, "record": p.record and p.record.to_json()}
            for p in archive.index.projects(SID)
        ]
        archive.write_manifest(
            SID,
            {
                "manifest_format": 1,
                "snapshot_id": SID,
                "status": "complete",
                "finished_at": "2026-11-23T11:00:00Z",
                "projects": projects,
            },
        )
    return refs


def blob_path(root: Path, ref: BlobRef) -> Path:
    return root / "blobs" / ref.md5[:2] / ref.md5


def check(path: Path, *, full: bool, snapshot_id: str | None = None) -> Any:
    with Archive.open_for_reading(path) as archive:
        return verify(archive, full=full, snapshot_id=snapshot_id)


async def test_clean_archive_verifies_fast_and_full(tmp_path: Path) -> None:
    await build(tmp_path / "arc")
    for full in (False, True):
        report = check(tmp_path / "arc", full=full)
        assert report.ok, report.problems
        assert report.notes == [NOT_SEALED]  # an unkeyed archive says so, once
        assert report.checked["snapshots"] == 1
        assert report.checked["manifests"] == 1
        assert report.checked["records"] == 2
        assert report.checked["blobs"] == 7
    assert report.checked["hashed"] == 7


async def test_flipped_removed_and_truncated_are_all_named(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    refs = await build(root)
    flipped = blob_path(root, refs["file"])
    data = bytearray(flipped.read_bytes())
    data[10] ^= 0x01
    flipped.write_bytes(bytes(data))
    removed = blob_path(root, refs["text"])
    removed.unlink()
    manifest = root / "snapshots" / f"{SID}.json"
    manifest.write_bytes(manifest.read_bytes()[:40])

    full = check(root, full=True)
    assert not full.ok
    by_kind = {(p.kind, p.subject) for p in full.problems}
    assert ("blob_corrupt", str(flipped)) in by_kind
    assert ("blob_missing", str(removed)) in by_kind
    assert ("manifest_damaged", str(manifest)) in by_kind
    assert ("manifest_checksum", str(manifest)) in by_kind

    fast = check(root, full=False)
    kinds = {p.kind for p in fast.problems}
    assert kinds == {"blob_missing", "manifest_damaged", "manifest_checksum"}  # no rehash: no flip


async def test_fast_catches_truncated_blob_and_damaged_record(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    refs = await build(root)
    truncated = blob_path(root, refs["detail"])
    truncated.write_bytes(truncated.read_bytes()[:-3])
    record = blob_path(root, refs["record2"])
    record.write_bytes(b"{" * refs["record2"].size)  # same size, not JSON
    report = check(root, full=False)
    problems = {(p.kind, p.subject) for p in report.problems}
    assert problems == {("blob_size", str(truncated)), ("record_damaged", str(record))}


async def test_running_snapshot_is_checked_without_a_manifest(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    await build(root)
    with Archive.open_for_writing(root) as archive:
        new_snapshot(archive, SID_RUNNING)
        entries = [
            {"id": "q1", "created_at": "2025-01-01T00:00:00Z"},
            {"id": "q2", "created_at": "2025-01-01T00:00:00Z"},
        ]
        archive.index.record_list_page(SID_RUNNING, entries, watermark=None, request_id=None)
        stored = await archive.put_record({"project_id": "q1", "state": "done"})
        archive.index.set_project(SID_RUNNING, "q1", "done", stored.ref)
    report = check(root, full=True)
    assert report.ok, report.problems
    assert report.checked["snapshots"] == 2
    # Its index references are checked: remove the record it refers to.
    blob_path(root, stored.ref).unlink()
    report = check(root, full=False, snapshot_id=SID_RUNNING)
    assert [(p.kind, p.subject) for p in report.problems] == [
        ("blob_missing", str(blob_path(root, stored.ref)))
    ]


async def test_finished_snapshot_without_manifest(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    await build(root)
    with Archive.open_for_writing(root) as archive:
        new_snapshot(archive, SID_RUNNING)
        archive.index.set_snapshot_status(
            SID_RUNNING, "complete", finished_at="2026-11-24T11:00:00Z"
        )
    report = check(root, full=False)
    assert [p.kind for p in report.problems] == ["manifest_missing"]
    assert SID_RUNNING in report.problems[0].subject


async def test_manifest_project_list_must_match_index(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    await build(root)
    with Archive.open_for_writing(root) as archive:
        new_snapshot(archive, SID_RUNNING)
        archive.index.record_list_page(
            SID_RUNNING,
            [{"id": "q1", "created_at": "2025-01-01T00:00:00Z"}],
            watermark=None,
            request_id=None,
        )
        archive.write_manifest(
            SID_RUNNING,
            {
                "manifest_format": 1,
                "snapshot_id": SID_RUNNING,
                "status": "partial",
                "projects": [{"id": "zz", "state": "done", "record": None}],
            },
        )
    report = check(root, full=False)
    messages = [p.message for p in report.problems if p.kind == "manifest_mismatch"]
    assert any("q1" in m for m in messages) and any("zz" in m for m in messages)


async def test_orphans_and_tmp_leftovers_are_notes(tmp_path: Path) -> None:
    root = tmp_path / "arc"
    await build(root)
    with Archive.open_for_writing(root) as archive:
        unreferenced = await archive.blobs.put(b"a page no record names", "json")
    import hashlib

    body = b"orphan: renamed, then the process died"
    md5 = hashlib.md5(body).hexdigest()
    (root / "blobs" / md5[:2]).mkdir(exist_ok=True)
    (root / "blobs" / md5[:2] / md5).write_bytes(body)
    (root / "tmp" / "123-abc").write_bytes(b"half")
    fast = check(root, full=False)
    assert fast.ok and any("tmp" in n for n in fast.notes)
    full = check(root, full=True)
    assert full.ok, full.problems
    notes = "\n".join(full.notes)
    assert f"orphan blob (not in the index): {root / 'blobs' / md5[:2] / md5}" in notes
    assert (
        f"unreferenced blob (no record refers to it): {blob_path(root, unreferenced.ref)}" in notes
    )
    assert "leftover in tmp/" in notes


async def test_unknown_snapshot_raises(tmp_path: Path) -> None:
    await build(tmp_path / "arc")
    with pytest.raises(ArchiveError, match="unknown snapshot"):
        check(tmp_path / "arc", full=False, snapshot_id="20990101T000000Z-000000")


def test_record_blob_refs_ignores_list_entry() -> None:
    ref = {"md5": "a" * 32, "sha256": "b" * 64, "size": 1}
    record = {"list_entry": {"x": ref}, "files": [{"id": "f", "content": None, "blob": ref}]}
    assert [w for w, _ in record_blob_refs(record)] == ["files[0].blob"]
    with pytest.raises(ArchiveError):
        list(record_blob_refs({"documents": [{"text": {"md5": "../x"}}]}))


# -- the command ----------------------------------------------------------------------------


async def test_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "arc"
    refs = await build(root)
    assert main(["verify", "--archive", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("verify (fast): ok")
    assert main(["verify", "--archive", str(root), "--full", "--snapshot", SID]) == 0
    capsys.readouterr()

    config = tmp_path / "crawler.toml"
    config.write_text(f'[archive]\npath = "{root}"\n')
    assert main(["verify", "--config", str(config)]) == 0
    capsys.readouterr()

    assert main(["verify", "--archive", str(tmp_path / "nope")]) == 2
    (tmp_path / "plain").mkdir()
    assert main(["verify", "--archive", str(tmp_path / "plain")]) == 2
    assert main(["verify", "--archive", str(root), "--snapshot", "20990101T000000Z-000000"]) == 2
    assert main(["verify", "--archive", str(root), "--snapshot", "../etc"]) == 2
    assert "unknown snapshot" in capsys.readouterr().err

    blob_path(root, refs["file"]).unlink()
    assert main(["verify", "--archive", str(root)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("problem: blob_missing: ")
    assert str(blob_path(root, refs["file"])) in lines[0]
    assert "FAILED" in lines[-1] and "1 problems" in lines[-1]


async def test_command_reports_a_damaged_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "arc"
    await build(root)
    (root / "index.sqlite").write_bytes(b"garbage" * 1000)
    assert main(["verify", "--archive", str(root)]) == 1
    assert "damaged index" in capsys.readouterr().out
