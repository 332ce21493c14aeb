"""Export outputs: manifest, md5sum file, gzip, verify-export, and BagIt bags."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import bagit
import orjson
import pytest

from crawler.cli import main

if TYPE_CHECKING:
    from conftest import Crawled  # tests/export/conftest.py


def flip(path: Path, offset: int = 10) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def export(crawled: Crawled, out: Path, *flags: str) -> None:
    assert main(["export", "--archive", str(crawled.archive), "--out", str(out), *flags]) == 0


def test_manifest_and_md5sum_describe_every_file(crawled: Crawled, tmp_path: Path) -> None:
    out = tmp_path / "e.ndjson"
    export(crawled, out, "--files-dir", str(tmp_path / "files"))
    manifest = orjson.loads((tmp_path / "e.ndjson.manifest.json").read_bytes())
    assert manifest["snapshot"]["id"] == crawled.s3
    assert manifest["snapshot"]["status"] == "complete"
    assert manifest["counts"]["projects"] == len(crawled.dataset.projects)
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {"e.ndjson", "e.ndjson.md5"} | {
        f"files/{p.name}" for p in (tmp_path / "files").iterdir()
    }
    assert set(listed) == on_disk
    assert manifest["counts"]["files_exported"] == len(on_disk) - 2
    for rel, entry in listed.items():
        data = (tmp_path / rel).read_bytes()
        assert entry["md5"] == hashlib.md5(data).hexdigest()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    # md5sum -c format: "<md5>  <relative path>", checked from the export's directory.
    lines = (tmp_path / "e.ndjson.md5").read_text().splitlines()
    assert len(lines) == len(on_disk) - 1
    assert all(len(x.split("  ", 1)[0]) == 32 for x in lines)
    ok = subprocess.run(["md5sum", "-c", "--quiet", "e.ndjson.md5"], cwd=tmp_path)
    assert ok.returncode == 0
    # No temporary file is left beside the outputs.
    assert not [p for p in tmp_path.rglob(".*tmp*")]


def test_verify_export_passes_then_names_the_flipped_file(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(crawled, tmp_path / "e.ndjson", "--files-dir", str(tmp_path / "files"))
    manifest = str(tmp_path / "e.ndjson.manifest.json")
    assert main(["verify-export", manifest]) == 0
    assert "OK" in capsys.readouterr().out
    flip(tmp_path / "e.ndjson")
    assert main(["verify-export", manifest]) == 1
    out = capsys.readouterr().out
    assert "FAILED: e.ndjson: md5" in out
    assert subprocess.run(["md5sum", "-c", "--quiet", "e.ndjson.md5"], cwd=tmp_path).returncode
    # A file body too: the message names it.
    body = max((tmp_path / "files").iterdir(), key=lambda p: p.stat().st_size)
    flip(body)
    assert main(["verify-export", manifest]) == 1
    assert f"files/{body.name}" in capsys.readouterr().out


def test_verify_export_refuses_what_is_not_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.json").write_text('{"hello": 1}')
    assert main(["verify-export", str(tmp_path / "x.json")]) == 2
    assert "not a crawler export manifest" in capsys.readouterr().err
    assert main(["verify-export", str(tmp_path / "missing.json")]) == 2


def test_gzip_export_is_the_same_records_and_deterministic(
    crawled: Crawled, tmp_path: Path
) -> None:
    export(crawled, tmp_path / "p.ndjson", "--include-content")
    export(crawled, tmp_path / "g.ndjson.gz", "--include-content")
    plain = (tmp_path / "p.ndjson").read_bytes()
    assert gzip.decompress((tmp_path / "g.ndjson.gz").read_bytes()) == plain
    manifest = orjson.loads((tmp_path / "g.ndjson.gz.manifest.json").read_bytes())
    assert manifest["output"]["gzip"] is True
    assert main(["verify-export", str(tmp_path / "g.ndjson.gz.manifest.json")]) == 0
    assert (
        subprocess.run(["md5sum", "-c", "--quiet", "g.ndjson.gz.md5"], cwd=tmp_path).returncode == 0
    )
    first = (tmp_path / "g.ndjson.gz").read_bytes()
    export(crawled, tmp_path / "g.ndjson.gz", "--include-content")
    assert (tmp_path / "g.ndjson.gz").read_bytes() == first


def test_bag_validates_with_the_library_of_congress_tool(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bag_dir = tmp_path / "bag"
    org = crawled.dataset.orgs[0]
    assert (
        main(
            [
                "export",
                "--archive",
                str(crawled.archive),
                "--bag",
                str(bag_dir),
                "--snapshot",
                crawled.s2,
                "--org",
                org.tagged_id,
                "--include-content",
            ]
        )
        == 0
    )
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises BagValidationError on any problem
    assert bag.is_valid()
    info = bag.info
    assert info["Crawler-Snapshot-Id"] == crawled.s2
    assert org.tagged_id in info["Crawler-Export-Filters"]
    assert info["Source-Organization"] and info["External-Description"]
    assert info["Bagging-Date"] and info["Payload-Oxum"]
    expected = crawled.dataset.project_ids({"organization_ids": (org.tagged_id,)})
    lines = (bag_dir / "data" / "projects.ndjson").read_bytes().splitlines()
    assert [orjson.loads(x)["id"] for x in lines] == expected
    assert int(info["Crawler-Count-Projects"]) == len(expected)
    assert {"md5", "sha256"} <= set(bag.algorithms)
    # Every exported_file resolves inside the bag's payload.
    for line in lines:
        for att in orjson.loads(line)["attachments"] or []:
            if "exported_file" in att:
                assert (bag_dir / "data" / att["exported_file"]).is_file()
    assert main(["verify-export", str(bag_dir)]) == 0
    assert main(["verify-export", str(bag_dir / "export-manifest.json")]) == 0
    capsys.readouterr()
    # One flipped byte: both validators notice, ours names the file.
    flip(bag_dir / "data" / "projects.ndjson")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()
    assert main(["verify-export", str(bag_dir)]) == 1
    assert "data/projects.ndjson" in capsys.readouterr().out


def test_bag_refuses_an_existing_directory(
    crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bag").mkdir()
    (tmp_path / "bag" / "keep.txt").write_text("mine")
    code = main(["export", "--archive", str(crawled.archive), "--bag", str(tmp_path / "bag")])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "bag" / "keep.txt").read_text() == "mine"
