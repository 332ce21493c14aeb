"""Plan, then apply, against the simulator over HTTP: exactly the eligible items go, with receipts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from crawler.archive import Archive
from crawler.read.reader import ArchiveReader
from crawler.read.verify import verify
from crawler.retention import apply as apply_module
from crawler.retention.facts import ArchiveFacts
from crawler.retention.plan import build_plan, write_plan
from crawler.retention.planner import project_entry
from crawler.simulator import Simulator
from crawler.simulator.auth import NO_FEED_SCOPES
from tests.conftest import MakeSim
from tests.retention.support import apply, hold, plan, receipts
from tests.support import crawl


def truth(sim: Simulator) -> dict[str, dict[str, Any]]:
    """Project id -> its detail, for the projects the simulator still serves."""
    out = {}
    for p in sim.dataset.projects_truth():
        if p.detail is not None:
            out[p.id] = p.detail
    return out


async def crawled(base_url: str, key: str, tmp_path: Path) -> Path:
    """A fresh archive under ``tmp_path``, crawled once."""
    archive = tmp_path / "archive"
    assert await crawl(base_url, key, archive) == 0
    return archive


def archived_rows(archive: Path) -> dict[str, Any]:
    with ArchiveReader.open(archive) as r:
        snap = r.snapshot()
        return {row.project_id: row for row in r.rows(snap.id)}


def damage_detail_blob(archive: Path, project_id: str) -> tuple[Path, bytes]:
    """Flip the bytes of one project's archived detail (same size): a full re-hash fails.

    Returns the path and the original bytes, to repair it later."""
    with ArchiveReader.open(archive) as r:
        row = r.row(r.snapshot().id, project_id)
        assert row is not None
        data = r.project(row)
        assert data.record is not None and data.record.detail is not None
        blob = data.record.detail.blob
        assert blob is not None
        path = r.blob_path(blob)
    original = path.read_bytes()
    raw = bytearray(original)
    raw[-2] = ord("x") if raw[-2] != ord("x") else ord("y")
    path.chmod(0o600)
    path.write_bytes(bytes(raw))
    return path, original


def rename(sim: Simulator, project_id: str) -> None:
    for p in sim.dataset.sorted_projects():
        if p.id == project_id:
            p.name += " (renamed after the plan)"
    sim.dataset.touch()


async def test_plan_deletes_nothing_and_apply_deletes_exactly_the_eligible(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    async with make_sim() as sim:
        archive = await crawled(sim.base_url, sim.key, tmp_path)
        rows = archived_rows(archive)
        details = truth(sim)
        candidates = [
            pid
            for pid, row in rows.items()
            if row.state == "done" and details[pid]["chats_count"] == 0
        ]
        with_user = [p for p in candidates if rows[p].user_email]
        damaged, held_project = candidates[0], candidates[1]
        held_email = next(rows[p].user_email for p in with_user if p not in (damaged, held_project))
        held = {held_project} | {p for p in candidates if rows[p].user_email == held_email}
        damaged_path, original = damage_detail_blob(archive, damaged)
        assert hold(archive, "add", "--matter", "Smith v Acme", "--project", held_project) == 0
        assert (
            hold(archive, "add", "--matter", "HR-7", "--user", held_email, "--by", "counsel") == 0
        )
        # Changes upstream after the snapshot: a rename, attachments, a document replaced
        # in place (only the feed shows it), a collaborator grant (only the feed shows it).
        before = sim.mutate(seed=5, fraction=0.1, kinds=["replace", "attach", "rename", "grant"])
        sim.feed.settle()  # a minute later: every event is visible
        changed = before.touched_projects()

        plan_file = tmp_path / "plan.json"
        made = await plan(sim.base_url, sim.key, archive, "--older-than", "1d", out=plan_file)
        assert sim.counters.deletes == {}  # a plan never deletes
        assert set(truth(sim)) == set(details)
        eligible = set(candidates) - {damaged} - held - changed
        assert {i["id"] for i in made["items"]} == eligible and len(eligible) >= 3
        reasons = {r["id"]: {x["code"] for x in r["reasons"]} for r in made["refused"]}
        assert "rehash_failed" in reasons[damaged]
        assert all("held" in reasons[p] for p in held)
        assert all(reasons[p] & {"changed", "feed_events", "held"} for p in changed - held)
        with_chats = {p for p in rows if p in details and details[p]["chats_count"] != 0}
        by_held_user = {p for p in rows if rows[p].user_email == held_email}
        assert {
            p for p in with_chats - changed - by_held_user if "has_chats" not in reasons[p]
        } == set()
        assert all("held" in reasons[p] for p in by_held_user if p in reasons)
        assert made["feed"] == "checked"

        # Between plan and apply: one eligible project changes, another goes on hold.
        late_change, late_hold = sorted(eligible)[:2]
        rename(sim, late_change)
        assert hold(archive, "add", "--matter", "late", "--project", late_hold) == 0
        assert await apply(sim.base_url, sim.key, sim.delete_key, archive, plan_file) == 1

        deleted = eligible - {late_change, late_hold}
        assert set(sim.counters.deletes) == deleted
        assert all(
            sim.counters.delete_calls(p) == 1 == sim.counters.delete_calls(p, 200) for p in deleted
        )
        assert set(truth(sim)) == set(details) - deleted
        by_item = {r.item_id: r for r in receipts(archive)}
        assert {p for p, r in by_item.items() if r.outcome == "deleted"} == deleted
        assert by_item[late_change].outcome == by_item[late_hold].outcome == "refused"

        with Archive.open_for_reading(archive) as a:
            report = verify(a, full=True)
        assert {p.kind for p in report.problems} == {"blob_corrupt"}  # the damage we made
        damaged_path.write_bytes(original)
        with Archive.open_for_reading(archive) as a:
            report = verify(a, full=True)
        assert report.ok, report.problems
        assert report.checked["receipts"] == len(deleted) + 2

        # A rerun sends nothing more: every item already has its receipt or is refused again.
        assert await apply(sim.base_url, sim.key, sim.delete_key, archive, plan_file) == 1
        assert all(sim.counters.delete_calls(p) == 1 for p in deleted)

        # The next snapshot says who took them: retention, with the receipt.
        assert await crawl(sim.base_url, sim.key, archive) == 0
        with ArchiveReader.open(archive) as r:
            manifest = r.manifest(r.snapshot().id)
        assert {d["id"] for d in manifest["deleted_by_retention"]} == deleted
        assert manifest["counts"]["deleted_by_retention"] == len(deleted)


async def test_a_document_is_deleted_alone_with_its_receipt(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    async with make_sim() as sim:
        archive = await crawled(sim.base_url, sim.key, tmp_path)
        details = truth(sim)
        # A project with chats cannot be deleted, but one of its documents can.
        project = next(
            p
            for p in sim.dataset.projects_truth()
            if p.detail and p.detail["chats_count"] > 0 and p.documents
        )
        doc = project.documents[0].id
        plan_file = tmp_path / "plan.json"
        made = await plan(sim.base_url, sim.key, archive, "--document", doc, out=plan_file)
        assert [(i["kind"], i["id"], i["project_id"]) for i in made["items"]] == [
            ("document", doc, project.id)
        ]
        assert await apply(sim.base_url, sim.key, sim.delete_key, archive, plan_file) == 0
        assert sim.counters.deletes == {doc: {200: 1}}
        assert set(truth(sim)) == set(details)  # the project stays
        [receipt] = receipts(archive)
        assert (receipt.kind, receipt.item_id, receipt.outcome) == ("document", doc, "deleted")
        with ArchiveReader.open(archive) as r:
            body = orjson.loads(r.read_blob(receipt.blob))
        assert body["response"]["json"] == {"id": doc, "type": "claude_project_document_deleted"}
        assert body["confirm"]["status"] == 404
        assert (
            body["text"]["md5"] == project.documents[0].md5
            if hasattr(project.documents[0], "md5")
            else True
        )
        with Archive.open_for_reading(archive) as a:
            assert verify(a, full=True).ok


async def test_a_409_is_recorded_and_the_run_goes_on(
    make_sim: MakeSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race the re-check cannot win (chats attached just before the DELETE): 409, recorded."""
    async with make_sim() as sim:
        archive = await crawled(sim.base_url, sim.key, tmp_path)
        details = truth(sim)
        rows = archived_rows(archive)
        busy = next(
            p for p, d in details.items() if d["chats_count"] > 0 and rows[p].state == "done"
        )
        idle = next(
            p for p, d in details.items() if d["chats_count"] == 0 and rows[p].state == "done"
        )
        with ArchiveReader.open(archive) as r:
            facts = ArchiveFacts(r)
            entries = [project_entry(p, facts.project(p)[0], "t") for p in (busy, idle)]
        made = build_plan(created_at="t", selection={}, feed="checked", items=entries, refused=[])
        plan_file = tmp_path / "plan.json"
        write_plan(plan_file, made)
        monkeypatch.setattr(apply_module, "decide", lambda f: [])  # the race: checks pass
        assert await apply(sim.base_url, sim.key, sim.delete_key, archive, plan_file) == 1
        assert sim.counters.deletes == {busy: {409: 1}, idle: {200: 1}}
        by_item = {r.item_id: r for r in receipts(archive)}
        assert (by_item[busy].outcome, by_item[idle].outcome) == ("refused", "deleted")
        with ArchiveReader.open(archive) as r:
            refused = orjson.loads(r.read_blob(by_item[busy].blob))
        assert refused["response"]["status"] == 409
        assert refused["reasons"][0]["code"] == "conflict_error"
        assert busy in truth(sim)
        with Archive.open_for_reading(archive) as a:
            assert verify(a).ok


