"""Legal holds: which are in force, and which of them cover a project.

Pure: the events come from :class:`~crawler.retention.store.RetentionStore`
(an append-only log of ``add`` and ``release``), the project's facts from the
archive or a fresh read. A release ends every target a matter held *before*
it; a target added after a release is held again. Nothing is ever removed
from the log, so ``hold list --all`` shows the whole history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crawler.retention.store import HoldEvent


@dataclass(frozen=True)
class Hold:
    """One target under one matter, in force since ``at``."""

    matter: str
    scope: str  # project | user | org
    target: str
    by: str
    at: str
    note: str | None


def active_holds(events: Iterable[HoldEvent]) -> list[Hold]:
    """The holds in force after replaying the log in order."""
    held: dict[tuple[str, str, str], Hold] = {}
    for e in sorted(events, key=lambda e: e.seq):
        if e.action == "release":
            for key in [k for k in held if k[0] == e.matter]:
                del held[key]
        elif e.action == "add" and e.scope is not None and e.target is not None:
            key = (e.matter, e.scope, e.target)
            held.setdefault(key, Hold(e.matter, e.scope, e.target, e.by, e.at, e.note))
    return sorted(held.values(), key=lambda h: (h.matter, h.scope, h.target))


def matters(events: Iterable[HoldEvent]) -> set[str]:
    """Every matter ever named, released or not."""
    return {e.matter for e in events}


def project_keys(project: Mapping[str, Any]) -> dict[str, set[str]]:
    """The ids a hold can name for this project (a list entry or a detail response).

    ``user`` matches the creator's id or email; ``org`` the tagged id or the UUID
    (both are kept on project records, and a hold may name either).
    """
    user = project.get("user")
    user = user if isinstance(user, Mapping) else {}
    return {
        "project": _strings(project.get("id")),
        "user": _strings(user.get("id"), user.get("email_address")),
        "org": _strings(project.get("organization_id"), project.get("organization_uuid")),
    }


def holds_covering(holds: Iterable[Hold], *projects: Mapping[str, Any]) -> list[Hold]:
    """The holds that cover a project described by any of ``projects``.

    Pass every view of the project you have (the archived list entry and the
    fresh detail): a hold on either the old or the new owner still holds.
    """
    keys: dict[str, set[str]] = {"project": set(), "user": set(), "org": set()}
    for p in projects:
        for scope, ids in project_keys(p).items():
            keys[scope] |= ids
    return [h for h in holds if h.target in keys.get(h.scope, set())]


def _strings(*values: Any) -> set[str]:
    return {v for v in values if isinstance(v, str) and v}
