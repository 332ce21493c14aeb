"""The aiohttp application: routes, auth, rate limit, errors, pagination, faults.

Every endpoint goes through one pipeline, in the live service's order:
authenticate (a 401 is not rate limited) -> rate limit (429) -> scope (403,
counted against the limit) -> injected faults -> the handler. Every response,
errors and 429s included, carries a ``request-id``; every authenticated one
carries the ``anthropic-ratelimit-*`` headers and leaves a
``compliance_api_accessed`` event in the Activity Feed (a 401 names no
organisation and a connection aborted on purpose has no status: neither does).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import string
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from aiohttp import web

from crawler.simulator import faults as fk
from crawler.simulator.activity import FeedQuery, is_activity_id
from crawler.simulator.auth import (
    ACTIVITIES,
    DELETE,
    ORG_DATA,
    USER_DATA,
    key_from_headers,
    scope_message,
)
from crawler.simulator.content import content_md5_header, iter_file_bytes
from crawler.simulator.counters import Counters
from crawler.simulator.dataset import Dataset, ProjectFilters
from crawler.simulator.faults import FaultDecider, FaultPlan, Injection
from crawler.simulator.model import Json
from crawler.simulator.paging import page_size
from crawler.simulator.ratelimit import RateLimiter
from crawler.simulator.timestamps import TimestampError, parse_instant
from crawler.simulator.tokens import Cursor, TokenError, TokenStore

PREFIX = "/v1/compliance"
_B62 = string.ascii_letters + string.digits
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
REQUEST_ID = web.RequestKey("request_id", str)
RETRYABLE = frozenset({429, 500, 502, 503, 504, 529})
_LIMIT = re.compile(r"^[0-9]{1,9}$")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, should_retry: bool | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.should_retry = status in RETRYABLE if should_retry is None else should_retry


@dataclass
class State:
    """Everything the handlers share; the Simulator owns it and tests reach it through there."""

    dataset: Dataset
    keys: dict[str, frozenset[str]]
    faults: FaultPlan
    limiter: RateLimiter
    tokens: TokenStore
    counters: Counters = field(default_factory=Counters)
    decider: FaultDecider = field(default_factory=FaultDecider)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Ctx:
    """Per-request: the headers every answer carries, and the fault chosen for it."""

    headers: dict[str, str]
    injection: Injection
    query: list[tuple[str, str]]


Handler = Callable[[web.Request, Ctx], Awaitable[Json | web.StreamResponse]]


def new_request_id() -> str:
    return "req_" + "".join(secrets.choice(_B62) for _ in range(24))


def error_body(status: int, message: str) -> bytes:
    err_type = ERROR_TYPES.get(status, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": err_type, "message": message}})


def error_response(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    should_retry: bool | None = None,
) -> web.Response:
    hdrs = dict(headers or {})
    retry = status in RETRYABLE if should_retry is None else should_retry
    hdrs["x-should-retry"] = "true" if retry else "false"
    return web.Response(
        status=status,
        body=error_body(status, message),
        headers=hdrs,
        content_type="application/json",
    )


# -- query parsing (the simulator's own: it must not share the client's) -------------------


def parse_query(raw: str, allowed: Iterable[str], arrays: Iterable[str] = ()) -> dict[str, Any]:
    """Query pairs -> {name: value | [values]}; unknown names and repeated scalars are a 400."""
    allowed = set(allowed)
    arrays = set(arrays)
    out: dict[str, Any] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed query string") from exc
    for name, value in pairs:
        base = name[:-2] if name.endswith("[]") else name
        if base in arrays and name.endswith("[]"):
            if not value:
                raise ApiError(400, f"{name}: empty value")
            out.setdefault(base, []).append(value)
        elif name in allowed and base not in arrays:
            if name in out:
                raise ApiError(400, f"{name}: given more than once")
            out[name] = value
        else:
            raise ApiError(400, f"unknown query parameter: {name}")
    return out


def parse_limit(params: dict[str, Any], default: int, maximum: int) -> int:
    raw = params.get("limit")
    if raw is None:
        return default
    if not _LIMIT.match(raw):
        raise ApiError(400, f"limit: must be an integer between 1 and {maximum}")
    value = int(raw)
    if not 1 <= value <= maximum:
        raise ApiError(400, f"limit: must be between 1 and {maximum}, got {value}")
    return value


_TIME_PARAMS = {
    f"{field_}.{op}": f"{field_}_{op}"
    for field_ in ("created_at", "updated_at")
    for op in ("gte", "gt", "lte", "lt")
}


def parse_project_filters(params: dict[str, Any]) -> ProjectFilters:
    kwargs: dict[str, Any] = {
        "organization_ids": tuple(params.get("organization_ids", ())),
        "user_ids": tuple(params.get("user_ids", ())),
    }
    for wire, attr in _TIME_PARAMS.items():
        value = params.get(wire)
        if value is None:
            continue
        try:
            parse_instant(value)
        except TimestampError as exc:
            raise ApiError(
                400, f"{wire}: must be an RFC 3339 date-time with a time zone, got {value!r}"
            ) from exc
        kwargs[attr] = value
    return ProjectFilters(**kwargs)


_FEED_TIMES = ("gte", "gt", "lte", "lt")


def _instant(params: dict[str, Any], wire: str) -> int | None:
    value = params.get(wire)
    if value is None:
        return None
    try:
        return parse_instant(value)
    except TimestampError as exc:
        raise ApiError(
            400, f"{wire}: must be an RFC 3339 date-time with a time zone, got {value!r}"
        ) from exc


def _activity_id(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not is_activity_id(value):
        raise ApiError(400, f"{name}: not an activity id: {value!r}")
    return value


def parse_feed_query(raw: str) -> FeedQuery:
    """The Activity Feed's query string, validated as the docs describe it."""
    params = parse_query(
        raw,
        ("limit", "after_id", "before_id", "order", *(f"created_at.{op}" for op in _FEED_TIMES)),
        arrays=(
            "activity_types",
            "exclude_activity_types",
            "actor_ids",
            "user_ids",
            "organization_ids",
        ),
    )
    if "activity_types" in params and "exclude_activity_types" in params:
        raise ApiError(400, "activity_types[] and exclude_activity_types[] are exclusive")
    if "after_id" in params and "before_id" in params:
        raise ApiError(400, "after_id and before_id are exclusive")
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"order: must be 'asc' or 'desc', got {order!r}")
    t = {op: _instant(params, f"created_at.{op}") for op in _FEED_TIMES}
    return FeedQuery(
        types=frozenset(params.get("activity_types", ())),
        exclude_types=frozenset(params.get("exclude_activity_types", ())),
        actor_ids=frozenset([*params.get("actor_ids", []), *params.get("user_ids", [])]),
        organization_ids=frozenset(params.get("organization_ids", ())),
        gte=t["gte"],
        gt=t["gt"],
        lte=t["lte"],
        lt=t["lt"],
        limit=parse_limit(params, 100, 5000),
        after_id=_activity_id(params, "after_id"),
        before_id=_activity_id(params, "before_id"),
        descending=order == "desc",
    )


