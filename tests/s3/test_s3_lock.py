"""Object Lock through the server itself: one version each, the lock asked for, enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(180)


def locked_objects(bucket: Bucket, prefix: str = "arc/") -> list[str]:
    return [k for k in bucket.keys(prefix) if not k.startswith(f"{prefix}locks/")]


def retention(bucket: Bucket, key: str) -> tuple[str | None, datetime | None]:
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")


async def test_every_object_has_one_version_and_the_lock_asked_for(
    sim: Simulator, bucket: Bucket
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    flags = ("--object-lock", "compliance", "--retain", "30s")
    assert await crawl(sim.base_url, sim.key, bucket.url(), *flags) == 0  # type: ignore[arg-type]
    keys = locked_objects(bucket)
    assert len(keys) > 100 and any("/blobs/" in k for k in keys)
    versions = bucket.client.list_object_versions(Bucket=bucket.name, Prefix="arc/")
    counts: dict[str, int] = {}
    for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        counts[v["Key"]] = counts.get(v["Key"], 0) + 1
    assert all(counts[k] == 1 for k in keys), "an object was written twice"
    for key in keys:
        mode, until = retention(bucket, key)
        assert mode == "COMPLIANCE", key
        assert until is not None and until >= before + timedelta(seconds=29), key

    # The server, not the crawler, refuses: a locked version cannot be deleted,
    # and a compliance retention cannot be shortened.
    blob = next(k for k in keys if "/blobs/" in k)
    version = next(v for v in versions["Versions"] if v["Key"] == blob)["VersionId"]
    with pytest.raises(ClientError):
        bucket.client.delete_object(Bucket=bucket.name, Key=blob, VersionId=version)
    with pytest.raises(ClientError):
        bucket.client.put_object_retention(
            Bucket=bucket.name,
            Key=blob,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": before + timedelta(seconds=2)},
        )
    assert bucket.client.head_object(Bucket=bucket.name, Key=blob, VersionId=version)


async def test_reused_blobs_are_extended_never_shortened(sim: Simulator, bucket: Bucket) -> None:
    short = ("--object-lock", "governance", "--retain", "3s")
    assert await crawl(sim.base_url, sim.key, bucket.url(), *short) == 0  # type: ignore[arg-type]
    first = {k: retention(bucket, k)[1] for k in locked_objects(bucket)}
    second_start = datetime.now(UTC).replace(microsecond=0)
    longer = ("--object-lock", "governance", "--retain", "120s", "--incremental")
    assert await crawl(sim.base_url, sim.key, bucket.url(), *longer) == 0  # type: ignore[arg-type]
    reused = [k for k in first if "/blobs/" in k]
    assert reused
    for key in reused:  # every blob the first snapshot wrote is carried by the second
        mode, until = retention(bucket, key)
        assert mode == "GOVERNANCE"
        head = bucket.client.head_object(Bucket=bucket.name, Key=key)
        assert until is not None and until >= second_start + timedelta(seconds=115), (key, head)
        assert until >= first[key]  # type: ignore[operator]

    # A later run with a shorter retention never shortens what is locked longer.
    extended = {k: retention(bucket, k)[1] for k in reused}
    again = ("--object-lock", "governance", "--retain", "3s", "--incremental")
    assert await crawl(sim.base_url, sim.key, bucket.url(), *again) == 0  # type: ignore[arg-type]
    assert {k: retention(bucket, k)[1] for k in reused} == extended
