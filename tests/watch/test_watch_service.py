"""What an operator sees of a watch: /metrics (parsed with prometheus_client's own
parser), /healthz and /readyz, healthchecks.io-style pings, verify slices."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from crawler.archive import Archive
from crawler.commands import archive as archive_command
from crawler.config import build_settings
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from crawler.watch.oneshot import run_once
from tests.support import TEST_KEY_ENV
from tests.test_archive_run import SMALL
from tests.watch.support import make_watch

SPEC = DatasetSpec(seed=43, projects=30, **SMALL)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.text()


async def test_metrics_health_and_readiness_over_http(tmp_path: Path) -> None:
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        prom = tmp_path / "watch.prom"
        watch = make_watch(
            sim.base_url, sim.key, tmp_path / "a", "--metrics", "127.0.0.1:0",
            "--metrics-file", str(prom), every=0.05,
        )  # fmt: skip
        task = asyncio.create_task(watch.run())
        await watch.listening.wait()
        assert watch.listener is not None
        base = watch.listener.url
        assert await get(f"{base}/healthz") == (200, "ok\n")
        status, why = await get(f"{base}/readyz")
        assert status == 503 and "no cycle" in why
        while len(watch.reports) < 3:
            await asyncio.sleep(0.02)
        status, text = await get(f"{base}/metrics")
        assert status == 200
        m = samples(text)
        assert m[("crawler_interval_seconds", ())] == 0.05
        assert m[("crawler_last_cycle_success", ())] == 1
        assert m[("crawler_last_success_timestamp_seconds", ())] > 1.7e9  # a timestamp, not an age
        assert m[("crawler_newest_change_timestamp_seconds", ())] > 1.7e9
        assert m[("crawler_cycles_total", (("kind", "full_walk"), ("outcome", "complete")))] == 1
        assert m[("crawler_cycles_total", (("kind", "changes"), ("outcome", "complete")))] >= 2
        assert m[("crawler_requests_total", (("endpoint", "activities"), ("status", "200")))] >= 2
        assert m[("crawler_projects", (("state", "carried"),))] > 0
        assert m[("crawler_verify_last_passed", ())] == 1
        assert m[("crawler_archived_bytes_total", ())] > 0
        for (name, labels), _v in m.items():
            for key, value in labels:
                assert not value.startswith("claude_proj_"), (name, key)  # no ids in labels
        assert (await get(f"{base}/readyz"))[0] == 200
        on_disk = samples(prom.read_text())  # the textfile: the same figures, cycle by cycle
        assert on_disk[("crawler_interval_seconds", ())] == 0.05
        assert on_disk[("crawler_last_cycle_success", ())] == 1

        # Cycles stop (the loop is stopped; the listener stays): ready until 3 x every has
        # passed since the last cycle, then not, by the health clock.
        watch.request_stop()
        await task
        health = watch.health
        last = health.last_end or 0.0
        health.clock = lambda: last + 0.1
        assert health.ready()[0]
        health.clock = lambda: last + 3 * 0.05 + 0.01
        ok, why = health.ready()
        assert not ok and "3 x every" in why


async def test_readiness_turns_false_when_cycles_fail_and_pings_pair_up(tmp_path: Path) -> None:
    pings: list[tuple[str, str, str]] = []

    async def record(request: web.Request) -> web.Response:
        pings.append((request.path, request.query.get("rid", ""), await request.text()))
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
            url = f"http://127.0.0.1:{port}/ping/check-uuid"
            watch = make_watch(sim.base_url, sim.key, tmp_path / "a", "--ping-url", url, cycles=1)
            assert await watch.run() == 0
            assert watch.health.ready()[0]
            # The list fails past its retries: the cycle fails, is reported and retried.
            sim.faults.set("projects.list", error_rate=1.0, error_statuses=(503,))
            watch = make_watch(
                sim.base_url, sim.key, tmp_path / "a", "--ping-url", url, cycles=2, every=0.05
            )
            watch.settings = replace(watch.settings, max_attempts=1)
            assert await watch.run() == 0
            assert [r.status for r in watch.reports] == ["failed", "failed"]
            assert watch.reports[0].error_kind == "ListWalkError"
            ok, why = watch.health.ready()
            assert not ok and "failed" in why
            m = samples(watch.metrics.exposition().decode())
            assert m[("crawler_cycle_failures_total", (("kind", "ListWalkError"),))] == 2
            assert m[("crawler_last_cycle_success", ())] == 0
    finally:
        await runner.cleanup()
    paths = [p for p, _rid, _body in pings]
    assert paths == [
        "/ping/check-uuid/start",
        "/ping/check-uuid",
        "/ping/check-uuid/start",
        "/ping/check-uuid/fail",
        "/ping/check-uuid/start",
        "/ping/check-uuid/fail",
    ]
    rids = [rid for _p, rid, _b in pings]
    assert rids[0] == rids[1] and rids[2] == rids[3] and rids[0] != rids[2]
    assert "complete" in pings[1][2] and "ListWalkError" in pings[3][2]


async def test_a_damaged_blob_is_found_by_the_verify_slice(tmp_path: Path) -> None:
    arc = tmp_path / "a"
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await make_watch(sim.base_url, sim.key, arc, cycles=1).run() == 0
        with Archive.open_for_reading(arc) as archive:
            ref = next(r for r, kind, _v in archive.index.iter_blobs() if kind == "file")
            path = archive.blobs.path_of(ref)
        path.chmod(0o600)
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.write_bytes(bytes(data))
        watch = make_watch(sim.base_url, sim.key, arc, "--verify-slice", "100%", cycles=1)
        assert await watch.run() == 0
    report = watch.reports[-1]
    assert report.verify is not None and not report.verify.passed
    assert [b["md5"] for b in report.verify.bad] == [ref.md5]
    m = samples(watch.metrics.exposition().decode())
    assert m[("crawler_verify_last_passed", ())] == 0
    assert m[("crawler_verify_bad_blobs_total", ())] == 1
    with Archive.open_for_reading(arc) as archive:
        recorded: dict[str, Any] = archive.read_manifest(archive.require_snapshot().id)
    assert recorded["verify_slice"]["bad"][0]["md5"] == ref.md5
    assert recorded["verify_slice"]["checked"] == recorded["verify_slice"]["blobs"]


async def test_a_one_shot_archive_writes_a_textfile_and_pings(tmp_path: Path) -> None:
    pings: list[tuple[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        pings.append((request.path, request.query.get("rid", "")))
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    prom = tmp_path / "textfile" / "crawler.prom"
    prom.parent.mkdir()
    try:
        async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
            parser = argparse.ArgumentParser()
            archive_command.add_arguments(parser)
            args = parser.parse_args(
                ["--base-url", sim.base_url, "--archive", str(tmp_path / "a"), "--rate", "0",
                 "--quiet"]
            )  # fmt: skip
            settings = build_settings(args, {TEST_KEY_ENV: sim.key})
            code = await run_once(
                settings, lock_wait=0, metrics_file=prom, ping_url=f"http://127.0.0.1:{port}/c"
            )
            assert code == 0
    finally:
        await runner.cleanup()
    m = samples(prom.read_text())
    assert m[("crawler_cycles_total", (("kind", "archive"), ("outcome", "complete")))] == 1
    assert m[("crawler_last_success_timestamp_seconds", ())] > 1.7e9
    assert m[("crawler_requests_total", (("endpoint", "projects.list"), ("status", "200")))] >= 1
    assert prom.stat().st_mode & 0o777 == 0o644  # the exporter is another user
    assert [p.name for p in prom.parent.iterdir()] == ["crawler.prom"]  # no temporary left
    assert [p for p, _r in pings] == ["/c/start", "/c"] and pings[0][1] == pings[1][1]
