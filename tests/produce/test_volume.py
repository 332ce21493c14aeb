"""One production of a whole snapshot, read back by the format's rules and checked against
the simulator's truth: families, numbers, natives, texts, names, the EDRM file."""

from __future__ import annotations

import hashlib
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.produce.support import (
    BOM,
    Crawled,
    attachment_ids,
    by_item,
    local,
    parse_dat,
    produce,
    volume_records,
)

ISSUE_FIELDS = [
    "BEGBATES",
    "ENDBATES",
    "BEGATTACH",
    "ENDATTACH",
    "PARENTID",
    "DOCTYPE",
    "PROJECTID",
    "ITEMID",
    "CUSTODIAN",
    "ALLCUSTODIANS",
    "FILENAME",
    "FILEEXT",
    "MIMETYPE",
    "FILESIZE",
    "DATECREATED",
    "DATEMODIFIED",
    "TIMEZONE",
    "MD5HASH",
    "SHA256HASH",
    "NATIVELINK",
    "TEXTLINK",
    "FOLDERPATH",
    "SNAPSHOT",
    "PRODVOL",
]
SAFE_PATH = re.compile(r"VOL001/(DATA|NATIVES/\d{4}|TEXT/\d{4})/[A-Za-z0-9_]+(\.[a-z0-9]{1,10})?")


