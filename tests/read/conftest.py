"""One simulated organisation with hostile names, crawled into two snapshots per session.

``s1`` a full snapshot; then ``sim.mutate(...)``; ``s2`` a full snapshot. Before the
first crawl the test plants what the desk must keep inert (a project named with
``</script>`` and a right-to-left override, a 300-character name, a NUL, a document
named like an HTML tag) and turns every fourth document into multi-script text
(CJK, Cyrillic, Greek, Hebrew, emoji), so search is tested on more than one such text.
The simulator code is untouched: these are changes to its in-memory dataset.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.archive import Archive
from crawler.simulator import Dataset, DatasetSpec, running_simulator
from tests.support import crawl

SPEC = DatasetSpec.small(seed=5, projects=40, document_bytes=600)
HOSTILE_NAME = '</script><script>document.title="pwned"</script> \u202eexe.txt \x00end'
LONG_NAME = "Long " + "n" * 295
HOSTILE_DOC_NAME = "<img src=x onerror=alert(1)>.md"


@dataclass
class Desk:
    archive: Path
    dataset: Dataset  # the final state: what s2 holds
    s1: str
    s2: str
    hostile_project: str
    long_project: str
    hostile_document: str


def _latest(archive: Path) -> str:
    with Archive.open_for_reading(archive) as a:
        snap = a.index.latest_finished()
        assert snap is not None
        return snap.id


def _plant(ds: Dataset) -> tuple[str, str, str]:
    with_docs = [
        p
        for p in ds.sorted_projects()
        if not p.gone_on_detail and any(kind == "doc" for kind, _ in p.attachments)
    ]
    hostile, long = with_docs[0], with_docs[1]
    hostile.name = HOSTILE_NAME
    long.name = LONG_NAME
    doc_id = next(i for kind, i in hostile.attachments if kind == "doc")
    ds.documents[doc_id].filename = HOSTILE_DOC_NAME
    for n, doc in enumerate(sorted(ds.documents.values(), key=lambda d: d.id)):
        if n % 4 == 0 and doc.text_bytes > 0:
            doc.multibyte = True
    ds.touch()
    return hostile.id, long.id, doc_id


async def _build(archive: Path) -> Desk:
    async with running_simulator(dataset=SPEC, rate=None) as sim:
        hostile, long, doc = _plant(sim.dataset)
        assert await crawl(sim.base_url, sim.key, archive) == 0
        s1 = _latest(archive)
        sim.mutate(seed=3, fraction=0.1)
        assert await crawl(sim.base_url, sim.key, archive) == 0
        s2 = _latest(archive)
        return Desk(archive, sim.dataset, s1, s2, hostile, long, doc)


@pytest.fixture(scope="session")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    archive = tmp_path_factory.mktemp("desk") / "archive"
    return asyncio.run(_build(archive))
