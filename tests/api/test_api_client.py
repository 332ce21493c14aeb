"""ComplianceClient against aioresponses: error mapping, retries, pagination, secrecy.

Time is virtual (``vclock``): backoffs of seconds cost nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import orjson
import pytest
from aioresponses import CallbackResult
from yarl import URL

from crawler.api import (
    ClientConfig,
    ComplianceClient,
    RetryPolicy,
    encode_query,
    list_organizations,
    list_users,
)
from crawler.errors import (
    AuthError,
    BadResponseError,
    FatalError,
    GoneError,
    RateLimitedError,
    RejectedError,
    RetriesExhaustedError,
    ScopeError,
    ServerError,
    SkipItemError,
    TransportError,
)

KEY = "sk-ant-api01-TOPSECRET.key-0123456789"
BASE = "http://api.test"
PROJECTS = "/v1/compliance/apps/projects"
DETAIL = "/v1/compliance/apps/projects/claude_proj_x"


class FixedRandom(random.Random):
    def __init__(self, value: float = 0.0) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def at(path: str) -> re.Pattern[str]:
    """Match a path with any query string."""
    return re.compile(re.escape(BASE + path) + r"(\?.*)?$")


def err(etype: str, message: str, *, top_level: bool = False) -> bytes:
    doc: dict[str, Any] = {"error": {"type": etype, "message": message}}
    if top_level:
        doc = {"type": "error", **doc}
    return orjson.dumps(doc)


def make_client(max_attempts: int = 8, **kw: Any) -> ComplianceClient:
    kw.setdefault("rate", None)
    config = ClientConfig(
        base_url=BASE, api_key=KEY, max_attempts=max_attempts, trust_env=False, **kw
    )
    policy = RetryPolicy(max_attempts=max_attempts, rng=FixedRandom(0.0))
    return ComplianceClient(config, policy=policy)


@pytest.fixture
async def client(vclock: object) -> AsyncIterator[ComplianceClient]:
    async with make_client() as c:
        yield c


def calls(m: Any) -> int:
    return sum(len(v) for v in m.requests.values())


# -- success -------------------------------------------------------------------------------


async def test_get_json_keeps_body_and_custody(client: ComplianceClient, mocked: Any) -> None:
    body = b'{"id": "claude_proj_x",  "unknown_field": [1, 2.50]}'
    mocked.get(
        at(DETAIL),
        body=body,
        headers={"request-id": "req_1", "x-other": "dropped", "content-type": "application/json"},
    )
    f = await client.get_json("projects.get", DETAIL)
    assert f.body == body  # byte for byte, whitespace and all
    assert f.json() == {"id": "claude_proj_x", "unknown_field": [1, 2.5]}
    assert f.json() is f.json()
    assert (f.endpoint, f.method, f.path, f.query, f.status) == (
        "projects.get",
        "GET",
        DETAIL,
        (),
        200,
    )
    assert f.request_id == "req_1"
    assert dict(f.headers) == {"content-type": "application/json", "request-id": "req_1"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", f.fetched_at)
    when = datetime.strptime(f.fetched_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - when) < timedelta(seconds=60)
    assert client.stats.snapshot() == {
        "total": 1,
        "retries": 0,
        "rate_limited": 0,
        "bytes_received": len(body),
        "by_endpoint": {"projects.get": {"200": 1}},
    }
    orjson.dumps(client.stats.snapshot())  # JSON-able


async def test_sends_key_version_and_user_agent(client: ComplianceClient, mocked: Any) -> None:
    seen: dict[str, Any] = {}

    def capture(url: URL, **kwargs: Any) -> CallbackResult:
        seen.update(kwargs["headers"])
        return CallbackResult(body=b"{}")

    mocked.get(at(DETAIL), callback=capture)
    await client.get_json("projects.get", DETAIL)
    assert seen["x-api-key"] == KEY
    assert seen["anthropic-version"] == "2023-06-01"
    assert seen["User-Agent"].startswith("crawler/")
    assert "Authorization" not in seen and "authorization" not in seen


# -- status -> error mapping ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "etype", "exc"),
    [
        (400, "invalid_request_error", RejectedError),
        (409, "conflict_error", RejectedError),
        (422, "invalid_request_error", RejectedError),
        (404, "not_found_error", GoneError),
        (401, "authentication_error", AuthError),
        (403, "permission_error", ScopeError),
    ],
)
@pytest.mark.parametrize("top_level", [False, True])
async def test_final_statuses(
    client: ComplianceClient,
    mocked: Any,
    status: int,
    etype: str,
    exc: type[Exception],
    top_level: bool,
) -> None:
    mocked.get(
        at(DETAIL),
        status=status,
        body=err(etype, "nope", top_level=top_level),
        headers={"request-id": "req_err"},
    )
    with pytest.raises(exc) as info:
        await client.get_json("projects.get", DETAIL)
    e = info.value
    assert e.request_id == "req_err"  # type: ignore[attr-defined]
    assert e.status == status  # type: ignore[attr-defined]
    assert e.error_type == etype  # type: ignore[attr-defined]
    assert "req_err" in str(e)
    assert calls(mocked) == 1  # never retried
    assert client.stats.by_endpoint == {"projects.get": {str(status): 1}}


async def test_matches_on_status_and_type_not_message(
    client: ComplianceClient, mocked: Any
) -> None:
    # The message mentions "rate limit" and "retry": irrelevant, a 404 is gone.
    mocked.get(at(DETAIL), status=404, body=err("not_found_error", "rate limit, retry later"))
    with pytest.raises(GoneError):
        await client.get_json("projects.get", DETAIL)


async def test_unparseable_error_body(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(DETAIL), status=400, body=b"<html>bad gateway</html>", content_type="text/html")
    with pytest.raises(RejectedError) as info:
        await client.get_json("projects.get", DETAIL)
    assert info.value.error_type is None


async def test_500_should_retry_false_not_retried(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(
        at(DETAIL),
        status=500,
        body=err("api_error", "deterministic"),
        headers={"x-should-retry": "false", "request-id": "req_500"},
    )
    with pytest.raises(RejectedError) as info:
        await client.get_json("projects.get", DETAIL)
    assert info.value.request_id == "req_500"
    assert calls(mocked) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529])
async def test_transient_statuses_retried(
    client: ComplianceClient, mocked: Any, status: int
) -> None:
    mocked.get(at(DETAIL), status=status, body=err("overloaded_error", "busy"))
    mocked.get(at(DETAIL), status=200, body=b'{"ok": true}', headers={"request-id": "req_ok"})
    f = await client.get_json("projects.get", DETAIL)
    assert f.json() == {"ok": True} and f.request_id == "req_ok"
    assert client.stats.retries == 1 and client.stats.total == 2
    assert client.stats.by_endpoint["projects.get"] == {str(status): 1, "200": 1}


async def test_retries_exhausted_wraps_last_error(vclock: object, mocked: Any) -> None:
    loop = asyncio.get_running_loop()
    for i in range(4):
        mocked.get(
            at(DETAIL),
            status=503,
            body=err("overloaded_error", f"busy {i}"),
            headers={"request-id": f"req_{i}"},
        )
    t0 = loop.time()
    async with make_client(max_attempts=4) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.get_json("projects.get", DETAIL)
    e = info.value
    assert isinstance(e, SkipItemError)
    assert isinstance(e.last, ServerError)
    assert e.attempts == 4 and e.request_id == "req_3" and e.status == 503
    assert "busy 3" in str(e)
    assert calls(mocked) == 4
    assert c.stats.retries == 3
    # Backoff 1 + 2 + 4 s (jitter pinned to 0), in virtual time.
    assert loop.time() - t0 == pytest.approx(7.0)


# -- 429 and the shared limiter ---------------------------------------------------------------


async def test_429_waits_retry_after_and_pauses_everyone(vclock: object, mocked: Any) -> None:
    loop = asyncio.get_running_loop()
    starts: dict[str, list[float]] = {"a": [], "b": []}

    def a(url: URL, **kwargs: Any) -> CallbackResult:
        starts["a"].append(loop.time())
        if len(starts["a"]) == 1:
            return CallbackResult(
                status=429,
                body=err("rate_limit_error", "slow down"),
                headers={"retry-after": "5", "request-id": "req_429"},
            )
        return CallbackResult(body=b"{}")

    def b(url: URL, **kwargs: Any) -> CallbackResult:
        starts["b"].append(loop.time())
        return CallbackResult(body=b"{}")

    mocked.get(at("/v1/compliance/a"), callback=a, repeat=True)
    mocked.get(at("/v1/compliance/b"), callback=b, repeat=True)
    async with make_client() as c:
        task_a = asyncio.create_task(c.get_json("x", "/v1/compliance/a"))
        while not starts["a"]:
            await asyncio.sleep(0)
        await asyncio.sleep(0.1)  # the 429 has been seen; now another caller asks
        await c.get_json("y", "/v1/compliance/b")
        await task_a
    t429 = starts["a"][0]
    assert starts["a"][1] >= t429 + 5
    assert starts["b"][0] >= t429 + 5  # the pause held every caller, not only the 429'd one
    assert c.stats.rate_limited == 1
    assert c.stats.by_endpoint["x"] == {"429": 1, "200": 1}


async def test_429_retry_after_http_date(vclock: object, mocked: Any) -> None:
    loop = asyncio.get_running_loop()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    mocked.get(at(DETAIL), status=429, headers={"retry-after": when})
    mocked.get(at(DETAIL), body=b"{}")
    t0 = loop.time()
    async with make_client() as c:
        await c.get_json("projects.get", DETAIL)
    assert 28 <= loop.time() - t0 <= 31


async def test_429_without_retry_after_backs_off_from_one_second(
    vclock: object, mocked: Any
) -> None:
    loop = asyncio.get_running_loop()
    times: list[float] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        times.append(loop.time())
        if len(times) <= 3:
            return CallbackResult(status=429, body=err("rate_limit_error", "x"))
        return CallbackResult(body=b"{}")

    mocked.get(at(DETAIL), callback=cb, repeat=True)
    async with make_client() as c:
        await c.get_json("projects.get", DETAIL)
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps == [1.0, 2.0, 4.0]
    assert c.stats.rate_limited == 3


async def test_429_exhausted(vclock: object, mocked: Any) -> None:
    mocked.get(
        at(DETAIL),
        status=429,
        body=err("rate_limit_error", "x"),
        headers={"retry-after": "2", "request-id": "req_rl"},
        repeat=True,
    )
    async with make_client(max_attempts=3) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.get_json("projects.get", DETAIL)
    last = info.value.last
    assert isinstance(last, RateLimitedError) and last.retry_after == 2.0
    assert info.value.request_id == "req_rl" and info.value.error_type == "rate_limit_error"
    assert c.stats.rate_limited == 3


async def test_429_never_advances_the_cursor(client: ComplianceClient, mocked: Any) -> None:
    pages: list[str | None] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        pages.append(url.query.get("page"))
        if len(pages) == 1:
            return CallbackResult(status=429, headers={"retry-after": "1"})
        return CallbackResult(body=orjson.dumps({"data": [], "has_more": False, "next_page": None}))

    mocked.get(at(PROJECTS), callback=cb, repeat=True)
    await client.get_page("projects.list", PROJECTS, (), "tok_2", 100)
    assert pages == ["tok_2", "tok_2"]


async def test_a_budget_spent_by_others_holds_the_client(vclock: object, mocked: Any) -> None:
    # One of ours in a 5-request window that is full: the other 4 are someone
    # else's, so nothing is left until the reset (10 s away).
    loop = asyncio.get_running_loop()
    reset = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    times: list[float] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        times.append(loop.time())
        return CallbackResult(
            body=b"{}",
            headers={
                "anthropic-ratelimit-requests-limit": "5",
                "anthropic-ratelimit-requests-remaining": "0" if len(times) == 1 else "4",
                "anthropic-ratelimit-requests-reset": reset,
            },
        )

    mocked.get(at(DETAIL), callback=cb, repeat=True)
    async with make_client(rate=4.0) as c:
        await c.get_json("projects.get", DETAIL)
        await c.get_json("projects.get", DETAIL)
    assert 9 <= times[1] - times[0] <= 10.5
    assert c.stats.rate_limited == 0


# -- transport failures and bad bodies ------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientConnectionResetError("reset by peer"),
        aiohttp.ClientPayloadError("Response payload is not completed"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
async def test_transport_failures_retried(
    client: ComplianceClient, mocked: Any, exc: Exception
) -> None:
    mocked.get(at(DETAIL), exception=exc)
    mocked.get(at(DETAIL), body=b"{}")
    await client.get_json("projects.get", DETAIL)
    assert client.stats.by_endpoint["projects.get"] == {"error": 1, "200": 1}
    assert client.stats.retries == 1


async def test_transport_failure_exhausted(vclock: object, mocked: Any) -> None:
    mocked.get(at(DETAIL), exception=aiohttp.ClientConnectionError("refused"), repeat=True)
    async with make_client(max_attempts=3) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.get_json("projects.get", DETAIL)
    assert isinstance(info.value.last, TransportError)
    assert info.value.__cause__ is info.value.last
    assert info.value.last.__cause__ is None  # aiohttp's exception (and its headers) not chained
    assert c.stats.by_endpoint == {"projects.get": {"error": 3}}


async def test_malformed_json_retried(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(DETAIL), body=b'{"id": "claude_pr', headers={"request-id": "req_bad"})
    mocked.get(at(DETAIL), body=b'{"id": "claude_proj_x"}')
    f = await client.get_json("projects.get", DETAIL)
    assert f.json() == {"id": "claude_proj_x"}
    assert client.stats.retries == 1


async def test_malformed_json_exhausted_keeps_request_id(vclock: object, mocked: Any) -> None:
    mocked.get(at(DETAIL), body=b"not json", headers={"request-id": "req_bad"}, repeat=True)
    async with make_client(max_attempts=2) as c:
        with pytest.raises(RetriesExhaustedError) as info:
            await c.get_json("projects.get", DETAIL)
    assert isinstance(info.value.last, BadResponseError)
    assert info.value.request_id == "req_bad"


async def test_oversized_body_refused(vclock: object, mocked: Any) -> None:
    mocked.get(at(DETAIL), body=b'{"x": "' + b"a" * 5000 + b'"}', headers={"request-id": "req_big"})
    async with make_client(max_json_bytes=1000) as c:
        with pytest.raises(RejectedError) as info:
            await c.get_json("projects.get", DETAIL)
    assert "max_json_bytes" in str(info.value) and info.value.request_id == "req_big"
    assert calls(mocked) == 1


# -- secrecy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "etype", "exc"),
    [(401, "authentication_error", AuthError), (403, "permission_error", ScopeError)],
)
async def test_key_never_in_errors(
    client: ComplianceClient, mocked: Any, status: int, etype: str, exc: type[Exception]
) -> None:
    # A server that echoes the key back must not get it into our messages.
    mocked.get(at(DETAIL), status=status, body=err(etype, f"bad key {KEY} sk-ant-api01-other"))
    with pytest.raises(exc) as info:
        await client.get_json("projects.get", DETAIL)
    e = info.value
    assert isinstance(e, FatalError)
    for text in (str(e), repr(e), e.message, *map(str, e.args)):
        assert KEY not in text and "sk-ant-api01" not in text


async def test_scope_error_names_the_problem(client: ComplianceClient, mocked: Any) -> None:
    msg = "Missing required scopes. Got: [read:compliance_activities] Needed: [read:compliance_user_data]"
    mocked.get(at(DETAIL), status=403, body=err("permission_error", msg))
    with pytest.raises(ScopeError) as info:
        await client.get_json("projects.get", DETAIL)
    assert msg in str(info.value)
    assert "use a key with read:compliance_user_data" in str(info.value).lower()


async def test_scope_error_for_organizations(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at("/v1/compliance/organizations"), status=403, body=err("permission_error", "x"))
    with pytest.raises(ScopeError) as info:
        await list_organizations(client)
    assert "read:compliance_org_data" in str(info.value)


async def test_auth_error_message(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(DETAIL), status=401, body=err("authentication_error", "invalid x-api-key"))
    with pytest.raises(AuthError) as info:
        await client.get_json("projects.get", DETAIL)
    assert "invalid x-api-key" in str(info.value)


async def test_transport_error_text_scrubbed(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(DETAIL), exception=aiohttp.ClientConnectionError(f"oops {KEY}"), repeat=True)
    with pytest.raises(RetriesExhaustedError) as info:
        await client.get_json("projects.get", DETAIL)
    assert KEY not in str(info.value) and KEY not in str(info.value.last)


async def test_key_never_in_log_lines(
    client: ComplianceClient, mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mocked.get(at(DETAIL), status=503, body=err("overloaded_error", f"key {KEY}"), repeat=True)
    with pytest.raises(RetriesExhaustedError):
        await client.get_json("projects.get", DETAIL)
    assert "retrying" in caplog.text and "giving up" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        {"rate": -1.0},
        {"rate_margin": 1.0},
        {"max_attempts": 0},
        {"read_timeout": 0.0},
        {"total_timeout": 0.0},
        {"max_json_bytes": 0},
        {"backoff_base": -1.0},
    ],
)
def test_config_validates(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ClientConfig(base_url=BASE, api_key=KEY, **bad)
    with pytest.raises(ValueError):
        ComplianceClient(ClientConfig(base_url="api.anthropic.com", api_key=KEY))


def test_config_repr_hides_key() -> None:
    config = ClientConfig(base_url=BASE, api_key=KEY)
    for text in (repr(config), str(config), f"{config}", repr(ComplianceClient(config))):
        assert KEY not in text
    assert "api_key=<hidden>" in repr(config)
    assert config.rate == 4.0 and config.rate_margin == 0.01 and config.max_attempts == 8
    assert config.max_json_bytes == 64 * 1024 * 1024
    assert config.user_agent.startswith("crawler/")


# -- pagination ------------------------------------------------------------------------------


async def test_get_page_adds_limit_page_and_array_filters(
    client: ComplianceClient, mocked: Any
) -> None:
    token = "b64+tok/en=="
    seen: list[URL] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        seen.append(url)
        return CallbackResult(
            body=orjson.dumps(
                {"data": [{"id": "p1"}, {"id": "p2"}], "has_more": True, "next_page": "n+x/="}
            ),
            headers={"request-id": "req_page"},
        )

    mocked.get(at(PROJECTS), callback=cb)
    query = [
        ("organization_ids[]", "org_a"),
        ("organization_ids[]", "org_b"),
        ("created_at.gte", "2024-01-01T00:00:00+00:00"),
    ]
    page = await client.get_page("projects.list", PROJECTS, query, token, 100)
    assert [i["id"] for i in page.items] == ["p1", "p2"]
    assert page.next_page == "n+x/=" and page.has_more is True
    assert page.fetched.request_id == "req_page"
    assert page.fetched.query == (*query, ("limit", "100"), ("page", token))
    # What reached the "server" decodes back to exactly what was sent: '+' did not become ' '.
    got = parse_qsl(seen[0].query_string)
    assert ("page", token) in got
    assert got.count(("organization_ids[]", "org_a")) == 1
    assert ("organization_ids[]", "org_b") in got
    assert ("created_at.gte", "2024-01-01T00:00:00+00:00") in got
    assert ("limit", "100") in got


def test_encode_query_escapes_token_characters() -> None:
    raw = encode_query([("organization_ids[]", "org_a"), ("page", "a+b/c==")])
    assert raw == "organization_ids[]=org_a&page=a%2Bb%2Fc%3D%3D"
    assert encode_query([("q", "a b&c=d%e")]) == "q=a%20b%26c%3Dd%25e"


async def test_first_page_has_no_page_param(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(PROJECTS), body=orjson.dumps({"data": [], "next_page": None}))
    page = await client.get_page("projects.list", PROJECTS, (), None, 1000)
    assert page.fetched.query == (("limit", "1000"),)
    assert page.items == [] and page.next_page is None and page.has_more is False


@pytest.mark.parametrize(
    "bad",
    [
        b"[]",
        b'{"next_page": null}',
        b'{"data": {}, "next_page": null}',
        b'{"data": [1], "next_page": null}',
        b'{"data": [], "next_page": 5}',
        b'{"data": [], "next_page": ""}',
        b'{"data": [], "has_more": "yes", "next_page": null}',
        b'{"data": [], "has_more": true, "next_page": null}',
    ],
)
async def test_malformed_page_retried(client: ComplianceClient, mocked: Any, bad: bytes) -> None:
    mocked.get(at(PROJECTS), body=bad)
    mocked.get(at(PROJECTS), body=b'{"data": [{"id": "p"}], "has_more": false, "next_page": null}')
    page = await client.get_page("projects.list", PROJECTS, (), None, 100)
    assert page.items == [{"id": "p"}]
    assert client.stats.retries == 1


async def test_empty_page_with_token_is_not_the_end(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(at(PROJECTS), body=b'{"data": [], "has_more": true, "next_page": "t2"}')
    page = await client.get_page("projects.list", PROJECTS, (), None, 100)
    assert page.items == [] and page.next_page == "t2" and page.has_more


async def test_list_organizations_walks_every_page(client: ComplianceClient, mocked: Any) -> None:
    pages = {
        None: {"data": [{"uuid": "o1"}], "has_more": True, "next_page": "p+2"},
        "p+2": {"data": [], "has_more": True, "next_page": "p/3"},
        "p/3": {"data": [{"uuid": "o3"}], "has_more": False, "next_page": None},
    }
    limits: list[str] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        limits.append(url.query["limit"])
        return CallbackResult(body=orjson.dumps(pages[url.query.get("page")]))

    mocked.get(at("/v1/compliance/organizations"), callback=cb, repeat=True)
    assert await list_organizations(client) == [{"uuid": "o1"}, {"uuid": "o3"}]
    assert limits == ["1000"] * 3


async def test_list_users(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(
        at("/v1/compliance/organizations/org-uuid-1/users"),
        body=orjson.dumps({"data": [{"id": "u1"}], "has_more": False, "next_page": None}),
    )
    assert await list_users(client, "org-uuid-1") == [{"id": "u1"}]
    assert client.stats.by_endpoint == {"users": {"200": 1}}


async def test_walk_refuses_a_token_loop(client: ComplianceClient, mocked: Any) -> None:
    mocked.get(
        at("/v1/compliance/organizations"),
        body=b'{"data": [], "has_more": true, "next_page": "same"}',
        repeat=True,
    )
    with pytest.raises(RejectedError):
        await list_organizations(client)


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/compliance/apps/projects/..", "/v1/compliance/apps/projects/", "/v1//x"]
)
async def test_unaddressable_paths_refused(client: ComplianceClient, path: str) -> None:
    with pytest.raises((RejectedError, ValueError)):
        await client.get_json("projects.get", path)


async def test_path_must_be_under_the_api(client: ComplianceClient) -> None:
    with pytest.raises(ValueError):
        await client.get_json("projects.get", "/v2/other")


async def test_odd_ids_are_escaped(client: ComplianceClient, mocked: Any) -> None:
    seen: list[URL] = []

    def cb(url: URL, **kwargs: Any) -> CallbackResult:
        seen.append(url)
        return CallbackResult(body=b"{}")

    mocked.get(re.compile(r".*"), callback=cb)
    await client.get_json("projects.get", "/v1/compliance/apps/projects/id?x=1#y")
    assert seen[0].raw_path == "/v1/compliance/apps/projects/id%3Fx=1%23y"
    assert seen[0].query_string == ""


async def test_use_outside_context_fails() -> None:
    c = make_client()
    with pytest.raises(RuntimeError):
        await c.get_json("projects.get", DETAIL)
