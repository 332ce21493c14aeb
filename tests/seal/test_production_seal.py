"""Productions in the seal: each register row and each rewrite is a leaf, checked by verify."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive.log import Event, Log
from crawler.archive.note import write_private_key
from crawler.archive.productions import ProductionRegister, ProductionRow
from crawler.cli import main
from crawler.seal.events import inline_event
from crawler.seal.sealer import Sealer
from crawler.simulator import Simulator
from tests.retention.support import hold
from tests.seal.support import check, seal_kinds, sealed_archive, verify_cli
from tests.support import crawl


def _produce(archive: Path, out: Path, *flags: str) -> int:
    return main(["produce", "--archive", str(archive), "--out", str(out), *flags])


def _log(archive: Path) -> Log:
    log = Log.open(archive)
    assert log is not None
    return log


def _events(archive: Path) -> list[Event]:
    return [e for e, _ in _log(archive).events]


def _rows(archive: Path) -> list[ProductionRow]:
    with ProductionRegister.open_reader(archive) as reg:
        return reg.productions()


def _tamper(archive: Path, *sql: str) -> None:
    """What someone with write access to the file can do: the triggers are no obstacle."""
    conn = sqlite3.connect(archive / "productions.sqlite")
    with conn:
        for statement in sql:
            conn.execute(statement)
    conn.close()


def _problems(archive: Path) -> list[tuple[str, str, str]]:
    return [(p.kind, p.subject, p.message) for p in check(archive).problems]


@pytest.fixture
async def sealed(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """A sealed archive of two snapshots, its signing key in the environment."""
    archive, key_file, _ = await sealed_archive(sim, tmp_path)
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    return archive, key_file


def test_a_production_and_its_reproduction_become_leaves_in_order(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, _ = sealed
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    assert _produce(archive, tmp_path / "p2", "--reproduce", "1") == 0
    (row,) = _rows(archive)
    with ProductionRegister.open_reader(archive) as reg:
        (again,) = reg.reproduction_rows()
    events = _events(archive)
    assert [(e.type, e.id) for e in events] == [
        ("snapshot", events[0].id),
        ("snapshot", events[1].id),
        ("production", "produced:1"),
        ("production", "reproduced:1"),
    ]
    assert events[2] == inline_event("production", "produced:1", row.at, row.to_json())
    assert events[3].record == {"seq": 1, "production_id": 1, "by": again.by, "at": again.at}
    assert _log(archive).checkpoint_sizes()[-1] == 4  # each signed before produce said done
    report = check(archive)
    assert report.ok, report.problems
    assert report.checked["leaves"] == 4


def test_the_leaf_is_written_before_the_volume_is_placed(
    sealed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = sealed
    seen: list[tuple[int, bool]] = []
    real = Sealer.sync

    def sync(self: Sealer, *args: Any, **kwargs: Any) -> int:
        written = real(self, *args, **kwargs)
        seen.append((written, (tmp_path / "p1").exists()))
        return written

    monkeypatch.setattr(Sealer, "sync", sync)
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    assert seen == [(1, False)]  # one leaf, logged while the volume was still hidden
    assert (tmp_path / "p1" / "VOL001").is_dir()


class Crash(BaseException):
    """The process dying between the register row and its leaf (no SIGKILL needed)."""


def test_a_crash_between_the_row_and_its_leaf_is_caught_up_by_the_next_writer(
    sealed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = sealed

    def crash(self: Sealer, *args: Any, **kwargs: Any) -> int:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(Sealer, "sync", crash)
        with pytest.raises(Crash):
            _produce(archive, tmp_path / "p1", "--prefix", "ACME")
    assert [r.id for r in _rows(archive)] == [1]  # the numbers are used...
    assert [e.type for e in _events(archive)] == ["snapshot", "snapshot"]  # ...but not logged
    assert not (tmp_path / "p1").exists()
    report = check(archive)
    assert report.ok, report.problems  # a run stopped before logging: a note, not a gap
    assert any("not logged yet (production produced:1)" in n for n in report.notes)
    # The next writer, whatever it writes, first logs the production, then its own event.
    assert hold(archive, "add", "--matter", "M", "--project", "claude_proj_x") == 0
    assert [(e.type, e.id) for e in _events(archive)][2:] == [
        ("production", "produced:1"),
        ("hold", "1"),
    ]
    assert check(archive).ok
    # The volume the crash never placed is written again from the register, and logged.
    assert _produce(archive, tmp_path / "p2", "--reproduce", "1") == 0
    assert _events(archive)[-1].id == "reproduced:1"
    assert check(archive).ok


def test_an_edited_production_row_fails_verify_naming_it(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, _ = sealed
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    _tamper(
        archive,
        "DROP TRIGGER productions_keep_update",
        "UPDATE productions SET last_number = last_number - 1 WHERE id = 1",
    )
    problems = _problems(archive)
    assert (
        "seal: edited",
        "leaf 2 (production produced:1)",
        "production 1's row in productions.sqlite differs from its leaf (last_number)",
    ) in problems
    # The altered row is also a production the log never recorded (older than the last leaf).
    assert [p[:2] for p in problems if p[0] != "seal: edited"] == [
        ("seal: unlogged", "production produced:1")
    ]
    rc, out = verify_cli(archive)
    assert rc == 1 and "production 1's row in productions.sqlite differs" in out


def test_a_removed_production_or_reproduction_fails_verify(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, _ = sealed
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    assert _produce(archive, tmp_path / "p2", "--reproduce", "1") == 0
    _tamper(archive, "DROP TRIGGER reproductions_keep_delete", "DELETE FROM reproductions")
    assert _problems(archive) == [
        (
            "seal: removed",
            "leaf 3 (production reproduced:1)",
            "reproduction 1 is gone from productions.sqlite",
        )
    ]
    _tamper(archive, "DROP TRIGGER productions_keep_delete", "DELETE FROM productions")
    assert "seal: removed" in seal_kinds(check(archive))
    assert any(p[2] == "production 1 is gone from productions.sqlite" for p in _problems(archive))


def test_a_production_inserted_into_the_past_is_an_unlogged_gap(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    archive, _ = sealed
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    (row,) = _rows(archive)
    forged = {**row.to_json(), "id": 2, "first_number": 900, "last_number": 901}
    forged |= {"selection_sha256": "0" * 64, "at": "2001-01-01T00:00:00Z"}
    conn = sqlite3.connect(archive / "productions.sqlite")
    with conn:
        conn.execute(
            f"INSERT INTO productions ({', '.join(forged)}) VALUES ({', '.join('?' * len(forged))})",
            list(forged.values()),
        )
    conn.close()
    assert _problems(archive) == [
        (
            "seal: unlogged",
            "production produced:2",
            "recorded at 2001-01-01T00:00:00Z but not in the log, though later events are (a gap)",
        )
    ]


def test_a_wrong_signing_key_is_refused_before_a_production_is_registered(
    sealed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = sealed
    other = tmp_path / "other.pem"
    write_private_key(other, Ed25519PrivateKey.generate())
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(other))
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 2
    assert _rows(archive) == [] and not (tmp_path / "p1").exists()
    assert len(_events(archive)) == 2


async def test_an_unsealed_archives_production_works_as_before(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    capsys.readouterr()
    assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    assert _produce(archive, tmp_path / "p2", "--reproduce", "1") == 0
    assert capsys.readouterr().err.count("not sealed") == 2  # once per command, as hold says it
    assert not (archive / "log").exists()
    assert [r.id for r in _rows(archive)] == [1]
    assert (tmp_path / "p1" / "VOL001").is_dir() and (tmp_path / "p2" / "VOL001").is_dir()
    report = check(archive)
    assert report.ok, report.problems


def test_without_the_signing_key_a_production_is_logged_and_the_next_keyed_writer_signs(
    sealed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, _ = sealed
    with monkeypatch.context() as m:
        m.delenv("CRAWLER_SIGNING_KEY_FILE")
        assert _produce(archive, tmp_path / "p1", "--prefix", "ACME") == 0
    assert _events(archive)[-1].id == "produced:1"
    assert _log(archive).checkpoint_sizes()[-1] == 2  # logged, not signed
    assert check(archive).ok
    assert _produce(archive, tmp_path / "p2", "--reproduce", "1") == 0
    assert _log(archive).checkpoint_sizes()[-1] == 4
