"""What the web app's handlers share, and the keys they find it under."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aiohttp import web
from jinja2 import Environment

from crawler.read.reader import ArchiveReader
from crawler.read.searchindex import SearchIndex
from crawler.read.verify import VerifyReport

__all__ = ["STATE", "TEMPLATES", "DeskState"]


@dataclass
class DeskState:
    """The reader, the search index, the token, the status page's verify result."""

    reader: ArchiveReader
    search: SearchIndex | None
    token: str | None
    loopback: bool
    session: str = ""
    url_token_used: bool = False
    verify_report: VerifyReport | None = None
    verify_error: str | None = None
    verify_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    orgs: dict[str, list[str]] = field(default_factory=dict)  # finished snapshot -> its orgs


STATE: web.AppKey[DeskState] = web.AppKey("desk", DeskState)
TEMPLATES: web.AppKey[Environment] = web.AppKey("templates", Environment)
