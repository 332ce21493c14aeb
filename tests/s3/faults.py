"""A small fault-injecting S3 proxy on loopback, in front of the real server.

It forwards every request as it came (the Host header kept, so the client's
signature still holds) and, on a schedule, answers instead: ``503 SlowDown``
before forwarding (nothing landed), ``500`` after forwarding (it landed, the
client cannot know), or drops the connection after forwarding (a reset). The
crawler must retry the first, and settle the other two by reading, never by
writing blindly again. Runs on its own loop thread, as the crawler's S3 client
blocks the test's loop while it waits.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP = {"transfer-encoding", "connection", "keep-alive", "content-length", "content-encoding"}


@dataclass
class FaultPlan:
    """Every ``every``-th request of a method gets the next fault of ``cycle``."""

    every: int = 3
    cycle: tuple[str, ...] = ("slowdown", "error_after", "reset_after")
    methods: tuple[str, ...] = ("PUT", "POST", "GET", "HEAD")
    seen: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    # Each request (method and path) is faulted once at most: with 32 uploads side by
    # side, a schedule by count alone could fail one request on every retry, by chance.
    faulted: set[str] = field(default_factory=set)

    def fault_for(self, method: str, path: str = "") -> str | None:
        if method not in self.methods:
            return None
        self.seen[method] += 1
        n = self.seen[method]
        if n % self.every or f"{method} {path}" in self.faulted:
            return None
        self.faulted.add(f"{method} {path}")
        fault = self.cycle[(n // self.every) % len(self.cycle)]
        if method in ("GET", "HEAD") and fault != "slowdown":
            fault = "slowdown"  # reads: a refusal is enough, they are simply asked again
        self.injected[fault] += 1
        return fault


class FaultProxy:
    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> str:
        self.session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self.plan.fault_for(request.method, request.rel_url.raw_path_qs)
        if fault == "slowdown":
            return web.Response(status=503, body=SLOWDOWN, content_type="application/xml")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        url = self.upstream + request.rel_url.raw_path_qs
        async with self.session.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        ) as up:
            data = await up.read()
            if fault == "error_after":
                return web.Response(status=500, body=b"<Error><Code>InternalError</Code></Error>")
            if fault == "reset_after" and request.transport is not None:
                request.transport.abort()  # landed upstream, the client sees a reset
                raise asyncio.CancelledError
            out = {k: v for k, v in up.headers.items() if k.lower() not in _HOP}
            if request.method == "HEAD":  # no body, so the size must be passed on as sent
                stream = web.StreamResponse(status=up.status, headers=out)
                stream.content_length = int(up.headers.get("Content-Length", 0))
                await stream.prepare(request)
                await stream.write_eof()
                return stream
            return web.Response(status=up.status, body=data, headers=out)

    def close(self) -> None:
        async def stop() -> None:
            await self.runner.cleanup()
            await self.session.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
