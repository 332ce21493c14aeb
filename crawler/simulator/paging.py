"""How many items each page of a walk holds: the one rule the server and the ground truth share.

The live service sometimes answers a short page, or an empty page that still
carries ``next_page``, before the end of a walk. Here that is a pure function
of ``(seed, walk, limit, page index)``, so a walk is reproducible and the
dataset can say in advance how many requests a full walk takes.
"""

from __future__ import annotations

import hashlib


def draw(*parts: object) -> float:
    """A deterministic number in [0, 1) from its arguments."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _raw(seed: int, walk: str, limit: int, index: int, short: float, empty: float) -> str:
    u = draw(seed, "page", walk, limit, index)
    if u < empty:
        return "empty"
    if u < empty + short:
        return "short"
    return "full"


def page_size(seed: int, walk: str, limit: int, index: int, short: float, empty: float) -> int:
    """Items the page at ``index`` (0-based) of ``walk`` serves when enough remain.

    Two empty pages never follow each other, so every walk makes progress even
    with ``empty`` at 1.0.
    """
    kind = _raw(seed, walk, limit, index, short, empty)
    if kind == "empty":
        if index > 0 and _raw(seed, walk, limit, index - 1, short, empty) == "empty":
            return limit
        return 0
    if kind == "short":
        return max(1, limit // 2)
    return limit


def pages_for(total: int, seed: int, walk: str, limit: int, short: float, empty: float) -> int:
    """Requests a full walk over ``total`` matching items takes at ``limit``."""
    pages = 0
    index = 0
    remaining = total
    while True:
        pages += 1
        size = page_size(seed, walk, limit, index, short, empty)
        if remaining <= size:
            return pages
        remaining -= size
        index += 1
