"""One simulated organisation crawled once per session (per xdist worker); each test gets a copy.

A production writes its register into the archive, so every test produces
from its own copy (``archive``) of the session's pristine one: tests stay
independent and parallel-safe.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from crawler.simulator import DatasetSpec, running_simulator
from tests.produce.support import Crawled, truth_of
from tests.support import crawl

SPEC = DatasetSpec.small(seed=21, many_attachments=157, many_collaborators=12)
# A project name the API may well send: a path, a reserved name, a backslash (the
# load file's folder separator), a newline, a thorn (its quote), a NUL, 300+ characters.
HOSTILE_PROJECT_NAME = "../../etc/passwd\\CON\nþ quoted þþ\x00 <b>" + "x" * 300


async def _build(archive: Path) -> Crawled:
    async with running_simulator(dataset=SPEC, rate=None) as sim:
        sim.dataset.sorted_projects()[3].name = HOSTILE_PROJECT_NAME
        assert await crawl(sim.base_url, sim.key, archive) == 0
        return truth_of(archive, sim.dataset)


@pytest.fixture(scope="session")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    return asyncio.run(_build(tmp_path_factory.mktemp("produce") / "archive"))


@pytest.fixture
def archive(crawled: Crawled, tmp_path: Path) -> Path:
    copy = tmp_path / "archive"
    shutil.copytree(crawled.archive, copy)
    return copy
