"""The one page walk, with the one guard policy every list shares.

``pages(fetch_page, what)`` yields a list's pages in order and asks for the next
page only when the caller takes it, so a caller that stores each page before
taking the next (the archive's write order) never runs ahead of its disk.

Guards, the same for every list: a page token the server sent before (a loop)
and more than ``MAX_PAGES`` pages both end the walk with a ``RejectedError``
(skip the item: a rerun retries it). Nothing else in the package walks a cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from crawler.api.model import Page
from crawler.errors import RejectedError

__all__ = ["MAX_PAGES", "pages"]

# No real walk comes anywhere near this; a server that keeps answering with
# fresh tokens would otherwise hold a worker for ever.
MAX_PAGES = 100_000


async def pages(
    fetch_page: Callable[[str | None], Awaitable[Page]],
    what: str,
    *,
    max_pages: int = MAX_PAGES,
    start: str | None = None,
) -> AsyncIterator[Page]:
    """Every page of one list: ``fetch_page(token)`` asks for one (None: the first).

    ``start``: continue after a stored cursor (the feed's ``after_id``) instead.
    """
    token: str | None = start
    seen: set[str] = set()
    for _ in range(max_pages):
        page = await fetch_page(token)
        yield page
        if page.next_page is None:
            return
        if page.next_page in seen:
            raise RejectedError(
                f"{what}: the server sent page token {page.next_page!r} twice",
                request_id=page.fetched.request_id,
            )
        seen.add(page.next_page)
        token = page.next_page
    raise RejectedError(f"{what}: more than {max_pages} pages")
