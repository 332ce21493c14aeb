"""A real headless Chromium drives ``crawler serve``: what a person sees on each page.

Debian's ``chromium`` package, driven through Playwright's Python API pointed at
``/usr/bin/chromium`` (Playwright's own browser download is not used). Without the
package the test is skipped, saying which package to install. The walk: snapshot
list -> a project -> a document -> search -> a diff, and a hostile project name
renders as text. It also takes the README's screenshots: into ``docs/`` when
``UPDATE_SCREENSHOTS=1``, otherwise into a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import web

from crawler.read.web.app import make_app
from tests.read.conftest import HOSTILE_DOC_NAME, Desk

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium package (apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")


@pytest.fixture(scope="module")
def served(desk: Desk) -> Iterator[str]:
    """``crawler serve``'s app on an ephemeral loopback port, in a thread of its own."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(desk.archive))
    started = threading.Event()
    port: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{port[0]}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture(scope="module")
def browser_page(served: str) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1024, "height": 640})
        yield page
        browser.close()


def _shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path


def test_a_reviewer_walks_the_desk(
    browser_page: object, served: str, desk: Desk, tmp_path: Path
) -> None:
    page = browser_page
    expect = sync_api.expect
    shots = _shots(tmp_path)

    # The snapshot list: both snapshots, the latest first, verify state shown.
    page.goto(served + "/")  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name="Snapshots")).to_be_visible()  # type: ignore[attr-defined]
    rows = page.locator("#snapshots tr")  # type: ignore[attr-defined]
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_contain_text(desk.s2)
    expect(rows.nth(2)).to_contain_text(desk.s1)

    # A snapshot's projects, then the hostile project: its name is text, nothing ran.
    page.get_by_role("link", name=desk.s2).click()  # type: ignore[attr-defined]
    expect(page.locator("#count")).to_contain_text(f"{len(desk.dataset.projects)} projects")  # type: ignore[attr-defined]
    page.locator(f'a[href$="/projects/{quote(desk.hostile_project, safe="")}"]').first.click()  # type: ignore[attr-defined]
    heading = page.locator("#project-name")  # type: ignore[attr-defined]
    expect(heading).to_contain_text('</script><script>document.title="pwned"</script>')
    expect(heading).to_contain_text("⟨U+202E⟩exe.txt ⟨U+0000⟩end")
    assert page.title() != "pwned" and page.title().startswith("</script>")  # type: ignore[attr-defined]
    assert page.evaluate("document.scripts.length") == 0  # type: ignore[attr-defined]
    expect(page.locator("#custody")).to_contain_text("projects.get")  # type: ignore[attr-defined]
    page.screenshot(path=str(shots / "desk-project.png"))  # type: ignore[attr-defined]

    # A document: its name inert, its text shown as text.
    page.get_by_role("link", name=HOSTILE_DOC_NAME).click()  # type: ignore[attr-defined]
    expect(page.locator("#document-name")).to_have_text(HOSTILE_DOC_NAME)  # type: ignore[attr-defined]
    first_words = " ".join(desk.dataset.document(desk.hostile_document).text.split()[:3])
    expect(page.locator("#document-text")).to_contain_text(first_words)  # type: ignore[attr-defined]
    assert page.locator("img").count() == 0  # type: ignore[attr-defined]

    # Search: a CJK term, highlighted in the snippets.
    page.get_by_role("link", name="Search").click()  # type: ignore[attr-defined]
    page.get_by_label(re.compile("words")).fill("日本語 OR falcon")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Search").click()  # type: ignore[attr-defined]
    expect(page.locator("#count")).to_contain_text(re.compile(r"^\d+ hits"))  # type: ignore[attr-defined]
    expect(page.locator("#hits mark").first).to_be_visible()  # type: ignore[attr-defined]
    marks = page.locator("#hits mark").all_inner_texts()  # type: ignore[attr-defined]
    assert "日本語" in marks and any(m.lower() == "falcon" for m in marks)
    page.screenshot(path=str(shots / "desk-search.png"))  # type: ignore[attr-defined]

    # The diff between the two snapshots, as the diff command says it.
    page.get_by_role("link", name="Snapshots").click()  # type: ignore[attr-defined]
    page.get_by_role("link", name="What changed in the latest snapshot").click()  # type: ignore[attr-defined]
    expect(page.locator("h1")).to_contain_text(desk.s1)  # type: ignore[attr-defined]
    expect(page.locator("#summary")).to_contain_text(re.compile(r"\d+ changed"))  # type: ignore[attr-defined]
    assert page.locator("h2", has_text="Changed").count() == 1  # type: ignore[attr-defined]
