"""Run ``crawler retention`` and ``crawler hold`` in-process against a running simulator."""

from __future__ import annotations

import argparse
import contextlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from crawler.commands import hold as hold_cmd
from crawler.commands import retention as retention_cmd
from crawler.config import build_settings
from crawler.retention.plan import decode_plan
from crawler.retention.receipts import DELETE_KEY_ENV
from crawler.retention.store import RetentionStore

READ_ENV = "ANTHROPIC_COMPLIANCE_ACCESS_KEY"


def _parse(module: Any, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def _target(base_url: str, archive: Path) -> list[str]:
    """The flags every in-process run shares: the simulator, the archive, no rate limit, quiet."""
    return ["--base-url", base_url, "--archive", str(archive), "--rate", "0", "--quiet"]


async def plan(
    base_url: str, key: str, archive: Path, *flags: str, out: Path | None = None
) -> dict[str, Any]:
    """``crawler retention plan`` in-process; returns the plan (written to ``out`` if given)."""
    out = out or archive.parent / "plan.json"
    args = _parse(
        retention_cmd,
        [
            "plan",
            *_target(base_url, archive),
            "--out",
            str(out),
            *flags,
        ],
    )
    selection = retention_cmd.selection_from(args, datetime.now(UTC))
    settings = build_settings(args, {READ_ENV: key})
    with contextlib.redirect_stdout(io.StringIO()):
        rc = await retention_cmd._plan(settings, selection, out, as_json=False)
    assert rc == 0
    doc = orjson.loads(out.read_bytes())
    assert isinstance(doc, dict)
    return doc


def hold(archive: Path, *argv: str) -> int:
    args = _parse(hold_cmd, [argv[0], "--archive", str(archive), *argv[1:]])
    with contextlib.redirect_stdout(io.StringIO()):
        return hold_cmd.run(args)


def receipts(archive: Path) -> list[Any]:
    with RetentionStore.open_reader(archive) as store:
        return store.receipts()


async def apply(
    base_url: str,
    key: str,
    delete_key: str | None,
    archive: Path,
    plan_file: Path,
    max_deletes: int = 100,
) -> int:
    """``crawler retention apply`` in-process, on the running loop."""
    args = _parse(
        retention_cmd,
        [
            "apply",
            *_target(base_url, archive),
            "--plan",
            str(plan_file),
            "--yes",
            "--max-deletes",
            str(max_deletes),
        ],
    )
    settings = build_settings(args, {READ_ENV: key})
    delete = retention_cmd.delete_key_from({DELETE_KEY_ENV: delete_key or ""}, key)
    data = plan_file.read_bytes()
    doc = decode_plan(data)
    with contextlib.redirect_stdout(io.StringIO()):
        return await retention_cmd._apply(settings, delete, doc, data, max_deletes)
