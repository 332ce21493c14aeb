"""One writer per bucket: the lease log says who holds it and since when; stale ones taken over."""

from __future__ import annotations

import os

import pytest

from crawler.archive import Archive
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3_lease import S3Lease, lease_state
from crawler.errors import ArchiveBusyError
from tests.s3.conftest import Bucket

pytestmark = pytest.mark.timeout(60)


def test_a_second_writer_is_refused_with_who_and_since(bucket: Bucket) -> None:
    location = parse_archive(bucket.url())
    with Archive.open_for_writing(location) as first:
        with pytest.raises(ArchiveBusyError) as refused:
            Archive.open_for_writing(location)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and "since" in message
        _, doc, _ = lease_state(first.store)  # type: ignore[arg-type]
        assert doc is not None and doc["state"] == "held"
    with Archive.open_for_reading(location) as reader:
        _, doc, _ = lease_state(reader.store)  # type: ignore[arg-type]
    assert doc is not None and doc["state"] == "released"
    with Archive.open_for_writing(location):  # released: the next writer gets it
        pass


def test_a_stale_lease_is_taken_over_and_its_holder_stops(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = parse_archive(bucket.url())
    first = Archive.open_for_writing(location)
    try:
        lease = first.store.lease  # type: ignore[attr-defined]
        lease.beat()  # a heartbeat is the next generation, same holder and since
        gen, doc, _ = lease_state(first.store)  # type: ignore[arg-type]
        assert gen == 2 and doc is not None and doc["since"] == lease.doc["since"]
        monkeypatch.setattr(S3Lease, "stale_seconds", 0.0)  # as if it missed every beat
        with Archive.open_for_writing(location) as second:
            gen, doc, _ = lease_state(second.store)  # type: ignore[arg-type]
            assert doc is not None and doc["taken_over"] == 2 and gen == 3
            with pytest.raises(ArchiveBusyError, match="taken over"):
                lease.beat()
            with pytest.raises(ArchiveBusyError):  # and writes nothing more
                first.store.put_once("x", b"x", md5="9dd4e461268c8034f5c8564e155c67a6",
                                     sha256="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                                     size=1)  # fmt: skip
    finally:
        first.close()
