"""A mistyped config key, flag or command is refused with the name that was probably meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.cli import main

KEY = "sk-ant-api01-test-key.abcdefghijklmnop.qrstuvwxyz"


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse exits on its own for usage errors
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[crawl]\nconcurency = 3\n",
            "unknown key [crawl] concurency; did you mean [crawl] concurrency?",
        ),
        ("[api]\nconcurrency = 3\n", "unknown key [api] concurrency; it belongs in [crawl]"),
        ("[crwl]\nfiles = true\n", "unknown section [crwl]; did you mean [crawl]?"),
        ("[api]\nzzzz = 1\n", "unknown key [api] zzzz\n"),  # nothing close: no guess
    ],
)
def test_a_mistyped_config_key_gets_a_suggestion(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    toml: str,
    message: str,
) -> None:
    monkeypatch.setenv("ANTHROPIC_COMPLIANCE_ACCESS_KEY", KEY)
    config = tmp_path / "crawler.toml"
    config.write_text(toml)
    target = tmp_path / "archive"
    assert run(["archive", "--config", str(config), "--archive", str(target)]) == 2
    assert message in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["archive", "--concurency", "3"],
            "unrecognized arguments: --concurency 3; did you mean --concurrency?",
        ),
        (["archive", "--incremntal"], "did you mean --incremental?"),
        (["export", "--archve=x"], "did you mean --archive?"),
        (["archve"], "unknown command 'archve'; did you mean archive?"),
        (["--verson"], "did you mean --version?"),
        (["archive", "--zzzz"], "unrecognized arguments: --zzzz\n"),  # nothing close: no guess
    ],
)
def test_a_mistyped_flag_or_command_gets_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run([*argv, "--archive", str(tmp_path / "a")] if argv[0] == "archive" else argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