async def test_verify_catches_a_receipt_that_says_something_else(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    async with make_sim() as sim:
        archive = await crawled(sim.base_url, sim.key, tmp_path)
        plan_file = tmp_path / "plan.json"
        await plan(sim.base_url, sim.key, archive, "--older-than", "1d", out=plan_file)
        await apply(sim.base_url, sim.key, sim.delete_key, archive, plan_file, max_deletes=1)
        [receipt] = receipts(archive)
        with ArchiveReader.open(archive) as r:
            path = r.blob_path(receipt.blob)
        data = path.read_bytes()
        path.chmod(0o600)
        path.write_bytes(
            data.replace(receipt.item_id.encode(), receipt.item_id[:-1].encode() + b"Z")
        )
        for full in (False, True):
            with Archive.open_for_reading(archive) as a:
                report = verify(a, full=full)
            assert not report.ok
            assert any(receipt.item_id in str(p) for p in report.problems), report.problems


async def test_without_the_feed_scope_the_plan_says_so_and_reads_documents_again(
    make_sim: MakeSim, tmp_path: Path
) -> None:
    key = "sim-retention-no-feed"
    async with make_sim(keys={key: NO_FEED_SCOPES}) as sim:
        archive = await crawled(sim.base_url, key, tmp_path)
        # Replaced in place: same id, new text; neither the detail nor the list shows it.
        replaced = {
            p for p, _ in sim.mutate(seed=3, fraction=0.3, kinds=["replace"]).documents_replaced
        }
        made = await plan(sim.base_url, key, archive, "--older-than", "1d")
        assert (
            made["feed"].startswith("unavailable") and "read:compliance_activities" in made["feed"]
        )
        assert made["items"] and not replaced & {i["id"] for i in made["items"]}
        details = truth(sim)
        caught = {
            r["id"]
            for r in made["refused"]
            if any("document text replaced" in x["detail"] for x in r["reasons"])
        }
        assert caught == {p for p in replaced if details[p]["chats_count"] == 0} and caught
