"""Talking to the Compliance API: HTTP and the API's dialect, nothing of disks.

Three small modules, one job each:

``client``
    :class:`ComplianceClient`, one aiohttp session for the run. One call per
    request shape: :meth:`~ComplianceClient.get_json` (a JSON document),
    :meth:`~ComplianceClient.get_page` (one page of a list; the caller walks
    the cursor, advancing it only after storing the page) and
    :meth:`~ComplianceClient.download` (a streamed body into a caller's
    :class:`BodySink`, md5-checked against ``Content-MD5``). Every aiohttp,
    asyncio and HTTP failure is translated there, in one place, into
    :mod:`crawler.errors`; every successful response comes back as a
    :class:`Fetched` carrying its chain of custody. :class:`RequestStats`
    counts every attempt.
``limiter``
    :class:`RateLimiter`, shared by every request of the run: smooth spacing at
    the configured rate (no burst), plus a pause that stops every caller after
    a 429 or when the server reports no requests remaining.
``retry``
    :class:`RetryPolicy`, pure: which failures to retry, how many times, and
    how long to wait (exponential backoff with jitter, ``retry-after`` as a floor).

What escapes this package: a result, or a ``FatalError`` (401/403: stop the
run), or a ``SkipItemError`` (404 gone, rejected, or retries exhausted: record
it and go on). A ``RetryableError`` never escapes unwrapped.
"""

from crawler.api.client import (
    BodySink,
    ClientConfig,
    ComplianceClient,
    Download,
    Fetched,
    Page,
    RequestStats,
    encode_query,
    list_organizations,
    list_users,
)
from crawler.api.limiter import RateLimiter
from crawler.api.retry import RetryPolicy, parse_retry_after

__all__ = [
    "BodySink",
    "ClientConfig",
    "ComplianceClient",
    "Download",
    "Fetched",
    "Page",
    "RateLimiter",
    "RequestStats",
    "RetryPolicy",
    "encode_query",
    "list_organizations",
    "list_users",
    "parse_retry_after",
]
