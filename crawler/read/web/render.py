"""Templates and the filters that keep archived text inert on a page.

Jinja2 with autoescaping on for every template: a name or a text from the API
is always escaped. Escaping is not all: a NUL, a right-to-left override or an
invisible formatting character would still change what a person reads, so
``name`` shows every such character as a visible ``⟨U+202E⟩`` and ``text``
does so for control and bidi characters while keeping lines and tabs.
Highlights in snippets are built from escaped pieces, never by marking up text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

__all__ = ["environment", "highlight", "name", "text"]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP_IN_TEXT = frozenset("\n\t")
_NAME_CUT = 400


def _shown(ch: str) -> str:
    return f"⟨U+{ord(ch):04X}⟩"


def name(value: Any) -> str:
    """A name, id or label on one line: every control, format and bidi character visible."""
    if value is None:
        return "—"
    s = value if isinstance(value, str) else str(value)
    out = []
    for ch in s[:_NAME_CUT]:
        cat = unicodedata.category(ch)
        if (cat in ("Cc", "Cf", "Zl", "Zp", "Cs") and ch != "\u200d") or ch in _BIDI:
            out.append(_shown(ch))
        else:
            out.append(ch)
    if len(s) > _NAME_CUT:
        out.append(f"… ({len(s)} characters)")
    return "".join(out)


def text(value: Any) -> str:
    """A document's text: lines and tabs kept, other controls and bidi overrides visible."""
    s = value if isinstance(value, str) else str(value)
    return "".join(
        _shown(ch)
        if (ch in _BIDI or (unicodedata.category(ch) in ("Cc", "Cs") and ch not in _KEEP_IN_TEXT))
        else ch
        for ch in s
    )


def highlight(snippet: str, spans: Sequence[Sequence[int]]) -> Markup:
    """A snippet with ``<mark>`` around its highlights; every piece of text escaped."""
    out: list[Markup] = []
    pos = 0
    for start, end in spans:
        out += [escape(name(snippet[pos:start])), Markup("<mark>")]
        out += [escape(name(snippet[start:end])), Markup("</mark>")]
        pos = end
    out.append(escape(name(snippet[pos:])))
    return Markup("").join(out)


def value(v: Any) -> str:
    """Any JSON value on one line: strings as they are, the rest as JSON; then ``name``."""
    if v is None:
        return "—"
    if isinstance(v, str):
        return name(v)
    return name(orjson.dumps(v).decode())


def path_part(value: Any) -> str:
    """An id as one URL path segment: everything but unreserved characters encoded."""
    return quote(str(value), safe="")


def short(value: Any, width: int = 16) -> str:
    s = "" if value is None else str(value)
    return s if len(s) <= width else s[:width] + "…"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crawler.read.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        name=name, value=value, text=text, highlight=highlight, seg=path_part, short=short
    )
    return env
