"""HTTP failures -> the typed errors of :mod:`crawler.errors`, and the key kept out of them.

Decided by status and ``error.type``, never by the message text. Also the page
shape check (a malformed page is retried like any bad response).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from crawler.api.model import Fetched, Request, RequestStats
from crawler.api.retry import parse_retry_after
from crawler.errors import (
    AuthError,
    BadResponseError,
    CrawlerError,
    GoneError,
    RateLimitedError,
    RejectedError,
    ScopeError,
    ServerError,
)

# The scope a key needs for each endpoint, for the 403 message.
ORG_SCOPE = "read:compliance_org_data"
USER_SCOPE = "read:compliance_user_data"
DELETE_SCOPE = "delete:compliance_user_data"
FEED_SCOPE = "read:compliance_activities"
_SCOPE_OF = {"organizations": ORG_SCOPE, "activities": FEED_SCOPE}
# Error bodies are small JSON; read no more than this of one.
ERROR_BODY_LIMIT = 64 * 1024
_KEY_PATTERN = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")


def decode_content_md5(value: str) -> bytes | None:
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


def _data_problem(doc: Any) -> str | None:
    """What is wrong with a page's envelope and ``data`` list, shared by every paged endpoint."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    if not isinstance(doc.get("data"), list):
        return "'data' is not a list"
    if not all(isinstance(item, dict) for item in doc["data"]):
        return "'data' holds a non-object"
    return None


def _malformed(fetched: Fetched, problem: str) -> BadResponseError:
    return BadResponseError(
        f"{fetched.endpoint} {fetched.method} {fetched.path}: malformed page: {problem}",
        request_id=fetched.request_id,
        status=fetched.status,
    )


def check_page(fetched: Fetched) -> None:
    """A page is {data: [objects], next_page: str|null, has_more?: bool}; else retry it."""
    doc = fetched.json()
    problem = _data_problem(doc) or _token_problem(doc)
    if problem is not None:
        raise _malformed(fetched, problem)


def _token_problem(doc: dict[str, Any]) -> str | None:
    nxt = doc.get("next_page")
    if nxt is not None and (not isinstance(nxt, str) or not nxt):
        return "'next_page' is neither a token nor null"
    if "has_more" in doc and not isinstance(doc["has_more"], bool):
        return "'has_more' is not a boolean"
    if doc.get("has_more") is True and nxt is None:
        # Stopping here would silently lose the rest of the list.
        return "'has_more' is true but 'next_page' is null"
    return None


def check_activity_page(fetched: Fetched) -> None:
    """A feed page is {data: [objects], has_more: bool, last_id: str|null}; else retry it."""
    doc = fetched.json()
    problem = _data_problem(doc) or _cursor_problem(doc)
    if problem is not None:
        raise _malformed(fetched, problem)


def _cursor_problem(doc: dict[str, Any]) -> str | None:
    if not isinstance(doc.get("has_more", False), bool):
        return "'has_more' is not a boolean"
    if doc.get("has_more") and not (isinstance(doc.get("last_id"), str) and doc["last_id"]):
        # Stopping here would silently lose the rest of the feed.
        return "'has_more' is true but 'last_id' is missing"
    return None


def status_error(
    req: Request,
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
            f" Check {_key_variable(req.method)}.",
            **common,
        )
    if status == 403:
        scope = _SCOPE_OF.get(req.endpoint, DELETE_SCOPE if req.method == "DELETE" else USER_SCOPE)
        return ScopeError(
            f"{head}: the access key lacks a scope this request needs{said}."
            f" Use a key with {scope}.",
            **common,
        )
    if status == 404:
        gone = GoneError(f"{head}: not found (deleted upstream or by retention){said}", **common)
        gone.path = req.path
        return gone
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


def describe_transport(exc: BaseException, status: int | None) -> str:
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


def redact(text: str, api_key: str) -> str:
    if api_key:
        text = text.replace(api_key, "<api-key>")
    return _KEY_PATTERN.sub("<api-key>", text)


def scrub(exc: CrawlerError, api_key: str) -> None:
    """Remove the key from an error's message (a server might echo it back)."""
    clean = redact(exc.message, api_key)
    if clean != exc.message:
        exc.message = clean
        exc.args = (clean,)


def _key_variable(method: str) -> str:
    # Deletes go with their own key (crawler retention apply); everything else reads.
    if method == "DELETE":
        return "ANTHROPIC_COMPLIANCE_DELETE_KEY"
    return "ANTHROPIC_COMPLIANCE_ACCESS_KEY"


async def read_error_body(resp: aiohttp.ClientResponse, stats: RequestStats) -> bytes:
    """Up to ERROR_BODY_LIMIT bytes of an error body; the status decides, not the body."""
    buf = bytearray()
    try:
        async for chunk in resp.content.iter_chunked(64 * 1024):
            stats.bytes_received += len(chunk)
            buf += chunk
            if len(buf) >= ERROR_BODY_LIMIT:
                break
    except (aiohttp.ClientError, TimeoutError, ConnectionError):
        pass
    return bytes(buf[:ERROR_BODY_LIMIT])
