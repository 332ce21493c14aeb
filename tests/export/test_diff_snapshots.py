"""``crawler diff`` reports exactly the simulator's change set; ``crawler snapshots`` lists."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from crawler.cli import main

if TYPE_CHECKING:
    from conftest import Crawled  # tests/export/conftest.py


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return orjson.loads(capsys.readouterr().out)


def by_project(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for pid, item in pairs:
        out[pid].append(item)
    return out


def canon(entries: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in entries)


def test_diff_reports_exactly_the_mutation(
    crawled: Crawled, capsys: pytest.CaptureFixture[str]
) -> None:
    ch = crawled.changes
    d = run_json(
        capsys, "diff", "--archive", str(crawled.archive), crawled.s1, crawled.s2, "--json"
    )
    assert d["warnings"] == []
    assert {p["id"] for p in d["added"]} == set(ch.projects_added)
    assert {p["id"] for p in d["removed"]} == set(ch.projects_hard_deleted)
    expected_changed = (
        ch.touched_projects() - set(ch.projects_added) - set(ch.projects_hard_deleted)
    )
    changed = {c["id"]: c for c in d["changed"]}
    assert set(changed) == expected_changed
    assert d["incomparable"] == []
    assert d["summary"]["unchanged"] == len(crawled.s1_ids) - len(ch.projects_hard_deleted) - len(
        expected_changed
    )

    added = by_project(ch.attachments_added)
    removed = by_project(ch.attachments_removed)
    replaced = by_project(ch.documents_replaced)
    granted = by_project(ch.collaborators_granted)
    revoked = by_project(ch.collaborators_revoked)
    for pid, c in changed.items():
        atts = c["attachments"]
        assert {a["id"] for a in atts["added"]} == set(added.get(pid, []))
        assert {a["id"] for a in atts["removed"]} == set(removed.get(pid, []))
        assert {a["id"] for a in atts["changed"]} == set(replaced.get(pid, []))
        for a in atts["changed"]:  # replaced in place: same entry, new text
            assert "fields" not in a
            assert a["body"]["before"]["md5"] == crawled.doc_md5_before[a["id"]]
            assert a["body"]["after"]["md5"] == crawled.dataset.documents[a["id"]].md5
        what = c["what"]
        docs = crawled.dataset.documents
        assert set(what.get("document_uploaded", [])) == {
            a for a in added.get(pid, []) if a in docs
        }
        assert set(what.get("file_added", [])) == {a for a in added.get(pid, []) if a not in docs}
        gone_docs = {a for a in removed.get(pid, []) if a.startswith("claude_proj_doc")}
        assert set(what.get("document_deleted", [])) == gone_docs
        assert set(what.get("file_removed", [])) == set(removed.get(pid, [])) - gone_docs
        assert set(what.get("document_replaced", [])) == set(replaced.get(pid, []))
        assert len(what.get("collaborator_granted", [])) == len(granted.get(pid, []))
        assert len(what.get("collaborator_revoked", [])) == len(revoked.get(pid, []))
        grants = [g["entry"] for g in c["collaborators"]["granted"]]
        assert canon(grants) == canon([crawled.collabs_after[pid][u] for u in granted.get(pid, [])])
        revokes = [r["entry"] for r in c["collaborators"]["revoked"]]
        assert canon(revokes) == canon(
            [crawled.collabs_before[pid][u] for u in revoked.get(pid, [])]
        )
        for g in c["collaborators"]["granted"] + c["collaborators"]["revoked"]:
            assert g["type"] in ("user", "group", "organization", "organization_role")
        fields = {(f["source"], f["field"]) for f in c["fields"]}
        if pid in ch.projects_renamed:
            assert {("list", "name"), ("details", "name"), ("list", "updated_at")} <= fields
        if pid in ch.projects_soft_deleted:
            deleted = next(f for f in c["fields"] if f["field"] == "deleted_at")
            assert deleted["before"] is None and deleted["after"] == ch.at
        if pid in ch.sharing_changed:
            assert ("list", "is_private") in fields
            assert "fields_edited" in what
        if pid in ch.projects_edited:
            assert ("list", "updated_at") in fields
        list_changes = ch.projects_renamed + ch.projects_soft_deleted + ch.projects_edited
        if pid not in set(list_changes) | set(ch.sharing_changed):
            # Attachment and grant changes do not touch the list entry.
            assert not {f for f in fields if f[0] == "list"}


def test_diff_of_carried_snapshot_is_empty(
    crawled: Crawled, capsys: pytest.CaptureFixture[str]
) -> None:
    d = run_json(
        capsys, "diff", "--archive", str(crawled.archive), crawled.s2, crawled.s3, "--json"
    )
    assert d["summary"] == {
        "added": 0,
        "removed": 0,
        "changed": 0,
        "unchanged": len(crawled.dataset.projects),
        "incomparable": 0,
    }


def test_diff_text(crawled: Crawled, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["diff", "--archive", str(crawled.archive), crawled.s1, crawled.s2]) == 0
    out = capsys.readouterr().out
    ch = crawled.changes
    for pid in ch.projects_added:
        assert f"+ project {pid}" in out
    for pid in ch.projects_hard_deleted:
        assert f"- project {pid}" in out
    for pid, doc in ch.documents_replaced:
        assert f"~ project {pid}" in out
        assert f"~ document replaced {doc}: body md5" in out
    for pid, _ in ch.collaborators_granted:
        assert f"~ project {pid}" in out
    assert "+ collaborator granted: " in out and "- collaborator revoked: " in out
    assert "    what: " in out and "document replaced 1" in out
    assert out.rstrip().splitlines()[-1].startswith(f"{len(ch.projects_added)} added")


def test_snapshots_lists_every_snapshot(
    crawled: Crawled, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["snapshots", "--archive", str(crawled.archive), "--json"]) == 0
    rows = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [crawled.s1, crawled.s2, crawled.s3]
    assert [r["incremental"] for r in rows] == [False, False, True]
    assert rows[2]["parent_id"] == crawled.s2
    for r in rows:
        assert r["status"] == "complete"
        assert r["started_at"] and r["finished_at"]
        assert r["filters"]["organization_ids"] == []
        assert r["manifest"]["counts"]["projects"] == r["projects"]
    assert rows[0]["projects"] == len(crawled.s1_ids)
    assert rows[2]["by_state"]["carried"] > 0
    assert main(["snapshots", "--archive", str(crawled.archive)]) == 0
    text = capsys.readouterr().out
    for sid in (crawled.s1, crawled.s2, crawled.s3):
        assert sid in text
    assert f"incremental from {crawled.s2}" in text
