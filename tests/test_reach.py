"""A wrong address fails in seconds, naming the URL and the cause, before anything is written."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.api.reach import check_reachable
from crawler.errors import UnreachableError
from tests.support import TEST_KEY_ENV


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_an_unreachable_host_exits_2_within_15_seconds(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, TEST_KEY_ENV: "sim-any-key"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler",
            "archive",
            "--base-url",
            url,
            "--archive",
            str(tmp_path / "a"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    took = time.monotonic() - started
    assert run.returncode == 2, run.stderr
    assert took < 15, took
    assert f"cannot reach {url}" in run.stderr
    assert "connection refused" in run.stderr
    assert not (tmp_path / "a").exists()  # checked before the archive is opened


@pytest.mark.slow
def test_retention_plan_against_an_unreachable_host_exits_2_naming_it(tmp_path: Path) -> None:
    """plan says it in seconds too, before the archive is opened (apply checks its plan
    file offline first, then reaches the host the same way)."""
    url = f"http://127.0.0.1:{closed_port()}"
    env = {**os.environ, TEST_KEY_ENV: "sim-any-key"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    archive = str(tmp_path / "a")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawler",
            "retention",
            "plan",
            "--base-url",
            url,
            "--archive",
            archive,
            "--project",
            "claude_proj_x",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert f"cannot reach {url}" in run.stderr, run.stderr
    assert not (tmp_path / "a").exists()


def test_a_listening_host_passes_and_an_unresolvable_one_is_named() -> None:
    async def scenario() -> str:
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            await check_reachable(f"http://127.0.0.1:{port}")  # no exception
        with pytest.raises(UnreachableError) as info:
            await check_reachable("https://no-such-host.invalid", attempts=2, pause=0.01)
        return str(info.value)

    message = asyncio.run(scenario())
    assert "cannot reach https://no-such-host.invalid" in message
    assert "does not resolve" in message


def test_the_proxy_is_what_is_tried_when_the_client_would_use_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(UnreachableError) as info:
        asyncio.run(check_reachable("https://api.example.com", attempts=1))
    assert f"cannot reach proxy http://127.0.0.1:{port}" in str(info.value)
