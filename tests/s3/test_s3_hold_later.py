"""Legal holds follow a held project: what later runs write for it is held too, and released.

Through the server itself: after ``hold add``, the project changes upstream, an
incremental ``crawler archive`` writes its new record and bodies, and each object
of the new record (new or reused) carries the S3 legal hold; the new ones were held
in their own PUT (no PutObjectLegalHold); ``hold release`` lifts them. A run killed
before its holds is caught up by the next one, and ``verify`` reports an object of a
held project that lacks its hold.
"""

from __future__ import annotations

from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.archive.holding import HeldKeys, holding
from crawler.archive.store.location import parse_archive
from crawler.archive.store.s3 import S3Store
from crawler.cli import main
from crawler.crawl.holds import HeldProjects
from crawler.read.reader import ArchiveReader
from crawler.simulator import Simulator
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)


class _Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs (no handler takes a BaseException)."""


def run(*args: str, code: int = 0) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == code, out.getvalue()
    return out.getvalue()


def status(bucket: Bucket, key: str) -> str:
    head = bucket.client.head_object(Bucket=bucket.name, Key=key)
    held = str(head.get("ObjectLockLegalHoldStatus", "OFF"))
    if held == "ON":  # and the hold's own call agrees
        answer = bucket.client.get_object_legal_hold(Bucket=bucket.name, Key=key)
        assert answer["LegalHold"]["Status"] == "ON"
    return held


def _refs(node: Any) -> set[str]:
    """Every blob a record names, found by its shape (not by the crawler's own walk)."""
    if isinstance(node, list):
        return set().union(*(_refs(n) for n in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if set(node) == {"md5", "sha256", "size"}:
        return {f"arc/blobs/{node['md5'][:2]}/{node['md5']}"}
    return set().union(*(_refs(v) for v in node.values())) if node else set()


def project_keys(url: str, project_id: str) -> tuple[str, set[str], set[str]]:
    """(its record's key, every key of it, its list page's keys) in the latest snapshot."""
    with ArchiveReader.open(parse_archive(url)) as reader:
        snap = reader.snapshot()
        row = next(r for r in reader.rows(snap.id) if r.project_id == project_id)
        assert row.record is not None
        record = reader.archive.read_record(row.record)
        key = "arc/" + reader.blob_key(row.record)
        return key, {key} | _refs(record), _refs(record.get("list_page"))


def other_project(url: str, project_id: str) -> str:
    with ArchiveReader.open(parse_archive(url)) as reader:
        snap = reader.snapshot()
        rows = reader.rows(snap.id)
        return next(r.project_id for r in rows if r.state == "done" and r.project_id != project_id)


def changed_project(sim: Simulator) -> str:
    """A project given a new attachment, then every project renamed (so all are refetched)."""
    added = sim.mutate(seed=7, fraction=0.1, kinds=["attach"]).attachments_added
    assert added
    sim.mutate(seed=8, fraction=1.0, kinds=["rename"])
    return added[0][0]


async def test_a_held_projects_later_objects_are_held_at_write_time_and_released(
    sim: Simulator, bucket: Bucket
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    target = changed_project(sim)
    run("hold", "add", "--archive", url, "--matter", "m1", "--project", target)
    before = set(bucket.keys("arc/"))

    asked: list[str] = []  # keys a PutObjectLegalHold was sent for during the crawl
    real = S3Store.legal_hold

    def spy(self: S3Store, key: str, on: bool) -> None:
        asked.append(f"arc/{key}")
        real(self, key, on)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Store, "legal_hold", spy)
        assert await crawl(sim.base_url, sim.key, url, "--incremental") == 0  # type: ignore[arg-type]

    record, keys, list_page = project_keys(url, target)
    new = keys - before
    assert record in new and len(new) >= 3  # its record, detail, pages, the new body
    assert {k: status(bucket, k) for k in keys} == dict.fromkeys(keys, "ON")
    # What the run wrote for the held project was held in its own PUT, with no extra
    # request; only the list page (stored before its projects are known) needed one.
    assert new & set(asked) <= list_page
    assert len(new - set(asked)) >= 2
    # Another project's new record is not held: only what a hold covers is.
    other_record, _, _ = project_keys(url, other_project(url, target))
    assert other_record not in before and status(bucket, other_record) == "OFF"
    assert "verify (fast): ok" in run("verify", "--archive", url)

    run("hold", "release", "--archive", url, "--matter", "m1")
    assert {k: status(bucket, k) for k in keys} == dict.fromkeys(keys, "OFF")


async def test_a_run_killed_before_its_holds_is_caught_up_and_verify_reports_a_missing_one(
    sim: Simulator, bucket: Bucket
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    target = changed_project(sim)
    run("hold", "add", "--archive", url, "--matter", "m1", "--project", target)

    # The run dies after every project is stored, before it could hold what it reused
    # (as a SIGKILL between the writes and the PutObjectLegalHold calls would leave it).
    def killed(*_args: Any, **_kwargs: Any) -> None:
        raise _Killed

    with pytest.MonkeyPatch.context() as patch, pytest.raises(_Killed):
        patch.setattr(HeldKeys, "ensure", lambda self, keys: 0)
        patch.setattr("crawler.crawl.engine.write_snapshot_manifest", killed)
        await crawl(sim.base_url, sim.key, url, "--incremental")  # type: ignore[arg-type]
    assert "verify (fast): ok" in run("verify", "--archive", url)  # unfinished: not yet due

    # The rerun continues the snapshot: nothing left to fetch, but it holds what is due.
    assert await crawl(sim.base_url, sim.key, url, "--incremental") == 0  # type: ignore[arg-type]
    _, keys, _ = project_keys(url, target)
    assert {k: status(bucket, k) for k in keys} == dict.fromkeys(keys, "ON")
    assert "verify (fast): ok" in run("verify", "--archive", url)

    # An object of a held project without its hold is a problem verify names.
    lifted = sorted(keys)[0]
    bucket.client.put_object_legal_hold(Bucket=bucket.name, Key=lifted, LegalHold={"Status": "OFF"})
    out = run("verify", "--archive", url, code=1)
    assert "legal_hold_missing" in out and lifted in out


async def test_a_held_write_carries_the_legal_hold_in_its_own_put_single_and_multipart(
    bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crawler.archive.store.s3.MULTIPART_BYTES", 4096)  # a small multipart
    asked: list[str] = []
    monkeypatch.setattr(S3Store, "legal_hold", lambda self, key, on: asked.append(key))
    with Archive.open_for_writing(parse_archive(bucket.url())) as archive:
        with holding(True):
            small = await archive.blobs.put(b"held, one PUT", "text")
            large = await archive.blobs.put(b"held, in parts " * 1000, "file")
        loose = await archive.blobs.put(b"not held", "text")
        with holding(True):  # it exists already: its PUT is skipped, so nothing held yet
            again = await archive.blobs.put(b"not held", "text")
        assert [b.created for b in (small, large, loose, again)] == [True, True, True, False]
        keys = {name: "arc/" + archive.blobs.key_of(b.ref) for name, b in
                [("small", small), ("large", large), ("loose", loose)]}  # fmt: skip
        # A record's follow-up asks for all three: only the one not held in its PUT costs.
        assert archive.held.ensure(k.removeprefix("arc/") for k in keys.values()) == 1
    assert asked == [keys["loose"].removeprefix("arc/")]
    etag = bucket.client.head_object(Bucket=bucket.name, Key=keys["large"])["ETag"]
    assert "-" in etag  # a multipart upload's ETag: <md5 of the parts' md5s>-<parts>
    assert status(bucket, keys["small"]) == "ON" and status(bucket, keys["large"]) == "ON"
    assert status(bucket, keys["loose"]) == "OFF"  # the spy sent nothing to the server


async def test_on_disk_a_held_project_is_crawled_as_before(sim: Simulator, tmp_path: Path) -> None:
    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    target = changed_project(sim)
    run("hold", "add", "--archive", str(archive), "--matter", "m1", "--project", target)
    assert await crawl(sim.base_url, sim.key, archive, "--incremental") == 0
    assert "verify (fast): ok" in run("verify", "--archive", str(archive))


async def test_a_hold_released_during_a_run_lifts_what_the_run_held_for_it(
    sim: Simulator, bucket: Bucket, tmp_path: Path
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    target = changed_project(sim)
    run("hold", "add", "--archive", url, "--matter", "m1", "--project", target)
    real = HeldProjects.catch_up

    def released_meanwhile(self: HeldProjects, snapshot_id: str) -> int:
        # Released on another machine (its own empty cache): it sees only finished
        # snapshots, so it cannot lift what this running one wrote.
        with pytest.MonkeyPatch.context() as other:
            other.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "elsewhere"))
            run("hold", "release", "--archive", url, "--matter", "m1")
        return real(self, snapshot_id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HeldProjects, "catch_up", released_meanwhile)
        assert await crawl(sim.base_url, sim.key, url, "--incremental") == 0  # type: ignore[arg-type]
    _, keys, _ = project_keys(url, target)
    assert {k: status(bucket, k) for k in keys} == dict.fromkeys(keys, "OFF")
    assert "verify (fast): ok" in run("verify", "--archive", url)
