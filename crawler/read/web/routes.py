"""URLs -> views -> templates. GET only; ids travel as single, percent-encoded path segments.

Downloads are always ``application/octet-stream`` with ``Content-Disposition:
attachment`` (an ASCII fallback name and the UTF-8 name percent-encoded), under
a CSP ``sandbox``, so no archived body is ever rendered or run by the browser.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

from aiohttp import web

from crawler.errors import ArchiveError, UsageError
from crawler.read.presets import PRESETS
from crawler.read.search import run_search
from crawler.read.searchindex import KINDS
from crawler.read.searching import make_filters
from crawler.read.web import views
from crawler.read.web.state import STATE, TEMPLATES, DeskState

__all__ = ["add_routes"]

SEARCH_PAGE = 25
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_CHUNK = 256 * 1024


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", snapshots)
    r.add_get("/snapshots/{sid}", projects)
    r.add_get("/snapshots/{sid}/projects/{pid}", project)
    r.add_get("/snapshots/{sid}/projects/{pid}/documents/{item}", document)
    r.add_get("/snapshots/{sid}/projects/{pid}/download/{item}", download)
    r.add_get("/projects/{pid}", history)
    r.add_get("/diff", diff)
    r.add_get("/search", search)
    r.add_get("/status", status)
    r.add_get("/static/app.css", stylesheet)


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    env = request.app[TEMPLATES]
    html = env.get_template(template).render(**context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _not_found(request: web.Request, message: str) -> web.Response:
    return page(request, "error.html", status=404, message=message)


def _view(request: web.Request, template: str, build: Callable[[], dict[str, Any]]) -> web.Response:
    """The page ``build`` makes the context of, or a 404 naming what was not found."""
    try:
        ctx = build()
    except views.NotFound as exc:
        return _not_found(request, str(exc))
    return page(request, template, **ctx)


async def snapshots(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return page(request, "snapshots.html", **views.snapshots(state.reader), state=state)


async def projects(request: web.Request) -> web.Response:
    state = request.app[STATE]
    sid, query = request.match_info["sid"], dict(request.query)
    return _view(
        request,
        "projects.html",
        lambda: views.projects(state.reader, state.search, sid, query, state.orgs),
    )


async def project(request: web.Request) -> web.Response:
    reader = request.app[STATE].reader
    m = request.match_info
    return _view(request, "project.html", lambda: views.project(reader, m["sid"], m["pid"]))


async def document(request: web.Request) -> web.Response:
    reader = request.app[STATE].reader
    m = request.match_info
    return _view(
        request, "document.html", lambda: views.document(reader, m["sid"], m["pid"], m["item"])
    )


def content_disposition(filename: str | None, fallback: str) -> str:
    """``attachment`` with a plain-ASCII name and the real one in RFC 5987 form."""
    real = filename if filename else fallback
    ascii_name = _SAFE_NAME.sub("_", real).strip(" .")[:100] or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(real, safe='')}"


async def download(request: web.Request) -> web.StreamResponse:
    reader = request.app[STATE].reader
    m = request.match_info
    try:
        found = views.find_file(reader, m["sid"], m["pid"], m["item"])
    except views.NotFound as exc:
        return _not_found(request, str(exc))
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": content_disposition(found.filename, m["item"]),
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Content-Length": str(found.ref.size),
        }
    )
    await response.prepare(request)
    md5 = hashlib.md5()
    with reader.open_blob(found.ref) as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            await response.write(chunk)
    if md5.hexdigest() != found.ref.md5 and request.transport is not None:
        # Damaged on disk: cut the connection so the download is visibly incomplete.
        request.transport.close()
        return response
    await response.write_eof()
    return response


async def history(request: web.Request) -> web.Response:
    reader, pid = request.app[STATE].reader, request.match_info["pid"]
    return _view(request, "history.html", lambda: views.history(reader, pid))


async def diff(request: web.Request) -> web.Response:
    q = request.query
    if not q.get("a") or not q.get("b"):
        return _not_found(request, "a diff needs two snapshots: ?a=ID&b=ID")
    reader = request.app[STATE].reader
    return _view(
        request, "diff.html", lambda: views.diff(reader, q["a"], q["b"], q.get("project") or None)
    )


async def search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    form = {k: q.get(k, "") for k in ("q", "snapshot", "org", "user", "since", "until", "kind")}
    form.update(all=q.get("all", ""), raw=q.get("raw", ""), preset=q.get("preset", ""))
    ctx: dict[str, Any] = {
        "form": form,
        "kinds": KINDS,
        "presets": sorted(PRESETS),
        "snapshots": [s for s in state.reader.snapshots() if s.manifest_sha256],
        "result": None,
        "error": None,
        "page": max(1, int(q["page"])) if q.get("page", "").isdigit() else 1,
    }
    if state.search is None:
        ctx["error"] = "this archive has no search index yet: run crawler reindex"
    elif form["q"].strip() or form["preset"]:
        ctx["result"], ctx["error"] = _run_search(state, form, ctx["page"])
    return page(request, "search.html", **ctx)


def _run_search(state: DeskState, form: dict[str, str], page_no: int) -> tuple[Any, str | None]:
    assert state.search is not None
    try:
        filters = make_filters(
            state.reader,
            state.search,
            snapshot=form["snapshot"] or None,
            all_snapshots=bool(form["all"]),
            orgs=[form["org"]] if form["org"] else [],
            users=[form["user"]] if form["user"] else [],
            since=form["since"] or None,
            until=form["until"] or None,
            kind=form["kind"] or None,
        )
        result = run_search(
            state.search,
            form["q"],
            filters,
            raw=bool(form["raw"]),
            preset=form["preset"] or None,
            limit=SEARCH_PAGE,
            offset=(page_no - 1) * SEARCH_PAGE,
        )
    except (UsageError, ArchiveError) as exc:
        return None, str(exc)
    return result, None


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    counts = state.search.counts() if state.search is not None else None
    indexed = state.search.indexed_snapshots() if state.search is not None else {}
    return page(request, "status.html", state=state, search_counts=counts, indexed=indexed)


async def stylesheet(request: web.Request) -> web.Response:
    css = resources.files("crawler.read.web").joinpath("static/app.css").read_text("utf-8")
    return web.Response(text=css, content_type="text/css", charset="utf-8")
