"""Building sealed archives for the seal's tests: real crawls of the simulator, real commands."""

from __future__ import annotations

import argparse
import contextlib
import io
import sqlite3
from pathlib import Path
from typing import Any

from crawler.archive import Archive
from crawler.commands import checkpoint as checkpoint_cmd
from crawler.commands import keys as keys_cmd
from crawler.commands import verify as verify_cmd
from crawler.read.verify import VerifyReport, verify
from crawler.simulator import Simulator
from tests.support import crawl


def run_command(module: Any, argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = module.run(parser.parse_args(argv))
    return rc, out.getvalue()


def keys_init(archive: Path, key_file: Path, *flags: str) -> str:
    rc, out = run_command(
        keys_cmd, ["init", "--archive", str(archive), "--key-file", str(key_file), *flags]
    )
    assert rc == 0
    return out.rsplit(": ", 1)[1].strip()  # the vkey, last line


def checkpoint(archive: Path) -> str:
    rc, out = run_command(checkpoint_cmd, ["--archive", str(archive)])
    assert rc == 0
    return out


def verify_cli(archive: Path, *flags: str) -> tuple[int, str]:
    return run_command(verify_cmd, ["--archive", str(archive), *flags])


def check(archive: Path, **kw: Any) -> VerifyReport:
    with Archive.open_for_reading(archive) as arc:
        return verify(arc, **kw)


def seal_kinds(report: VerifyReport) -> set[str]:
    return {p.kind for p in report.problems if p.kind.startswith("seal: ")}


async def sealed_archive(sim: Simulator, tmp_path: Path) -> tuple[Path, Path, str]:
    """A crawl, keys init, a second crawl signed as it goes: (archive, key file, vkey)."""
    archive, key_file = tmp_path / "a", tmp_path / "keys" / "signing.pem"
    key_file.parent.mkdir()
    assert await crawl(sim.base_url, sim.key, archive) == 0
    vkey = keys_init(archive, key_file, "--org", "acme")
    assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 0
    return archive, key_file, vkey


def index_sql(archive: Path, sql: str, *params: Any) -> None:
    conn = sqlite3.connect(archive / "index.sqlite")
    with conn:
        conn.execute(sql, params)
    conn.close()
