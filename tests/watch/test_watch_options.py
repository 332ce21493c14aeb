"""crawler watch's flags and [watch] keys: durations, shares, addresses, each checked."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.commands.watch import add_arguments
from crawler.errors import UsageError
from crawler.watch.options import parse_duration, parse_listen, parse_share, watch_options


def options(*flags: str, toml: dict[str, object] | None = None) -> object:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return watch_options(parser.parse_args(list(flags)), toml or {})


def test_durations_shares_and_addresses() -> None:
    assert parse_duration("5m", "x") == 300 and parse_duration("24h", "x") == 86400
    assert parse_duration("90", "x") == 90 and parse_duration(1.5, "x") == 1.5
    assert parse_duration("250ms", "x") == 0.25
    assert parse_share("1%", "x") == 0.01 and parse_share("0.5", "x") == 0.5
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen(":9464") == ("127.0.0.1", 9464)  # loopback by default
    for bad in ("5 minutes", "-1s", "1y", True):
        with pytest.raises(UsageError, match="duration"):
            parse_duration(bad, "--every")
    for bad_share in ("150%", "lots"):
        with pytest.raises(UsageError, match="--verify-slice"):
            parse_share(bad_share, "--verify-slice")
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen("9464")


def test_flags_win_over_the_toml_and_defaults_are_the_issues() -> None:
    d = options()
    assert (d.every, d.full_every, d.lock_wait, d.verify_slice) == (300, 86400, 600, 0.01)  # type: ignore[attr-defined]
    o = options("--every", "30s", toml={"every": "10m", "full_every": "12h", "verify_slice": "2%"})
    assert (o.every, o.full_every, o.verify_slice) == (30, 43200, 0.02)  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match="--ping-url"):
        options("--ping-url", "ftp://example.com/x")
    with pytest.raises(UsageError, match="more than 0"):
        options("--every", "0")


def test_a_mistyped_watch_key_in_the_toml_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[watch]\nevry = "5m"\n')
    code = main(["watch", "--config", str(cfg), "--archive", str(tmp_path / "a")])
    assert code == 2
    assert "unknown key [watch] evry; did you mean [watch] every?" in capsys.readouterr().err


async def test_a_key_without_the_feed_scope_is_refused(tmp_path: Path) -> None:
    from crawler.errors import ScopeError
    from crawler.simulator import DatasetSpec, SimulatorConfig, running_simulator
    from crawler.simulator.auth import NO_FEED_SCOPES
    from tests.watch.support import make_watch

    key = "sk-ant-api01-simulator.no-feed-scope.0001"
    cfg = SimulatorConfig(dataset=DatasetSpec(seed=3, projects=5), rate=None, feed_lag=0)
    async with running_simulator(cfg) as sim:
        sim.add_key(key, NO_FEED_SCOPES)
        with pytest.raises(ScopeError, match="read:compliance_activities"):
            await make_watch(sim.base_url, key, tmp_path / "a", cycles=1).run()
    assert not (tmp_path / "a" / "snapshots").exists() or not any(
        (tmp_path / "a" / "snapshots").iterdir()
    )
