"""Paths and query strings as the API is addressed: the one id encoding.

A path is an :class:`ApiPath`: a tuple of raw segments, ids exactly as the API
names them. Each segment is percent-encoded once, here (:func:`segment`), when
the client builds the URL; nothing encodes an id before that, so an id holding
``/``, ``%`` or ``+`` reaches the server as one segment, encoded exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["API_PREFIX", "ApiPath", "encode_query", "segment"]

API_PREFIX = "/v1/compliance"
# Characters left as they are in a path segment (RFC 3986 pchar minus '%').
SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


def segment(raw: str) -> str:
    """One path segment, percent-encoded once: it can never add a path level."""
    return quote(raw, safe=SEGMENT_SAFE)


@dataclass(frozen=True)
class ApiPath:
    """An API path as raw segments: ``ApiPath.of("apps", "projects", pid)``."""

    segments: tuple[str, ...]

    @classmethod
    def of(cls, *segments: str) -> ApiPath:
        """A path under ``/v1/compliance``."""
        return cls(("v1", "compliance", *segments))

    @classmethod
    def parse(cls, path: str) -> ApiPath:
        """A path written out (``/v1/compliance/...``): ``/`` separates its segments."""
        return cls(tuple(path.split("/")[1:]))

    def child(self, *segments: str) -> ApiPath:
        return ApiPath((*self.segments, *segments))

    @property
    def text(self) -> str:
        """The path as sent (each segment encoded once); what a record's fetch names."""
        return "".join("/" + segment(s) for s in self.segments)


def encode_query(query: Sequence[tuple[str, str]]) -> str:
    """The raw query string: values fully percent-encoded, `[]` kept literal in names.

    Page tokens hold ``+``, ``/`` and ``=``: a bare ``+`` would reach the server
    as a space, so every reserved character in a value is escaped. Array
    filters are sent as the live API documents them, ``organization_ids[]=a``.
    """
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in query)
