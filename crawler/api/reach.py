"""Before a run's first request: can the API host be reached at all?

A connection refused, a name that does not resolve or a connect that times
out on the very first contact is almost always a wrong ``--base-url`` or a
missing proxy, not a passing fault, so it gets a few quick tries (seconds)
and then a message naming the URL and the cause, instead of the patient
retries that suit a run already under way (those stay as they are).

It opens a TCP connection and closes it: no HTTP request, so no request of
the budget is spent. Where the client would go through a proxy (the same
``HTTPS_PROXY``/``NO_PROXY`` rules it honours), the proxy is what is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request
from urllib.parse import urlsplit

from crawler.errors import UnreachableError

ATTEMPTS = 3
PAUSE_SECONDS = 1.0  # between attempts; doubles once
TIMEOUT_SECONDS = 3.0  # per attempt, at most (a slow network still connects within it)


def _target(base_url: str) -> tuple[str, int, str]:
    """(host, port, what) to connect to: the API host, or the proxy that would carry it."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname or "", p.port or (443 if p.scheme == "https" else 80), f"proxy {proxy}"
    return host, parts.port or (443 if parts.scheme == "https" else 80), base_url


def _cause(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing is listening on that port)"
    if isinstance(exc, TimeoutError):
        return f"no answer to a connect within {timeout:g} s"
    return f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"


async def check_reachable(
    base_url: str,
    *,
    connect_timeout: float = TIMEOUT_SECONDS,
    attempts: int = ATTEMPTS,
    pause: float = PAUSE_SECONDS,
) -> None:
    """Return once a TCP connection to the API (or its proxy) opens; else raise UnreachableError."""
    host, port, what = _target(base_url)
    timeout = min(connect_timeout, TIMEOUT_SECONDS)
    cause = ""
    for attempt in range(1, attempts + 1):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            cause = _cause(exc, timeout)
            if attempt < attempts:
                await asyncio.sleep(pause * 2 ** (attempt - 1))
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise UnreachableError(
        f"cannot reach {what}: {cause}, {attempts} tries; "
        "check --base-url (or [api] base_url), the network and any proxy settings"
    )
