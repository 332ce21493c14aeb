"""aiobotocore on its own event loop thread: blocking calls, retries, errors mapped once.

The archive's code above the store is synchronous (readers) or runs blob placement in
worker threads (the crawl), so the S3 client lives on one private loop and every call
is handed to it (``run_coroutine_threadsafe``). Retries are ours, not botocore's
(its are switched off): a read is simply asked again, but a write whose outcome is
unknown is handed back to the caller, who settles it by reading (``settle``).
Credentials come from botocore's standard chain; no message here ever includes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from crawler.archive.store.s3_put import LeanPut
from crawler.errors import ArchiveError, UnreachableError, UsageError

__all__ = ["BodyReader", "S3Bridge", "S3Settings", "Transient", "error_code", "is_transient"]

T = TypeVar("T")

# Seconds: the first retry waits about this long, doubling up to the cap (full jitter).
BACKOFF_BASE = 0.2
BACKOFF_CAP = 5.0

_TRANSIENT_CODES = frozenset(
    {"500", "502", "503", "504", "InternalError", "SlowDown", "ServiceUnavailable",
     "RequestTimeout", "RequestTimeTooSkewed", "OperationAborted", "ThrottlingException"}
)  # fmt: skip
_ACCESS_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
     "ExpiredToken", "403"}
)  # fmt: skip


class Transient(Exception):
    """A fault worth another try (5xx, SlowDown, a reset, a timeout)."""


class S3Settings:
    def __init__(
        self,
        endpoint: str | None,
        *,
        attempts: int = 6,
        connect_timeout: float = 3.0,
        read_timeout: float = 60.0,
        pool: int = 32,
        backoff_base: float | None = None,
        backoff_cap: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.attempts = attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool = pool
        self.backoff_base = BACKOFF_BASE if backoff_base is None else backoff_base
        self.backoff_cap = BACKOFF_CAP if backoff_cap is None else backoff_cap


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(
            err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        )
        return code
    return None


def http_status(exc: BaseException) -> int | None:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        status = http_status(exc) or 0
        return error_code(exc) in _TRANSIENT_CODES or status >= 500
    return isinstance(
        exc,
        ConnectionClosedError
        | ReadTimeoutError
        | ConnectTimeoutError
        | EndpointConnectionError
        | aiohttp.ClientError
        | asyncio.TimeoutError
        | ConnectionError,
    )


class S3Bridge:
    """One aiobotocore client on a private event loop thread; see the module docstring."""

    def __init__(self, settings: S3Settings, where: str) -> None:
        self.settings = settings
        self.where = where  # s3://bucket/prefix, for messages
        self.requests = 0  # every request sent (benchmarks count them)
        self.by_op: Counter[str] = Counter()
        self._counting = threading.Lock()  # sent from this loop and from the crawl's
        self._credentials: Any = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="s3", daemon=True)
        self._thread.start()
        self._ctx: Any = None
        self.client: Any = None
        self._lean: LeanPut | None = None
        try:
            self.run(self._open())
        except BaseException:
            self.close()
            raise

    async def _open(self) -> None:
        config = AioConfig(
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            retries={"total_max_attempts": 1},  # ours, below: writes are settled by reading
            max_pool_connections=self.settings.pool,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
        )
        session = get_session()
        self._ctx = session.create_client("s3", endpoint_url=self.settings.endpoint, config=config)
        self.client = await self._ctx.__aenter__()
        self._credentials = await session.get_credentials()  # botocore's chain, once
        self._lean = self.lean_put()

    def lean_put(self) -> LeanPut:
        """PutObject by :mod:`~crawler.archive.store.s3_put`, on the running loop."""
        timeout = aiohttp.ClientTimeout(
            sock_connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout
        )
        return LeanPut(self.client, self._credentials, pool=self.settings.pool, timeout=timeout)

    def put_object(self, **params: Any) -> Awaitable[Any]:
        """PutObject on this loop (see :meth:`lean_put`)."""
        assert self._lean is not None
        return self._lean.put_object(**params)

    def count(self, op: str) -> None:
        with self._counting:
            self.requests += 1
            self.by_op[op] += 1

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("S3Bridge.run called from its own loop")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def submit(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coro`` here, awaited from another event loop (no thread in between)."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def call(self, op: str, /, **kwargs: Any) -> Any:
        """One request, retried while transient; errors mapped (see :meth:`fail`)."""
        return self.run(self.acall(op, **kwargs))

    async def acall(self, op: str, /, **kwargs: Any) -> Any:
        """:meth:`call` on this loop (for coroutines already running here)."""
        return await self.retrying(lambda: self._send(op, kwargs), op)

    async def _send(self, op: str, kwargs: dict[str, Any]) -> Any:
        self.count(op)
        return await getattr(self.client, op)(**kwargs)

    async def retrying(self, attempt: Callable[[], Awaitable[Any]], what: str) -> Any:
        """``attempt`` until it succeeds or fails for good; backoff with full jitter."""
        last: BaseException | None = None
        for n in range(self.settings.attempts):
            try:
                return await attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise self.fail(exc, what) from exc
                last = exc
            await self.backoff(n)
        assert last is not None
        raise self.fail(last, what) from last

    async def backoff(self, n: int) -> None:
        cap = min(self.settings.backoff_cap, self.settings.backoff_base * (2**n))
        await asyncio.sleep(random.uniform(cap / 2, cap))

    def fail(self, exc: BaseException, what: str) -> BaseException:
        """The one place an S3 failure becomes the crawler's error (never a credential)."""
        if isinstance(exc, ClientError):
            code = error_code(exc)
            if code in _ACCESS_CODES:
                return UsageError(
                    f"{self.where}: the S3 service refused the credentials ({code} on {what}); "
                    "check AWS_ACCESS_KEY_ID / AWS_PROFILE and the bucket policy"
                )
            msg = exc.response.get("Error", {}).get("Message") or ""
            return ArchiveError(f"{self.where}: {what} failed: {code} {msg}".rstrip())
        if isinstance(exc, NoCredentialsError):
            return UsageError(
                f"{self.where}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance or container role"
            )
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            return UnreachableError(
                f"cannot reach the S3 endpoint for {self.where} "
                f"({self.settings.endpoint or 'AWS default'}): {type(exc).__name__}; "
                "check --s3-endpoint / AWS_ENDPOINT_URL"
            )
        if isinstance(exc, BotoCoreError | aiohttp.ClientError | OSError | asyncio.TimeoutError):
            return ArchiveError(f"{self.where}: {what} failed: {type(exc).__name__}: {exc}")
        return exc

    def close(self) -> None:
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            # Closing a dead connection pool: nothing to save, nothing to report.
            with contextlib.suppress(Exception):
                closing = ctx.__aexit__(None, None, None)
                asyncio.run_coroutine_threadsafe(closing, self._loop).result(10)
        if self._lean is not None:
            lean, self._lean = self._lean, None
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(lean.close(), self._loop).result(10)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._loop.is_running():
            self._loop.close()


class BodyReader(io.RawIOBase):
    """A GetObject body read through the bridge, chunk by chunk (flat memory)."""

    def __init__(self, bridge: S3Bridge, body: Any, where: str) -> None:
        super().__init__()
        self._bridge, self._body, self._where = bridge, body, where

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf).cast("B")
        try:
            data: bytes = self._bridge.run(self._body.read(len(view)))
        except Exception as exc:
            raise ArchiveError(f"reading {self._where} failed: {type(exc).__name__}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()
