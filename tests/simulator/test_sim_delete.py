"""Both DELETE endpoints: the delete-only key, 403/409/404, what goes with a project, counters."""

from __future__ import annotations

from sim_helpers import MakeSim, call

from crawler.simulator import Simulator
from crawler.simulator.auth import DEFAULT_DELETE_KEY, DEFAULT_KEY, DELETE_SCOPES, READ_SCOPES


def error_type(reply: object) -> str:
    return str(reply.json()["error"]["type"])  # type: ignore[attr-defined]


async def test_default_keys_read_and_delete_apart(sim: Simulator) -> None:
    assert sim.key == DEFAULT_KEY and sim.state.keys[DEFAULT_KEY] == READ_SCOPES
    assert sim.delete_key == DEFAULT_DELETE_KEY
    assert sim.state.keys[DEFAULT_DELETE_KEY] == DELETE_SCOPES
    idle = next(p for p in sim.dataset.sorted_projects() if p.chats_count == 0)
    reply = await call(sim, f"/apps/projects/{idle.id}", method="DELETE")  # the read key
    assert reply.status == 403 and error_type(reply) == "permission_error"
    assert reply.json()["error"]["message"].endswith("Needed: ['delete:compliance_user_data']")
    assert idle.id in sim.dataset.projects
    # The delete key reads nothing.
    reply = await call(sim, f"/apps/projects/{idle.id}", key=sim.delete_key)
    assert reply.status == 403
    assert sim.counters.delete_calls(idle.id) == 1
    assert sim.counters.delete_calls(idle.id, 403) == 1


async def test_project_delete_409_200_404_and_counters(sim: Simulator) -> None:
    ds = sim.dataset
    dk = sim.delete_key
    busy = next(p for p in ds.sorted_projects() if p.chats_count > 0 and not p.gone_on_detail)
    for _ in range(2):
        reply = await call(sim, f"/apps/projects/{busy.id}", method="DELETE", key=dk)
        assert reply.status == 409 and error_type(reply) == "conflict_error"
    assert busy.id in ds.projects
    assert sim.counters.delete_calls(busy.id) == 2
    assert sim.counters.delete_calls(busy.id, 409) == 2

    idle = next(
        p
        for p in ds.sorted_projects()
        if p.chats_count == 0
        and not p.gone_on_detail
        and any(k == "doc" for k, _ in p.attachments)
        and p.collaborators
    )
    docs = [i for k, i in idle.attachments if k == "doc"]
    own_files = [
        i
        for k, i in idle.attachments
        if k == "file"
        and not any(("file", i) in q.attachments for q in ds.projects.values() if q is not idle)
    ]
    reply = await call(sim, f"/apps/projects/{idle.id}", method="DELETE", key=dk)
    assert reply.status == 200
    assert reply.json() == {"id": idle.id, "type": "claude_project_deleted"}
    assert "request-id" in reply.headers
    for path in ("", "/attachments", "/collaborators"):
        assert (await call(sim, f"/apps/projects/{idle.id}{path}")).status == 404
    for d in docs:
        assert (await call(sim, f"/apps/projects/documents/{d}")).status == 404
    for f in own_files:
        assert (await call(sim, f"/apps/chats/files/{f}")).status == 404
    listed = (await call(sim, "/apps/projects", {"limit": "100"})).json()["data"]
    assert idle.id not in {p["id"] for p in listed}
    again = await call(sim, f"/apps/projects/{idle.id}", method="DELETE", key=dk)
    assert again.status == 404 and error_type(again) == "not_found_error"
    assert sim.counters.delete_calls(idle.id) == 2
    assert sim.counters.deletes[idle.id] == {200: 1, 404: 1}
    assert sim.counters.count("projects.delete") == 4
    sim.counters.reset()
    assert sim.counters.deletes == {}


async def test_document_delete(sim: Simulator) -> None:
    ds = sim.dataset
    dk = sim.delete_key
    doc = next(iter(ds.documents.values()))
    reply = await call(sim, f"/apps/projects/documents/{doc.id}", method="DELETE", key=dk)
    assert reply.status == 200
    assert reply.json() == {"id": doc.id, "type": "claude_project_document_deleted"}
    assert (await call(sim, f"/apps/projects/documents/{doc.id}")).status == 404
    attachments = (await call(sim, f"/apps/projects/{doc.project_id}/attachments")).json()
    assert doc.id not in {a["id"] for a in attachments["data"]}
    reply = await call(sim, f"/apps/projects/documents/{doc.id}", method="DELETE", key=dk)
    assert reply.status == 404
    assert sim.counters.deletes[doc.id] == {200: 1, 404: 1}
    assert sim.counters.count("documents.delete") == 2


async def test_keys_configurable(make_sim: MakeSim) -> None:
    keys = {"sk-ant-api01-r": READ_SCOPES}
    async with make_sim(keys=keys) as sim:
        assert sim.delete_key is None
        pid = sim.dataset.cases.empty_project
        assert (await call(sim, f"/apps/projects/{pid}", method="DELETE")).status == 403
        sim.add_key("sk-ant-api01-d", DELETE_SCOPES)
        assert sim.delete_key == "sk-ant-api01-d"
        reply = await call(sim, f"/apps/projects/{pid}", method="DELETE", key=sim.delete_key)
        assert reply.status in (200, 409)


async def test_document_delete_with_the_read_key_is_403_and_deletes_nothing(
    sim: Simulator,
) -> None:
    doc = next(iter(sim.dataset.documents.values()))
    reply = await call(sim, f"/apps/projects/documents/{doc.id}", method="DELETE")
    assert reply.status == 403 and error_type(reply) == "permission_error"
    assert reply.json()["error"]["message"].endswith("Needed: ['delete:compliance_user_data']")
    assert doc.id in sim.dataset.documents
    assert (await call(sim, f"/apps/projects/documents/{doc.id}")).status == 200
