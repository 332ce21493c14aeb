"""Shared fixtures: a running simulator with a small dataset.

``sim``: started, rate limit off, no faults, ``SMALL_SPEC`` data.
``make_sim``: ``async with make_sim(rate=4.0, faults=...) as sim:``; takes a
``SimulatorConfig`` and/or its fields as keyword arguments (defaults: the small
dataset, rate limit off).

Parallel-safe: ``make test`` runs the suite on a worker process per core
(pytest-xdist, ``-n auto --dist loadgroup``), in no fixed order, so every test and
fixture must pass whichever worker runs it, next to whatever else runs at the same
time. Here that means:

* Ports: servers bind 127.0.0.1 port 0 and tell the test their port (the
  simulator, ``crawler serve``'s app, an S3 server); never a fixed port.
* Files: only under ``tmp_path`` / ``tmp_path_factory`` (each worker has its own
  base directory, on tmpfs under ``make test``); never a fixed path, the
  repository, ``~`` or the current directory (no ``chdir``; subprocesses get
  absolute paths).
* Global state: environment variables and module attributes only through
  ``monkeypatch``; a subprocess gets its own ``env={**os.environ, ...}``.
* Session and module fixtures are built once per worker, not once per run. A
  costly server (an S3 server, a browser) is started once per worker with
  ``scope="session"``; tests that must share one instance carry
  ``@pytest.mark.xdist_group("name")`` and so run on one worker.
* Time: no sleeping where the loop clock can be patched; a test that must wait
  for a real process polls with a deadline, and asserts nothing about how long
  the machine took unless that is the point (two cores are shared).
* Slow integration tests (more than a few seconds) are marked
  ``@pytest.mark.slow``: they are started first, so the workers end together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import pytest

from crawler.simulator import DatasetSpec, Simulator, SimulatorConfig, running_simulator

SMALL_SPEC = DatasetSpec.small()

MakeSim = Callable[..., AbstractAsyncContextManager[Simulator]]


@pytest.fixture
def make_sim() -> MakeSim:
    def factory(config: SimulatorConfig | None = None, **kwargs: Any) -> Any:
        if config is None:
            kwargs.setdefault("dataset", SMALL_SPEC)
            kwargs.setdefault("rate", None)
            config = SimulatorConfig(**kwargs)
        elif kwargs:
            config = replace(config, **kwargs)
        return running_simulator(config)

    return factory


@pytest.fixture
async def sim(make_sim: MakeSim) -> AsyncIterator[Simulator]:
    async with make_sim() as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (a stable sort): a worker that draws one late cannot make the
    others wait for it at the end. The order is the same on every worker, as xdist needs."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
