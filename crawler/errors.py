"""Every error the crawler raises on purpose, named by what to do about it.

The tree (httpx-style: one module, lower-layer errors translated in one place,
``crawler.api.client`` for HTTP and ``crawler.archive`` for disks)::

    CrawlerError
    ├── FatalError                 stop the run; a person must fix something, then rerun
    │   ├── UsageError             bad flags or config file (exit 2)
    │   ├── AuthError              401: key missing, wrong or revoked (exit 2)
    │   ├── ScopeError             403: the key lacks a scope (exit 2)
    │   │   └── FeedRequiredError  --require-feed, and the key cannot read the feed: nothing written
    │   ├── UnreachableError       the run's first contact cannot connect: fix the URL (exit 2)
    │   ├── ListWalkError          the project list failed past its retries; rerun resumes
    │   └── ArchiveError           the archive directory cannot be used or is not an archive
    │       ├── DiskFullError      ENOSPC while writing: free space, rerun to resume
    │       ├── ArchiveBusyError   another crawler holds the archive's lock
    │       │   └── LockWaitError  still held after --lock-wait (exit 75, EX_TEMPFAIL)
    │       └── SealError          the signed log, a checkpoint or a key does not verify
    ├── RetryableError             transient: the retry policy retries it, up to a bound
    │   ├── RateLimitedError       429 (carries retry_after)
    │   ├── ServerError            500/502/503/504/529 without ``x-should-retry: false``
    │   ├── TransportError         connection reset, timeout, truncated body
    │   └── BadResponseError       malformed JSON, a body whose hash disagrees with the server's
    └── SkipItemError              give up on this one item, record it, go on with the run
        ├── GoneError              404 on an id that was listed: deleted upstream
        ├── RejectedError          a request the server will never accept (400, 409,
        │                          a 500 with ``x-should-retry: false``, an oversized body)
        └── RetriesExhaustedError  a RetryableError that outlived the retry budget

Callers catch by branch, never by message: the pipeline records every
``SkipItemError`` as a failed or gone item and goes on; a ``FatalError`` ends
the run cleanly (checkpoint, then exit); ``RetryableError`` never escapes the
client except wrapped in ``RetriesExhaustedError``.

Every error raised for an HTTP response carries that response's
``request_id`` so a failure recorded in a manifest can be traced upstream.
Messages never contain the access key.
"""

from __future__ import annotations


class CrawlerError(Exception):
    """Base of every error the crawler raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.status = status
        self.error_type = error_type

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request-id {self.request_id})"
        return self.message


# -- stop the run ---------------------------------------------------------------------------


class FatalError(CrawlerError):
    """The run cannot go on: a person must change something, then rerun."""

    exit_code = 2


class UsageError(FatalError):
    """Bad flags, a bad config file, or a missing key."""


class AuthError(FatalError):
    """401: the access key is missing, malformed, wrong or revoked."""


class ScopeError(FatalError):
    """403: the key is valid but lacks the scope this request needs."""


class FeedRequiredError(ScopeError):
    """``--require-feed`` and the key cannot read the feed: nothing is written."""


class UnreachableError(FatalError):
    """The first contact of a run could not connect at all: a wrong address, no route, no proxy."""


class ListWalkError(FatalError):
    """The project list could not be walked to its end; a rerun resumes at the watermark."""

    exit_code = 1


class ArchiveError(FatalError):
    """The archive directory cannot be used: not an archive, unwritable, damaged."""

    exit_code = 1


class DiskFullError(ArchiveError):
    """The disk filled up while writing; nothing partial was left visible."""


class ArchiveBusyError(ArchiveError):
    """Another crawler process holds this archive's lock."""


class LockWaitError(ArchiveBusyError):
    """The lock was still held after ``--lock-wait``: try again later (a timer will)."""

    exit_code = 75  # EX_TEMPFAIL: its own code, so a unit or a cron job can tell it apart


class SealError(ArchiveError):
    """The seal (the signed log) is damaged, or a checkpoint or key does not verify."""


# -- retry it -------------------------------------------------------------------------------


class RetryableError(CrawlerError):
    """Transient: the same request may well succeed if sent again."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        request_id: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, status=status, error_type=error_type)
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """429: wait at least ``retry_after`` seconds (when sent), then retry."""


class ServerError(RetryableError):
    """A 5xx or 529 the server did not mark as deterministic."""


class TransportError(RetryableError):
    """The connection failed: reset, timeout, or a body cut short."""


class BadResponseError(RetryableError):
    """A 2xx whose body is unusable: malformed JSON, or bytes that fail their hash."""


# -- skip the item --------------------------------------------------------------------------


class SkipItemError(CrawlerError):
    """This one item cannot be fetched; record it and go on."""


class GoneError(SkipItemError):
    """404 on an id that was listed: hard-deleted upstream or removed by retention."""

    # The path as requested, so a record can name the fetch that answered 404.
    path: str | None = None


class RejectedError(SkipItemError):
    """The server will never accept this request as sent (400, 409, deterministic 500)."""


class RetriesExhaustedError(SkipItemError):
    """A transient failure that outlived the retry budget."""

    def __init__(self, last: RetryableError, attempts: int) -> None:
        super().__init__(
            f"gave up after {attempts} attempts: {last.message}",
            request_id=last.request_id,
            status=last.status,
            error_type=last.error_type,
        )
        self.last = last
        self.attempts = attempts
