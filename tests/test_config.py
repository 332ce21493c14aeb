"""Settings: precedence, and every bad input rejected with a message naming it, before any write."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.config import Filters, add_crawl_arguments, build_settings
from crawler.errors import UsageError

KEY = "sk-ant-api01-test-key.abcdefghijklmnop.qrstuvwxyz"


def parse(*argv: str) -> argparse.Namespace:
    from crawler.commands.archive import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "crawler.toml"
    path.write_text(text)
    return path


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    cfg = write(
        tmp_path, '[api]\nrate = 2.0\nbase_url = "http://127.0.0.1:1"\n[crawl]\nconcurrency = 3\n'
    )
    env = {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY, "CRAWLER_RATE": "3"}
    s = build_settings(parse("--config", str(cfg)), env)
    assert (s.rate, s.concurrency, s.base_url) == (3.0, 3, "http://127.0.0.1:1")
    s = build_settings(parse("--config", str(cfg), "--rate", "1.5", "--concurrency", "5"), env)
    assert (s.rate, s.concurrency) == (1.5, 5)
    assert s.api_key == KEY and s.key_source == "ANTHROPIC_COMPLIANCE_ACCESS_KEY"


def test_rate_auto_and_reserve(tmp_path: Path) -> None:
    env = {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY}
    s = build_settings(parse(), env)
    assert (s.rate, s.rate_auto, s.rate_reserve) == (4.0, False, 0.2)
    cfg = write(tmp_path, '[api]\nrate = "auto"\nrate_reserve = 0.25\n')
    s = build_settings(parse("--config", str(cfg)), env)
    assert (s.rate_auto, s.rate_reserve) == (True, 0.25)
    s = build_settings(parse("--config", str(cfg), "--rate", "6"), env)  # a flag wins
    assert (s.rate, s.rate_auto) == (6.0, False)
    s = build_settings(parse("--rate", "AUTO", "--rate-reserve", "0"), env)
    assert (s.rate_auto, s.rate_reserve) == (True, 0.0)
    s = build_settings(parse(), {**env, "CRAWLER_RATE": "auto", "CRAWLER_RATE_RESERVE": "0.5"})
    assert (s.rate_auto, s.rate_reserve) == (True, 0.5)
    assert s.public()["rate_auto"] is True


def test_key_never_in_repr_or_public_settings() -> None:
    s = build_settings(parse(), {"ANTHROPIC_COMPLIANCE_API_KEY": KEY})
    assert KEY not in repr(s)
    assert KEY not in str(s.public())
    assert s.key_source == "ANTHROPIC_COMPLIANCE_API_KEY"


def test_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    cfg = write(tmp_path, f'[api]\nkey_file = "{key_file}"\n')
    assert build_settings(parse("--config", str(cfg)), {}).api_key == KEY


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[api]\nrat = 4\n", "unknown key [api] rat"),
        ("[crawling]\nx = 1\n", "unknown section [crawling]"),
        ('[api]\nrate = "fast"\n', "rate (requests per second, or 'auto') must be a number"),
        ("[api]\nrate_reserve = 1\n", "rate reserve must be a share of the budget"),
        ("[api]\nrate = -1\n", "rate must be between"),
        ('[api]\napi_key = "sk-ant-api01-x"\n', "must not be stored in the config file"),
        ("[crawl]\nconcurrency = 0\n", "concurrency must be between"),
        ('[filters]\nsince = "yesterday"\n', "is not an RFC 3339 timestamp"),
        ('[filters]\nsince = "2025-02-01"\nuntil = "2025-01-01"\n', "must be before"),
        ('[api]\nbase_url = "http://api.example.com"\n', "plain http to a non-loopback host"),
        ("not toml = = =\n", "is not valid TOML"),
    ],
)
def test_bad_config_is_named(tmp_path: Path, toml: str, message: str) -> None:
    cfg = write(tmp_path, toml)
    with pytest.raises(UsageError) as err:
        build_settings(parse("--config", str(cfg)), {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY})
    assert message in str(err.value)


def test_missing_key_is_named() -> None:
    with pytest.raises(UsageError, match="no access key: set ANTHROPIC_COMPLIANCE_ACCESS_KEY"):
        build_settings(parse(), {})


def test_bare_date_means_midnight_utc_and_windows_tile() -> None:
    s = build_settings(
        parse("--since", "2025-01-01", "--until", "2025-02-01T00:00:00+00:00"),
        {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY},
    )
    assert s.filters.query() == [
        ("created_at.gte", "2025-01-01T00:00:00Z"),
        ("created_at.lt", "2025-02-01T00:00:00+00:00"),
    ]


def test_updated_window_is_the_lists_updated_at_filter(tmp_path: Path) -> None:
    s = build_settings(
        parse("--updated-since", "2025-01-01", "--updated-until", "2025-02-01T00:00:00Z"),
        {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY},
    )
    assert s.filters.query() == [
        ("updated_at.gte", "2025-01-01T00:00:00Z"),
        ("updated_at.lt", "2025-02-01T00:00:00Z"),
    ]
    assert s.filters.key() != Filters().key()
    # Snapshots taken without them keep their filter key (resume and incremental match on it).
    assert "updated_at" not in Filters().key()
    toml = write(tmp_path, '[filters]\nupdated_since = "2025-03-01"\n')
    s = build_settings(parse("--config", str(toml)), {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY})
    assert s.filters.updated_at_gte == "2025-03-01T00:00:00Z"
    with pytest.raises(UsageError, match=r"--updated-since .* must be before --updated-until"):
        build_settings(
            parse("--updated-since", "2025-02-01", "--updated-until", "2025-01-01"),
            {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY},
        )


def test_feed_settings() -> None:
    s = build_settings(parse("--require-feed"), {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY})
    assert s.require_feed and s.feed_settle_seconds == 60 and s.feed_overlap_seconds == 3600
    assert s.public()["require_feed"] is True


def test_filter_key_ignores_order_and_duplicates() -> None:
    assert (
        Filters(organization_ids=("b", "a", "a")).key()
        == Filters(organization_ids=("a", "b")).key()
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "abc"], "rate (requests per second, or 'auto') must be a number"),
        (["--rate", "auto", "--rate-reserve", "-0.1"], "rate reserve must be a share"),
        (["--concurrency", "100000"], "concurrency must be between"),
        (["--since", "2025-13-45"], "is not a valid date"),
        (["--base-url", "ftp://x"], "must be an http(s) URL"),
    ],
)
def test_bad_flags_exit_2_and_write_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("ANTHROPIC_COMPLIANCE_ACCESS_KEY", KEY)
    target = tmp_path / "archive"
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(["archive", "--archive", str(target), *argv]))
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not target.exists()


def test_missing_key_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ANTHROPIC_COMPLIANCE_ACCESS_KEY", "ANTHROPIC_COMPLIANCE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / "archive"
    assert main(["archive", "--archive", str(target), "--base-url", "http://127.0.0.1:9"]) == 2
    assert "no access key" in capsys.readouterr().err
    assert not target.exists()


def test_add_crawl_arguments_is_reusable() -> None:
    p = argparse.ArgumentParser()
    add_crawl_arguments(p)
    assert p.parse_args(["--quiet"]).quiet is True


def test_the_documented_example_config_is_accepted_whole() -> None:
    """config.example.toml documents every key: it must load as it ships (no unknown key)."""
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    s = build_settings(parse("--config", str(example)), {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": KEY})
    assert s.rate == 4.0 and s.rate_reserve == 0.2
    assert s.feed_overlap_seconds == 3600
