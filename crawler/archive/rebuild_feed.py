"""A snapshot's Activity Feed rows, rebuilt from the bucket (docs/ARCHIVE.md, "The local cache").

The bucket holds no ``feed_events`` table, and needs none: a snapshot's manifest
names every feed page its read stored (``feed.pages``, each a fetch with its raw
``json`` blob), and the rows are a function of those pages, in order, and of the
ids the parent's read returned (the overlap's repeats), through the same digest the
crawl applied (``crawler.archive.feed_digest``). Snapshots are rebuilt oldest
first, so a parent's rows are there when its child's are replayed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from crawler.archive.feed_digest import Digest
from crawler.archive.index import Index
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectStore, blob_key
from crawler.errors import ArchiveError

__all__ = ["cached_feed_state", "rebuild_feed"]


def cached_feed_state(feed: dict[str, Any]) -> dict[str, Any]:
    """The index's feed state the manifest's ``feed`` was written from (``FeedStep.summary``).

    A read's manifest adds its counts (``events``, ``projects``: derived from the rows)
    and drops ``done`` (a manifest is only written once the read is done).
    """
    state = dict(feed)
    if state.get("status") == "read":
        state.pop("events", None)
        state.pop("projects", None)
        state["done"] = True
    return state


def rebuild_feed(
    store: ObjectStore,
    index: Index,
    manifest: dict[str, Any],
    stored: set[str],
) -> None:
    """The snapshot's feed state and, for a read, its ``feed_events`` rows page by page."""
    sid = manifest["snapshot_id"]
    state = cached_feed_state(manifest["feed"])
    if state.get("status") == "read":
        parent = manifest.get("parent_id")
        seen = index.feed_seen_ids(parent) if isinstance(parent, str) else set()
        digest = Digest(already_seen=seen)
        for n, fetch in enumerate(state.get("pages") or []):
            items = _page_items(store, fetch, stored, f"feed page {n} of snapshot {sid}")
            index.add_feed_page(sid, digest.events(items), state)
    index.save_feed_state(sid, state)


def _page_items(store: ObjectStore, fetch: Any, stored: set[str], what: str) -> list[Any]:
    """The events of one stored feed page, its blob checked against the manifest's reference."""
    if not isinstance(fetch, dict) or not isinstance(fetch.get("blob"), dict):
        raise ArchiveError(f"{what}: the manifest names no blob for it")
    ref = BlobRef.from_json(fetch["blob"])
    variant = blob_key(ref.md5, ref.sha256) in stored
    key = blob_key(ref.md5, ref.sha256 if variant else None)
    data = store.get(key)
    if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ArchiveError(f"{what}: {store.where(key)} does not hash to its reference")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"{what}: {store.where(key)} is not JSON") from None
    items = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ArchiveError(f"{what}: {store.where(key)} is not a feed page (no data list)")
    return items
