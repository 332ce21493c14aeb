"""Open an archive's search index for a search: resolve snapshots, filters, staleness.

Shared by ``crawler search`` and the web view, so both pick the snapshot the same
way (the latest finished by default) and refuse, with the command that fixes it,
a snapshot the index does not hold yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.archive.index import instant_key
from crawler.config import parse_timestamp
from crawler.errors import UsageError
from crawler.read.indexer import search_path
from crawler.read.reader import ArchiveReader
from crawler.read.search import SearchFilters
from crawler.read.searchindex import SearchIndex

__all__ = ["make_filters", "open_search_index"]


def open_search_index(reader: ArchiveReader) -> SearchIndex:
    index = SearchIndex.open_reader(search_path(reader))
    if index is None:
        raise UsageError(
            f"{reader.path} has no search index yet: build it with "
            f"crawler reindex --archive {reader.path}"
        )
    return index


def make_filters(
    reader: ArchiveReader,
    index: SearchIndex,
    *,
    snapshot: str | None,
    all_snapshots: bool,
    orgs: Sequence[str] = (),
    users: Sequence[str] = (),
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
) -> SearchFilters:
    """The filters of one search; an unknown or unindexed snapshot is a usage error."""
    indexed = index.indexed_snapshots()
    snapshot_ids: list[str] | None = None
    if not all_snapshots:
        snap = reader.snapshot(snapshot or None)
        if snap.id not in indexed:
            raise UsageError(
                f"snapshot {snap.id} is not in the search index yet: "
                f"crawler reindex --archive {reader.path}"
            )
        snapshot_ids = [snap.id]
    since_key = instant_key(parse_timestamp(since, "--since")) if since else None
    until_key = instant_key(parse_timestamp(until, "--until")) if until else None
    return SearchFilters(snapshot_ids, tuple(orgs), tuple(users), since_key, until_key, kind)
