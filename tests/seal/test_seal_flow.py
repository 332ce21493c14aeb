"""The seal end to end: keys, leaves as history is made, checkpoints, verify, an auditor."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import logstore
from crawler.archive.log import Log
from crawler.archive.note import open_note, parse_checkpoint, parse_vkey, write_private_key
from crawler.errors import UsageError
from crawler.simulator import FaultPlan, Simulator
from tests.conftest import MakeSim
from tests.retention.support import hold
from tests.seal.conftest import TINY_SPEC
from tests.seal.support import (
    check,
    checkpoint,
    keys_init,
    run_command,
    sealed_archive,
    verify_cli,
)
from tests.seal.test_note import _independent_open
from tests.support import crawl


async def test_keys_then_every_snapshot_and_hold_is_a_leaf_and_signed(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert "PRIVATE KEY" not in "".join(p.read_text() for p in (archive / "log").rglob("*.json"))
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    assert hold(archive, "add", "--matter", "M", "--project", "claude_proj_x") == 0
    log = Log.open(archive)
    assert log is not None
    assert [e.type for e, _ in log.events] == ["snapshot", "snapshot", "hold"]
    assert log.checkpoint_sizes()[-1] == 3
    # What an auditor keeps verifies with their own reading of the C2SP formats.
    saved = checkpoint(archive)
    lines = _independent_open(saved, vkey).split("\n")
    assert lines[0].startswith("crawler-archive/acme/") and lines[1] == "3"
    assert parse_checkpoint(open_note(saved, parse_vkey(vkey))).root == log.root_hash()
    report = check(archive, trusted=parse_vkey(vkey), saved=("kept", saved))
    assert report.ok, report.problems
    assert report.checked["leaves"] == 3
    assert "seal: kept: the log extends it (3 -> 3 leaves, proved)" in report.notes
    from crawler.commands import keys as keys_cmd

    assert run_command(keys_cmd, ["show", "--archive", str(archive)]) == (0, vkey + "\n")


async def test_an_auditor_checks_a_grown_archive_against_the_checkpoint_they_kept(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    kept = tmp_path / "audit-1.checkpoint"
    kept.write_text(checkpoint(archive))
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    assert hold(archive, "add", "--matter", "M", "--project", "claude_proj_x") == 0
    assert hold(archive, "release", "--matter", "M") == 0
    assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 0
    rc, out = verify_cli(archive, "--checkpoint", str(kept), "--public-key", vkey)
    assert rc == 0, out
    assert "the log extends it (2 -> 5 leaves, proved)" in out and "5 log leaves checked" in out


async def test_the_key_file_is_refused_inside_the_archive_and_never_overwritten(
    sim: Simulator, tmp_path: Path
) -> None:
    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    with pytest.raises(UsageError, match="inside the archive"):
        keys_init(archive, archive / "key.pem")
    (tmp_path / "k.pem").write_text("x")
    with pytest.raises(UsageError, match="already exists"):
        keys_init(archive, tmp_path / "k.pem")
    assert not logstore.is_sealed(archive)


async def test_an_unsealed_archive_verifies_and_says_once_it_is_not_sealed(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    assert capsys.readouterr().err.count("not sealed") == 1
    rc, out = verify_cli(archive)
    assert rc == 0 and out.count("not sealed") == 1


async def test_a_sealed_archive_without_the_key_logs_and_the_next_keyed_run_signs(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, key_file, _ = await sealed_archive(sim, tmp_path)
    assert await crawl(sim.base_url, sim.key, archive) == 0  # no signing key configured
    log = Log.open(archive)
    assert log is not None and log.size == 3 and log.checkpoint_sizes()[-1] == 2
    assert check(archive).ok
    assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 0
    log = Log.open(archive)
    assert log is not None and log.checkpoint_sizes()[-1] == 4


async def test_a_wrong_signing_key_is_refused_before_anything_is_written(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, _ = await sealed_archive(sim, tmp_path)
    other = tmp_path / "other.pem"
    write_private_key(other, Ed25519PrivateKey.generate())
    with pytest.raises(UsageError, match="not this archive's"):
        await crawl(sim.base_url, sim.key, archive, signing_key_file=other)
    log = Log.open(archive)
    assert log is not None and log.size == 2


async def test_checkpoint_command_on_an_unsealed_archive_is_a_usage_error(
    sim: Simulator, tmp_path: Path
) -> None:
    from crawler.commands import checkpoint as checkpoint_cmd

    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    with pytest.raises(UsageError, match="not sealed"):
        run_command(checkpoint_cmd, ["--archive", str(archive)])


def test_leaves_are_canonical_json_naming_their_index(tmp_path: Path) -> None:
    from crawler.archive.log import Event, decode_leaf, encode_leaf

    data = encode_leaf(7, Event("snapshot", "s", "ab" * 32, "t"), "u")
    assert data == orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS) + b"\n"
    assert decode_leaf(data, 7)[0].id == "s"
    with pytest.raises(Exception, match="moved"):
        decode_leaf(data, 8)


async def test_a_continued_partial_snapshot_keeps_the_manifest_its_first_leaf_names(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    plan = FaultPlan(seed=1)
    async with make_sim(dataset=TINY_SPEC, faults=plan) as sim:
        archive, key_file, _ = await sealed_archive(sim, tmp_path)
        plan.always_500_ids.add(sim.dataset.sorted_projects()[0].id)
        assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 1
        plan.clear()
        assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 0
    log = Log.open(archive)
    assert log is not None
    (first, _), (second, _) = log.events[-2:]
    assert first.type == second.type == "snapshot" and first.id == second.id
    assert first.sha256 != second.sha256  # partial, then complete: two manifests, both logged
    assert (archive / "log" / "superseded" / f"{first.id}-{first.sha256}.json").is_file()
    report = check(archive)
    assert report.ok, report.problems
    (archive / "log" / "superseded" / f"{first.id}-{first.sha256}.json").unlink()
    assert {p.kind for p in check(archive).problems} == {"seal: removed"}
