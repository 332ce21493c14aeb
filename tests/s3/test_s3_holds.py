"""Legal holds and retention rows in a bucket: S3 legal holds set and lifted; nothing only local."""

from __future__ import annotations

import shutil
from contextlib import redirect_stdout
from io import StringIO

import orjson
import pytest

from crawler.archive.store.location import parse_archive
from crawler.cli import main
from crawler.read.reader import ArchiveReader
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(180)


def legal_hold(bucket: Bucket, key: str) -> str:
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    return str(head.get("ObjectLockLegalHoldStatus", "OFF"))


def held_keys(bucket: Bucket) -> set[str]:
    return {
        k for k in bucket.keys("arc/blobs/") if legal_hold(bucket, k) == "ON"
    }  # fmt: skip


def hold(*args: str) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(["hold", *args]) == 0
    return out.getvalue()


async def test_hold_sets_and_release_lifts_the_s3_legal_hold(
    sim: Simulator, bucket: Bucket
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    with ArchiveReader.open(parse_archive(url)) as reader:
        snap = reader.snapshot()
        rows = [r for r in reader.rows(snap.id) if r.record is not None and r.state == "done"]
        target = rows[0]
        record_key = "arc/" + reader.blob_key(target.record)  # type: ignore[arg-type]
    assert held_keys(bucket) == set()

    hold("add", "--archive", url, "--matter", "m1", "--project", target.project_id)
    first = held_keys(bucket)
    assert record_key in first and len(first) > 1  # the record and the blobs it names
    assert len(first) < len(bucket.keys("arc/blobs/"))  # only the held project's
    hold("add", "--archive", url, "--matter", "m2", "--project", target.project_id)
    hold("release", "--archive", url, "--matter", "m1")
    assert held_keys(bucket) == first  # m2 still holds every one of them
    hold("release", "--archive", url, "--matter", "m2")
    assert held_keys(bucket) == set()

    # The hold events live in the bucket: a machine with an empty cache sees them all.
    assert any(k.startswith("arc/retention/") for k in bucket.keys("arc/"))
    shutil.rmtree(bucket.cache)
    listed = orjson.loads(hold("list", "--archive", url, "--all", "--json"))
    assert [(e["matter"], e["action"]) for e in listed] == [
        ("m1", "add"), ("m2", "add"), ("m1", "release"), ("m2", "release"),
    ]  # fmt: skip