# -- the application ------------------------------------------------------------------------


class Api:
    def __init__(self, state: State, chunk_size: int = 64 * 1024) -> None:
        self.state = state
        self.chunk_size = chunk_size

    @property
    def ds(self) -> Dataset:
        return self.state.dataset

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.on_response_prepare.append(_stamp_request_id)
        r = app.router
        ep = self._endpoint
        r.add_get(f"{PREFIX}/organizations", ep("organizations", ORG_DATA, self.organizations))
        r.add_get(f"{PREFIX}/organizations/{{org_uuid}}/users", ep("users", USER_DATA, self.users))
        r.add_get(f"{PREFIX}/apps/projects", ep("projects.list", USER_DATA, self.projects_list))
        docs = f"{PREFIX}/apps/projects/documents/{{document_id}}"
        r.add_get(docs, ep("documents.get", USER_DATA, self.document_get))
        r.add_get(f"{docs}/metadata", ep("documents.metadata", USER_DATA, self.document_metadata))
        r.add_delete(docs, ep("documents.delete", DELETE, self.document_delete))
        proj = f"{PREFIX}/apps/projects/{{project_id}}"
        r.add_get(proj, ep("projects.get", USER_DATA, self.project_get))
        r.add_delete(proj, ep("projects.delete", DELETE, self.project_delete))
        r.add_get(f"{proj}/attachments", ep("attachments", USER_DATA, self.attachments))
        r.add_get(f"{proj}/collaborators", ep("collaborators", USER_DATA, self.collaborators))
        files = f"{PREFIX}/apps/chats/files/{{file_id}}"
        r.add_get(files, ep("files.get", USER_DATA, self.file_get))
        r.add_get(f"{files}/content", ep("files.content", USER_DATA, self.file_content))
        r.add_get(f"{PREFIX}/activities", ep("activities", ACTIVITIES, self.activities))
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        request[REQUEST_ID] = new_request_id()
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return error_response(404, f"no route for {request.path}")
        except web.HTTPMethodNotAllowed:
            return error_response(405, f"method {request.method} not allowed here")

    def _endpoint(
        self, name: str, scope: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def run(request: web.Request) -> web.StreamResponse:
            response = await self._pipeline(request, name, scope, handler)
            status = 0 if response is None else response.status
            self.state.counters.record(name, status)
            if request.method == "DELETE":
                target = request.match_info.get("project_id") or request.match_info.get(
                    "document_id", ""
                )
                self.state.counters.record_delete(target, status)
            if status not in (0, 401):
                self.ds.activities.accessed(
                    request[REQUEST_ID], request.method, status, str(request.url)
                )
            if response is None:
                return web.Response(status=500)  # never written: the transport is gone
            return response

        return run

    async def _pipeline(
        self, request: web.Request, name: str, scope: str, handler: Handler
    ) -> web.StreamResponse | None:
        st = self.state
        key = key_from_headers(
            request.headers.get("x-api-key"), request.headers.get("authorization")
        )
        if key is None or key not in st.keys:
            return error_response(401, "invalid x-api-key")
        decision = st.limiter.check()
        headers = dict(decision.headers)
        if not decision.allowed:
            return error_response(429, "Number of requests has exceeded your rate limit", headers)
        scopes = st.keys[key]
        if scope not in scopes:
            return error_response(403, scope_message(scopes, scope), headers)
        raw_query = request.rel_url.raw_query_string
        url = f"{request.method} {request.rel_url.raw_path}?{raw_query}"
        query = parse_qsl(raw_query, keep_blank_values=True)
        has_token = any(k == "page" for k, _ in query)
        inj = st.decider.decide(st.faults, name, url, has_token=has_token)
        if inj.latency > 0:
            await asyncio.sleep(inj.latency)
        if any(i in request.rel_url.path for i in st.faults.always_500_ids):
            return error_response(500, "Internal server error", headers, should_retry=False)
        if any(i in request.rel_url.path for i in st.faults.gone_ids):
            return error_response(404, "not found (deleted after it was listed)", headers)
        if inj.action == fk.RESET:
            _abort(request)
            return None
        if inj.action == fk.ERROR:
            status = inj.status or 500
            f = st.faults.for_endpoint(name)
            if f.retry_after is not None:
                if f.retry_after_form == "http-date":
                    when = datetime.now(UTC) + timedelta(seconds=f.retry_after)
                    headers["retry-after"] = format_datetime(when, usegmt=True)
                else:
                    headers["retry-after"] = f"{f.retry_after:g}"
            return error_response(status, "injected failure, try again", headers, f.should_retry)
        if inj.action == fk.EXPIRE:
            for k, v in query:
                if k == "page":
                    st.tokens.expire(v)
        ctx = Ctx(headers, inj, query)
        try:
            result = await handler(request, ctx)
        except ApiError as exc:
            return error_response(exc.status, exc.message, headers, exc.should_retry)
        if isinstance(result, web.StreamResponse):
            return result
        return await self._send_json(request, result, ctx)

    async def _send_json(self, request: web.Request, body: Json, ctx: Ctx) -> web.StreamResponse:
        raw = orjson.dumps(body)
        inj = ctx.injection
        if inj.action == fk.MALFORMED:
            raw = raw[: max(1, len(raw) // 2)] + b'\x00"}{,'
        if inj.action == fk.DANGLING and isinstance(body, dict) and "has_more" in body:
            raw = orjson.dumps({**body, "has_more": True, "next_page": None})
        if inj.action != fk.TRUNCATE and inj.chunk_delay <= 0:
            return web.Response(
                status=200, body=raw, headers=ctx.headers, content_type="application/json"
            )
        resp = web.StreamResponse(status=200, headers=ctx.headers)
        resp.content_type = "application/json"
        resp.content_length = len(raw)
        await resp.prepare(request)
        if inj.action == fk.TRUNCATE:
            await resp.write(raw[: len(raw) // 2])
            _close(request)
            return resp
        step = 4096
        for start in range(0, len(raw), step):
            await resp.write(raw[start : start + step])
            await asyncio.sleep(inj.chunk_delay)
        await resp.write_eof()
        return resp

    # -- pagination ------------------------------------------------------------------------

    def _page(
        self,
        params: dict[str, Any],
        walk: str,
        items_after: Callable[
            [tuple[int, str] | None, object], Iterator[tuple[tuple[int, str], Json]]
        ],
        *,
        default: int,
        maximum: int,
        filters_key: str = "",
        filters: object = None,
        filters_given: bool = False,
    ) -> Json:
        limit = parse_limit(params, default, maximum)
        token = params.get("page")
        if token is not None:
            try:
                cursor = self.state.tokens.resolve(token, walk)
            except TokenError as exc:
                raise ApiError(400, f"page: {exc}") from exc
            if filters_given and cursor.filters != filters_key:
                raise ApiError(400, "page: token was issued for different filters")
        else:
            cursor = Cursor(walk, filters_key, None, 0, filters)
        spec = self.ds.spec
        size = page_size(
            spec.seed, walk, limit, cursor.index, spec.short_page_rate, spec.empty_page_rate
        )
        got: list[tuple[tuple[int, str], Json]] = []
        for item in items_after(cursor.after, cursor.payload):
            got.append(item)
            if len(got) > size:
                break
        if len(got) <= size:
            return {"data": [e for _, e in got], "has_more": False, "next_page": None}
        served = got[:size]
        after = served[-1][0] if served else cursor.after
        nxt = self.state.tokens.issue(
            Cursor(walk, cursor.filters, after, cursor.index + 1, cursor.payload)
        )
        return {"data": [e for _, e in served], "has_more": True, "next_page": nxt}

    # -- handlers --------------------------------------------------------------------------

    async def organizations(self, request: web.Request, ctx: Ctx) -> Json:
        params = parse_query(request.rel_url.raw_query_string, ("limit", "page"))
        orgs = sorted(self.ds.orgs, key=lambda o: (o.created_ns, o.uuid))

        def after(pos: tuple[int, str] | None, _: object) -> Iterator[tuple[tuple[int, str], Json]]:
            for o in orgs:
                k = (o.created_ns, o.uuid)
                if pos is None or k > pos:
                    yield k, o.entry()

        return self._page(params, "organizations", after, default=1000, maximum=1000)

    async def users(self, request: web.Request, ctx: Ctx) -> Json:
        params = parse_query(request.rel_url.raw_query_string, ("limit", "page"))
        org_uuid = request.match_info["org_uuid"]
        if self.ds.org_by_uuid(org_uuid) is None:
            raise ApiError(404, f"organization {org_uuid} not found")
        users = sorted(self.ds.users.get(org_uuid, []), key=lambda u: (u.created_ns, u.id))

        def after(pos: tuple[int, str] | None, _: object) -> Iterator[tuple[tuple[int, str], Json]]:
            for u in users:
                k = (u.created_ns, u.id)
                if pos is None or k > pos:
                    yield k, u.entry()

        return self._page(params, f"users:{org_uuid}", after, default=500, maximum=1000)

    async def projects_list(self, request: web.Request, ctx: Ctx) -> Json:
        params = parse_query(
            request.rel_url.raw_query_string,
            ("limit", "page", *_TIME_PARAMS),
            arrays=("organization_ids", "user_ids"),
        )
        filters = parse_project_filters(params)
        given = any(k not in ("limit", "page") for k in params)

        def after(
            pos: tuple[int, str] | None, payload: object
        ) -> Iterator[tuple[tuple[int, str], Json]]:
            f = payload if isinstance(payload, ProjectFilters) else filters
            for p in self.ds.projects_after(pos):
                if f.matches(p):
                    yield p.sort_key(), p.list_entry()

        return self._page(
            params,
            "projects",
            after,
            default=20,
            maximum=100,
            filters_key=filters.key(),
            filters=filters,
            filters_given=given,
        )

    async def activities(self, request: web.Request, ctx: Ctx) -> Json:
        query = parse_feed_query(request.rel_url.raw_query_string)
        return self.ds.activities.page(query)

    def _project(self, request: web.Request) -> Any:
        pid = request.match_info["project_id"]
        p = self.ds.projects.get(pid)
        if p is None or p.gone_on_detail:
            raise ApiError(404, f"project {pid} not found")
        return p

    async def project_get(self, request: web.Request, ctx: Ctx) -> Json:
        parse_query(request.rel_url.raw_query_string, ())
        p = self._project(request)
        return p.detail(len(p.attachments))  # type: ignore[no-any-return]

    async def project_delete(self, request: web.Request, ctx: Ctx) -> Json:
        async with self.state.lock:
            p = self._project(request)
            if p.chats_count > 0:
                raise ApiError(
                    409, f"project has {p.chats_count} chats attached; delete them first"
                )
            self.ds.delete_project(p.id)
        return {"id": p.id, "type": "claude_project_deleted"}

    async def attachments(self, request: web.Request, ctx: Ctx) -> Json:
        params = parse_query(request.rel_url.raw_query_string, ("limit", "page"))
        p = self._project(request)
        items = self.ds.attachment_items(p)

        def after(pos: tuple[int, str] | None, _: object) -> Iterator[tuple[tuple[int, str], Json]]:
            return (kv for kv in items if pos is None or kv[0] > pos)

        return self._page(params, f"attachments:{p.id}", after, default=20, maximum=100)

    async def collaborators(self, request: web.Request, ctx: Ctx) -> Json:
        params = parse_query(request.rel_url.raw_query_string, ("limit", "page"))
        p = self._project(request)
        items = self.ds.collaborator_items(p)

        def after(pos: tuple[int, str] | None, _: object) -> Iterator[tuple[tuple[int, str], Json]]:
            return (kv for kv in items if pos is None or kv[0] > pos)

        return self._page(params, f"collaborators:{p.id}", after, default=20, maximum=100)

    def _document(self, request: web.Request) -> Any:
        parse_query(request.rel_url.raw_query_string, ())
        did = request.match_info["document_id"]
        doc = self.ds.documents.get(did)
        if doc is None:
            raise ApiError(404, f"document {did} not found")
        return doc

    async def document_get(self, request: web.Request, ctx: Ctx) -> Json:
        return self._document(request).response()  # type: ignore[no-any-return]

    async def document_metadata(self, request: web.Request, ctx: Ctx) -> Json:
        meta: Json = self._document(request).metadata()
        if ctx.injection.action == fk.BAD_MD5 and isinstance(meta, dict) and meta.get("md5"):
            md5 = str(meta["md5"])
            meta = {**meta, "md5": f"{int(md5[:2], 16) ^ 0xFF:02x}{md5[2:]}"}
        return meta

    async def document_delete(self, request: web.Request, ctx: Ctx) -> Json:
        async with self.state.lock:
            doc = self._document(request)
            self.ds.delete_document(doc.id)
        return {"id": doc.id, "type": "claude_project_document_deleted"}

    def _file(self, request: web.Request) -> Any:
        parse_query(request.rel_url.raw_query_string, ())
        fid = request.match_info["file_id"]
        rec = self.ds.files.get(fid)
        if rec is None:
            raise ApiError(404, f"file {fid} not found")
        return rec

    async def file_get(self, request: web.Request, ctx: Ctx) -> Json:
        return self._file(request).metadata()  # type: ignore[no-any-return]

    async def file_content(self, request: web.Request, ctx: Ctx) -> web.StreamResponse:
        rec = self._file(request)
        inj = ctx.injection
        crafted = self.state.faults.file_bodies.get(rec.id)
        if crafted is not None:
            return await self._crafted_file(request, ctx, rec, crafted)
        md5 = rec.md5
        if inj.action == fk.BAD_MD5:
            md5 = f"{int(md5[:2], 16) ^ 0xFF:02x}{md5[2:]}"
        headers = dict(ctx.headers)
        headers["Content-Type"] = rec.mime_type
        headers["Content-Disposition"] = content_disposition(rec.filename)
        headers["Content-MD5"] = content_md5_header(md5)
        resp = web.StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        cut = rec.size // 2 if inj.action == fk.TRUNCATE else None
        sent = 0
        corrupt = inj.action == fk.CORRUPT
        for block in iter_file_bytes(rec.content_seed, rec.size):
            if corrupt:
                block = bytes([block[0] ^ 0x01]) + block[1:]
                corrupt = False
            for start in range(0, len(block), self.chunk_size):
                piece = block[start : start + self.chunk_size]
                if cut is not None and sent + len(piece) > cut:
                    if cut > sent:
                        await resp.write(piece[: cut - sent])
                    _close(request)
                    return resp
                await resp.write(piece)
                sent += len(piece)
                if inj.chunk_delay > 0:
                    await asyncio.sleep(inj.chunk_delay)
        if corrupt:  # an empty file: the only way to disagree is to send a byte
            await resp.write(b"\x00")
        if cut is not None:
            _close(request)
            return resp
        await resp.write_eof()
        return resp

    async def _crafted_file(
        self, request: web.Request, ctx: Ctx, rec: Any, body: bytes
    ) -> web.StreamResponse:
        headers = dict(ctx.headers)
        headers["Content-Type"] = rec.mime_type
        headers["Content-Disposition"] = content_disposition(rec.filename)
        headers["Content-MD5"] = content_md5_header(hashlib.md5(body).hexdigest())
        resp = web.StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(body)
        await resp.write_eof()
        return resp


def content_disposition(filename: str) -> str:
    """RFC 6266/8187: every byte outside the unreserved set is percent-encoded."""
    return "attachment; filename*=utf-8''" + quote(filename.encode("utf-8"), safe="")


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    if "request-id" not in response.headers:
        response.headers["request-id"] = request.get(REQUEST_ID) or new_request_id()
