"""An archive in a bucket, through a real S3 server: the same archive as on disk."""

from __future__ import annotations

import re
from contextlib import redirect_stdout
from pathlib import Path

import orjson
import pytest

from crawler.cli import main
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(180)


def export(archive: str, out: Path, *extra: str) -> bytes:
    assert main(["export", "--archive", archive, "--out", str(out), *extra]) == 0
    return out.read_bytes()


def snapshot_ids(archive: str, tmp: Path) -> list[str]:
    out = tmp / f"snaps-{abs(hash(archive))}.json"
    with open(out, "w") as f, redirect_stdout(f):
        assert main(["snapshots", "--archive", archive, "--json"]) == 0
    return [orjson.loads(line)["id"] for line in out.read_bytes().splitlines() if line.strip()]


def same_run(data: bytes, ids: dict[str, str]) -> bytes:
    """The export with this run's own names (snapshot ids, record hashes) made neutral.

    Both archives hold the same API bytes; a record also names its snapshot and
    fetch times, so its hash is the one thing that differs by run.
    """
    for old, new in ids.items():
        data = data.replace(old.encode(), new.encode())
    return re.sub(rb'"record":\{[^}]*\}', b'"record":{}', data)


async def test_full_and_incremental_snapshot_export_equals_disk(
    sim: Simulator, bucket: Bucket, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    for archive in (str(disk), bucket.url()):
        assert await crawl(sim.base_url, sim.key, archive) == 0  # type: ignore[arg-type]
    for archive in (str(disk), bucket.url()):
        assert await crawl(sim.base_url, sim.key, archive, "--incremental") == 0  # type: ignore[arg-type]
    s3_ids, disk_ids = snapshot_ids(bucket.url(), tmp_path), snapshot_ids(str(disk), tmp_path)
    assert len(s3_ids) == len(disk_ids) == 2
    names = {a: f"S{n}" for ids in (s3_ids, disk_ids) for n, a in enumerate(ids)}
    for sid in (0, 1):
        flags = ["--snapshot", s3_ids[sid]], ["--snapshot", disk_ids[sid]]
        s3 = export(bucket.url(), tmp_path / f"s3-{sid}.ndjson", *flags[0], "--include-content")
        dk = export(str(disk), tmp_path / f"d-{sid}.ndjson", *flags[1], "--include-content")
        assert same_run(s3, names) == same_run(dk, names)
        assert len(s3) > 10_000
    keys = bucket.keys("arc/")
    assert "arc/ARCHIVE" in keys
    assert sum(k.startswith("arc/snapshots/") for k in keys) == 2
    assert not any(k.endswith(".sqlite") for k in keys)  # the index is a local cache
