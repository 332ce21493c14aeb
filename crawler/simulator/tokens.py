"""Opaque page tokens: random, server-side state, expiring.

A token is ``page_`` + base64 of random bytes whose first two bytes are chosen
so the text always holds ``+`` and ``/`` and ends in ``==``: a client that does
not URL-encode it sends a different token and gets a 400, as it would live.
What a token means (which walk, which filters, the keyset position after the
last item served, the page index) stays on the server.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass


class TokenError(Exception):
    """The token is unknown, malformed, for another walk, or expired."""


@dataclass(frozen=True)
class Cursor:
    walk: str  # e.g. "projects", "attachments:<project id>"
    filters: str  # canonical filter text; "" where the endpoint has no filters
    after: tuple[int, str] | None  # keyset position: the last item served
    index: int  # page index of the page this token fetches
    payload: object = None  # the parsed filters, for walks that have them


class TokenStore:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[Cursor, float]] = {}

    def issue(self, cursor: Cursor) -> str:
        # 0xfb 0xff encodes as "+/": every token carries both characters.
        raw = b"\xfb\xff" + secrets.token_bytes(11)
        token = "page_" + base64.b64encode(raw).decode("ascii")
        now = time.monotonic()
        if len(self._tokens) > 50_000:
            # Forget long-expired tokens; they then read as unknown, still a 400.
            self._tokens = {k: v for k, v in self._tokens.items() if now - v[1] <= 2 * self.ttl}
        self._tokens[token] = (cursor, now)
        return token

    def resolve(self, token: str, walk: str) -> Cursor:
        entry = self._tokens.get(token)
        if entry is None:
            raise TokenError("invalid page token")
        cursor, issued = entry
        if cursor.walk != walk:
            raise TokenError("page token does not belong to this list")
        if time.monotonic() - issued > self.ttl:
            del self._tokens[token]
            raise TokenError("page token has expired")
        return cursor

    def expire(self, token: str | None = None) -> int:
        """Force expiry of one token, or of every token issued so far; returns how many."""
        stale = float("-inf")
        targets = [token] if token is not None else list(self._tokens)
        count = 0
        for t in targets:
            entry = self._tokens.get(t)
            if entry is not None:
                self._tokens[t] = (entry[0], stale)
                count += 1
        return count
