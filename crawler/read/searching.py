"""Where the read model and the search index meet: searches' filters, and the project list.

Shared by ``crawler search`` and the web view, so both pick the snapshot the same
way (the latest finished by default) and refuse, with the command that fixes it,
a snapshot the index does not hold yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.archive.index import ProjectRow, instant_key
from crawler.archive.project_pages import ProjectQuery
from crawler.config import parse_timestamp
from crawler.errors import UsageError
from crawler.read.indexer import search_path
from crawler.read.reader import ArchiveReader
from crawler.read.search import SearchFilters
from crawler.read.searchindex import MEMBER_SORTS, SearchIndex

__all__ = ["make_filters", "open_search_index", "project_page"]


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


def project_page(
    reader: ArchiveReader, search: SearchIndex | None, snapshot_id: str, query: ProjectQuery
) -> tuple[list[ProjectRow], int]:
    """One page of a snapshot's project list: ids from the search index's sort-key indexes
    when it holds the snapshot (fast at any size), the rows themselves from the archive.
    A snapshot not indexed (unfinished, or no index) is paged by the archive's index alone.
    """
    if query.sort not in MEMBER_SORTS:
        raise UsageError(f"unknown sort {query.sort!r}: one of {', '.join(MEMBER_SORTS)}")
    if search is None or snapshot_id not in search.indexed_snapshots():
        return reader.page(snapshot_id, query)
    ids, total = search.page_members(
        snapshot_id,
        organization=query.organization,
        creator=query.creator,
        deleted=query.deleted,
        text=query.text,
        sort=query.sort,
        limit=query.limit,
        offset=query.offset,
    )
    rows = [reader.row(snapshot_id, pid) for pid in ids]
    return [r for r in rows if r is not None], total
