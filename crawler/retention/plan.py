"""The plan file: the one codec for what ``retention plan`` decided.

A plan is JSON. Its ``plan_sha256`` is the sha256 of the *canonical* form of
everything else in it (keys sorted, no whitespace, UTF-8: orjson with
``OPT_SORT_KEYS``), so the file may be pretty-printed, but any edit to an
item, a refusal or the selection makes :func:`decode_plan` refuse it. The hash
guards against accidents and against a plan being swapped under ``apply``;
it is not a signature (see SECURITY.md).

Shape (``plan_format`` 1)::

    {"plan_format": 1, "tool": {...}, "created_at": "...",
     "selection": {...the flags...}, "feed": "checked" | "unavailable: ...",
     "items":   [{"kind": "project" | "document", "id": ..., "project_id": ...,
                  "snapshot_id": ..., "record": {md5, sha256, size},
                  "text": {md5, sha256, size} (documents), "name", "created_at",
                  "updated_at", "checked_at"}],
     "refused": [{"kind", "id", "project_id", "snapshot_id", "record",
                  "reasons": [{"code": ..., "detail": ...}]}],
     "totals":  {"selected", "eligible", "refused", "by_reason": {code: n}},
     "plan_sha256": "..."}
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crawler import __version__
from crawler.archive.fs import atomic_write
from crawler.archive.refs import BlobRef
from crawler.canonical import canonical_json
from crawler.errors import ArchiveError, UsageError

PLAN_FORMAT = 1
HASH_KEY = "plan_sha256"
ITEM_KINDS = ("project", "document")


def plan_hash(plan: dict[str, Any]) -> str:
    body = {k: v for k, v in plan.items() if k != HASH_KEY}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class PlanItem:
    """An eligible item, and what preserves its content."""

    kind: str
    id: str
    project_id: str
    snapshot_id: str
    record: BlobRef
    text: BlobRef | None = None  # a document's archived text

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PlanItem:
        kind, item_id = d.get("kind"), d.get("id")
        if kind not in ITEM_KINDS or not isinstance(item_id, str) or not item_id:
            raise ArchiveError(f"plan item {str(d)[:120]!r} has no valid kind and id")
        project_id = d.get("project_id")
        snapshot_id = d.get("snapshot_id")
        if not isinstance(project_id, str) or not isinstance(snapshot_id, str):
            raise ArchiveError(f"plan item {item_id} lacks project_id or snapshot_id")
        text = d.get("text")
        return cls(
            kind=kind,
            id=item_id,
            project_id=project_id,
            snapshot_id=snapshot_id,
            record=BlobRef.from_json(d.get("record") or {}),
            text=BlobRef.from_json(text) if text is not None else None,
        )


def build_plan(
    *,
    created_at: str,
    selection: dict[str, Any],
    feed: str,
    items: list[dict[str, Any]],
    refused: list[dict[str, Any]],
) -> dict[str, Any]:
    """A complete plan with totals and its own hash."""
    by_reason: Counter[str] = Counter()
    for r in refused:
        for reason in r.get("reasons", []):
            by_reason[str(reason.get("code"))] += 1
    plan: dict[str, Any] = {
        "plan_format": PLAN_FORMAT,
        "tool": {"name": "crawler", "version": __version__},
        "created_at": created_at,
        "selection": selection,
        "feed": feed,
        "items": items,
        "refused": refused,
        "totals": {
            "selected": len(items) + len(refused),
            "eligible": len(items),
            "refused": len(refused),
            "eligible_projects": sum(1 for i in items if i["kind"] == "project"),
            "eligible_documents": sum(1 for i in items if i["kind"] == "document"),
            "by_reason": dict(sorted(by_reason.items())),
        },
    }
    plan[HASH_KEY] = plan_hash(plan)
    return plan


def encode_plan(plan: dict[str, Any]) -> bytes:
    """The file's bytes: readable JSON (the hash is over the canonical form, not these)."""
    return orjson.dumps(plan, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def write_plan(path: Path, plan: dict[str, Any]) -> None:
    """Atomically (tmp beside it, fsync, rename): a half-written plan never exists."""
    path = Path(path)
    atomic_write(path.parent, path, encode_plan(plan))  # ArchiveError naming the path


def decode_plan(data: bytes, where: str = "plan") -> dict[str, Any]:
    """Parse and check a plan: its format and its own hash. Errors name the problem."""
    try:
        plan = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(plan, dict) or plan.get("plan_format") != PLAN_FORMAT:
        raise UsageError(f"{where} is not a retention plan (plan_format {PLAN_FORMAT})")
    stated = plan.get(HASH_KEY)
    actual = plan_hash(plan)
    if stated != actual:
        raise UsageError(
            f"{where} has been altered since it was made: plan_sha256 {stated!r} does not "
            f"match its contents ({actual}); make a new plan"
        )
    if not isinstance(plan.get("items"), list) or not isinstance(plan.get("refused"), list):
        raise UsageError(f"{where} lacks its items or refusals")
    return plan


def read_plan(path: Path) -> tuple[dict[str, Any], bytes]:
    """A plan file, checked (:func:`decode_plan`), and its bytes as read (stored by apply)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the plan {path}: {exc.strerror}") from None
    return decode_plan(data, f"plan {path}"), data


def plan_items(plan: dict[str, Any]) -> list[PlanItem]:
    try:
        return [PlanItem.from_json(d) for d in plan["items"]]
    except ArchiveError as exc:
        raise UsageError(f"plan {plan.get(HASH_KEY)}: {exc}") from None
