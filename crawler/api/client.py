"""The Compliance API client: one aiohttp session, one limiter, one retry loop.

Every request goes the same way (:meth:`ComplianceClient._send`):

    limiter.acquire()  ->  one HTTP attempt  ->  status / body checks
          ^                                          |  RetryableError
          +------ retry policy's backoff <-----------+  (429 also pauses the limiter)

This module is the one place where aiohttp, asyncio and HTTP failures become
the typed errors of :mod:`crawler.errors` (see :meth:`_attempt` and
:func:`_status_error`). Nothing here knows about disks: a downloaded body goes
into a :class:`BodySink` the caller provides.

The access key is sent only as ``x-api-key``, is hidden from
:class:`ClientConfig`'s repr, and is scrubbed from every error message we
build (a server could echo it back; aiohttp's own exception text could too).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from crawler import __version__
from crawler.api.limiter import RateLimiter
from crawler.api.retry import RetryPolicy, parse_retry_after
from crawler.errors import (
    AuthError,
    BadResponseError,
    CrawlerError,
    GoneError,
    RateLimitedError,
    RejectedError,
    RetriesExhaustedError,
    RetryableError,
    ScopeError,
    ServerError,
    TransportError,
)

log = logging.getLogger("crawler.api")

API_PREFIX = "/v1/compliance"
ANTHROPIC_VERSION = "2023-06-01"
# Response headers kept with every Fetched, for the chain of custody.
KEPT_HEADERS = ("content-type", "content-disposition", "content-md5", "request-id")
# Error bodies are small JSON; read no more than this of one.
ERROR_BODY_LIMIT = 64 * 1024
CHUNK_SIZE = 64 * 1024
# The scope a key needs for each endpoint, for the 403 message.
ORG_SCOPE = "read:compliance_org_data"
USER_SCOPE = "read:compliance_user_data"
FEED_SCOPE = "read:compliance_activities"
_SCOPE_OF = {"organizations": ORG_SCOPE, "activities": FEED_SCOPE}

T = TypeVar("T")


# -- configuration and results -----------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ClientConfig:
    base_url: str  # host root, e.g. "https://api.anthropic.com"; paths start with /v1/compliance
    api_key: str  # never shown: see __repr__
    rate: float | None = 4.0  # requests per second; 0 or None = unlimited
    rate_margin: float = 0.01  # stretch the spacing by this fraction (strict server window)
    max_attempts: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 60.0  # per socket read, so per chunk for streamed bodies
    max_json_bytes: int = 64 * 1024 * 1024
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    user_agent: str = f"crawler/{__version__}"
    # Whole-request bound for JSON requests (downloads have none: a large
    # body on a slow link is fine as long as chunks keep coming).
    total_timeout: float | None = 300.0
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


# -- helpers ------------------------------------------------------------------------------

_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")
# Characters left as they are in a path segment (RFC 3986 pchar minus '%').
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


def _rfc3339_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_query(query: Sequence[tuple[str, str]]) -> str:
    """The raw query string: values fully percent-encoded, `[]` kept literal in names.

    Page tokens hold ``+``, ``/`` and ``=``: a bare ``+`` would reach the server
    as a space, so every reserved character in a value is escaped. Array
    filters are sent as the live API documents them, ``organization_ids[]=a``.
    """
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in query)


def _decode_content_md5(value: str) -> bytes | None:
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == 16 else None


def _parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    """(error.type, error.message) from ``{"error": {...}}``, with or without top-level type."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    err = doc.get("error")
    if not isinstance(err, dict):
        return None, None
    etype, message = err.get("type"), err.get("message")
    return (
        etype if isinstance(etype, str) else None,
        message if isinstance(message, str) else None,
    )


@dataclass(frozen=True)
class _Request:
    endpoint: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    url: URL

    @property
    def where(self) -> str:
        return f"{self.endpoint} {self.method} {self.path}"


@dataclass(frozen=True)
class _Meta:
    """What is known of a response once its headers arrive."""

    status: int
    request_id: str | None
    fetched_at: str
    headers: Mapping[str, str]

    def fetched(self, req: _Request, body: bytes) -> Fetched:
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


# -- the client ---------------------------------------------------------------------------


