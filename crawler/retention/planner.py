"""``retention plan``: select candidates, check each, write down the decision. Never deletes.

Candidates come from the ids named (``--project``, ``--document``,
``--from-file``) or, when none is named, from a walk of the live project list
with the narrowing flags as its filters (so a project the archive lacks shows
up, refused, instead of being missed). Each is then checked
(:class:`~crawler.retention.check.Checker`), at most ``concurrency`` at a
time through the one limiter, and the plan is built (:mod:`.plan`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from crawler.api.endpoints import ComplianceApi
from crawler.canonical import rfc3339
from crawler.read.reader import ArchiveReader
from crawler.retention.check import Checker
from crawler.retention.facts import Archived, ArchivedDocument, ArchiveFacts, oldest_fetch
from crawler.retention.feed import FeedWatch
from crawler.retention.plan import build_plan
from crawler.retention.rules import Facts, Reason, decide
from crawler.retention.select import Selection
from crawler.retention.store import RetentionStore


async def make_plan(
    selection: Selection,
    *,
    reader: ArchiveReader,
    store: RetentionStore,
    api: ComplianceApi,
    now: datetime,
    concurrency: int = 8,
) -> dict[str, Any]:
    facts = ArchiveFacts(reader)
    project_ids = list(selection.projects)
    if not selection.names_items:
        query = selection.list_query()
        listed = [e async for page in api.projects_list(query) for e in page.items]
        project_ids = [
            str(e["id"]) for e in listed if selection.excludes(e) is None and e.get("id")
        ]
    projects = {pid: facts.project(pid) for pid in dict.fromkeys(project_ids)}
    documents = {did: facts.document(did) for did in selection.documents}
    found = [a for a, _ in projects.values()] + [d for d, _ in documents.values()]
    feed = FeedWatch(api, oldest_fetch(found))
    await feed.load()
    checker = Checker(facts, store, api, feed)
    gate = asyncio.Semaphore(max(1, concurrency))
    checked_at = rfc3339(now)

    async def one_project(pid: str) -> tuple[dict[str, Any], list[Reason]]:
        archived, problem = projects[pid]
        outside = _outside(selection, archived)
        async with gate:
            if outside is not None:
                f = Facts("project", pid, in_selection=False, selection_note=outside)
                f.archive_problem = problem
            else:
                f = await checker.project(pid, archived, problem)
        return project_entry(pid, archived, checked_at), decide(f)

    async def one_document(did: str) -> tuple[dict[str, Any], list[Reason]]:
        found, problem = documents[did]
        async with gate:
            f = await checker.document(did, found, problem)
        return document_entry(did, found, checked_at), decide(f)

    results = await asyncio.gather(
        *(one_project(p) for p in projects), *(one_document(d) for d in documents)
    )
    items = [entry for entry, reasons in results if not reasons]
    refused = [
        {**entry, "reasons": [r.to_json() for r in reasons]}
        for entry, reasons in results
        if reasons
    ]
    return build_plan(
        created_at=checked_at,
        selection=selection.to_json(),
        feed=feed.status,
        items=items,
        refused=refused,
    )


def _outside(selection: Selection, archived: Archived | None) -> str | None:
    """Named ids are held to the narrowing flags too (on the archived list entry)."""
    if not (selection.names_items and selection.narrows):
        return None
    if archived is None:
        return None  # refused anyway: not archived
    return selection.excludes(archived.row.list_entry)


def project_entry(pid: str, archived: Archived | None, checked_at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "project", "id": pid, "project_id": pid}
    if archived is not None:
        le = archived.row.list_entry
        entry |= {
            "snapshot_id": archived.snapshot_id,
            "record": archived.record_ref.to_json(),
            "name": le.get("name"),
            "created_at": le.get("created_at"),
            "updated_at": le.get("updated_at"),
            "deleted_at": le.get("deleted_at"),
        }
    entry["checked_at"] = checked_at
    return entry


def document_entry(did: str, found: ArchivedDocument | None, checked_at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "document", "id": did}
    if found is not None:
        entry |= {
            "project_id": found.project.row.project_id,
            "snapshot_id": found.project.snapshot_id,
            "record": found.project.record_ref.to_json(),
            "text": found.text.to_json(),
        }
    entry["checked_at"] = checked_at
    return entry
