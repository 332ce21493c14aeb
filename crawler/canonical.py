"""Canonical forms shared by every layer: UTC timestamps (written and read) and canonical JSON.

A leaf module (stdlib and orjson only), so ``api/``, ``archive/``, ``crawl/`` and
``read/`` can all use it without importing each other. The simulator does not:
it shares no code with the client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = [
    "canonical_json",
    "instant_or_none",
    "parse_instant",
    "rfc3339",
    "utc_now",
    "utc_now_seconds",
]


def utc_now() -> str:
    """Now, as the archive writes every instant: ``2026-11-23T10:15:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now_seconds() -> str:
    """Now to the second (the archive marker's ``created_at``): ``2026-11-23T10:15:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value whatever its key order: for equality and keys."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def rfc3339(moment: datetime) -> str:
    """UTC, microseconds, ``Z``: the one form this crawler writes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with a zone (``Z``, ``+00:00``, any fraction), in UTC.

    ValueError when unreadable or without a zone: the API sends several forms of
    one instant, so instants are compared parsed, never as strings.
    """
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    head, dot, rest = value.partition(".")
    if dot:
        # datetime takes at most 6 fraction digits: drop the rest (nanoseconds).
        n = len(rest) - len(rest.lstrip("0123456789"))
        digits, zone = rest[:n], rest[n:]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a zone: {text!r}")
    return moment.astimezone(UTC)


def instant_or_none(value: Any) -> datetime | None:
    """:func:`parse_instant` for values from the API or a file: None when not a readable instant."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None
