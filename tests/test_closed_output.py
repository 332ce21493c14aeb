"""Issue #22: every command that writes to standard output ends quietly when its reader
goes away (``crawler search … | head -1``): no traceback, exit 1, one line on stderr.

Each command runs as a subprocess whose standard output is a pipe with its read end
already closed, so its first write, or the flush of what it buffered, meets EPIPE:
the earliest a reader can go, deterministic, and the same path as a late ``head``.
The commands that talk to the API run against a simulator in this process.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler import cli
from crawler.archive import Archive
from crawler.output import run_guarded
from crawler.simulator import DatasetSpec
from tests.support import TEST_KEY_ENV, crawl, threaded_simulator

# One worker builds the archive and runs every case (xdist's loadgroup), not each worker.
pytestmark = pytest.mark.xdist_group("closed-output")
SPEC = DatasetSpec(seed=22, projects=8, big_document_bytes=20_000, big_file_bytes=40_000)
# Commands that never write to standard output (serve logs its address on stderr).
NO_STDOUT = {"serve", "watch"}  # long-running; watch logs its cycles on stderr only
CLOSED = "the output was closed early"
PAGE = 4096
FRESH = "<a directory made for the run>"  # produce writes into a new directory each time


@dataclass(frozen=True)
class World:
    base_url: str
    key: str
    archive: Path
    s1: str
    s2: str
    manifest: Path
    org: str
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("closed-output")
    archive = tmp / "archive"
    with threaded_simulator(SPEC) as ts:
        url, key = ts.sim.base_url, ts.sim.key
        assert asyncio.run(crawl(url, key, archive)) == 0
        ts.call(lambda: ts.sim.mutate(seed=5, fraction=0.3))
        assert asyncio.run(crawl(url, key, archive)) == 0
        with Archive.open_for_reading(archive) as a:
            s1, s2 = (s.id for s in sorted(a.index.list_snapshots(), key=lambda s: s.started_at))
        out = tmp / "export.ndjson"
        export = ["export", "--archive", str(archive), "--include-content", "--out", str(out)]
        assert cli.main(export) == 0
        org = ts.call(lambda: ts.sim.dataset.organizations()[0]["uuid"])
        keys = ["keys", "init", "--archive", str(archive), "--key-file", str(tmp / "signing.pem")]
        assert cli.main(keys) == 0
        produce = ["produce", "--archive", str(archive), "--prefix", "CLOSED"]
        assert cli.main([*produce, "--out", str(tmp / "production")]) == 0
        yield World(url, key, archive, s1, s2, Path(f"{out}.manifest.json"), org, tmp)


def _cases(w: World) -> dict[str, list[str]]:
    a = ["--archive", str(w.archive)]
    api = ["--base-url", w.base_url, "--rate", "0"]
    return {
        "--help": ["--help"],
        "--version": ["--version"],
        "archive": ["archive", *api, "--archive", str(w.tmp / "another"), "--quiet"],
        "status": ["status", *a],
        "snapshots": ["snapshots", *a],
        "snapshots --json": ["snapshots", *a, "--json"],
        "verify": ["verify", *a],
        "export --out -": ["export", *a, "--out", "-"],
        "verify-export": ["verify-export", str(w.manifest)],
        "diff": ["diff", *a, w.s1, w.s2],
        "diff --json": ["diff", *a, "--json", w.s1, w.s2],
        "produce --reproduce": ["produce", *a, "--reproduce", "1", "--out", FRESH],
        "productions": ["productions", *a],
        "verify-production": ["verify-production", str(w.tmp / "production")],
        "hold list": ["hold", "list", *a, "--all"],
        "retention plan --json": ["retention", "plan", *api, *a, "--older-than", "1d", "--json"],
        "search": ["search", *a, "--all-snapshots", "compliance"],
        "search --json": ["search", *a, "--json", "compliance"],
        "reindex": ["reindex", *a],
        "keys show": ["keys", "show", *a],
        "checkpoint": ["checkpoint", *a],
        "orgs": ["orgs", *api],
        "users": ["users", *api, "--org", w.org],
        "simulate": ["simulate", "--projects", "3"],
        "simulate --help": ["simulate", "--help"],
    }


NOWHERE = World("", "", Path(), "", "", Path(), "", Path())  # for the names alone
CASE_NAMES = list(_cases(NOWHERE))


def test_every_command_that_writes_to_stdout_is_covered() -> None:
    argvs = _cases(NOWHERE).values()
    covered = {argv[0] for argv in argvs if argv[0] in cli.COMMANDS}
    assert covered | NO_STDOUT == set(cli.COMMANDS)


def run_into_closed_pipe(
    argv: list[str], key: str, *, buffered: bool = True
) -> subprocess.CompletedProcess[str]:
    """Buffered (Python's default on a pipe): EPIPE comes when the buffer is flushed, often
    at the end; unbuffered (``PYTHONUNBUFFERED=1``): at the first write, mid-command."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first byte
    env = {**os.environ, TEST_KEY_ENV: key}
    env.pop("PYTHONUNBUFFERED", None)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    try:
        return subprocess.run(
            [sys.executable, "-m", "crawler", *argv],
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_reader_that_goes_away_ends_the_command_quietly(
    world: World, case: str, buffered: bool, tmp_path: Path
) -> None:
    argv = [str(tmp_path / "volume") if arg == FRESH else arg for arg in _cases(world)[case]]
    done = run_into_closed_pipe(argv, world.key, buffered=buffered)
    assert "Traceback" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    if "--help" in argv or "--version" in argv:  # argparse's own: exit 0, nothing said
        assert (done.returncode, done.stderr) == (0, "")
        return
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == f"crawler: {argv[0]}: {CLOSED}", done.stderr


def test_head_after_the_first_line_stops_a_long_export(world: World) -> None:
    """A reader that takes one line, then leaves: the write in progress fails, not the exit."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PAGE)  # one page: the export cannot fit in it
    argv = ["export", "--archive", str(world.archive), "--include-content", "--out", "-"]
    with subprocess.Popen(
        [sys.executable, "-m", "crawler", *argv], stdout=write_end, stderr=subprocess.PIPE
    ) as proc:
        os.close(write_end)
        first = b""
        while b"\n" not in first:
            chunk = os.read(read_end, PAGE)
            assert chunk, "the export ended before its first line"
            first += chunk
        os.close(read_end)  # `head -1` has its line and exits
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
    # What was left to write is far more than the pipe and the writer's buffer hold.
    assert (world.tmp / "export.ndjson").stat().st_size - len(first) > 16 * PAGE
    assert first.startswith(b"{")
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"crawler: export: {CLOSED}"


def test_a_command_that_failed_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails_after_writing() -> int:
        print("the first lines of a report")  # buffered: the flush meets the closed pipe
        return 2

    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w") as stream:  # in the test body: capsys re-installs its own
        monkeypatch.setattr(sys, "stdout", stream)
        code = run_guarded(fails_after_writing, "verify")
        monkeypatch.undo()
    assert code == 2
    assert capsys.readouterr().err == f"crawler: verify: {CLOSED}\n"


def test_a_broken_pipe_that_is_not_stdout_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def socket_gone() -> int:
        raise BrokenPipeError("a socket's peer went away")

    read_end, write_end = os.pipe()  # standard output's reader is still there
    with open(read_end, "rb"), open(write_end, "w") as stream:
        monkeypatch.setattr(sys, "stdout", stream)
        with pytest.raises(BrokenPipeError, match="socket"):
            run_guarded(socket_gone, "archive")
        monkeypatch.undo()
