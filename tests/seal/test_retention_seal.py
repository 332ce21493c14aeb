"""Retention on a sealed archive: the plan, each intent and each receipt become leaves, in order."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from pathlib import Path

from crawler.archive.log import Log
from crawler.commands import retention as retention_cmd
from crawler.config import build_settings
from crawler.retention.plan import decode_plan
from crawler.retention.receipts import DELETE_KEY_ENV
from crawler.simulator import Simulator
from tests.retention.support import READ_ENV, _parse, _target, plan, receipts
from tests.seal.support import check, sealed_archive


async def _apply(sim: Simulator, archive: Path, plan_file: Path, key_file: Path) -> int:
    argv = ["apply", *_target(sim.base_url, archive), "--plan", str(plan_file), "--yes"]
    args = _parse(retention_cmd, [*argv, "--max-deletes", "100"])
    settings = build_settings(args, {READ_ENV: sim.key, "CRAWLER_SIGNING_KEY_FILE": str(key_file)})
    assert settings.signing_key_file == key_file
    assert "signing_key_file" not in settings.public()  # never in a manifest
    delete = retention_cmd.delete_key_from({DELETE_KEY_ENV: sim.delete_key}, sim.key)
    data = plan_file.read_bytes()
    with contextlib.redirect_stdout(io.StringIO()):
        return await retention_cmd._apply(settings, delete, decode_plan(data), data, 100)


async def test_plan_intents_and_receipts_are_logged_before_each_is_done(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, key_file, _ = await sealed_archive(sim, tmp_path)
    plan_file = tmp_path / "plan.json"
    made = await plan(sim.base_url, sim.key, archive, "--older-than", "1d", out=plan_file)
    assert made["items"]
    settings_rc = await _apply(sim, archive, plan_file, key_file)
    assert settings_rc in (0, 1)
    log = Log.open(archive)
    assert log is not None
    types = [e.type for e, _ in log.events]
    assert types[:3] == ["snapshot", "snapshot", "plan"]
    done = receipts(archive)
    assert types.count("receipt") == len(done) >= 1
    for r in done:  # an item's intent (when one was written) precedes its receipt
        intent = types_index(log, "intent", f"{r.kind}:{r.item_id}")
        receipt = types_index(log, "receipt", str(r.seq))
        assert intent is None or intent < receipt
    assert log.checkpoint_sizes()[-1] == log.size
    report = check(archive)
    assert report.ok, report.problems

    # Erasing a receipt (its append-only trigger dropped first) is found by the seal.
    conn = sqlite3.connect(archive / "retention.sqlite")
    with conn:
        conn.execute("DROP TRIGGER receipts_keep_delete")
        conn.execute("DELETE FROM receipts WHERE seq = ?", (done[-1].seq,))
    conn.close()
    kinds = {p.kind for p in check(archive).problems}
    assert "seal: removed" in kinds


def types_index(log: Log, type_: str, id_: str) -> int | None:
    for n, (e, _) in enumerate(log.events):
        if (e.type, e.id) == (type_, id_):
            return n
    return None
