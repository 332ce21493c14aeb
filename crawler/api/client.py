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
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TypeVar

import aiohttp
import orjson
from yarl import URL

from crawler.api.failures import (
    check_page,
    decode_content_md5,
    describe_transport,
    read_error_body,
    redact,
    scrub,
    status_error,
)
from crawler.api.limiter import RateLimiter
from crawler.api.model import (
    BodySink,
    ClientConfig,
    Download,
    Fetched,
    Page,
    Request,
    RequestStats,
    ResponseMeta,
)
from crawler.api.retry import RetryPolicy
from crawler.api.urls import API_PREFIX, ApiPath, encode_query
from crawler.canonical import utc_now
from crawler.errors import (
    BadResponseError,
    CrawlerError,
    RateLimitedError,
    RejectedError,
    RetriesExhaustedError,
    RetryableError,
    TransportError,
)

log = logging.getLogger("crawler.api")

ANTHROPIC_VERSION = "2023-06-01"
# Response headers kept with every Fetched, for the chain of custody.
KEPT_HEADERS = ("content-type", "content-disposition", "content-md5", "request-id")
CHUNK_SIZE = 64 * 1024

T = TypeVar("T")
# A path as written out (``/v1/compliance/...``) or as raw segments (ids unencoded).
PathLike = str | ApiPath

__all__ = ["ComplianceClient"]


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
            c = self.config
            self._limiter = RateLimiter(
                c.rate, c.rate_margin, auto=c.rate_auto, reserve=c.rate_reserve
            )
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
        path: PathLike,
        query: Sequence[tuple[str, str]] = (),
        validate: Callable[[Fetched], None] | None = None,
    ) -> Fetched:
        """GET a JSON document; retried per the policy, malformed JSON (and a
        ``validate`` BadResponseError) included."""
        return await self._get_json(self._request(endpoint, "GET", path, query), validate)

    async def request_json(
        self,
        endpoint: str,
        method: str,
        path: PathLike,
        query: Sequence[tuple[str, str]] = (),
    ) -> Fetched:
        """Any method answered by a JSON document (GET here; DELETE calls go through it too)."""
        return await self._get_json(self._request(endpoint, method, path, query), None)

    async def get_page(
        self,
        endpoint: str,
        path: PathLike,
        query: Sequence[tuple[str, str]],
        page: str | None,
        limit: int,
    ) -> Page:
        """GET one page of a list. The caller advances the cursor after storing the page."""
        full = [*query, ("limit", str(limit))]
        if page is not None:
            full.append(("page", page))  # unchanged; encode_query escapes it
        fetched = await self._get_json(self._request(endpoint, "GET", path, full), check_page)
        doc = fetched.json()
        next_page = doc.get("next_page")
        return Page(
            items=doc["data"],
            next_page=next_page,
            has_more=bool(doc.get("has_more", next_page is not None)),
            fetched=fetched,
        )

    async def download(
        self, endpoint: str, path: PathLike, open_sink: Callable[[], Awaitable[BodySink]]
    ) -> Download:
        """Stream a body into a fresh sink per attempt, hashing and counting it.

        A truncated stream or a Content-MD5 mismatch aborts that sink and retries.
        On success the sink holds exactly the bytes whose md5 is returned; the
        caller commits it. On any failure every sink opened has been aborted.
        """
        req = self._request(endpoint, "GET", path, ())

        async def consume(resp: aiohttp.ClientResponse, meta: ResponseMeta) -> Download:
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
                    expected = decode_content_md5(content_md5)
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
        self, endpoint: str, method: str, path: PathLike, query: Sequence[tuple[str, str]]
    ) -> Request:
        """The URL of one request. Each raw segment is encoded here, once (``urls.segment``)."""
        api_path = ApiPath.parse(path) if isinstance(path, str) else path
        shown = path if isinstance(path, str) else api_path.text
        if api_path.segments[:2] != ("v1", "compliance"):
            raise ValueError(f"API paths start with {API_PREFIX}, got {shown!r}")
        if any(s in ("", ".", "..") for s in api_path.segments):
            # An id like ".." would be normalised away and address another resource.
            raise RejectedError(f"{endpoint}: refusing to request unaddressable path {shown!r}")
        query_t = tuple((str(k), str(v)) for k, v in query)
        raw_path = self._base.raw_path.rstrip("/") + api_path.text
        url = URL.build(
            scheme=self._base.scheme,
            authority=self._base.raw_authority,
            path=raw_path,
            query_string=encode_query(query_t),
            encoded=True,
        )
        return Request(endpoint, method, shown, query_t, url)

    async def _get_json(self, req: Request, validate: Callable[[Fetched], None] | None) -> Fetched:
        async def consume(resp: aiohttp.ClientResponse, meta: ResponseMeta) -> Fetched:
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
        req: Request,
        consume: Callable[[aiohttp.ClientResponse, ResponseMeta], Awaitable[T]],
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
        req: Request,
        consume: Callable[[aiohttp.ClientResponse, ResponseMeta], Awaitable[T]],
        *,
        stream: bool,
    ) -> T:
        """One HTTP attempt. The one place aiohttp/asyncio failures are translated."""
        if self._session is None:
            raise RuntimeError("ComplianceClient is used outside 'async with'")
        started = await self.limiter.acquire()
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
                meta = ResponseMeta(
                    status=resp.status,
                    request_id=resp.headers.get("request-id"),
                    fetched_at=utc_now(),
                    headers={h: resp.headers[h] for h in KEPT_HEADERS if h in resp.headers},
                )
                self.stats.count(req.endpoint, resp.status)
                counted = True
                status, request_id = meta.status, meta.request_id
                self.limiter.observe_headers(resp.headers, started, counted=resp.status != 429)
                if not 200 <= resp.status < 300:
                    body = await read_error_body(resp, self.stats)
                    raise status_error(req, resp.status, resp.headers, body, meta.request_id)
                return await consume(resp, meta)
        except CrawlerError as exc:
            scrub(exc, self.config.api_key)
            raise
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            if not counted:
                self.stats.count(req.endpoint, "error")
            raise TransportError(
                redact(f"{req.where}: {describe_transport(exc, status)}", self.config.api_key),
                request_id=request_id,
                status=status,
            ) from None  # aiohttp exceptions can carry request headers: do not chain


async def _abort_quietly(sink: BodySink) -> None:
    try:
        await sink.abort()
    except Exception:  # the original failure matters more than the cleanup's
        log.exception("aborting a download sink failed")
