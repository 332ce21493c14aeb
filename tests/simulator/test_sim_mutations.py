"""Mutations change the data exactly as reported, and the server serves the change."""

from __future__ import annotations

from sim_helpers import MakeSim, call, walk

from crawler.simulator import DatasetSpec
from crawler.simulator.mutations import DEFAULT_KINDS, KINDS


async def test_mutation_reports_exactly_what_changed(make_sim: MakeSim) -> None:
    async with make_sim(dataset=DatasetSpec.small(projects=60)) as sim:
        ds = sim.dataset
        before = {t.id: t for t in ds.projects_truth()}
        texts = {d: ds.document(d).text for d in ds.documents}
        changes = sim.mutate(seed=2, fraction=0.05, at="2030-01-01T00:00:00Z", kinds="all")
        assert changes.at == "2030-01-01T00:00:00.000000Z"
        after = {t.id: t for t in ds.projects_truth()}
        kinds = changes.as_dict()
        for name in kinds:
            if name not in ("at", "activity_ids", "bulk_truncated"):
                assert len(kinds[name]) == 3, name  # 5% of 60
        assert changes.bulk_truncated == []  # opt-in only

        assert set(after) == set(before) - set(changes.projects_hard_deleted) | set(
            changes.projects_added
        )
        for pid in changes.projects_renamed:
            assert after[pid].list_entry["name"] != before[pid].list_entry["name"]
            assert after[pid].list_entry["updated_at"] == changes.at
        for pid in changes.projects_soft_deleted:
            assert after[pid].list_entry["deleted_at"] == changes.at
        for pid, item in changes.attachments_added:
            assert item in {a["id"] for a in after[pid].attachments}
            assert after[pid].list_entry["updated_at"] == before[pid].list_entry["updated_at"] or (
                pid in changes.projects_renamed + changes.projects_soft_deleted
            )
        for pid, item in changes.attachments_removed:
            assert item not in {a["id"] for a in after[pid].attachments}
        for pid, doc_id in changes.documents_replaced:
            assert ds.document(doc_id).text != texts[doc_id]
            entry = next(a for a in after[pid].attachments if a["id"] == doc_id)
            assert entry["updated_at"] is None  # the listing cannot show it
        for pid, assignment in changes.collaborators_granted:
            assert len(after[pid].collaborators) >= 1
            assert any(c.assignment_uuid == assignment for c in ds.projects[pid].collaborators)
        for pid, assignment in changes.collaborators_revoked:
            assert all(c.assignment_uuid != assignment for c in ds.projects[pid].collaborators)
        for pid in changes.projects_edited:
            b, a = before[pid].detail, after[pid].detail
            assert b is not None and a is not None
            assert (a["description"], a["instructions"]) != (b["description"], b["instructions"])
            assert a["name"] == b["name"] and a["updated_at"] == changes.at
        for pid in changes.sharing_changed:
            b_entry, a_entry = before[pid].list_entry, after[pid].list_entry
            assert a_entry["is_private"] != b_entry["is_private"]
            assert a_entry["updated_at"] == b_entry["updated_at"]

        # Unchanged projects serve identical records.
        touched = changes.touched_projects()
        for pid, truth in after.items():
            if pid not in touched:
                assert truth == before[pid]

        # The server serves the new state.
        items, _ = await walk(sim, "/apps/projects", {"limit": "100"})
        assert [i["id"] for i in items] == ds.project_ids()
        gone = changes.projects_hard_deleted[0]
        assert (await call(sim, f"/apps/projects/{gone}")).status == 404
        new = changes.projects_added[0]
        assert (await call(sim, f"/apps/projects/{new}")).json()["created_at"] > "2030"


async def test_mutation_is_deterministic_and_updated_at_filter_sees_it(make_sim: MakeSim) -> None:
    async with make_sim() as a, make_sim() as b:
        ca = a.mutate(seed=3, fraction=0.1, at="2031-05-05T00:00:00Z", kinds=KINDS)
        cb = b.mutate(seed=3, fraction=0.1, at="2031-05-05T00:00:00Z", kinds=KINDS)
        # Same changes; the feed events' ids carry wall-clock time, so only their count agrees.
        da, db = ca.as_dict(), cb.as_dict()
        assert len(da.pop("activity_ids")) == len(db.pop("activity_ids")) > 0
        assert da == db
        since = {"updated_at.gte": "2031-05-05T00:00:00Z", "limit": "100"}
        items, _ = await walk(a, "/apps/projects", since)
        expected = set(ca.projects_added + ca.projects_renamed + ca.projects_soft_deleted)
        expected |= set(ca.projects_edited)
        assert {i["id"] for i in items} == expected


async def test_default_is_every_kind_and_kinds_restrict(make_sim: MakeSim) -> None:
    async with make_sim() as a, make_sim() as b:
        every = a.mutate(seed=4, fraction=0.1)
        assert every.projects_edited and every.sharing_changed and every.projects_renamed
        assert DEFAULT_KINDS == KINDS
        some = b.mutate(seed=4, fraction=0.1, kinds=["rename", "grant"])
        assert some.projects_renamed
        assert some.collaborators_granted and not some.projects_edited
        assert not some.projects_added and not some.attachments_added
