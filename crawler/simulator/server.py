"""The running simulator: configuration, start/stop, and what tests read from it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from crawler.simulator.activity import DEFAULT_FEED_LAG, ActivityLog
from crawler.simulator.app import Api, State
from crawler.simulator.auth import (
    DEFAULT_DELETE_KEY,
    DEFAULT_KEY,
    DELETE,
    DELETE_SCOPES,
    READ_SCOPES,
    USER_DATA,
)
from crawler.simulator.counters import Counters
from crawler.simulator.dataset import Dataset, DatasetSpec
from crawler.simulator.faults import FaultPlan
from crawler.simulator.mutations import ChangeSet, mutate
from crawler.simulator.ratelimit import RateLimiter
from crawler.simulator.tokens import TokenStore


def _default_keys() -> dict[str, frozenset[str]]:
    """Two keys, as the docs advise: one that reads (feed included), one that only deletes."""
    return {DEFAULT_KEY: READ_SCOPES, DEFAULT_DELETE_KEY: DELETE_SCOPES}


@dataclass
class SimulatorConfig:
    """How to run one simulator. ``rate`` None or 0 disables the rate limit.

    ``rate`` counts requests per ``window`` seconds (600 per 60 s is the live
    service); ``background_rps`` is another consumer spending the same budget.
    """

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    rate: float | None = 4.0
    window: float = 1.0
    background_rps: float = 0.0
    keys: dict[str, frozenset[str]] = field(default_factory=_default_keys)
    faults: FaultPlan = field(default_factory=FaultPlan)
    token_ttl: float = 600.0
    host: str = "127.0.0.1"
    port: int = 0
    chunk_size: int = 64 * 1024
    # Seconds: each Activity Feed event becomes visible within [0, feed_lag] after it
    # happens (seeded per event): API.md, "queryable within about a minute of
    # occurring", and "late rows happen". ``keys`` default: a read key with the feed
    # scope and a separate delete-only key (see _default_keys).
    feed_lag: float = DEFAULT_FEED_LAG


class Simulator:
    """One simulated Compliance API: its dataset, its state, and (once started) its server."""

    def __init__(
        self, config: SimulatorConfig | None = None, dataset: Dataset | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        self.dataset = dataset or Dataset.generate(self.config.dataset)
        self.dataset.activities.lag = self.config.feed_lag
        self.state = State(
            dataset=self.dataset,
            keys={k: frozenset(v) for k, v in self.config.keys.items()},
            faults=self.config.faults,
            limiter=RateLimiter(self.config.rate, self.config.window, self.config.background_rps),
            tokens=TokenStore(self.config.token_ttl),
        )
        self.app = Api(self.state, self.config.chunk_size).build()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- what tests read -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("simulator not started")
        return f"http://{self.config.host}:{self.port}"

    @property
    def key(self) -> str:
        """The read key: the first that reads user data, preferring one with every read scope."""
        keys = self.state.keys
        for k, scopes in keys.items():
            if scopes >= READ_SCOPES:
                return k
        for k, scopes in keys.items():
            if USER_DATA in scopes:
                return k
        return next(iter(keys))

    @property
    def delete_key(self) -> str | None:
        """A key holding the delete scope (the first configured one), else None."""
        return next((k for k, s in self.state.keys.items() if DELETE in s), None)

    def add_key(self, key: str, scopes: frozenset[str] | set[str]) -> None:
        """Accept another key with these scopes from now on."""
        self.state.keys[key] = frozenset(scopes)

    @property
    def feed(self) -> ActivityLog:
        """The Activity Feed's events: ground truth, ``lag`` and ``advance(seconds)``."""
        return self.dataset.activities

    @property
    def counters(self) -> Counters:
        return self.state.counters

    @property
    def faults(self) -> FaultPlan:
        return self.state.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.state.faults = plan

    @property
    def rate(self) -> float | None:
        return self.state.limiter.rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        old = self.state.limiter
        self.state.limiter = RateLimiter(value, old.window, old.background_rps)

    def mutate(
        self, seed: int = 1, fraction: float = 0.01, at: str | None = None, **options: Any
    ) -> ChangeSet:
        """Apply a seeded change set now; returns exactly what changed (and the events it made).

        ``options``: ``kinds``, ``bulk``, ``noise``, as ``mutations.mutate`` takes them.
        """
        return mutate(self.dataset, seed=seed, fraction=fraction, at=at, **options)

    def expire_tokens(self) -> int:
        """Expire every page token issued so far (the next use of one is a 400)."""
        return self.state.tokens.expire()

    def reset_faults(self) -> None:
        """Forget per-URL attempt history, so ``fail_first`` and caps start over."""
        self.state.decider.reset()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None, **overrides: Any
) -> AsyncIterator[Simulator]:
    """A started simulator on an ephemeral port; ``overrides`` replace config fields."""
    cfg = replace(config or SimulatorConfig(), **overrides)
    sim = Simulator(cfg)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
