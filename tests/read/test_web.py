"""``crawler serve`` over HTTP: read-only, strict headers, inert hostile names, safe downloads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crawler.commands.serve import run as serve_run
from crawler.errors import UsageError
from crawler.read.web.app import CSP, make_app
from tests.read.conftest import HOSTILE_DOC_NAME, LONG_NAME, Desk

TOKEN = "t" * 32


@pytest.fixture
async def client(desk: Desk) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = make_app(desk.archive, verify_now=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


def _seg(value: str) -> str:
    return quote(value, safe="")


async def test_every_page_is_served_with_strict_headers(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    for path in ["/", f"/snapshots/{desk.s2}", "/search?q=audit", "/status", "/static/app.css"]:
        r = await client.get(path)
        assert r.status == 200, path
        assert r.headers["Content-Security-Policy"] == CSP
        assert "script-src" not in CSP and "default-src 'none'" in CSP
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        body = await r.text()
        assert "<script" not in body.replace("&lt;script", "")
        assert "http://" not in body and "https://" not in body  # no external assets


async def test_nothing_but_get_and_head(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = await client.request(method, "/")
        assert r.status == 405


async def test_a_foreign_host_name_is_refused_on_loopback(client: TestClient) -> None:  # type: ignore[type-arg]
    r = await client.get("/", headers={"Host": "attacker.example:80"})
    assert r.status == 421


async def test_hostile_names_render_as_text(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    page = f"/snapshots/{desk.s2}/projects/{_seg(desk.hostile_project)}"
    body = await (await client.get(page)).text()
    assert "&lt;/script&gt;&lt;script&gt;document.title=" in body
    assert "</script><script>document.title" not in body
    assert "\u202e" not in body and "⟨U+202E⟩" in body
    assert "\x00" not in body and "⟨U+0000⟩" in body
    assert "&lt;img src=x onerror=alert(1)&gt;.md" in body
    assert HOSTILE_DOC_NAME not in body
    listing = await (await client.get(f"/snapshots/{desk.s2}?q=Long")).text()
    assert LONG_NAME[:100] in listing


async def test_project_list_pages_filters_and_sorts(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    base = f"/snapshots/{desk.s2}"
    body = await (await client.get(base)).text()
    total = int(re.search(r'<p id="count">(\d+) projects', body).group(1))  # type: ignore[union-attr]
    assert total == len(desk.dataset.projects)
    with_deleted = await (await client.get(base + "?deleted=yes")).text()
    deleted = int(re.search(r"(\d+) projects", with_deleted).group(1))  # type: ignore[union-attr]
    assert deleted == sum(1 for p in desk.dataset.projects.values() if p.deleted_at)
    one = await (await client.get(base + "?q=" + _seg(desk.long_project))).text()
    assert '<p id="count">1 projects' in one
    bad = await client.get(base + "?sort=evil")
    assert bad.status == 404


async def test_document_text_is_text_and_downloads_never_run(
    client: TestClient,
    desk: Desk,  # type: ignore[type-arg]
) -> None:
    base = f"/snapshots/{desk.s2}/projects/{_seg(desk.hostile_project)}"
    doc = await client.get(f"{base}/documents/{_seg(desk.hostile_document)}")
    assert doc.status == 200 and doc.content_type == "text/html"
    text = desk.dataset.document(desk.hostile_document).text
    assert text.split()[0] in await doc.text()
    dl = await client.get(f"{base}/download/{_seg(desk.hostile_document)}")
    assert dl.status == 200
    assert dl.headers["Content-Type"] == "application/octet-stream"
    assert dl.headers["X-Content-Type-Options"] == "nosniff"
    disposition = dl.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="_img src_x onerror_alert_1_.md"')
    assert "filename*=UTF-8''%3Cimg" in disposition
    assert "sandbox" in dl.headers["Content-Security-Policy"]
    assert (await dl.read()) == text.encode()


async def test_unknown_things_are_404_pages(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    for path in [
        "/snapshots/20990101T000000Z-abcdef",
        f"/snapshots/{desk.s2}/projects/nope",
        f"/snapshots/{desk.s2}/projects/{_seg(desk.hostile_project)}/documents/nope",
        f"/snapshots/{desk.s2}/projects/{_seg(desk.hostile_project)}/download/..%2F..%2Fetc",
        "/projects/nope",
        "/diff?a=x&b=y",
    ]:
        r = await client.get(path)
        assert r.status == 404, path


async def test_a_token_guards_every_page(desk: Desk) -> None:
    app = make_app(desk.archive, token=TOKEN, loopback=False, verify_now=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        assert (await c.get("/")).status == 401
        assert (await c.get("/", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await c.get("/", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
        once = await c.get(f"/search?q=audit&token={TOKEN}", allow_redirects=False)
        assert once.status == 303 and "token" not in once.headers["Location"]
        assert (await c.get("/")).status == 200  # the cookie it set
        c.session.cookie_jar.clear()
        again = await c.get(f"/?token={TOKEN}", allow_redirects=False)
        assert again.status == 401  # one-time


def test_binding_beyond_loopback_needs_a_token(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.delenv("CRAWLER_SERVE_TOKEN", raising=False)
    args = argparse.Namespace(
        archive=desk.archive, config=None, port=8765, bind="0.0.0.0", token=None
    )
    with pytest.raises(UsageError, match="--token"):
        serve_run(args)


def test_a_megabyte_document_page_is_cut_and_inert() -> None:
    from types import SimpleNamespace

    from crawler.read.web.render import environment
    from crawler.read.web.views import DOC_SHOWN

    text = ("</script><script>alert(1)</script>\x00\u202e " * 30_000)[:1_000_000]
    ref = SimpleNamespace(md5="0" * 32, sha256="0" * 64, size=len(text))
    snap = SimpleNamespace(id="20260101T000000Z-abcdef")
    row = SimpleNamespace(project_id="claude_proj_x")
    html = (
        environment()
        .get_template("document.html")
        .render(
            snap=snap,
            row=row,
            about={"name": "x" * 300},
            doc_id="d",
            filename=None,
            ref=ref,
            text=text[:DOC_SHOWN],
            cut=len(text) - DOC_SHOWN,
            fetch=None,
        )
    )
    assert "<script>" not in html and "\x00" not in html and "\u202e" not in html
    assert html.count("&lt;/script&gt;&lt;script&gt;alert(1)") > 1000
    assert f"{len(text) - DOC_SHOWN} more in the download" in html


async def test_history_and_project_diff(client: TestClient, desk: Desk) -> None:  # type: ignore[type-arg]
    renamed = next(p for p in desk.dataset.projects.values() if "(renamed" in p.name)
    body = await (await client.get(f"/projects/{_seg(renamed.id)}")).text()
    assert body.count('<td class="mono"><a href="/snapshots/') == 2
    assert desk.s1 in body and desk.s2 in body
    link = f"/diff?a={desk.s1}&amp;b={desk.s2}&amp;project={_seg(renamed.id)}"
    assert link in body
    diff = await (await client.get(link.replace("&amp;", "&"))).text()
    assert "list.name" in diff and renamed.name in diff


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"sort": "-created", "offset": 10},
        {"sort": "name"},
        {"sort": "-updated", "deleted": False},
        {"deleted": True},
        {"text": "cobalt", "sort": "-name"},
        {"sort": "state", "limit": 7, "offset": 3},
    ],
)
def test_the_project_list_from_the_search_index_equals_the_archives(
    desk: Desk, query: dict[str, object]
) -> None:
    from crawler.archive.project_pages import ProjectQuery
    from crawler.read.reader import ArchiveReader
    from crawler.read.searchindex import SEARCH_FILE, SearchIndex
    from crawler.read.searching import project_page

    q = ProjectQuery(**query)  # type: ignore[arg-type]
    org = desk.dataset.orgs[0].uuid
    with (
        ArchiveReader.open(desk.archive) as reader,
        SearchIndex.open_reader(desk.archive / SEARCH_FILE) as search,
    ):  # type: ignore[union-attr]
        for q2 in (q, ProjectQuery(**{**query, "organization": org})):  # type: ignore[arg-type]
            fast, n_fast = project_page(reader, search, desk.s2, q2)
            slow, n_slow = reader.page(desk.s2, q2)
            assert n_fast == n_slow > 0
            assert [r.project_id for r in fast] == [r.project_id for r in slow]


async def test_search_page_reports_bad_syntax_and_runs_presets(
    client: TestClient, desk: Desk
) -> None:  # type: ignore[type-arg]
    bad = await (await client.get("/search", params={"q": 'alpha AND "', "raw": "1"})).text()
    assert 'id="error"' in bad and "FTS5" in bad
    preset = await (await client.get("/search", params={"preset": "secrets"})).text()
    assert '<p id="count">0 hits' in preset  # the simulator's texts hold no secrets
    every = await (await client.get("/search", params={"q": "日本語", "all": "1"})).text()
    assert "in 2 snapshots" in every
