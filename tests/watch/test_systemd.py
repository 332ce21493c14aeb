"""contrib/systemd's units pass ``systemd-analyze verify`` (skipped where it is absent),
are sandboxed as README says, and the key reaches the crawler through LoadCredential=."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config_sources import CREDENTIAL_NAME, read_key

UNITS = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
NAMES = ("crawler-watch.service", "crawler-archive.service", "crawler-archive.timer")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    crawler = Path(sys.executable).with_name("crawler")
    assert crawler.exists()
    for name in NAMES:  # ExecStart= must name an executable that exists here
        text = (UNITS / name).read_text().replace("/opt/crawler/.venv/bin/crawler", str(crawler))
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in NAMES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr


def test_units_are_sandboxed_and_take_the_key_as_a_credential() -> None:
    for name in NAMES[:2]:
        service = unit(name)["Service"]
        assert service["DynamicUser"] == "yes"
        assert service["ProtectSystem"] == "strict"
        assert service["ReadWritePaths"] == "/var/lib/crawler"
        assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
        assert service["LoadCredential"].startswith(f"{CREDENTIAL_NAME}:")
        assert "KEY" not in service.get("Environment", "")
    timer = unit(NAMES[2])["Timer"]
    assert timer["Persistent"] == "true" and timer["RandomizedDelaySec"]


def test_the_key_is_read_from_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / CREDENTIAL_NAME).write_text("sk-ant-api01-from-systemd\n")
    key, source = read_key({"CREDENTIALS_DIRECTORY": str(tmp_path)}, None)
    assert key == "sk-ant-api01-from-systemd" and source == "key_file"
    # The environment still wins, as everywhere.
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "ANTHROPIC_COMPLIANCE_ACCESS_KEY": "sk-env"}
    assert read_key(env, None)[0] == "sk-env"