class ComplianceClient:
    """Async client for the Compliance API. Use as ``async with ComplianceClient(cfg) as c:``.

    ``limiter``: pass another client's limiter to share one request budget
    between two keys of the same organisation (e.g. a read and a delete key).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        base = URL(config.base_url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {config.base_url!r}")
        self.config = config
        self.policy = policy or RetryPolicy(
            max_attempts=config.max_attempts, base=config.backoff_base, cap=config.backoff_cap
        )
        self.stats = RequestStats()
        self._base = base
        self._limiter = limiter
        self._session: aiohttp.ClientSession | None = None
        self._json_timeout = aiohttp.ClientTimeout(
            total=config.total_timeout,
            sock_connect=config.connect_timeout,
            sock_read=config.read_timeout,
        )
        # Streams: no total, a per-read bound instead, so a big body may take its time.
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
        )

    @property
    def limiter(self) -> RateLimiter:
        if self._limiter is None:
            raise RuntimeError("ComplianceClient is used outside 'async with'")
        return self._limiter

    async def __aenter__(self) -> ComplianceClient:
        # Both are bound to the running loop, so they are made here, not in __init__.
        if self._limiter is None:
            self._limiter = RateLimiter(self.config.rate, self.config.rate_margin)
        self._session = aiohttp.ClientSession(
            headers={
                "x-api-key": self.config.api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "User-Agent": self.config.user_agent,
            },
            timeout=self._json_timeout,
            trust_env=self.config.trust_env,
            raise_for_status=False,
        )
        # aiohttp silently resends an idempotent request once when the server
        # drops the connection; that resend would bypass the limiter and the
        # stats, so turn it off and let our own retry (which paces) handle it.
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"<ComplianceClient {self._base} stats.total={self.stats.total}>"

    # -- public calls ---------------------------------------------------------------------

    async def get_json(
        self,
        endpoint: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        validate: Callable[[Fetched], None] | None = None,
    ) -> Fetched:
        """GET a JSON document; retried per the policy, malformed JSON (or ``validate``'s
        BadResponseError) included."""
        return await self._get_json(self._request(endpoint, "GET", path, query), validate)

    async def get_page(
        self,
        endpoint: str,
        path: str,
        query: Sequence[tuple[str, str]],
        page: str | None,
        limit: int,
    ) -> Page:
        """GET one page of a list. The caller advances the cursor after storing the page."""
        full = [*query, ("limit", str(limit))]
        if page is not None:
            full.append(("page", page))  # unchanged; encode_query escapes it
        fetched = await self._get_json(self._request(endpoint, "GET", path, full), _check_page)
        doc = fetched.json()
        next_page = doc.get("next_page")
        return Page(
            items=doc["data"],
            next_page=next_page,
            has_more=bool(doc.get("has_more", next_page is not None)),
            fetched=fetched,
        )

    async def download(
        self, endpoint: str, path: str, open_sink: Callable[[], Awaitable[BodySink]]
    ) -> Download:
        """Stream a body into a fresh sink per attempt, hashing and counting it.

        A truncated stream or a Content-MD5 mismatch aborts that sink and retries.
        On success the sink holds exactly the bytes whose md5 is returned; the
        caller commits it. On any failure every sink opened has been aborted.
        """
        req = self._request(endpoint, "GET", path, ())

        async def consume(resp: aiohttp.ClientResponse, meta: _Meta) -> Download:
            sink = await open_sink()
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            try:
                async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
                    self.stats.bytes_received += len(chunk)
                    await sink.write(chunk)
                content_md5 = resp.headers.get("content-md5")
                if content_md5 is not None:
                    expected = _decode_content_md5(content_md5)
                    if expected != digest.digest():
                        raise BadResponseError(
                            f"{req.where}: body md5 {digest.hexdigest()} ({size} bytes)"
                            f" disagrees with Content-MD5 {content_md5!r}",
                            request_id=meta.request_id,
                            status=meta.status,
                        )
            except BaseException:
                # Whatever went wrong (network, hash, cancellation), nothing
                # partial may survive in the sink.
                await _abort_quietly(sink)
                raise
            fetched = meta.fetched(req, b"")
            return Download(fetched, digest.hexdigest(), size, content_md5)

        return await self._send(req, consume, stream=True)

    # -- the request engine ---------------------------------------------------------------

    def _request(
        self, endpoint: str, method: str, path: str, query: Sequence[tuple[str, str]]
    ) -> _Request:
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            raise ValueError(f"API paths start with {API_PREFIX}, got {path!r}")
        segments = path.split("/")[1:]
        if any(s in ("", ".", "..") for s in segments):
            # An id like ".." would be normalised away and address another resource.
            raise RejectedError(f"{endpoint}: refusing to request unaddressable path {path!r}")
        query_t = tuple((str(k), str(v)) for k, v in query)
        raw_path = self._base.raw_path.rstrip("/") + "".join(
            "/" + quote(s, safe=_SEGMENT_SAFE) for s in segments
        )
        url = URL.build(
            scheme=self._base.scheme,
            authority=self._base.raw_authority,
            path=raw_path,
            query_string=encode_query(query_t),
            encoded=True,
        )
        return _Request(endpoint, method, path, query_t, url)

    async def _get_json(self, req: _Request, validate: Callable[[Fetched], None] | None) -> Fetched:
        async def consume(resp: aiohttp.ClientResponse, meta: _Meta) -> Fetched:
            limit = self.config.max_json_bytes
            if resp.content_length is not None and resp.content_length > limit:
                raise RejectedError(
                    f"{req.where}: response of {resp.content_length} bytes exceeds"
                    f" max_json_bytes={limit}",
                    request_id=meta.request_id,
                    status=meta.status,
                )
            buf = bytearray()
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                self.stats.bytes_received += len(chunk)
                buf += chunk
                if len(buf) > limit:
                    # Refuse rather than buffer: leaving the block drops the connection.
                    raise RejectedError(
                        f"{req.where}: response exceeds max_json_bytes={limit}",
                        request_id=meta.request_id,
                        status=meta.status,
                    )
            body = bytes(buf)
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise BadResponseError(
                    f"{req.where}: malformed JSON body ({len(body)} bytes): {exc}",
                    request_id=meta.request_id,
                    status=meta.status,
                ) from None
            fetched = meta.fetched(req, body)
            object.__setattr__(fetched, "_parsed", parsed)
            if validate is not None:
                validate(fetched)
            return fetched

        return await self._send(req, consume, stream=False)

    async def _send(
        self,
        req: _Request,
        consume: Callable[[aiohttp.ClientResponse, _Meta], Awaitable[T]],
        *,
        stream: bool,
    ) -> T:
        """Attempts until success, a final error, or the retry budget is spent."""
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                self.stats.retries += 1
            try:
                return await self._attempt(req, consume, stream=stream)
            except RetryableError as err:
                if not self.policy.should_retry(err, attempt):
                    log.warning("%s: giving up after %d attempts: %s", req.where, attempt, err)
                    raise RetriesExhaustedError(err, attempt) from err
                delay = self.policy.delay(err, attempt)
                if isinstance(err, RateLimitedError):
                    # Over budget is everyone's problem: stop every caller, not just this one.
                    self.limiter.pause_for(delay)
                log.info(
                    "%s: attempt %d/%d failed (%s); retrying in %.2fs",
                    req.where,
                    attempt,
                    self.policy.max_attempts,
                    err,
                    delay,
                )
                # The only sleep outside the limiter; the retry acquires it again.
                await asyncio.sleep(delay)

    async def _attempt(
        self,
        req: _Request,
        consume: Callable[[aiohttp.ClientResponse, _Meta], Awaitable[T]],
        *,
        stream: bool,
    ) -> T:
        """One HTTP attempt. The one place aiohttp/asyncio failures are translated."""
        if self._session is None:
            raise RuntimeError("ComplianceClient is used outside 'async with'")
        await self.limiter.acquire()
        counted = False
        request_id: str | None = None
        status: int | None = None
        headers = {"Accept-Encoding": "identity"} if stream else {"Accept": "application/json"}
        try:
            async with self._session.request(
                req.method,
                req.url,
                headers=headers,
                timeout=self._stream_timeout if stream else self._json_timeout,
                # A redirect could carry x-api-key to another host: never follow one.
                allow_redirects=False,
            ) as resp:
                meta = _Meta(
                    status=resp.status,
                    request_id=resp.headers.get("request-id"),
                    fetched_at=_rfc3339_now(),
                    headers={h: resp.headers[h] for h in KEPT_HEADERS if h in resp.headers},
                )
                self.stats.count(req.endpoint, resp.status)
                counted = True
                status, request_id = meta.status, meta.request_id
                self.limiter.observe_headers(resp.headers)
                if not 200 <= resp.status < 300:
                    body = await self._read_error_body(resp)
                    raise _status_error(req, resp.status, resp.headers, body, meta.request_id)
                return await consume(resp, meta)
        except CrawlerError as exc:
            _scrub(exc, self.config.api_key)
            raise
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            if not counted:
                self.stats.count(req.endpoint, "error")
            raise TransportError(
                _redact(f"{req.where}: {_describe_transport(exc, status)}", self.config.api_key),
                request_id=request_id,
                status=status,
            ) from None  # aiohttp exceptions can carry request headers: do not chain

    async def _read_error_body(self, resp: aiohttp.ClientResponse) -> bytes:
        """Up to ERROR_BODY_LIMIT bytes of an error body; the status decides, not the body."""
        buf = bytearray()
        try:
            async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
                self.stats.bytes_received += len(chunk)
                buf += chunk
                if len(buf) >= ERROR_BODY_LIMIT:
                    break
        except (aiohttp.ClientError, TimeoutError, ConnectionError):
            pass
        return bytes(buf[:ERROR_BODY_LIMIT])


def _check_page(fetched: Fetched) -> None:
    """A page is {data: [objects], next_page: str|null, has_more?: bool}; else retry it."""
    doc = fetched.json()
    problem: str | None = None
    if not isinstance(doc, dict):
        problem = "not a JSON object"
    elif not isinstance(doc.get("data"), list):
        problem = "'data' is not a list"
    elif not all(isinstance(item, dict) for item in doc["data"]):
        problem = "'data' holds a non-object"
    elif (nxt := doc.get("next_page")) is not None and (not isinstance(nxt, str) or not nxt):
        problem = "'next_page' is neither a token nor null"
    elif "has_more" in doc and not isinstance(doc["has_more"], bool):
        problem = "'has_more' is not a boolean"
    elif doc.get("has_more") is True and nxt is None:
        # Stopping here would silently lose the rest of the list.
        problem = "'has_more' is true but 'next_page' is null"
    if problem is not None:
        raise BadResponseError(
            f"{fetched.endpoint} {fetched.method} {fetched.path}: malformed page: {problem}",
            request_id=fetched.request_id,
            status=fetched.status,
        )


def _status_error(
    req: _Request,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str | None,
) -> CrawlerError:
    """Map a non-2xx response to its error, by status and error.type (never the message)."""
    etype, server_message = _parse_error_body(body)
    said = f": {server_message[:500]}" if server_message else ""
    head = f"{req.where}: HTTP {status}{' ' + etype if etype else ''}"
    common: dict[str, Any] = {"request_id": request_id, "status": status, "error_type": etype}

    if status == 429:
        retry_after = parse_retry_after(
            headers.get("retry-after"), ms=headers.get("retry-after-ms")
        )
        return RateLimitedError(f"{head}: rate limited{said}", retry_after=retry_after, **common)
    if status == 401:
        return AuthError(
            f"{head}: the access key was refused (missing, wrong or revoked){said}."
            " Check ANTHROPIC_COMPLIANCE_ACCESS_KEY.",
            **common,
        )
    if status == 403:
        scope = _SCOPE_OF.get(req.endpoint, USER_SCOPE)
        return ScopeError(
            f"{head}: the access key lacks a scope this request needs{said}."
            f" Use a key with {scope}.",
            **common,
        )
    if status == 404:
        return GoneError(f"{head}: not found (deleted upstream or by retention){said}", **common)
    if status >= 500:
        if headers.get("x-should-retry", "").strip().lower() == "false":
            return RejectedError(
                f"{head}: server error marked x-should-retry: false{said}", **common
            )
        retry_after = parse_retry_after(headers.get("retry-after"))
        return ServerError(f"{head}{said}", retry_after=retry_after, **common)
    if status == 408:
        return ServerError(f"{head}: request timeout{said}", **common)
    if 300 <= status < 400:
        return RejectedError(f"{head}: unexpected redirect (not followed){said}", **common)
    # 400 (bad parameters or page token), 409 (conflict) and anything else.
    return RejectedError(f"{head}{said}", **common)


def _describe_transport(exc: BaseException, status: int | None) -> str:
    if isinstance(exc, TimeoutError):
        what = "timed out"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        what = "body cut short"
    elif isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionError):
        what = "connection lost"
    else:
        what = "connection failed"
    after = f" after HTTP {status} headers" if status is not None else ""
    detail = str(exc) or type(exc).__name__
    return f"{what}{after} ({type(exc).__name__}: {detail})"


def _redact(text: str, api_key: str) -> str:
    if api_key:
        text = text.replace(api_key, "<api-key>")
    return _KEY_PATTERN.sub("<api-key>", text)


def _scrub(exc: CrawlerError, api_key: str) -> None:
    """Remove the key from an error's message (a server might echo it back)."""
    clean = _redact(exc.message, api_key)
    if clean != exc.message:
        exc.message = clean
        exc.args = (clean,)


async def _abort_quietly(sink: BodySink) -> None:
    try:
        await sink.abort()
    except Exception:  # the original failure matters more than the cleanup's
        log.exception("aborting a download sink failed")


# -- small walks for the CLI --------------------------------------------------------------


async def _walk(client: ComplianceClient, endpoint: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    while True:
        page = await client.get_page(endpoint, path, (), token, 1000)
        items.extend(page.items)
        if page.next_page is None:
            return items
        if page.next_page in seen:
            raise RejectedError(
                f"{endpoint}: the server sent page token {page.next_page!r} twice",
                request_id=page.fetched.request_id,
            )
        seen.add(page.next_page)
        token = page.next_page


async def list_organizations(client: ComplianceClient) -> list[dict[str, Any]]:
    """Every organisation the key can see (needs read:compliance_org_data)."""
    return await _walk(client, "organizations", f"{API_PREFIX}/organizations")


async def list_users(client: ComplianceClient, org_uuid: str) -> list[dict[str, Any]]:
    """Every user of one organisation."""
    return await _walk(client, "users", f"{API_PREFIX}/organizations/{org_uuid}/users")