@pytest.fixture(scope="module")
def out(crawled: Crawled, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One production of the whole snapshot, shared by the tests that only read it."""
    base = tmp_path_factory.mktemp("volume")
    shutil.copytree(crawled.archive, base / "archive")
    produce(base / "archive", base / "prod", "--prefix", "ACME")
    return base / "prod"


def test_the_dat_follows_the_format_rules(out: Path) -> None:
    data = (out / "VOL001" / "DATA" / "VOL001.dat").read_bytes()
    assert data.startswith(BOM) and data.endswith(b"\r\n")
    assert data.count(b"\r\n") == data.count(b"\n"), "every line ends CRLF, no bare LF"
    header, records = parse_dat(data)
    assert set(ISSUE_FIELDS) <= set(header)
    assert len(data[3:].decode().split("\r\n")) == len(records) + 2  # header, records, ""
    assert {r["TIMEZONE"] for r in records} == {"UTC"}
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", r["DATECREATED"]) for r in records)


def test_families_are_projects_in_list_order_with_contiguous_numbers(
    out: Path, crawled: Crawled
) -> None:
    records = volume_records(out)
    assert [r["BEGBATES"] for r in records] == [f"ACME{n:09d}" for n in range(1, len(records) + 1)]
    assert all(r["ENDBATES"] == r["BEGBATES"] for r in records)
    i = 0
    for truth in crawled.truths:
        parent = records[i]
        family = records[i : i + 1 + len(truth.attachments)]
        i += len(family)
        assert parent["DOCTYPE"] == "project" and parent["ITEMID"] == truth.id
        assert parent["PARENTID"] == "" and parent["FILENAME"] == truth.list_entry["name"]
        assert [r["ITEMID"] for r in family[1:]] == attachment_ids(truth)
        kinds = ["document" if a["type"] == "project_doc" else "file" for a in truth.attachments]
        assert [r["DOCTYPE"] for r in family[1:]] == kinds
        for r in family:
            assert r["BEGATTACH"] == parent["BEGBATES"] == r["FAMILYID"]
            assert r["ENDATTACH"] == family[-1]["BEGBATES"]
            assert r["PROJECTID"] == truth.id
        assert all(r["PARENTID"] == parent["BEGBATES"] for r in family[1:])
    assert i == len(records)
    many = crawled.dataset.cases.many_attachments_project
    assert len([r for r in records if r["PROJECTID"] == many]) == 158


def test_every_native_matches_the_simulators_truth(out: Path, crawled: Crawled) -> None:
    items = by_item(volume_records(out))
    checked = 0
    for truth in crawled.truths:
        for doc in truth.documents:
            for r in (r for r in items[doc.id] if r["PROJECTID"] == truth.id):
                native = local(out, r["NATIVELINK"]).read_bytes()
                assert native == doc.text.encode("utf-8")
                assert r["MD5HASH"] == doc.md5 == hashlib.md5(native).hexdigest()
                assert r["SHA256HASH"] == hashlib.sha256(native).hexdigest()
                assert local(out, r["TEXTLINK"]).read_bytes() == native
                assert r["FILEEXT"] == "txt" and int(r["FILESIZE"]) == doc.size
                checked += 1
        for f in truth.files:
            for r in (r for r in items[f.id] if r["PROJECTID"] == truth.id):
                native = local(out, r["NATIVELINK"]).read_bytes()
                assert native == f.read_bytes() and r["MD5HASH"] == f.md5
                assert int(r["FILESIZE"]) == f.size and r["FILENAME"] == f.filename
                assert r["MIMETYPE"] == f.mime_type
                checked += 1
    assert checked == sum(len(t.documents) + len(t.files) for t in crawled.truths)


def test_a_zero_byte_file_is_an_empty_native(out: Path, crawled: Crawled) -> None:
    zero = crawled.dataset.cases.zero_byte_file
    (r,) = by_item(volume_records(out))[str(zero)]
    assert r["FILESIZE"] == "0" and r["MD5HASH"] == hashlib.md5(b"").hexdigest()
    assert local(out, r["NATIVELINK"]).read_bytes() == b""
    assert r["NATIVELINK"].endswith(".bin") and r["FILEEXT"] == "bin"


def test_a_cjk_and_emoji_document_is_its_exact_utf8_text(out: Path, crawled: Crawled) -> None:
    big = crawled.dataset.document(str(crawled.dataset.cases.big_document))
    (r,) = by_item(volume_records(out))[big.id]
    text = local(out, r["TEXTLINK"]).read_bytes().decode("utf-8")
    assert text == big.text and "日本語" in text and "🙂" in text
    assert r["FILENAME"] == "big-утф8.txt" and r["MD5HASH"] == big.md5


def test_hostile_names_stay_values_and_never_reach_a_path(out: Path, crawled: Crawled) -> None:
    cases = crawled.dataset.cases
    items = by_item(volume_records(out))
    hostile = cases.hostile_name_files + cases.hostile_name_documents
    names = {items[i][0]["FILENAME"] for i in hostile}
    expected = {crawled.dataset.file(i).filename for i in cases.hostile_name_files}
    expected |= {
        crawled.dataset.document(i).response["filename"] for i in cases.hostile_name_documents
    }
    assert names == expected
    assert {"../../x", "nul\x00byte.bin", "line\nbreak.txt", "CON", "a" * 296 + ".pdf"} <= names
    for path in (out / "VOL001").rglob("*"):
        rel = path.relative_to(out).as_posix()
        if path.is_file():
            assert SAFE_PATH.fullmatch(rel), rel
        assert len(rel) < 100
    for i in hostile:
        link = items[i][0]["NATIVELINK"]
        assert re.fullmatch(r"\.\\VOL001\\NATIVES\\0001\\ACME\d{9}(\.[a-z0-9]+)?", link), link


def test_folders_hold_at_most_their_limit(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crawler.produce.bates.FOLDER_SIZE", 40)
    produce(archive, tmp_path / "p", "--prefix", "ACME")
    records = volume_records(tmp_path / "p")
    for kind in ("NATIVES", "TEXT"):
        folders = sorted((tmp_path / "p" / "VOL001" / kind).iterdir())
        assert [f.name for f in folders] == [f"{n:04d}" for n in range(1, len(folders) + 1)]
        assert all(len(list(f.iterdir())) <= 40 for f in folders)
    assert len(folders) == -(-len(records) // 40)
    assert local(tmp_path / "p", records[45]["NATIVELINK"]).parent.name == "0002"


def test_edrm_xml_lists_the_same_documents_and_their_containers(out: Path) -> None:
    records = volume_records(out)
    root = ET.parse(out / "VOL001" / "DATA" / "VOL001.xml").getroot()
    assert (root.get("MajorVersion"), root.get("MinorVersion")) == ("1", "2")
    docs = root.findall("./Batch/Documents/Document")
    assert [d.get("DocID") for d in docs] == [r["BEGBATES"] for r in records]
    rels = root.findall("./Batch/Relationships/Relationship")
    assert {r.get("Type") for r in rels} == {"Container"}
    pairs = [(r.get("ParentDocId"), r.get("ChildDocId")) for r in rels]
    assert pairs == [(r["PARENTID"], r["BEGBATES"]) for r in records if r["PARENTID"]]
    first = docs[1].find("./Files/File[@FileType='Native']/ExternalFile")
    assert first is not None and first.get("Hash") == records[1]["MD5HASH"]


def test_field_dictionary_and_an_empty_privilege_log(out: Path) -> None:
    header = parse_dat((out / "VOL001" / "DATA" / "VOL001.dat").read_bytes())[0]
    fields = (out / "VOL001" / "DATA" / "VOL001_FIELDS.csv").read_bytes()
    assert fields.startswith(BOM)
    rows = fields[3:].decode().split("\r\n")
    assert [line.split(",", 1)[0] for line in rows[1:-1]] == header
    log = (out / "VOL001" / "DATA" / "VOL001_PRIVILEGE_LOG.csv").read_bytes()
    lines = log[3:].decode().split("\r\n")
    assert lines[1:] == [""] and "PRIVILEGE TYPE" in lines[0] and "BEGBATES" in lines[0]


def test_the_project_sheet_carries_the_collaborators(out: Path, crawled: Crawled) -> None:
    many = crawled.dataset.cases.many_collaborators_project
    (parent,) = by_item(volume_records(out))[str(many)]
    truth = next(t for t in crawled.truths if t.id == many)
    text = local(out, parent["TEXTLINK"]).read_text("utf-8")
    assert f"Collaborators ({len(truth.collaborators)})" in text
    html = local(out, parent["NATIVELINK"]).read_text("utf-8")
    assert html.count("<tr><td>") == len(truth.collaborators)
    users = {c["user_id"] for c in truth.collaborators if c["type"] == "user" and c["user_id"]}
    assert users <= set(parent["ALLCUSTODIANS"].split(";")) | {truth.list_entry["user"]["id"]}


async def test_files_not_archived_are_records_without_a_native(tmp_path: Path) -> None:
    from crawler.cli import main
    from crawler.simulator import DatasetSpec, running_simulator
    from tests.support import crawl

    archive = tmp_path / "archive"
    async with running_simulator(dataset=DatasetSpec.small(projects=12), rate=None) as sim:
        assert await crawl(sim.base_url, sim.key, archive, "--no-files") == 0
        truths = list(sim.dataset.projects_truth())
    produce(archive, tmp_path / "p", "--prefix", "ACME")
    records = volume_records(tmp_path / "p")
    files = [r for r in records if r["DOCTYPE"] == "file"]
    assert len(files) == sum(len(t.files) for t in truths) > 0
    for r in files:
        assert r["NATIVELINK"] == r["TEXTLINK"] == r["MD5HASH"] == r["FILESIZE"] == ""
        assert r["NATIVESTATUS"].startswith("no native") and r["TEXTSTATUS"].startswith("no text")
    assert all(r["NATIVELINK"] for r in records if r["DOCTYPE"] != "file")
    assert main(["verify-production", str(tmp_path / "p")]) == 0


def test_a_hostile_project_name_is_a_value_and_shown_as_text(out: Path, crawled: Crawled) -> None:
    from tests.produce.conftest import HOSTILE_PROJECT_NAME

    truth = crawled.truths[3]
    assert truth.list_entry["name"] == HOSTILE_PROJECT_NAME
    (parent,) = [r for r in by_item(volume_records(out))[truth.id] if r["DOCTYPE"] == "project"]
    assert parent["FILENAME"] == HOSTILE_PROJECT_NAME
    org, name = parent["FOLDERPATH"].split("\\")  # the name's own backslash cannot split it
    assert org == truth.list_entry["organization_id"] and "\n" not in name
    html = local(out, parent["NATIVELINK"]).read_text("utf-8")
    assert "<b>" not in html and "&lt;b&gt;" in html and "\x00" not in html
    assert parent["NATIVELINK"] == f".\\VOL001\\NATIVES\\0001\\{parent['BEGBATES']}.html"
