"""ComplianceClient against a real aiohttp.web server on 127.0.0.1 (an ephemeral port).

Streaming, truncation and resets need real sockets; this tiny server is written
here on purpose (the project's simulator must not share code with the client).
Backoffs are shrunk to milliseconds; nothing sleeps for more than a fraction
of a second.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from crawler.api import ClientConfig, ComplianceClient, RetryPolicy
from crawler.errors import (
    BadResponseError,
    GoneError,
    RejectedError,
    RetriesExhaustedError,
    TransportError,
)

KEY = "sk-ant-api01-streaming-test-key"
BODY = random.Random(7).randbytes(300_000)
BODY_MD5 = hashlib.md5(BODY).digest()
FILES = "/v1/compliance/apps/chats/files"


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


class Server:
    """Behaviour chosen by the file id in the path; ``hits`` counts attempts per id."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.router.add_get("/v1/compliance/echo", self.echo)
        self.app.router.add_get(FILES + "/{name}/content", self.content)
        self.app.router.add_get("/v1/compliance/json/{name}", self.json)

    async def echo(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "raw_path": request.raw_path,
                # raw_path is as sent on the wire; request.query_string is decoded.
                "raw_query": request.raw_path.partition("?")[2],
                "query": [[k, v] for k, v in request.query.items()],
                "headers": dict(request.headers),
            },
            headers={"request-id": "req_echo"},
        )

    async def json(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] += 1
        first = self.hits[name] == 1
        if name == "truncated" and first:
            # Promise more than is sent, then drop the connection.
            resp = web.StreamResponse(headers={"request-id": "req_trunc"})
            resp.content_length = 1000
            await resp.prepare(request)
            await resp.write(b'{"data": [')
            await self._drop(request)
            return resp
        if name == "big":
            return web.Response(
                body=b'{"x": "' + b"a" * 5000 + b'"}', headers={"request-id": "req_big"}
            )
        if name == "slowheaders" and first:
            await asyncio.sleep(0.5)
        return web.json_response({"ok": name}, headers={"request-id": f"req_{name}"})

    async def content(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] += 1
        first = self.hits[name] == 1
        if name == "gone":
            return web.json_response(
                {"type": "error", "error": {"type": "not_found_error", "message": "no file"}},
                status=404,
                headers={"request-id": "req_gone"},
            )
        if name == "reset" and first:
            await self._drop(request)  # before any response byte
            return web.Response()
        md5 = b64(BODY_MD5)
        if name == "badmd5" or (name == "flakymd5" and first):
            md5 = b64(hashlib.md5(b"something else").digest())
        headers = {
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
            "request-id": f"req_{name}_{self.hits[name]}",
        }
        if name != "nomd5":
            headers["Content-MD5"] = md5
        resp = web.StreamResponse(headers=headers)
        resp.enable_chunked_encoding()  # as the live API: no Content-Length
        await resp.prepare(request)
        chunks = [BODY[i : i + 50_000] for i in range(0, len(BODY), 50_000)]
        for i, chunk in enumerate(chunks):
            if name == "truncated" and first and i == 2:
                await self._drop(request)
                return resp
            if name == "stall" and first and i == 1:
                await asyncio.sleep(0.5)  # longer than the client's per-read timeout
            if name == "slow":
                await asyncio.sleep(0.1)
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    @staticmethod
    async def _drop(request: web.Request) -> None:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(0)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, str]]:
    srv = Server()
    runner = web.AppRunner(srv.app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield srv, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


class FixedRandom(random.Random):
    def random(self) -> float:
        return 0.0


def make_client(base: str, *, rate: float | None = None, **kw: Any) -> ComplianceClient:
    config = ClientConfig(
        base_url=base,
        api_key=KEY,
        rate=rate,
        trust_env=False,
        read_timeout=kw.pop("read_timeout", 5.0),
        max_attempts=kw.pop("max_attempts", 4),
        **kw,
    )
    policy = RetryPolicy(max_attempts=config.max_attempts, base=0.01, cap=0.05, rng=FixedRandom())
    return ComplianceClient(config, policy=policy)


class MemorySink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.aborted = False

    async def write(self, chunk: bytes) -> None:
        assert not self.aborted
        self.data += chunk

    async def abort(self) -> None:
        self.aborted = True
        self.data.clear()


def sink_factory() -> tuple[list[MemorySink], Callable[[], Awaitable[MemorySink]]]:
    sinks: list[MemorySink] = []

    async def open_sink() -> MemorySink:
        sink = MemorySink()
        sinks.append(sink)
        return sink

    return sinks, open_sink


# -- requests as sent ----------------------------------------------------------------------


async def test_headers_and_query_encoding_on_the_wire(server: tuple[Server, str]) -> None:
    _, base = server
    async with make_client(base) as c:
        page_query = [("organization_ids[]", "org_a"), ("organization_ids[]", "org_b")]
        # get_json validates nothing about shape; use it to see the request as sent.
        f = await c.get_json(
            "echo",
            "/v1/compliance/echo",
            [*page_query, ("limit", "100"), ("page", "ab+cd/ef==")],
        )
    seen = f.json()
    assert seen["raw_query"] == (
        "organization_ids[]=org_a&organization_ids[]=org_b&limit=100&page=ab%2Bcd%2Fef%3D%3D"
    )
    assert seen["query"] == [
        ["organization_ids[]", "org_a"],
        ["organization_ids[]", "org_b"],
        ["limit", "100"],
        ["page", "ab+cd/ef=="],
    ]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == KEY
    assert "authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["user-agent"].startswith("crawler/")
    assert f.request_id == "req_echo"


# -- downloads -----------------------------------------------------------------------------


async def test_download_streams_chunked_body(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        d = await c.download("files.content", FILES + "/good/content", open_sink)
    assert len(sinks) == 1 and bytes(sinks[0].data) == BODY and not sinks[0].aborted
    assert d.md5 == hashlib.md5(BODY).hexdigest() and d.size == len(BODY)
    assert d.content_md5 == b64(BODY_MD5)
    f = d.fetched
    assert f.body == b"" and f.status == 200 and f.endpoint == "files.content"
    assert f.request_id == "req_good_1"
    assert f.headers["content-type"] == "application/pdf"
    assert f.headers["content-disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"
    assert f.headers["content-md5"] == b64(BODY_MD5)
    assert c.stats.bytes_received == len(BODY)
    assert c.stats.by_endpoint == {"files.content": {"200": 1}}
    assert srv.hits["good"] == 1


async def test_download_without_content_md5(server: tuple[Server, str]) -> None:
    _, base = server
    _sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        d = await c.download("files.content", FILES + "/nomd5/content", open_sink)
    assert d.content_md5 is None and d.md5 == hashlib.md5(BODY).hexdigest()


async def test_md5_mismatch_aborts_and_retries(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        d = await c.download("files.content", FILES + "/flakymd5/content", open_sink)
    assert srv.hits["flakymd5"] == 2
    assert [s.aborted for s in sinks] == [True, False]
    assert bytes(sinks[1].data) == BODY and d.size == len(BODY)
    assert c.stats.retries == 1


async def test_md5_always_wrong_exhausts(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base, max_attempts=3) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.download("files.content", FILES + "/badmd5/content", open_sink)
    assert isinstance(info.value.last, BadResponseError)
    assert info.value.request_id == "req_badmd5_3"
    assert len(sinks) == 3 and all(s.aborted and not s.data for s in sinks)
    assert srv.hits["badmd5"] == 3


async def test_truncated_stream_aborted_and_retried(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        d = await c.download("files.content", FILES + "/truncated/content", open_sink)
    assert srv.hits["truncated"] == 2
    assert sinks[0].aborted and not sinks[1].aborted
    assert bytes(sinks[1].data) == BODY and d.md5 == hashlib.md5(BODY).hexdigest()


async def test_connection_reset_retried(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        d = await c.download("files.content", FILES + "/reset/content", open_sink)
    assert srv.hits["reset"] == 2
    assert len(sinks) == 1  # no sink opened for an attempt that got no response
    assert d.size == len(BODY)
    assert c.stats.by_endpoint["files.content"] == {"error": 1, "200": 1}


async def test_per_chunk_read_timeout(server: tuple[Server, str]) -> None:
    srv, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base, read_timeout=0.2) as c:
        d = await c.download("files.content", FILES + "/stall/content", open_sink)
    assert srv.hits["stall"] == 2 and sinks[0].aborted and d.size == len(BODY)


async def test_slow_body_within_read_timeout_is_fine(server: tuple[Server, str]) -> None:
    # Six 0.1 s gaps: longer in total than the per-read timeout, which is per chunk.
    _, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base, read_timeout=0.3, total_timeout=0.2) as c:
        d = await c.download("files.content", FILES + "/slow/content", open_sink)
    assert d.size == len(BODY) and len(sinks) == 1


async def test_download_404_opens_no_sink(server: tuple[Server, str]) -> None:
    _, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        with pytest.raises(GoneError) as info:
            await c.download("files.content", FILES + "/gone/content", open_sink)
    assert info.value.request_id == "req_gone" and info.value.error_type == "not_found_error"
    assert sinks == []


async def test_sink_failure_aborts_and_is_not_retried(server: tuple[Server, str]) -> None:
    srv, base = server

    class DiskFull(Exception):
        pass

    class FailingSink(MemorySink):
        async def write(self, chunk: bytes) -> None:
            raise DiskFull

    sinks: list[FailingSink] = []

    async def open_sink() -> FailingSink:
        sinks.append(FailingSink())
        return sinks[-1]

    async with make_client(base) as c:
        with pytest.raises(DiskFull):
            await c.download("files.content", FILES + "/good/content", open_sink)
    assert len(sinks) == 1 and sinks[0].aborted and srv.hits["good"] == 1


async def test_cancelled_download_aborts_sink(server: tuple[Server, str]) -> None:
    _, base = server
    sinks, open_sink = sink_factory()
    async with make_client(base) as c:
        task = asyncio.create_task(c.download("files.content", FILES + "/slow/content", open_sink))
        while not sinks or not sinks[0].data:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sinks[0].aborted


async def test_slow_body_does_not_hold_the_limiter(server: tuple[Server, str]) -> None:
    _, base = server
    loop = asyncio.get_running_loop()
    _sinks, open_sink = sink_factory()
    async with make_client(base, rate=10.0) as c:
        download = asyncio.create_task(
            c.download("files.content", FILES + "/slow/content", open_sink)
        )
        await asyncio.sleep(0.02)  # the download has taken its slot and is streaming
        done: list[float] = []
        for _ in range(3):
            await c.get_json("echo", "/v1/compliance/echo")
            done.append(loop.time())
        assert not download.done()  # three more requests went at the limiter's pace meanwhile
        d = await download
    assert d.size == len(BODY)
    assert loop.time() > done[-1]


# -- JSON over a real socket ---------------------------------------------------------------


async def test_truncated_json_retried(server: tuple[Server, str]) -> None:
    srv, base = server
    async with make_client(base) as c:
        f = await c.get_json("x", "/v1/compliance/json/truncated")
    assert f.json() == {"ok": "truncated"} and srv.hits["truncated"] == 2
    assert c.stats.by_endpoint["x"] == {"200": 2}  # the cut-short attempt had its headers


async def test_oversized_json_refused_by_content_length(server: tuple[Server, str]) -> None:
    srv, base = server
    async with make_client(base, max_json_bytes=1000) as c:
        with pytest.raises(RejectedError) as info:
            await c.get_json("x", "/v1/compliance/json/big")
    assert info.value.request_id == "req_big" and srv.hits["big"] == 1
    assert c.stats.bytes_received == 0  # refused before reading


async def test_slow_headers_time_out_and_retry(server: tuple[Server, str]) -> None:
    srv, base = server
    async with make_client(base, read_timeout=0.1) as c:
        f = await c.get_json("x", "/v1/compliance/json/slowheaders")
    assert f.json() == {"ok": "slowheaders"} and srv.hits["slowheaders"] == 2
    assert c.stats.by_endpoint["x"] == {"error": 1, "200": 1}


async def test_connection_refused_exhausts_as_transport_error() -> None:
    # A port nothing listens on: bind one, note it, close it.
    sock_server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = sock_server.sockets[0].getsockname()[1]
    sock_server.close()
    await sock_server.wait_closed()
    async with make_client(f"http://127.0.0.1:{port}", max_attempts=2) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.get_json("x", "/v1/compliance/echo")
    assert isinstance(info.value.last, TransportError)
    assert KEY not in str(info.value)


def test_body_fixture_is_not_trivial() -> None:
    assert len(BODY) == 300_000 and orjson.dumps(len(BODY))
