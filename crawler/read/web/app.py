"""The read-only web app: the aiohttp application, its security middleware and its state.

``make_app(path, token=..., loopback=...)`` opens the archive through the read
model (read-only: SQLite ``mode=ro``, no lock, never a byte written) and the
search index, starts one fast ``verify`` in a thread for the status page, and
serves GET and HEAD only. Every response carries a strict Content-Security-Policy
(nothing but this app's own stylesheet and images; no script at all), nosniff,
no framing, no referrer and no caching. With a token, a request needs
``Authorization: Bearer <token>`` or the session cookie that ``?token=<token>``
sets once; on loopback without a token, only loopback host names are answered
(a page on another site cannot reach the app by rebinding its DNS name).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import web

from crawler.archive import Archive
from crawler.archive.store.location import ArchiveLocation
from crawler.errors import ArchiveError
from crawler.read.reader import ArchiveReader
from crawler.read.searchindex import SearchIndex
from crawler.read.verify import verify
from crawler.read.web import routes
from crawler.read.web.render import environment
from crawler.read.web.state import STATE, TEMPLATES, DeskState

__all__ = ["CSP", "DeskState", "make_app"]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
COOKIE = "crawler_desk"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _verify_in_background(path: ArchiveLocation, state: DeskState) -> None:
    def work() -> None:
        try:
            with Archive.open_for_reading(path) as archive:
                state.verify_report = verify(archive, full=False)
        except Exception as exc:  # shown on the status page, never fatal to the app
            state.verify_error = str(exc)
        state.verify_at = time.time()

    threading.Thread(target=work, name="desk-verify", daemon=True).start()


def make_app(
    path: ArchiveLocation,
    *,
    token: str | None = None,
    loopback: bool = True,
    verify_now: bool = True,
) -> web.Application:
    reader = ArchiveReader.open(path)
    search = SearchIndex.open_reader(Path(reader.path) / "search.sqlite")
    state = DeskState(reader, search, token, loopback)
    if token:
        state.session = hmac.new(token.encode(), b"desk-session", "sha256").hexdigest()
    app = web.Application(middlewares=[_security, _guard])
    app[STATE] = state
    app[TEMPLATES] = environment()
    routes.add_routes(app)
    if verify_now:
        _verify_in_background(path, state)

    async def close(_app: web.Application) -> None:
        if search is not None:
            search.close()
        reader.close()

    app.on_cleanup.append(close)
    app.on_response_prepare.append(_headers)
    return app


@web.middleware
async def _security(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ArchiveError as exc:  # damage: say what and where, as the CLI would
        return web.Response(
            status=500, text=f"the archive could not be read: {exc}", content_type="text/plain"
        )


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    # On prepare, not in a middleware: a streamed download sends its headers early.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _host_ok(request: web.Request) -> bool:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return host in LOOPBACK_HOSTS


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"], text="read-only")
    if state.loopback and not state.token and not _host_ok(request):
        raise web.HTTPMisdirectedRequest(text="this desk answers only to loopback host names")
    if not state.token:
        return await handler(request)
    offered = request.query.get("token")
    if offered is not None:
        return _exchange_url_token(request, state, offered)
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), state.token.encode()):
        return await handler(request)
    if hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), state.session.encode()):
        return await handler(request)
    raise web.HTTPUnauthorized(
        text="this desk needs its token: Authorization: Bearer <token>, or open the one-time URL"
    )


def _exchange_url_token(request: web.Request, state: DeskState, offered: str) -> NoReturn:
    """``?token=`` works once: it sets a session cookie and is then refused."""
    assert state.token is not None
    with state.lock:
        good = not state.url_token_used and hmac.compare_digest(
            offered.encode(), state.token.encode()
        )
        if good:
            state.url_token_used = True
    if not good:
        raise web.HTTPUnauthorized(text="this one-time URL was used already, or is wrong")
    query = {k: v for k, v in request.query.items() if k != "token"}
    redirect = web.HTTPSeeOther(str(request.rel_url.with_query(query)))
    redirect.set_cookie(COOKIE, state.session, httponly=True, samesite="Strict", path="/")
    raise redirect


def describe(app: web.Application) -> dict[str, Any]:
    """For tests and the serve banner: what the app opened."""
    state = app[STATE]
    return {"archive": str(state.reader.path), "search": state.search is not None}
