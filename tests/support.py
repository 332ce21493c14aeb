"""Helpers shared by the integration tests: run the real commands against a simulator."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from crawler.app import run_archive
from crawler.commands.archive import add_arguments
from crawler.config import build_settings
from crawler.simulator import DatasetSpec, EndpointFaults, Simulator, SimulatorConfig

TEST_KEY_ENV = "ANTHROPIC_COMPLIANCE_ACCESS_KEY"
T = TypeVar("T")


async def crawl(
    base_url: str, key: str, archive: Path, *flags: str, rate: float = 0, **overrides: Any
) -> int:
    """``crawler archive`` in-process, on the running loop (the simulator shares it).

    ``rate=0`` lifts the client's limit so tests run at loopback speed; tests of
    the limiter pass the simulator's rate. ``overrides`` replace settings that
    have no flag (``backoff_base=0.01`` keeps fault tests fast).
    """
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--base-url", base_url, "--archive", str(archive), "--rate", str(rate), "--quiet", *flags]
    )
    settings = build_settings(args, {TEST_KEY_ENV: key})
    settings = dataclasses.replace(settings, **overrides)
    return await run_archive(settings)


class ThreadedSimulator:
    """A ``Simulator`` serving from a daemon thread; ``call`` runs code on its loop."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim: Simulator = self.call(lambda: Simulator(config))
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(30)

    def call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    def attempts(self) -> dict[str, int]:
        """Requests received so far, per ``METHOD path?query`` (counted on arrival)."""
        return self.call(lambda: dict(self.sim.state.decider.attempts))

    def answered(self, endpoint: str) -> int:
        return self.call(lambda: self.sim.counters.count(endpoint))

    def deletes(self) -> dict[str, dict[int, int]]:
        """DELETE requests received so far, per target id, by status."""
        return self.call(lambda: {k: dict(v) for k, v in self.sim.counters.deletes.items()})

    def set_faults(self, endpoint: str | None = None, **faults: Any) -> None:
        def apply() -> None:
            if endpoint is None and not faults:
                self.sim.faults.default = EndpointFaults()
                self.sim.faults.endpoints.clear()
            else:
                self.sim.faults.set(endpoint, **faults)

        self.call(apply)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def threaded_simulator(spec: DatasetSpec, **config: Any) -> Iterator[ThreadedSimulator]:
    """A simulator for tests that run the crawler as a subprocess (its own loop)."""
    ts = ThreadedSimulator(SimulatorConfig(dataset=spec, **{"rate": None, **config}))
    try:
        yield ts
    finally:
        ts.close()
