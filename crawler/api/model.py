"""What goes into the client and what comes out: settings, responses, pages, counters.

Plain data, no I/O. ``ClientConfig``'s defaults are the ones in
:mod:`crawler.config` (every default is defined once, there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import orjson
from yarl import URL

from crawler import __version__, config

__all__ = [
    "BodySink",
    "ClientConfig",
    "Download",
    "Fetched",
    "Page",
    "Request",
    "RequestStats",
    "ResponseMeta",
]


@dataclass(frozen=True, repr=False)
class ClientConfig:
    base_url: str  # host root, e.g. "https://api.anthropic.com"; paths start with /v1/compliance
    api_key: str  # never shown: see __repr__
    rate: float | None = config.DEFAULT_RATE  # requests per second; 0 or None = unlimited
    rate_margin: float = 0.01  # stretch the spacing by this fraction (strict server window)
    rate_auto: bool = False  # the ceiling from the server's budget, less rate_reserve
    rate_reserve: float = config.DEFAULT_RATE_RESERVE
    max_attempts: int = config.DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = config.DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = config.DEFAULT_READ_TIMEOUT  # per socket read: per chunk of a body
    max_json_bytes: int = config.DEFAULT_MAX_JSON_BYTES
    backoff_base: float = config.DEFAULT_BACKOFF_BASE
    backoff_cap: float = config.DEFAULT_BACKOFF_CAP
    user_agent: str = f"crawler/{__version__}"
    # Whole-request bound for JSON requests (downloads have none: a large
    # body on a slow link is fine as long as chunks keep coming).
    total_timeout: float | None = config.DEFAULT_TOTAL_TIMEOUT
    # Honour HTTPS_PROXY / NO_PROXY and ~/.netrc like other HTTP tools.
    trust_env: bool = True

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if f.name == "api_key":
                parts.append(f"api_key={'<hidden>' if self.api_key else '<empty>'}")
            else:
                parts.append(f"{f.name}={getattr(self, f.name)!r}")
        return f"ClientConfig({', '.join(parts)})"

    __str__ = __repr__

    def __post_init__(self) -> None:
        # ValueError, not UsageError: the config layer validates user input
        # first; reaching here means a programming error.
        if self.rate is not None and self.rate < 0:
            raise ValueError("rate must be >= 0 (0 or None: unlimited)")
        if not 0 <= self.rate_margin < 1:
            raise ValueError("rate_margin must be in [0, 1)")
        if not 0 <= self.rate_reserve < 1:
            raise ValueError("rate_reserve must be in [0, 1)")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ValueError("timeouts must be > 0")
        if self.total_timeout is not None and self.total_timeout <= 0:
            raise ValueError("total_timeout must be > 0 or None")
        if self.max_json_bytes <= 0:
            raise ValueError("max_json_bytes must be > 0")
        if self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must be >= 0")


_UNPARSED: Any = object()


@dataclass(frozen=True)
class Fetched:
    """One successful response, with its chain of custody."""

    endpoint: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    status: int
    request_id: str | None
    fetched_at: str  # RFC 3339 UTC, microseconds: when the response headers arrived
    headers: Mapping[str, str]  # KEPT_HEADERS that were present, lower-case names
    body: bytes = field(repr=False)  # exactly as received; b"" for downloads
    _parsed: Any = field(default=_UNPARSED, init=False, repr=False, compare=False)

    def json(self) -> Any:
        """The body parsed (cached: every call returns the same object, do not mutate it)."""
        if self._parsed is _UNPARSED:
            object.__setattr__(self, "_parsed", orjson.loads(self.body))
        return self._parsed


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_page: str | None
    has_more: bool
    fetched: Fetched


class BodySink(Protocol):
    """Where a streamed body goes. The archive implements it; the client knows no disks."""

    async def write(self, chunk: bytes) -> None: ...

    async def abort(self) -> None:
        """Discard everything written."""
        ...


@dataclass(frozen=True)
class Download:
    fetched: Fetched  # body == b""
    md5: str  # lowercase hex over the bytes streamed
    size: int  # bytes counted while streaming
    content_md5: str | None  # the Content-MD5 header as sent (base64)


@dataclass
class RequestStats:
    """Counters for the run; read them at any time (progress display, manifests)."""

    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    total: int = 0  # attempts sent, retries and failures included
    retries: int = 0  # attempts after the first, per request
    rate_limited: int = 0  # 429 responses
    bytes_received: int = 0  # body bytes (JSON, downloads and error bodies)

    def count(self, endpoint: str, status: int | str) -> None:
        by_status = self.by_endpoint.setdefault(endpoint, {})
        key = str(status)
        by_status[key] = by_status.get(key, 0) + 1
        self.total += 1
        if status == 429:
            self.rate_limited += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "bytes_received": self.bytes_received,
            "by_endpoint": {ep: dict(st) for ep, st in sorted(self.by_endpoint.items())},
        }


@dataclass(frozen=True)
class Request:
    """One request as sent: what the errors and the chain of custody name."""

    endpoint: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    url: URL

    @property
    def where(self) -> str:
        return f"{self.endpoint} {self.method} {self.path}"


@dataclass(frozen=True)
class ResponseMeta:
    """What is known of a response once its headers arrive."""

    status: int
    request_id: str | None
    fetched_at: str
    headers: Mapping[str, str]

    def fetched(self, req: Request, body: bytes) -> Fetched:
        return Fetched(
            endpoint=req.endpoint,
            method=req.method,
            path=req.path,
            query=req.query,
            status=self.status,
            request_id=self.request_id,
            fetched_at=self.fetched_at,
            headers=self.headers,
            body=body,
        )
