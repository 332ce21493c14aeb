"""Each way to rewrite history fails verify with its own message, and only its check finds it.

Every case first shows that the rest of ``crawler verify`` (blobs, manifests,
index) accepts the tampered archive, or at least does not name the seal's
problem, so the assertion fails if the seal's check is removed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from crawler.archive import logstore
from crawler.archive.log import Event, Log
from crawler.archive.note import load_private_key, parse_vkey
from crawler.errors import SealError
from crawler.simulator import Simulator
from tests.retention.support import hold
from tests.seal.support import check, checkpoint, index_sql, seal_kinds, sealed_archive, verify_cli


def _problems(report: object, kind: str) -> list[str]:
    return [f"{p.subject}: {p.message}" for p in report.problems if p.kind == f"seal: {kind}"]  # type: ignore[attr-defined]


def _latest_snapshot(archive: Path) -> str:
    log = Log.open(archive)
    assert log is not None
    return next(e.id for e, _ in reversed(log.events) if e.type == "snapshot")


async def test_an_edited_manifest_with_its_index_row_rewritten_is_found(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, _ = await sealed_archive(sim, tmp_path)
    sid = _latest_snapshot(archive)
    path = archive / "snapshots" / f"{sid}.json"
    doc = orjson.loads(path.read_bytes())
    doc["counts"]["projects"] += 1  # a consistent forgery: file and index agree
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
    path.write_bytes(data)
    index_sql(
        archive,
        "UPDATE snapshots SET manifest_sha256 = ? WHERE id = ?",
        hashlib.sha256(data).hexdigest(),
        sid,
    )
    report = check(archive)
    assert seal_kinds(report) >= {"seal: edited"}
    assert {p.kind for p in report.problems} - {"seal: edited", "seal: unlogged"} == set()
    assert any(sid in p and "the leaf says" in p for p in _problems(report, "edited"))


async def test_a_removed_snapshot_and_every_trace_of_it_is_found(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, _ = await sealed_archive(sim, tmp_path)
    sid = _latest_snapshot(archive)
    (archive / "snapshots" / f"{sid}.json").unlink()
    for table in ("snapshot_projects", "snapshot_documents", "failures", "snapshot_feed"):
        index_sql(archive, f"DELETE FROM {table} WHERE snapshot_id = ?", sid)
    index_sql(archive, "DELETE FROM snapshots WHERE id = ?", sid)
    report = check(archive)
    assert {p.kind for p in report.problems} == {"seal: removed"}
    assert any(sid in p and "gone" in p for p in _problems(report, "removed"))
    rc, out = verify_cli(archive)
    assert rc == 1 and "seal: removed" in out


async def test_a_rolled_back_archive_fails_against_a_kept_checkpoint(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    shutil.copytree(archive, tmp_path / "old")  # an older, valid state of the same archive
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    assert hold(archive, "add", "--matter", "M", "--project", "p1") == 0
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(checkpoint(archive))
    shutil.rmtree(archive)
    shutil.move(tmp_path / "old", archive)
    assert check(archive).ok  # on its own the older state is a valid archive
    rc, out = verify_cli(archive, "--checkpoint", str(kept), "--public-key", vkey)
    assert rc == 1
    assert "seal: rolled back" in out and "3 leaves" in out and "now has 2" in out


async def test_a_forked_history_of_the_same_size_fails(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    assert hold(archive, "add", "--matter", "M", "--project", "p1") == 0
    kept = checkpoint(archive)
    # An insider with the key replaces the last leaf by another event and signs anew.
    (archive / "log" / "leaves" / "2").unlink()
    (archive / "log" / "checkpoints" / "3").unlink()
    log = Log.open(archive)
    assert log is not None and log.size == 2
    log.append([Event("plan", "f" * 64, "e" * 64, "2000-01-01T00:00:00.000000Z")])
    log.sign(load_private_key(key_file))
    report = check(archive, trusted=parse_vkey(vkey), saved=("kept", kept))
    assert _problems(report, "forked") and "size 3" in _problems(report, "forked")[0]
    assert check(archive, trusted=parse_vkey(vkey)).problems  # the fake plan is not in the archive


async def test_a_rewritten_past_fails_the_consistency_proof(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    kept = checkpoint(archive)  # size 2
    # Rebuild the whole log from scratch, with the first snapshot left out, and sign it.
    first = _first_snapshot(archive)
    shutil.rmtree(archive / "log" / "leaves")
    shutil.rmtree(archive / "log" / "checkpoints")
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    _drop_snapshot(archive, first)
    assert hold(archive, "add", "--matter", "M", "--project", "p1") == 0
    assert hold(archive, "add", "--matter", "N", "--project", "p2") == 0
    report = check(archive, trusted=parse_vkey(vkey), saved=("kept", kept))
    failed = _problems(report, "not an extension")
    assert failed and "size 2 to 3" in failed[0]
    assert not seal_kinds(check(archive, trusted=parse_vkey(vkey)))  # self-consistent alone


def _first_snapshot(archive: Path) -> str:
    log = Log.open(archive)
    assert log is not None
    return log.events[0][0].id


def _drop_snapshot(archive: Path, sid: str) -> None:
    (archive / "snapshots" / f"{sid}.json").unlink()
    for table in ("snapshot_projects", "snapshot_documents", "failures", "snapshot_feed"):
        index_sql(archive, f"DELETE FROM {table} WHERE snapshot_id = ?", sid)
    index_sql(archive, "UPDATE snapshots SET parent_id = NULL WHERE parent_id = ?", sid)
    index_sql(archive, "DELETE FROM snapshots WHERE id = ?", sid)


async def test_an_altered_or_forged_checkpoint_fails_its_signature(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, vkey = await sealed_archive(sim, tmp_path)
    kept = checkpoint(archive)
    altered = kept.replace("\n2\n", "\n1\n", 1)
    report = check(archive, trusted=parse_vkey(vkey), saved=("kept", altered))
    assert any("altered or forged" in p for p in _problems(report, "signature"))
    # The archive's own latest checkpoint, altered in place, fails too.
    cp = archive / "log" / "checkpoints" / "2"
    cp.write_text(cp.read_text().replace("\n2\n", "\n1\n", 1))
    assert _problems(check(archive), "signature")


async def test_a_replaced_archive_key_fails_against_the_auditors_key(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, vkey = await sealed_archive(sim, tmp_path)
    from tests.seal.support import keys_init

    other = tmp_path / "b"
    shutil.copytree(archive, other)
    shutil.rmtree(other / "log")
    other_vkey = keys_init(other, tmp_path / "other.pem")  # re-sealed: a whole new log
    assert check(other).ok  # consistent with its own, new key
    report = check(other, trusted=parse_vkey(vkey))
    failed = _problems(report, "signature")
    assert any(p.startswith("log/key.json: names key") for p in failed)  # the key swapped
    assert any("no signature by key" in p for p in failed)  # and what it signed is not ours
    assert other_vkey != vkey


async def test_a_missing_leaf_is_a_gap(sim: Simulator, tmp_path: Path) -> None:
    archive, _, _ = await sealed_archive(sim, tmp_path)
    (archive / "log" / "leaves" / "0").unlink()
    report = check(archive)
    assert _problems(report, "gap") or _problems(report, "rolled back")
    assert logstore.is_sealed(archive)


async def test_history_inserted_into_the_past_is_an_unlogged_gap(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, _ = await sealed_archive(sim, tmp_path)
    import sqlite3

    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    assert hold(archive, "add", "--matter", "M", "--project", "p1") == 0
    conn = sqlite3.connect(archive / "retention.sqlite")
    with conn:  # a hold release backdated to last year, written behind the log's back
        conn.execute(
            "INSERT INTO hold_events (matter, action, by, at) "
            "VALUES ('M', 'release', 'x', '2025-01-01T00:00:00.000000Z')"
        )
    conn.close()
    report = check(archive)
    assert {p.kind for p in report.problems} == {"seal: unlogged"}
    assert "a gap" in _problems(report, "unlogged")[0]


async def test_a_leaf_rewritten_in_place_breaks_the_signed_root(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, _ = await sealed_archive(sim, tmp_path)
    leaf = archive / "log" / "leaves" / "0"
    doc = orjson.loads(leaf.read_bytes())
    doc["at"] = "2020-01-01T00:00:00.000000Z"  # the record it names still hashes right
    leaf.write_bytes(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n")
    report = check(archive)
    assert [p for p in _problems(report, "edited") if "checkpoints/2" in p]


async def test_a_writer_never_signs_over_a_rewritten_past(
    sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive, key_file, _ = await sealed_archive(sim, tmp_path)
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    leaf = archive / "log" / "leaves" / "0"
    doc = orjson.loads(leaf.read_bytes())
    doc["at"] = "2020-01-01T00:00:00.000000Z"
    leaf.write_bytes(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n")
    leaves = sorted((archive / "log" / "leaves").iterdir())
    checkpoints = sorted((archive / "log" / "checkpoints").iterdir())
    with pytest.raises(SealError, match="its history was changed"):
        hold(archive, "add", "--matter", "M", "--project", "p1")
    assert sorted((archive / "log" / "leaves").iterdir()) == leaves  # nothing logged
    assert sorted((archive / "log" / "checkpoints").iterdir()) == checkpoints  # nor signed
