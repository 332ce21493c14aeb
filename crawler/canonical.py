"""Canonical forms shared by every layer: the UTC timestamp and canonical JSON.

A leaf module (stdlib and orjson only), so ``api/``, ``archive/``, ``crawl/`` and
``read/`` can all use it without importing each other. The simulator does not:
it shares no code with the client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["canonical_json", "utc_now", "utc_now_seconds"]


def utc_now() -> str:
    """Now, as the archive writes every instant: ``2026-11-23T10:15:00.123456Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now_seconds() -> str:
    """Now to the second (the archive marker's ``created_at``): ``2026-11-23T10:15:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value whatever its key order: for equality and keys."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
