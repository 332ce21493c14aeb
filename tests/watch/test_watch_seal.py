"""A sealed archive stays sealed under crawler watch: every cycle's snapshot (deltas
included) is a leaf of the signed log, and verify finds the log whole."""

from __future__ import annotations

from pathlib import Path

from crawler.config_sources import SIGNING_KEY_ENV
from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
from tests.seal.support import check, keys_init, seal_kinds
from tests.support import crawl
from tests.test_archive_run import SMALL
from tests.watch.support import make_watch

SPEC = DatasetSpec(seed=46, projects=25, **SMALL)


async def test_every_cycle_is_logged_and_signed(tmp_path: Path) -> None:
    archive, key_file = tmp_path / "a", tmp_path / "keys" / "signing.pem"
    key_file.parent.mkdir()
    async with running_simulator(SimulatorConfig(dataset=SPEC, rate=None, feed_lag=0)) as sim:
        assert await crawl(sim.base_url, sim.key, archive) == 0
        keys_init(archive, key_file, "--org", "acme")
        sim.mutate(seed=2, fraction=0.1, kinds=["replace", "rename"])
        env = {SIGNING_KEY_ENV: str(key_file)}
        watch = make_watch(sim.base_url, sim.key, archive, env=env, cycles=2, every=0.01)
        assert await watch.run() == 0
        assert [r.kind for r in watch.reports] == ["changes", "changes"]
    report = check(archive, full=True)
    assert report.ok, [str(p) for p in report.problems]
    assert not seal_kinds(report)
    leaves = sorted((archive / "log").rglob("*"))
    assert leaves  # the log holds the cycles' leaves
