"""Has an item changed upstream since its snapshot? Pure comparisons of parsed JSON.

Compared as parsed values, never as bytes: the same object sent again with
its keys in another order is not a change. Attachment lists are compared by
id, whatever their page boundaries or order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

_SHOW = 5


def detail_differences(archived: Mapping[str, Any], fresh: Mapping[str, Any]) -> list[str]:
    """Fields whose values differ between the archived and the fresh detail."""
    keys = sorted(set(archived) | set(fresh))
    changed = [k for k in keys if archived.get(k, _MISSING) != fresh.get(k, _MISSING)]
    if not changed:
        return []
    return [f"detail fields changed: {', '.join(changed)}"]


def attachment_differences(
    archived: Iterable[Mapping[str, Any]], fresh: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Attachments added, removed or changed (by id) between the snapshot and now."""
    old = _by_id(archived)
    new = _by_id(fresh)
    out: list[str] = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(i for i in set(old) & set(new) if old[i] != new[i])
    for label, ids in (("added", added), ("removed", removed), ("changed", changed)):
        if ids:
            more = len(ids) - _SHOW
            shown = ", ".join(ids[:_SHOW]) + (f" and {more} more" if more > 0 else "")
            out.append(f"attachments {label}: {shown}")
    return out


def document_differences(archived_md5: str, fresh_content: Any) -> list[str]:
    """A document replaced in place: its text's md5 no longer matches the archived text."""
    if not isinstance(fresh_content, str):
        return ["document content is missing from the fresh read"]
    md5 = hashlib.md5(fresh_content.encode("utf-8"), usedforsecurity=False).hexdigest()
    if md5 != archived_md5:
        return [f"document text replaced: md5 {md5} now, {archived_md5} archived"]
    return []


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _by_id(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for n, item in enumerate(items):
        key = item.get("id")
        out[key if isinstance(key, str) else f"<no id #{n}>"] = item
    return out
