"""Eligibility: may this project or document be deleted upstream? Pure functions.

The facts are gathered elsewhere (the archive by ``facts``, a fresh read by
``upstream``); this module only decides, so every rule is tested without a
server. An item is eligible only when no rule refuses it; a refused item
carries every reason that applies, not just the first, so one plan shows all
that must change.

The rules, in the order they are reported:

``already_deleted``  an earlier ``apply`` holds a receipt for it
``not_archived``     not whole in a finished snapshot (absent, gone, partial, or files not kept)
``rehash_failed``    a blob its record relies on fails a full re-hash (md5 and sha256)
``held``             a legal hold covers it (by project, creator, or organisation)
``gone``             the fresh read answered 404: nothing to delete
``unreadable``       the fresh read failed: unknown is not unchanged
``has_chats``        ``chats_count > 0``: the API answers 409 while chats are attached
``changed``          the fresh detail or attachment list differs from the snapshot's
``feed_events``      the Activity Feed shows changes after the snapshot
``outside_selection`` named by id, but the other selection flags exclude it
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.retention.holds import Hold

REASON_TEXT = {
    "already_deleted": "already deleted by retention (a receipt exists)",
    "not_archived": "not whole in a finished snapshot",
    "rehash_failed": "its archived blobs fail a full re-hash",
    "held": "under a legal hold",
    "gone": "gone upstream (404): nothing to delete",
    "unreadable": "the fresh read failed",
    "has_chats": "chats_count > 0 (the API refuses with 409 while chats exist)",
    "changed": "changed upstream since the snapshot",
    "feed_events": "the Activity Feed shows changes since the snapshot",
    "outside_selection": "named, but outside the other selection flags",
}


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass
class Facts:
    """Everything known about one candidate when deciding. Defaults are the safe side."""

    kind: str  # project | document
    id: str
    receipt: str | None = None  # an earlier done receipt (its at/plan), if any
    archive_problem: str | None = "not looked up"  # None: whole in a finished snapshot
    rehash_problems: list[str] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    fresh: str = "unread"  # ok | gone | error | unread
    fresh_error: str | None = None
    chats_count: Any = None  # from the fresh detail (projects only)
    differences: list[str] = field(default_factory=list)
    feed_events: list[str] = field(default_factory=list)
    in_selection: bool = True
    selection_note: str = ""


def decide(f: Facts, *, offline: bool = False) -> list[Reason]:
    """The reasons to refuse; an empty list means eligible.

    ``offline``: only the reasons the archive alone can give (the fresh read is
    not made yet); never a verdict of eligible on its own.
    """
    reasons: list[Reason] = []
    if f.receipt is not None:
        reasons.append(Reason("already_deleted", f.receipt))
    if f.archive_problem is not None:
        reasons.append(Reason("not_archived", f.archive_problem))
    if f.rehash_problems:
        reasons.append(Reason("rehash_failed", "; ".join(f.rehash_problems[:5])))
    if f.holds:
        names = sorted({f"{h.matter} ({h.scope} {h.target})" for h in f.holds})
        reasons.append(Reason("held", ", ".join(names)))
    if not offline and not (f.fresh == "unread" and reasons):
        reasons += _fresh_reasons(f)  # unread with other reasons: refused offline, no request
    if f.feed_events:
        more = len(f.feed_events) - 5
        detail = ", ".join(f.feed_events[:5]) + (f" and {more} more" if more > 0 else "")
        reasons.append(Reason("feed_events", detail))
    if not f.in_selection:
        reasons.append(Reason("outside_selection", f.selection_note))
    return reasons


def _fresh_reasons(f: Facts) -> list[Reason]:
    if f.fresh == "gone":
        return [Reason("gone", f.fresh_error or "answered 404")]
    if f.fresh != "ok":
        return [Reason("unreadable", f.fresh_error or "not read")]
    reasons: list[Reason] = []
    if f.kind == "project" and not _no_chats(f.chats_count):
        reasons.append(Reason("has_chats", f"chats_count is {f.chats_count!r}"))
    if f.differences:
        reasons.append(Reason("changed", "; ".join(f.differences[:5])))
    return reasons


def _no_chats(value: Any) -> bool:
    # Only a literal 0 lets a project through: absent, null or odd values refuse.
    return isinstance(value, int) and not isinstance(value, bool) and value == 0
