"""Productions from a bucket: the volume written locally, the register's rows in the bucket."""

from __future__ import annotations

import dataclasses
import hashlib
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import orjson
import pytest

from crawler.archive import Archive
from crawler.archive.store.location import parse_archive
from crawler.cli import main
from crawler.errors import UsageError
from crawler.produce.bucket import open_register
from crawler.simulator import Simulator
from tests.produce.support import by_item, local, volume_records
from tests.s3.conftest import Bucket
from tests.support import crawl

pytestmark = pytest.mark.timeout(240)


def run(*args: str) -> str:
    out = StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def listed(url: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = orjson.loads(run("productions", "--archive", url, "--json"))
    return rows


def check_natives(out: Path, sim: Simulator, volume: str = "VOL001") -> int:
    """Every native in the volume has the bytes (md5) the simulator served; how many."""
    items = by_item(volume_records(out, volume))
    checked = 0
    for truth in sim.dataset.projects_truth():
        expected = {d.id: d.md5 for d in truth.documents} | {f.id: f.md5 for f in truth.files}
        for item_id, md5 in expected.items():
            for r in (r for r in items.get(item_id, []) if r["PROJECTID"] == truth.id):
                native = local(out, r["NATIVELINK"]).read_bytes()
                assert r["MD5HASH"] == md5 == hashlib.md5(native).hexdigest()
                checked += 1
    return checked


async def test_produce_from_a_bucket_and_continue_on_another_machine(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    run("produce", "--archive", url, "--out", str(tmp_path / "a"), "--prefix", "ACME")
    assert (tmp_path / "a" / "VOL001" / "DATA" / "VOL001.dat").is_file()
    assert check_natives(tmp_path / "a", sim) > 0
    assert bucket.keys("arc/productions/") == ["arc/productions/production-000000001.json"]
    (first,) = listed(url)

    # Another machine, its cache empty: the register comes from the bucket, numbers go on.
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "cache2"))
    project = next(t.id for t in sim.dataset.projects_truth() if t.documents or t.files)
    out_b = tmp_path / "b"
    run("produce", "--archive", url, "--out", str(out_b), "--prefix", "ACME", "--project", project)
    run("produce", "--archive", url, "--out", str(tmp_path / "c"), "--reproduce", "1")
    one, two = listed(url)
    assert one["id"] == 1 and two["id"] == 2 and two["volume"] == "VOL002"
    assert two["first_number"] == int(str(first["last_number"])) + 1
    assert [r["at"] for r in one["reproductions"]] and two["reproductions"] == []  # type: ignore[union-attr]
    assert check_natives(out_b, sim, "VOL002") > 0  # read from the bucket: this cache has no copies

    # The first machine's cache catches up; its text listing names both.
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(bucket.cache))
    assert listed(url) == [one, two]
    text = run("productions", "--archive", url)
    assert "VOL001" in text and "VOL002" in text and "rewritten 1x" in text
    assert sorted(bucket.keys("arc/productions/")) == [
        "arc/productions/production-000000001.json",
        "arc/productions/production-000000002.json",
        "arc/productions/reproduction-000000001.json",
    ]


async def test_a_number_taken_meanwhile_by_another_machine_is_refused(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = bucket.url()
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    run("produce", "--archive", url, "--out", str(tmp_path / "a"), "--prefix", "ACME")
    with Archive.open_for_reading(parse_archive(url)) as archive, open_register(archive) as reg:
        (row,) = reg.productions()
        # Meanwhile a second machine registers production 2 ...
        monkeypatch.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "cache2"))
        project = next(iter(sim.dataset.projects_truth())).id
        run("produce", "--archive", url, "--out", str(tmp_path / "b"), "--prefix", "ZZ",
            "--project", project)  # fmt: skip
        # ... which this machine, not having seen it, also chose: the bucket refuses it.
        mine = dataclasses.replace(row, id=2, prefix="ACME", selection_sha256="0" * 64,
                                   first_number=row.last_number + 1)  # fmt: skip
        with pytest.raises(UsageError, match="production 2 was registered by someone else"):
            reg.add(mine)
        assert [p.id for p in reg.productions()] == [1]  # nothing half-registered
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(bucket.cache))
    assert [(r["id"], r["prefix"]) for r in listed(url)] == [(1, "ACME"), (2, "ZZ")]


async def test_a_sealed_bucket_logs_each_production_and_verifies(
    sim: Simulator, bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, key_file = bucket.url(), tmp_path / "signing.pem"
    assert await crawl(sim.base_url, sim.key, url) == 0  # type: ignore[arg-type]
    out = run("keys", "init", "--archive", url, "--key-file", str(key_file), "--org", "acme")
    vkey = out.rsplit(": ", 1)[1].strip()
    before = len(bucket.keys("arc/log/leaves/"))
    monkeypatch.setenv("CRAWLER_SIGNING_KEY_FILE", str(key_file))
    run("produce", "--archive", url, "--out", str(tmp_path / "a"), "--prefix", "ACME")
    # Another machine's empty cache: its production is the next leaf, after the first's.
    monkeypatch.setenv("CRAWLER_CACHE_DIR", str(tmp_path / "cache2"))
    run("produce", "--archive", url, "--out", str(tmp_path / "b"), "--reproduce", "1")
    assert len(bucket.keys("arc/log/leaves/")) == before + 2
    assert "verify (fast): ok" in run("verify", "--archive", url, "--public-key", vkey)
