"""An export carries its snapshot's inclusion proof and checkpoint; a recipient checks it offline."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import Archive
from crawler.archive.note import parse_vkey, public_bytes, vkey_of
from crawler.commands import export as export_cmd
from crawler.commands import verify_export as verify_export_cmd
from crawler.seal.proof import check_export_seal
from crawler.simulator import Simulator
from tests.seal.support import run_command, sealed_archive
from tests.support import crawl


def _export(archive: Path, out: Path, *flags: str) -> Path:
    rc, _ = run_command(export_cmd, ["--archive", str(archive), "--out", str(out), *flags])
    assert rc == 0
    return out.with_name(out.name + ".manifest.json")


def _verify_export(manifest: Path, *flags: str) -> tuple[int, str]:
    return run_command(verify_export_cmd, [str(manifest), *flags])


async def test_an_export_proves_its_snapshot_is_in_the_signed_log(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, _, vkey = await sealed_archive(sim, tmp_path)
    (tmp_path / "out").mkdir()
    manifest = _export(archive, tmp_path / "out" / "x.ndjson")
    doc = orjson.loads(manifest.read_bytes())
    assert doc["seal"] == "x.ndjson.seal.json"
    assert "x.ndjson.seal.json" in {f["path"] for f in doc["files"]}
    # The recipient has only the export and the key: the archive is gone.
    shutil.rmtree(archive)
    rc, out = _verify_export(manifest, "--public-key", vkey)
    assert rc == 0 and "leaf 1 of a log of 2 leaves, signed by the trusted key" in out
    rc, out = _verify_export(manifest)
    assert rc == 0 and "embedded" in out and "--public-key" in out
    key_file = tmp_path / "vkey.txt"
    key_file.write_text(vkey + "\n")
    assert _verify_export(manifest, "--public-key", str(key_file))[0] == 0
    other = Ed25519PrivateKey.generate()
    name = parse_vkey(vkey).name
    rc, out = _verify_export(
        manifest, "--public-key", vkey_of(name, public_bytes(other.public_key()))
    )
    assert rc == 1 and "seal:" in out and "no signature by key" in out


async def test_each_part_of_an_export_seal_is_checked(sim: Simulator, tmp_path: Path) -> None:
    archive, _, vkey = await sealed_archive(sim, tmp_path)
    (tmp_path / "out").mkdir()
    manifest = orjson.loads(_export(archive, tmp_path / "out" / "x.ndjson").read_bytes())
    seal = orjson.loads((tmp_path / "out" / "x.ndjson.seal.json").read_bytes())
    snap = manifest["snapshot"]
    key = parse_vkey(vkey)
    assert check_export_seal(seal, snap["id"], snap["manifest_sha256"], key) == []
    assert check_export_seal(seal, snap["id"], "0" * 64, key)  # another manifest
    assert len(seal["inclusion_proof"]) == 1
    bad_proof = {**seal, "inclusion_proof": [base64.b64encode(bytes(32)).decode()]}
    wrong_leaf = {**seal, "leaf_index": 0}
    other_leaf = {**seal, "leaf": seal["leaf"].replace('"index":1', '"index":1,"x":1')}
    for doc, why in (
        (bad_proof, "does not lead"),
        (wrong_leaf, "moved"),
        (other_leaf, "does not lead"),
        ({**seal, "tree_size": 1}, "the checkpoint signs 2"),
    ):
        problems = check_export_seal(doc, snap["id"], snap["manifest_sha256"], key)
        assert any(why in p for p in problems), (why, problems)


async def test_an_older_snapshot_is_proved_in_the_latest_checkpoint(
    sim: Simulator, tmp_path: Path
) -> None:
    archive, key_file, vkey = await sealed_archive(sim, tmp_path)
    with Archive.open_for_reading(archive) as arc:  # ids of one second sort at random
        first = min(arc.index.list_snapshots(), key=lambda s: s.started_at).id
    assert await crawl(sim.base_url, sim.key, archive, signing_key_file=key_file) == 0
    (tmp_path / "out").mkdir()
    manifest = _export(archive, tmp_path / "out" / "old.ndjson", "--snapshot", first)
    rc, out = _verify_export(manifest, "--public-key", vkey)
    assert rc == 0 and "leaf 0 of a log of 3 leaves" in out


async def test_an_unsealed_archive_exports_as_before(sim: Simulator, tmp_path: Path) -> None:
    archive = tmp_path / "a"
    assert await crawl(sim.base_url, sim.key, archive) == 0
    manifest = _export(archive, tmp_path / "x.ndjson")
    assert orjson.loads(manifest.read_bytes())["seal"] is None
    assert not (tmp_path / "x.ndjson.seal.json").exists()
    assert _verify_export(manifest)[0] == 0


async def test_a_bag_carries_the_seal_as_a_tag_file(sim: Simulator, tmp_path: Path) -> None:
    import bagit

    archive, _, vkey = await sealed_archive(sim, tmp_path)
    bag_dir = tmp_path / "bag"
    rc, _ = run_command(export_cmd, ["--archive", str(archive), "--bag", str(bag_dir)])
    assert rc == 0 and (bag_dir / "seal.json").is_file()
    bagit.Bag(str(bag_dir)).validate()  # still a valid bag for the Library of Congress tool
    rc, out = _verify_export(bag_dir, "--public-key", vkey)
    assert rc == 0 and "signed by the trusted key" in out
    seal = orjson.loads((bag_dir / "seal.json").read_bytes())
    seal["leaf_index"] = 0
    (bag_dir / "seal.json").write_bytes(orjson.dumps(seal))
    rc, out = _verify_export(bag_dir, "--public-key", vkey)
    assert rc == 1 and "seal: seal.json" in out
