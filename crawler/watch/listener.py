"""``/metrics``, ``/healthz`` and ``/readyz`` on watch's own listener (default loopback).

Not the desk's port: the desk is for reviewers, this is for Prometheus and a
probe. Every answer is read from what the last cycle left (:class:`Health` and the
registry); nothing is computed at scrape time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from crawler.watch.metrics import WatchMetrics

__all__ = ["Health", "MetricsListener"]


@dataclass
class Health:
    """Readiness: the last cycle finished a snapshot, not longer ago than 3 × every."""

    every: float
    clock: Callable[[], float] = field(default=time.time)
    last_end: float | None = None
    last_ok: bool = False
    summary: str = "no cycle yet"

    def record(self, ok: bool, ended: float, summary: str) -> None:
        self.last_ok, self.last_end, self.summary = ok, ended, summary

    def ready(self) -> tuple[bool, str]:
        if self.last_end is None:
            return False, "no cycle has finished yet"
        age = self.clock() - self.last_end
        if not self.last_ok:
            return False, f"the last cycle failed: {self.summary}"
        if age > 3 * self.every:
            return (
                False,
                f"the last cycle ended {age:.0f}s ago, more than 3 x every ({self.every:g}s)",
            )
        return True, f"ok: {self.summary}"


class MetricsListener:
    def __init__(self, metrics: WatchMetrics, health: Health, host: str, port: int) -> None:
        self.metrics, self.health = metrics, health
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # port 0: the one picked

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, _request: web.Request) -> web.Response:
        ok, why = self.health.ready()
        return web.Response(text=why + "\n", status=200 if ok else 503)
