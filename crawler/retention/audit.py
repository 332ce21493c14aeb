"""``crawler verify``'s retention part: every receipt checked against its plan. Offline.

For each stored plan: its blob is sound and its own ``plan_sha256`` holds.
For each receipt: its blob is sound and says what its row says; its plan is
stored; the item is one of that plan's eligible items, relying on the same
snapshot and record; that snapshot still holds that record; the record (and
a document's text) and the DELETE's response body are sound; and a
``deleted`` receipt shows a confirming GET that answered 404 after a 2xx
DELETE (or, reconciled after a crash, after the intent). An intent left open
by a stopped ``apply`` is a note: the next ``apply`` settles it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler.archive import Archive
from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError, UsageError
from crawler.read.reader import ArchiveReader
from crawler.retention.bucket import open_retention_reader
from crawler.retention.plan import decode_plan
from crawler.retention.receipts import read_receipt
from crawler.retention.store import ReceiptRow, RetentionStore

Report = Callable[[str, str, str], None]  # (kind, subject, message)
CheckBlob = Callable[[BlobRef, str], bool]  # sound? (reports its own problems)
PlanItems = dict[tuple[Any, Any], dict[str, Any]]  # a plan's eligible items by (kind, id)


def check_retention(
    archive: Archive,
    problem: Report,
    note: Callable[[str], None],
    check_blob: CheckBlob,
    referenced: set[tuple[str, str]],
    *,
    full: bool,
) -> int:
    """Check plans, receipts and intents; returns how many receipts were checked."""
    try:
        store = open_retention_reader(archive)
    except ArchiveError as exc:
        problem("retention", str(archive.path / "retention.sqlite"), str(exc))
        return 0
    with store:
        integrity = store.integrity_check() if full else ["ok"]
        if integrity != ["ok"]:
            problem("retention", str(store.path), "; ".join(integrity[:5]))
        reader = ArchiveReader(archive)
        plans = _plans(reader, store, problem, check_blob, referenced)
        receipts = store.receipts()
        for row in receipts:
            _receipt(reader, row, plans, problem, check_blob, referenced)
        for intent in store.intents():
            note(
                f"unfinished delete of {intent.kind} {intent.item_id} (intent at {intent.at}): "
                "rerun `crawler retention apply` with its plan to settle it"
            )
        return len(receipts)


def _mark(referenced: set[tuple[str, str]], ref: BlobRef) -> None:
    referenced.add((ref.md5, ref.sha256))


def _plans(
    reader: ArchiveReader,
    store: RetentionStore,
    problem: Report,
    check_blob: CheckBlob,
    referenced: set[tuple[str, str]],
) -> dict[str, PlanItems]:
    """The stored plans that are sound, each as its eligible items by (kind, id)."""
    plans: dict[str, PlanItems] = {}
    for sha, ref in store.plans().items():
        _mark(referenced, ref)
        if not check_blob(ref, f"plan {sha}"):
            continue
        try:
            plan = decode_plan(reader.read_blob(ref), f"stored plan {sha}")
        except (UsageError, ArchiveError) as exc:
            problem("plan_damaged", sha, str(exc))
            continue
        if plan.get("plan_sha256") != sha:
            problem("plan_damaged", sha, "the stored plan's own hash is another")
            continue
        items: PlanItems = {}
        for i in plan["items"]:
            items.setdefault((i.get("kind"), i.get("id")), i)
        plans[sha] = items
    return plans


def _receipt(
    reader: ArchiveReader,
    row: ReceiptRow,
    plans: dict[str, PlanItems],
    problem: Report,
    check_blob: CheckBlob,
    referenced: set[tuple[str, str]],
) -> None:
    subject = f"receipt {row.seq} ({row.kind} {row.item_id})"
    _mark(referenced, row.blob)
    if not check_blob(row.blob, subject):
        return
    try:
        doc = read_receipt(reader, row.blob)
    except ArchiveError as exc:
        problem("receipt_damaged", subject, str(exc))
        return
    said = (doc.get("kind"), doc.get("id"), doc.get("plan_sha256"), doc.get("outcome"))
    if said != (row.kind, row.item_id, row.plan_sha256, row.outcome):
        problem("receipt_mismatch", subject, f"the receipt blob says {said}")
        return
    for message in _against_plan(reader, doc, plans.get(row.plan_sha256), check_blob, referenced):
        problem("receipt_unbacked", subject, message)
    if row.outcome == "deleted":
        for message in _confirmed(doc):
            problem("receipt_unconfirmed", subject, message)


def _against_plan(
    reader: ArchiveReader,
    doc: dict[str, Any],
    plan: PlanItems | None,
    check_blob: CheckBlob,
    referenced: set[tuple[str, str]],
) -> list[str]:
    if plan is None:
        return [f"its plan {doc.get('plan_sha256')} is not stored in the archive"]
    item = plan.get((doc.get("kind"), doc.get("id")))
    if item is None:
        return ["the plan does not list it as eligible"]
    if (item.get("snapshot_id"), item.get("record")) != (doc.get("snapshot_id"), doc.get("record")):
        return ["it names another snapshot or record than its plan"]
    try:
        record = BlobRef.from_json(doc.get("record") or {})
        row = reader.row(str(doc.get("snapshot_id")), str(doc.get("project_id")))
    except ArchiveError as exc:
        return [str(exc)]
    if row is None or row.record != record:
        return [f"snapshot {doc.get('snapshot_id')} no longer holds the record it relies on"]
    out: list[str] = []
    refs = [("record", record)]
    if doc.get("text"):
        refs.append(("document text", BlobRef.from_json(doc["text"])))
    body = (doc.get("response") or {}).get("body")
    if body:
        refs.append(("response body", BlobRef.from_json(body)))
    for what, ref in refs:
        _mark(referenced, ref)
        if not check_blob(ref, f"{what} of receipt for {doc.get('id')}"):
            out.append(f"its {what} blob {ref.md5} is not sound")
    return out


def _confirmed(doc: dict[str, Any]) -> list[str]:
    confirm = doc.get("confirm") or {}
    if confirm.get("status") != 404:
        return [f"no confirming GET answered 404 (got {confirm.get('status')!r})"]
    status = (doc.get("response") or {}).get("status")
    if doc.get("reconciled"):
        return [] if doc.get("intent_at") else ["reconciled, but no intent time is recorded"]
    if not (isinstance(status, int) and 200 <= status < 300):
        return [f"the DELETE answered {status!r}, not 2xx"]
    return []
