"""One simulated organisation, crawled once per session into three snapshots.

``s1`` a full snapshot; then ``sim.mutate(...)``; ``s2`` a full snapshot (every
document refetched, so a document replaced in place shows); ``s3`` an incremental
snapshot with no change in between (so unchanged projects are carried). The
dataset is kept in its final state, which is what ``s2`` and ``s3`` hold; what
``s1`` saw is captured before the mutation.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.archive import Archive
from crawler.simulator import ChangeSet, Dataset, DatasetSpec, running_simulator
from tests.support import crawl

SPEC = DatasetSpec(
    seed=11,
    projects=40,
    document_bytes=600,
    big_document_bytes=20_000,
    file_size_max=4096,
    big_file_bytes=200_000,
    many_attachments=105,
    many_collaborators=105,
)


@dataclass
class Crawled:
    archive: Path
    dataset: Dataset  # the final state: what s2 and s3 hold
    s1: str
    s2: str
    s3: str
    changes: ChangeSet
    s1_ids: list[str]
    # project id -> assignment uuid -> collaborator entry, before and after the mutation
    collabs_before: dict[str, dict[str, dict[str, Any]]]
    collabs_after: dict[str, dict[str, dict[str, Any]]]
    # document id -> text md5, before the mutation
    doc_md5_before: dict[str, str]


def _collabs(ds: Dataset) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        pid: {c.assignment_uuid: c.entry() for c in p.collaborators}
        for pid, p in ds.projects.items()
    }


def _latest(archive: Path) -> str:
    with Archive.open_for_reading(archive) as a:
        snap = a.index.latest_finished()
        assert snap is not None
        return snap.id


async def _build(archive: Path) -> Crawled:
    async with running_simulator(dataset=SPEC, rate=None) as sim:
        assert await crawl(sim.base_url, sim.key, archive) == 0
        s1 = _latest(archive)
        s1_ids = sim.dataset.project_ids()
        before = _collabs(sim.dataset)
        doc_md5 = {d: doc.md5 for d, doc in sim.dataset.documents.items()}
        changes = sim.mutate(seed=3, fraction=0.05)
        assert await crawl(sim.base_url, sim.key, archive) == 0
        s2 = _latest(archive)
        assert await crawl(sim.base_url, sim.key, archive, "--incremental") == 0
        s3 = _latest(archive)
        return Crawled(
            archive,
            sim.dataset,
            s1,
            s2,
            s3,
            changes,
            s1_ids,
            before,
            _collabs(sim.dataset),
            doc_md5,
        )


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    archive = tmp_path_factory.mktemp("export") / "archive"
    return asyncio.run(_build(archive))
