"""Talking to the Compliance API: HTTP and the API's dialect, nothing of disks.

Modules, one job each:

``endpoints``
    :class:`ComplianceApi`: one typed call per endpoint (``projects_list``,
    ``project``, ``attachments``, ``collaborators``, ``document``,
    ``document_metadata``, ``file_content``, ``organizations``, ``users``).
    The only place that names an endpoint or builds a path; new endpoints
    (the activity feed, DELETE calls) follow its pattern.
``paging``
    :func:`pages`: the one page walk, with one guard policy (a repeated page
    token, a page cap).
``urls``
    :class:`ApiPath` and the one id encoding: each raw id is percent-encoded
    exactly once, when the URL is built; the query string encoding.
``client``
    :class:`ComplianceClient`, one aiohttp session for the run: ``get_json``,
    ``get_page``, ``request_json`` and ``download`` (a streamed body into a
    caller's :class:`BodySink`, md5-checked against ``Content-MD5``). Every
    request goes through the limiter and the retry loop.
``failures``
    Every HTTP status and transport failure translated, in one place, into
    :mod:`crawler.errors`; the access key scrubbed from every message.
``model``
    Plain data in and out: :class:`ClientConfig`, :class:`Fetched` (a response
    with its chain of custody), :class:`Page`, :class:`Download`, :class:`RequestStats`.
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

from crawler.api.client import ComplianceClient
from crawler.api.endpoints import ComplianceApi, list_organizations, list_users
from crawler.api.limiter import RateLimiter
from crawler.api.model import BodySink, ClientConfig, Download, Fetched, Page, RequestStats
from crawler.api.paging import pages
from crawler.api.retry import RetryPolicy, parse_retry_after
from crawler.api.urls import ApiPath, encode_query, segment

__all__ = [
    "ApiPath",
    "BodySink",
    "ClientConfig",
    "ComplianceApi",
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
    "pages",
    "parse_retry_after",
    "segment",
]
