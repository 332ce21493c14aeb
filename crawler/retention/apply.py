"""``retention apply``: delete what a plan found eligible, one item at a time, with receipts.

For each item, in plan order, until ``max_deletes`` DELETEs have been sent:

1. skip it if a receipt already shows it deleted (a rerun, or another plan);
2. check it again (:class:`~.check.Checker`) against the very snapshot and
   record the plan named: still whole, re-hashes, not held, unchanged, no
   chats. A refusal is stored as a receipt and the run goes on;
3. write an *intent* (durable) naming the item and the plan;
4. send the DELETE with the delete key's client (its own key, the shared
   limiter, a retry policy that never resends a DELETE whose fate is unknown);
5. confirm with a GET through the read key's client: 404 means gone;
6. store the receipt (blobs, then the row that ends the intent).

Killed anywhere, a rerun first *reconciles* every open intent with a GET:
404 means the DELETE landed, so the receipt is completed (``reconciled``)
and nothing is sent again; a 200 means it never landed, so the intent is
dropped and the item goes through the steps above once more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from crawler.api.endpoints import ComplianceApi
from crawler.api.model import Fetched
from crawler.archive import Archive
from crawler.canonical import utc_now
from crawler.errors import FatalError, GoneError, RejectedError, SkipItemError
from crawler.read.reader import ArchiveReader
from crawler.retention.check import Checker
from crawler.retention.facts import Archived, ArchivedDocument, ArchiveFacts, oldest_fetch
from crawler.retention.feed import FeedWatch
from crawler.retention.plan import HASH_KEY, PlanItem, decode_plan, plan_items
from crawler.retention.receipts import DELETE_KEY_ENV, Exchange, store_receipt
from crawler.retention.rules import Reason, decide
from crawler.retention.store import Intent, RetentionStore


@dataclass
class ApplyResult:
    outcomes: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    deletes_sent: int = 0
    skipped: int = 0  # a receipt already showed them done
    left: int = 0  # not reached: --max-deletes

    def note(self, outcome: str, line: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        self.lines.append(line)


@dataclass
class Applier:
    plan: dict[str, Any]
    plan_bytes: bytes
    archive: Archive
    store: RetentionStore
    reader: ComplianceApi  # the read key
    deleter: ComplianceApi  # the delete key
    max_deletes: int
    echo: Callable[[str], None] = print
    result: ApplyResult = field(default_factory=ApplyResult)

    @property
    def plan_sha256(self) -> str:
        return str(self.plan[HASH_KEY])

    @cached_property
    def archived(self) -> ArchiveReader:
        """One read model for the run (made after this run's plan is stored)."""
        return ArchiveReader(self.archive)

    async def run(self) -> ApplyResult:
        stored = await self.archive.blobs.put(self.plan_bytes, "plan")
        self.store.add_plan(self.plan_sha256, stored.ref, at=utc_now())
        items = plan_items(self.plan)
        await self.reconcile(items)
        facts = ArchiveFacts(self.archived)
        # A rerun (after --max-deletes, say) reads the feed only from what is still to do.
        pending = [i for i in items if self.store.done_receipt(i.kind, i.id) is None]
        feed = FeedWatch(self.reader, _oldest(pending, facts))
        await feed.load()
        checker = Checker(facts, self.store, self.reader, feed)
        open_intents = {(i.kind, i.item_id) for i in self.store.intents()}
        for n, item in enumerate(items):
            if self.store.done_receipt(item.kind, item.id) is not None:
                self.result.skipped += 1
                continue
            if (item.kind, item.id) in open_intents:
                continue  # unsettled (reported by reconcile): never a second DELETE
            if self.result.deletes_sent >= self.max_deletes:
                rest = items[n:]
                self.result.left = sum(1 for i in rest if not self.store.done_receipt(i.kind, i.id))
                break
            await feed.refresh()
            await self.one(item, facts, checker)
        return self.result

    async def one(self, item: PlanItem, facts: ArchiveFacts, checker: Checker) -> None:
        if item.kind == "project":
            archived, problem = facts.project_at(item.snapshot_id, item.id, item.record)
            f = await checker.project(item.id, archived, problem)
        else:
            found, problem = facts.document_at(
                item.snapshot_id, item.project_id, item.id, item.record
            )
            f = await checker.document(item.id, found, problem)
        reasons = decide(f)
        if reasons:
            await self.finish(item, "refused", Exchange(reasons=reasons))
            return
        intent_at = utc_now()
        ex = Exchange(intent_at=intent_at)
        path = self.path_of(item)
        self.store.add_intent(Intent(item.kind, item.id, self.plan_sha256, intent_at, path))
        ex.request = {
            "method": "DELETE",
            "endpoint": f"{item.kind}s.delete",
            "path": path,
            "key": DELETE_KEY_ENV,
        }
        self.result.deletes_sent += 1
        outcome = await self.send_delete(item, ex)
        if outcome == "unsettled":
            self.unsettled(item.kind, item.id)
            return
        await self.finish(item, outcome, ex)

    async def send_delete(self, item: PlanItem, ex: Exchange) -> str:
        """The DELETE and its confirming GET; the outcome to record."""
        try:
            if item.kind == "project":
                answer = await self.deleter.delete_project(item.id)
            else:
                answer = await self.deleter.delete_document(item.id)
        except GoneError as exc:
            ex.response = _error_response(exc)
            ex.reasons.append(Reason("gone", "the DELETE answered 404: deleted by someone else"))
            ex.confirm = ex.response | {"method": "DELETE"}
            return "already_gone"
        except RejectedError as exc:  # 409 while chats exist, 400, a deterministic 500
            ex.response = _error_response(exc)
            ex.reasons.append(Reason(exc.error_type or "rejected", str(exc)))
            return "refused"
        except FatalError as exc:  # 401/403: the delete key is wrong; record, then stop
            ex.response = _error_response(exc)
            ex.reasons.append(Reason(exc.error_type or "refused", str(exc)))
            await self.finish(item, "refused", ex)
            raise
        except SkipItemError as exc:  # retries exhausted: did it land? ask, never resend
            ex.response = _error_response(exc)
            return await self.confirm(item, ex, unsure=True)
        ex.response = _response(answer)
        ex.response_body = answer.body
        return await self.confirm(item, ex, unsure=False)

    async def confirm(self, item: PlanItem, ex: Exchange, *, unsure: bool) -> str:
        """The outcome after the DELETE; ``unsettled`` (the intent stays open) if the GET fails."""
        gone, ex.confirm = await self.probe(item)
        if gone is None:
            return "unsettled"
        if gone is True:
            if unsure:
                ex.reconciled = True
            return "deleted"
        why = "the DELETE's answer was lost" if unsure else "the DELETE answered 2xx"
        ex.reasons.append(Reason("not_confirmed", f"{why} but a GET still finds it"))
        return "failed"

    async def probe(self, item: PlanItem) -> tuple[bool | None, dict[str, Any]]:
        """GET the item with the read key: (True if 404, False if there, None if unknown)."""
        path = self.path_of(item)
        call = self.reader.project if item.kind == "project" else self.reader.document
        try:
            fetched = await call(item.id)
        except GoneError as exc:
            return True, _confirm(path, exc.status, exc.request_id)
        except SkipItemError as exc:
            return None, _confirm(path, exc.status, exc.request_id) | {"error": str(exc)}
        return False, _confirm(path, fetched.status, fetched.request_id)

    def path_of(self, item: PlanItem) -> str:
        if item.kind == "project":
            return self.reader.project_path(item.id)
        return self.reader.document_path(item.id)

    async def finish(self, item: PlanItem, outcome: str, ex: Exchange) -> None:
        await store_receipt(
            self.archive, self.store, item, self.plan_sha256, outcome, ex, utc_now()
        )
        why = "; ".join(f"{r.code}: {r.detail}" for r in ex.reasons)
        rid = (ex.response or {}).get("request_id")
        line = f"{outcome:<12} {item.kind:<8} {item.id}" + (f"  request-id {rid}" if rid else "")
        self.result.note(outcome, line + (f"  ({why})" if why else ""))
        self.echo(self.result.lines[-1])

    async def reconcile(self, items: list[PlanItem]) -> None:
        """Open intents from a run that was stopped: settle each with a GET, never a DELETE."""
        by_key = {(i.kind, i.id): i for i in items}
        for intent in self.store.intents():
            item = by_key.get((intent.kind, intent.item_id))
            if item is None or intent.plan_sha256 != self.plan_sha256:
                item = await self._item_of_intent(intent) or item
            if item is None:  # its plan is not stored: leave it open, and say so
                self.unsettled(intent.kind, intent.item_id, "its plan is not in the archive")
                continue
            gone, confirm = await self.probe(item)
            if gone is None:
                self.unsettled(intent.kind, intent.item_id)
                continue
            if gone is False:
                self.store.drop_intent(intent.kind, intent.item_id)  # the DELETE never landed
                continue
            ex = Exchange(intent_at=intent.at, confirm=confirm, reconciled=True)
            ex.request = {"method": "DELETE", "path": intent.path, "key": DELETE_KEY_ENV}
            ex.reasons.append(Reason("reconciled", "stopped after the DELETE; a GET answers 404"))
            await self.store_reconciled(item, intent, ex)

    def unsettled(
        self, kind: str, item_id: str, why: str = "a GET could not tell; rerun to settle it"
    ) -> None:
        """A DELETE whose fate is unknown: its intent stays open for the next run."""
        line = f"{'unsettled':<12} {kind:<8} {item_id}  ({why})"
        self.result.note("unsettled", line)
        self.echo(line)

    async def store_reconciled(self, item: PlanItem, intent: Intent, ex: Exchange) -> None:
        await store_receipt(
            self.archive, self.store, item, intent.plan_sha256, "deleted", ex, utc_now()
        )
        self.result.note("deleted", f"{'deleted':<12} {item.kind:<8} {item.id}  (reconciled)")
        self.echo(self.result.lines[-1])

    async def _item_of_intent(self, intent: Intent) -> PlanItem | None:
        ref = self.store.plans().get(intent.plan_sha256)
        if ref is None:
            return None
        other = decode_plan(self.archived.read_blob(ref), f"stored plan {intent.plan_sha256}")
        for item in plan_items(other):
            if (item.kind, item.id) == (intent.kind, intent.item_id):
                return item
        return None


def _oldest(items: list[PlanItem], facts: ArchiveFacts) -> str | None:
    found: list[Archived | ArchivedDocument | None] = []
    for item in items:
        if item.kind == "project":
            found.append(facts.project_at(item.snapshot_id, item.id, item.record)[0])
        else:
            found.append(
                facts.document_at(item.snapshot_id, item.project_id, item.id, item.record)[0]
            )
    return oldest_fetch(found)


def _response(fetched: Fetched) -> dict[str, Any]:
    body = fetched.json()
    return {
        "status": fetched.status,
        "request_id": fetched.request_id,
        "received_at": fetched.fetched_at,
        "body": None,
        "json": body if isinstance(body, dict) else None,
    }


def _error_response(exc: Any) -> dict[str, Any]:
    return {
        "status": exc.status,
        "request_id": exc.request_id,
        "received_at": utc_now(),
        "body": None,
        "json": None,
        "error_type": exc.error_type,
        "message": str(exc),
    }


def _confirm(path: str, status: int | None, request_id: str | None) -> dict[str, Any]:
    return {
        "method": "GET",
        "path": path,
        "status": status,
        "request_id": request_id,
        "at": utc_now(),
    }
