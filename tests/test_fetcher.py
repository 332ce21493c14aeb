"""ProjectFetcher in isolation: work shared between projects is done once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from crawler.api import BodySink, Download, Fetched
from crawler.archive import Archive
from crawler.crawl.project import ProjectFetcher
from crawler.crawl.work import SharedWork

BODY = b"the same bytes under two file ids"
MD5 = hashlib.md5(BODY).hexdigest()


class SlowDownloads:
    """Stands in for the client: counts downloads, each slow enough to overlap."""

    def __init__(self) -> None:
        self.downloads = 0

    async def download(
        self, endpoint: str, path: str, open_sink: Callable[[], Awaitable[BodySink]]
    ) -> Download:
        self.downloads += 1
        sink = await open_sink()
        await asyncio.sleep(0.05)
        await sink.write(BODY)
        fetched = Fetched(
            endpoint, "GET", path, (), 200, "req_test", "2026-11-23T00:00:00Z", {}, b""
        )
        return Download(fetched, MD5, len(BODY), base64.b64encode(bytes.fromhex(MD5)).decode())


async def test_two_file_ids_with_one_listed_md5_download_once(tmp_path: Path) -> None:
    client = SlowDownloads()
    with Archive.open_for_writing(tmp_path / "a") as archive:
        fetcher = ProjectFetcher(
            client,  # type: ignore[arg-type]
            archive,
            "20261123T000000Z-abcdef",
            files=True,
            document_metadata=False,
            shared=SharedWork(),
        )
        a: dict[str, Any] = {"id": "claude_file_a", "type": "project_file", "md5": MD5}
        b: dict[str, Any] = {"id": "claude_file_b", "type": "project_file", "md5": MD5}
        first, second = await asyncio.gather(fetcher.file(a), fetcher.file(b))
    assert client.downloads == 1
    assert {first["id"], second["id"]} == {"claude_file_a", "claude_file_b"}
    assert first["blob"] == second["blob"] and first["blob"]["md5"] == MD5
    # Exactly one of them carries the fetch that brought the bytes.
    assert sorted(e["content"] is None for e in (first, second)) == [False, True]
