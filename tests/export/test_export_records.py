"""``crawler export``: every record, field, collaborator, document text and file body
equals what the simulator served; each filter picks exactly the right projects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from crawler.cli import main
from crawler.read.connector import ATTACHMENT_EXTENSIONS, RECORD_EXTENSIONS
from crawler.simulator import ProjectTruth

if TYPE_CHECKING:
    from conftest import Crawled  # tests/export/conftest.py


def export(crawled: Crawled, out: Path, *flags: str) -> list[dict[str, Any]]:
    assert main(["export", "--archive", str(crawled.archive), "--out", str(out), *flags]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def check_record(rec: dict[str, Any], truth: ProjectTruth, files_base: Path | None) -> None:
    """One exported record against what the simulator serves for that project."""
    assert {k: v for k, v in rec.items() if k not in RECORD_EXTENSIONS} == truth.list_entry
    assert rec["gone"] is truth.gone
    if truth.gone:
        assert rec["details"] is None
        assert rec["attachments"] == [] and rec["collaborators"] == []
        assert rec["_archive"]["state"] == "gone"
        return
    assert rec["details"] == truth.detail
    assert rec["collaborators"] == truth.collaborators
    assert len(rec["attachments"]) == len(truth.attachments)
    docs = {d.id: d for d in truth.documents}
    files = {f.id: f for f in truth.files}
    for att, expected in zip(rec["attachments"], truth.attachments, strict=True):
        api = {k: v for k, v in att.items() if k not in ATTACHMENT_EXTENSIONS}
        for added in ("md5", "size_bytes"):
            if added not in expected:  # filled from the archived body only where absent
                assert added in api
                del api[added]
        assert api == expected
        assert att["archived"] is True
        body = att["archived_body"]
        if expected["type"] == "project_doc":
            doc = docs[expected["id"]]
            assert (body["md5"], body["size_bytes"]) == (doc.md5, doc.size)
            assert (att["md5"], att["size_bytes"]) == (doc.md5, doc.size)
            if files_base is not None:
                assert att["content"] == doc.response  # text and every field, as served
                assert att["content"]["content"] == doc.text
        else:
            f = files[expected["id"]]
            assert (body["md5"], body["size_bytes"]) == (f.md5, f.size)
            if files_base is not None:
                name = att["exported_file"]
                assert name == f"files/{body['sha256']}"  # never the API's filename
                assert (files_base / name).read_bytes() == f.read_bytes()


def test_full_export_equals_what_was_served(crawled: Crawled, tmp_path: Path) -> None:
    out = tmp_path / "all.ndjson"
    records = export(crawled, out, "--include-content", "--files-dir", str(tmp_path / "files"))
    ds = crawled.dataset
    assert ids(records) == ds.project_ids()  # every project, in list order
    for rec in records:
        check_record(rec, ds.project(rec["id"]), tmp_path)
    # The cases that break exporters are all there.
    by_id = {r["id"]: r for r in records}
    cases = ds.cases
    assert cases.gone_project and by_id[cases.gone_project]["gone"] is True
    assert all(by_id[p]["deleted_at"] for p in cases.deleted_projects)
    many = by_id[str(cases.many_attachments_project)]
    assert len(many["attachments"]) == 105
    assert len(by_id[str(cases.many_collaborators_project)]["collaborators"]) >= 105
    # A stale or null md5 the API sent is kept as sent; the archived body is beside it.
    atts = {a["id"]: a for r in records for a in r["attachments"] or []}
    stale = atts[str(cases.stale_md5_file)]
    assert stale["md5"] == ds.file(str(cases.stale_md5_file)).recorded_md5
    assert stale["archived_body"]["md5"] == ds.file(str(cases.stale_md5_file)).md5
    assert stale["md5"] != stale["archived_body"]["md5"]
    assert atts[str(cases.null_md5_file)]["md5"] is None
    assert atts[str(cases.absent_md5_file)]["md5"] == ds.file(str(cases.absent_md5_file)).md5
    # Hostile API filenames never became paths: only sha256 names in files/.
    names = {p.name for p in (tmp_path / "files").iterdir()}
    assert names and all(len(n) == 64 for n in names)


def test_without_content_and_files_the_record_is_lighter(crawled: Crawled, tmp_path: Path) -> None:
    records = export(crawled, tmp_path / "plain.ndjson")
    for rec in records:
        check_record(rec, crawled.dataset.project(rec["id"]), None)
        for att in rec["attachments"] or []:
            assert "content" not in att and "exported_file" not in att


def test_older_snapshot_by_id(crawled: Crawled, tmp_path: Path) -> None:
    records = export(crawled, tmp_path / "s1.ndjson", "--snapshot", crawled.s1)
    assert ids(records) == crawled.s1_ids
    gone = set(crawled.changes.projects_hard_deleted)
    assert gone <= set(ids(records))  # still in the snapshot taken before they went
    assert {r["_archive"]["snapshot_id"] for r in records} == {crawled.s1}


def _org(crawled: Crawled, i: int) -> Any:
    return crawled.dataset.orgs[i]


@pytest.mark.parametrize("form", ["tagged", "uuid"])
def test_filter_org(crawled: Crawled, tmp_path: Path, form: str) -> None:
    org = _org(crawled, 1)
    value = org.tagged_id if form == "tagged" else org.uuid
    records = export(crawled, tmp_path / "o.ndjson", "--org", value)
    expected = crawled.dataset.project_ids({"organization_ids": (org.tagged_id,)})
    assert expected and ids(records) == expected


def test_filter_user_by_id_and_email(crawled: Crawled, tmp_path: Path) -> None:
    ds = crawled.dataset
    creators = [p.creator for p in ds.sorted_projects() if p.creator is not None]
    a, b = creators[0], next(c for c in creators if c.id != creators[0].id)
    expected = ds.project_ids({"user_ids": (a.id, b.id)})
    by_id = export(crawled, tmp_path / "u1.ndjson", "--user", a.id, "--user", b.id)
    by_email = export(crawled, tmp_path / "u2.ndjson", "--user", a.email, "--user", b.email.upper())
    assert expected and ids(by_id) == expected and ids(by_email) == expected


def test_filter_time_window_compares_instants(crawled: Crawled, tmp_path: Path) -> None:
    ds = crawled.dataset
    tie = ds.cases.tie_group  # five projects at one instant, in different RFC 3339 forms
    assert len(tie) == 5
    at = ds.projects[tie[0]].created_at
    # The same instant written another way: +00:00 and a fraction.
    other_form = at.replace("Z", "").split(".")[0] + ".000000+00:00"
    since = export(crawled, tmp_path / "s.ndjson", "--since", other_form)
    assert ids(since) == ds.project_ids({"created_at_gte": at})
    assert set(tie) <= set(ids(since))  # since is inclusive
    until = export(crawled, tmp_path / "u.ndjson", "--until", other_form)
    assert ids(until) == ds.project_ids({"created_at_lt": at})
    assert not set(tie) & set(ids(until))  # until is exclusive
    assert len(since) + len(until) == len(ds.projects)


def test_filter_exclude_deleted_and_combined(crawled: Crawled, tmp_path: Path) -> None:
    ds = crawled.dataset
    kept = export(crawled, tmp_path / "d.ndjson", "--exclude-deleted")
    assert ids(kept) == [p for p in ds.project_ids() if ds.projects[p].deleted_at is None]
    assert len(kept) < len(ds.projects)
    org = _org(crawled, 0)
    middle = ds.sorted_projects()[len(ds.projects) // 3].created_at
    combined = export(
        crawled, tmp_path / "c.ndjson", "--org", org.uuid, "--since", middle, "--exclude-deleted"
    )
    expected = [
        p
        for p in ds.project_ids({"organization_ids": (org.uuid,), "created_at_gte": middle})
        if ds.projects[p].deleted_at is None
    ]
    assert expected and ids(combined) == expected
    manifest = orjson.loads((tmp_path / "c.ndjson.manifest.json").read_bytes())
    assert manifest["filters"] == {
        "organization_ids": [org.uuid],
        "users": [],
        "created_at_gte": middle,
        "created_at_lt": None,
        "exclude_deleted": True,
    }
    assert manifest["counts"]["projects"] == len(expected)


def test_stdout_export_has_no_manifest(
    crawled: Crawled, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    file_records = export(crawled, tmp_path / "f.ndjson")
    capsysbinary.readouterr()
    assert main(["export", "--archive", str(crawled.archive)]) == 0
    captured = capsysbinary.readouterr()
    assert [orjson.loads(x) for x in captured.out.splitlines()] == file_records
    assert b"no manifest" in captured.err
