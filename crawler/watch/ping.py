"""``--ping-url``: healthchecks.io's convention, for runs and for cycles.

``URL/start?rid=R`` when a cycle starts, ``URL?rid=R`` when it finishes a snapshot,
``URL/fail?rid=R`` when it fails, with the cycle's one-line summary as the body; the
run id ``R`` (a UUID per cycle) pairs a start with its end, so overlapping runs (a
timer's archive beside a watch) are told apart. A ping that fails is logged, never
fails the cycle, and waits at most a few seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import aiohttp

__all__ = ["PING_TIMEOUT", "Pinger"]

PING_TIMEOUT = 5.0


class Pinger:
    def __init__(self, url: str | None, warn: Callable[[str], None] = lambda _m: None) -> None:
        self.url = url.rstrip("/") if url else None
        self.warn = warn

    def run_id(self) -> str:
        return str(uuid.uuid4())

    async def start(self, rid: str) -> None:
        await self._send("/start", rid, "")

    async def success(self, rid: str, summary: str) -> None:
        await self._send("", rid, summary)

    async def fail(self, rid: str, summary: str) -> None:
        await self._send("/fail", rid, summary)

    async def _send(self, suffix: str, rid: str, body: str) -> None:
        if self.url is None:
            return
        timeout = aiohttp.ClientTimeout(total=PING_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    self.url + suffix, params={"rid": rid}, data=body.encode()
                ) as response,
            ):
                await response.read()
                if response.status >= 400:
                    self.warn(f"ping {suffix or '/'} answered {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # The check's URL path may carry its secret uuid: name only the step.
            self.warn(f"ping {suffix or '/'} failed: {type(exc).__name__}")
