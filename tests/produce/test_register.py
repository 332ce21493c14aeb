"""The production register: numbers never reused, a selection produced once, ``--reproduce``
byte for byte; ``crawler productions``; ``verify-production`` catching a change."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from crawler.archive.productions import FILENAME, ProductionRegister
from crawler.cli import main
from tests.produce.support import Crawled, local, produce, tree, volume_records


def _org_of(crawled: Crawled, index: int) -> str:
    return str(crawled.truths[index].list_entry["organization_id"])


def test_a_second_production_continues_the_numbers(
    archive: Path, crawled: Crawled, tmp_path: Path
) -> None:
    org = _org_of(crawled, 0)
    produce(archive, tmp_path / "a", "--prefix", "ACME", "--org", org)
    first = volume_records(tmp_path / "a")
    assert {r["PROJECTID"] for r in first} == {
        t.id for t in crawled.truths if t.list_entry["organization_id"] == org
    }
    produce(archive, tmp_path / "b", "--prefix", "ACME")  # every project: another selection
    second = volume_records(tmp_path / "b", "VOL002")
    assert second[0]["BEGBATES"] == f"ACME{len(first) + 1:09d}"
    assert second[-1]["BEGBATES"] == f"ACME{len(first) + len(second):09d}"
    # Another prefix has numbers of its own; --start may leave a gap, never go back.
    produce(archive, tmp_path / "c", "--prefix", "XY_", "--org", org, "--start", "500",
            "--volume", "SMITH01", "--digits", "6", "--exclude-deleted")  # fmt: skip
    assert volume_records(tmp_path / "c", "SMITH01")[0]["BEGBATES"] == "XY_000500"
    produce(archive, tmp_path / "d", "--prefix", "ACME", "--project", crawled.truths[3].id,
            "--start", "2", code=2)  # fmt: skip
    assert not (tmp_path / "d").exists()


def test_the_same_selection_is_refused_unless_reproduced(
    archive: Path, crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    produce(archive, tmp_path / "a", "--prefix", "ACME")
    capsys.readouterr()
    produce(archive, tmp_path / "b", "--prefix", "OTHER", code=2)
    assert "--reproduce 1" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    produce(archive, tmp_path / "c", "--reproduce", "1", "--prefix", "ACME", code=2)
    # The order of repeated flags does not make another selection.
    first, second = crawled.truths[1].id, crawled.truths[2].id
    produce(archive, tmp_path / "d", "--prefix", "ACME", "--project", first, "--project", second)
    produce(archive, tmp_path / "e", "--prefix", "ACME", "--project", second, "--project", first,
            code=2)  # fmt: skip
    produce(archive, tmp_path / "c", "--reproduce", "7", code=2)


def test_reproduce_writes_identical_bytes(archive: Path, tmp_path: Path) -> None:
    produce(archive, tmp_path / "a", "--prefix", "ACME", "--by", "paralegal@firm")
    produce(archive, tmp_path / "again", "--reproduce", "1", "--by", "someone-else")
    original, again = tree(tmp_path / "a"), tree(tmp_path / "again")
    assert original.keys() == again.keys() and original == again
    produce(archive, tmp_path / "bag", "--reproduce", "1", "--bag")
    bagged = tree(tmp_path / "bag")
    assert {k.removeprefix("data/"): v for k, v in bagged.items() if k.startswith("data/")} == (
        original
    )
    desc = orjson.loads(original["production.json"])
    assert desc["by"] == "paralegal@firm" and desc["id"] == 1
    with ProductionRegister.open_reader(archive) as reg:
        (row,) = reg.productions()
        assert [b for b, _ in reg.reproductions(1)] == ["someone-else", main_user()]
    assert row.load_file_sha256 == desc["load_file"]["sha256"]
    assert (row.first_number, row.last_number) == (1, desc["last_number"])


def main_user() -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()}"


def test_productions_lists_the_register(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["productions", "--archive", str(archive)]) == 0
    assert "no productions" in capsys.readouterr().out
    produce(archive, tmp_path / "a", "--prefix", "ACME")
    capsys.readouterr()
    assert main(["productions", "--archive", str(archive), "--json"]) == 0
    (row,) = orjson.loads(capsys.readouterr().out)
    assert row["id"] == 1 and row["prefix"] == "ACME" and row["reproductions"] == []
    assert orjson.loads(row["selection"])["snapshot_id"] == row["snapshot_id"]
    assert main(["productions", "--archive", str(archive)]) == 0
    assert "ACME000000001-ACME" in capsys.readouterr().out


def test_the_register_is_append_only(archive: Path, tmp_path: Path) -> None:
    produce(archive, tmp_path / "a", "--prefix", "ACME")
    conn = sqlite3.connect(archive / FILENAME)
    for sql in ("UPDATE productions SET last_number = 1", "DELETE FROM productions"):
        with pytest.raises(sqlite3.IntegrityError, match="never"):
            conn.execute(sql)
    conn.close()
    assert (archive / FILENAME).stat().st_mode & 0o077 == 0


def test_verify_production_passes_then_names_a_changed_native(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a"
    produce(archive, out, "--prefix", "ACME", "--bag")
    assert main(["verify-production", str(out)]) == 0
    assert main(["verify-export", str(out)]) == 0  # the bag is plain BagIt
    capsys.readouterr()
    record = next(r for r in volume_records(out / "data") if r["DOCTYPE"] == "document")
    native = local(out / "data", record["NATIVELINK"])
    data = bytearray(native.read_bytes())
    data[0] ^= 0x01
    native.write_bytes(bytes(data))
    assert main(["verify-production", str(out)]) == 1
    report = capsys.readouterr().out
    assert f"{record['BEGBATES']}: native" in report and native.name in report


def test_verify_production_reads_the_load_file_itself(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a"
    produce(archive, out, "--prefix", "ACME")
    dat = out / "VOL001" / "DATA" / "VOL001.dat"
    dat.write_bytes(dat.read_bytes()[:-2])  # the last record loses its CRLF
    assert main(["verify-production", str(out)]) == 1
    assert "load file" in capsys.readouterr().out
    assert main(["verify-production", str(tmp_path)]) == 2


@pytest.mark.parametrize(
    "flags", [["--prefix", "AC1"], ["--prefix", "A C"], ["--prefix", "[A]"], ["--volume", "CON"]]
)
def test_bad_prefixes_and_volumes_are_refused(
    archive: Path, tmp_path: Path, flags: list[str]
) -> None:
    produce(archive, tmp_path / "a", *(["--prefix", "ACME"] if flags[0] != "--prefix" else []),
            *flags, code=2)  # fmt: skip
    assert not (archive / FILENAME).exists()


def test_an_output_that_is_not_empty_is_refused(archive: Path, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("keep")
    produce(archive, tmp_path / "a", "--prefix", "ACME", code=2)
    assert (tmp_path / "a" / "x").read_text() == "keep"


def test_a_damaged_blob_is_refused_and_leaves_nothing(
    archive: Path, crawled: Crawled, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = crawled.dataset.file(str(crawled.dataset.cases.big_file))
    blob = archive / "blobs" / big.md5[:2] / big.md5
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01
    blob.chmod(0o600)
    blob.write_bytes(bytes(data))
    produce(archive, tmp_path / "out", "--prefix", "ACME", code=1)
    assert big.md5 in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive"]  # no volume, no build dir
    with ProductionRegister.open_reader(archive) as reg:
        assert reg.productions() == []


def test_numbers_registered_before_a_crash_stay_used(
    archive: Path, crawled: Crawled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crawler.errors import DiskFullError
    from crawler.produce.place import Build

    def crash(self: Build) -> None:
        raise DiskFullError("disk full while putting the production in place")

    with monkeypatch.context() as m:
        m.setattr(Build, "place", crash)
        produce(archive, tmp_path / "a", "--prefix", "ACME", code=1)
    assert not (tmp_path / "a").exists()
    with ProductionRegister.open_reader(archive) as reg:
        (row,) = reg.productions()
    produce(archive, tmp_path / "b", "--prefix", "ACME", "--org", _org_of(crawled, 0))
    assert volume_records(tmp_path / "b", "VOL002")[0]["BEGBATES"] == (
        f"ACME{row.last_number + 1:09d}"
    )
    produce(archive, tmp_path / "a", "--reproduce", "1")
    assert volume_records(tmp_path / "a")[-1]["BEGBATES"] == f"ACME{row.last_number:09d}"
    assert main(["verify-production", str(tmp_path / "a")]) == 0


def test_verify_production_names_a_file_no_list_holds(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a"
    produce(archive, out, "--prefix", "ACME")
    (out / "VOL001" / "NATIVES" / "0001" / "planted.exe").write_bytes(b"MZ")
    assert main(["verify-production", str(out)]) == 1
    assert "VOL001/NATIVES/0001/planted.exe: in the volume but in no checksum list" in (
        capsys.readouterr().out
    )
