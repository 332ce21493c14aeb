"""``crawler verify``'s checks of the seal (docs/ARCHIVE.md, "The seal", "Checks").

Against the archive: every leaf present and its record there and hashing to
the leaf's sha256; every event the archive records is a leaf; the latest
checkpoint signed by the trusted key over exactly its leaves (the registers
read are ``seal.events.Registers``: the index, ``retention.sqlite`` and
``productions.sqlite``). Against a checkpoint the auditor saved: its
signature, and a consistency proof that the log now extends it. Each problem says which check failed (``removed``,
``edited``, ``gap``, ``rolled back``, ``forked``, ``not an extension``,
``signature``) and where (the leaf, the snapshot, the file).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from crawler.archive import Archive, logstore, merkle
from crawler.archive.log import Event, Log, open_checkpoint
from crawler.archive.manifest import current_manifest_key
from crawler.archive.note import Checkpoint, Verifier
from crawler.archive.productions import ProductionRegister
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectMissingError
from crawler.canonical import canonical_json
from crawler.errors import ArchiveError, SealError
from crawler.retention.bucket import open_retention_reader
from crawler.seal.events import Registers, history, produced_id, reproduced_id
from crawler.seal.sealer import NOT_SEALED

__all__ = ["SealAudit", "audit_seal"]


@dataclass
class SealAudit:
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # kind, subject, message
    notes: list[str] = field(default_factory=list)
    leaves: int = 0
    checkpoint: Checkpoint | None = None
    sealed: bool = False

    def problem(self, kind: str, subject: str, message: str) -> None:
        self.problems.append((kind, subject, message))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Auditor:
    def __init__(self, archive: Archive, registers: Registers, log: Log, out: SealAudit) -> None:
        store, reg = registers.store, registers.productions
        assert store is not None and reg is not None
        self.archive, self.store, self.log, self.out = archive, store, log, out
        self.productions = {produced_id(p.id): p.to_json() for p in reg.productions()}
        self.productions |= {reproduced_id(r.seq): r.to_json() for r in reg.reproduction_rows()}
        self.holds = {str(e.seq): asdict(e) for e in store.hold_events()}
        self.plans = {sha: ref for sha, ref, _ in store.plans_stored()}
        self.receipts = {str(r.seq): r for r in store.receipts()}
        self.intents = {f"{i.kind}:{i.item_id}": asdict(i) for i in store.intents()}

    def leaf(self, n: int, event: Event) -> None:
        where = f"leaf {n} ({event.type} {event.id})"
        if event.record is not None and _sha(canonical_json(event.record)) != event.sha256:
            self.out.problem("edited", where, "the record in the leaf does not hash to its sha256")
            return
        check = getattr(self, f"_{event.type}", None)
        message = check(event) if check is not None else None
        if message is not None:
            self.out.problem(message[0], where, message[1])

    def _snapshot(self, e: Event) -> tuple[str, str] | None:
        # Through the store: in a bucket the manifest in force is its latest revision.
        key = current_manifest_key(self.archive.store, e.id)
        path = self.archive.store.where(key)
        try:
            actual: str | None = _sha(self.archive.store.get(key))
        except ObjectMissingError:
            actual = None
        if actual == e.sha256:
            return None
        kept = logstore.get(self.archive.store, f"superseded/{e.id}-{e.sha256}.json")
        if kept is not None and _sha(kept) == e.sha256:
            return None
        if actual is None:
            return ("removed", f"the snapshot's manifest {path} is gone from the archive")
        if ("snapshot", e.id, actual) in self.log.logged:  # replaced by a continued run
            return ("removed", f"its kept copy log/superseded/{e.id}-{e.sha256}.json is gone")
        return ("edited", f"{path} has sha256 {actual}, the leaf says {e.sha256}")

    def _hold(self, e: Event) -> tuple[str, str] | None:
        row = self.holds.get(e.id)
        if row is None:
            return ("removed", f"hold event {e.id} is gone from retention.sqlite")
        return None if row == e.record else ("edited", f"hold event {e.id} differs from the leaf")

    def _production(self, e: Event) -> tuple[str, str] | None:
        kind, _, number = e.id.partition(":")
        what = f"{'reproduction' if kind == 'reproduced' else 'production'} {number}"
        row, leaf = self.productions.get(e.id), e.record or {}
        if row is None:
            return ("removed", f"{what} is gone from productions.sqlite")
        if row == leaf:
            return None
        changed = ", ".join(
            sorted(k for k in row.keys() | leaf.keys() if row.get(k) != leaf.get(k))
        )
        return ("edited", f"{what}'s row in productions.sqlite differs from its leaf ({changed})")

    def _blob(self, ref_sha: str, ref: BlobRef, what: str) -> tuple[str, str] | None:
        if ref.sha256 != ref_sha:
            return ("edited", f"{what} names blob sha256 {ref.sha256}, the leaf says {ref_sha}")
        try:
            data = self.archive.blobs.read(ref)
        except ArchiveError as exc:
            return ("removed", f"{what}'s blob: {exc}")
        return None if _sha(data) == ref_sha else ("edited", f"{what}'s blob does not hash right")

    def _plan(self, e: Event) -> tuple[str, str] | None:
        ref = self.plans.get(e.id)
        if ref is None:
            return ("removed", f"plan {e.id} is gone from retention.sqlite")
        return self._blob(e.sha256, ref, f"plan {e.id}")

    def _receipt(self, e: Event) -> tuple[str, str] | None:
        row = self.receipts.get(e.id)
        if row is None:
            return ("removed", f"receipt {e.id} is gone from retention.sqlite")
        return self._blob(e.sha256, row.blob, f"receipt {e.id}")

    def _intent(self, e: Event) -> tuple[str, str] | None:
        assert e.record is not None
        if self.intents.get(e.id) == e.record:
            return None
        r = e.record
        for row in self.receipts.values():
            if (row.kind, row.item_id, row.plan_sha256) == (
                r["kind"],
                r["item_id"],
                r["plan_sha256"],
            ):
                return None
        self.out.notes.append(f"seal: {e.type} {e.id}: settled without a receipt (never sent)")
        return None


def _coverage(registers: Registers, log: Log, out: SealAudit) -> None:
    """Every event the archive records is a leaf; a missing one after the last leaf is a note."""
    last = log.events[-1][1] if log.events else ""
    late = []
    for event in history(registers):
        if event.key in log.logged:
            continue
        if event.at > last:
            late.append(f"{event.type} {event.id}")
        else:
            out.problem(
                "unlogged",
                f"{event.type} {event.id}",
                f"recorded at {event.at} but not in the log, though later events are (a gap)",
            )
    if late:
        out.notes.append(
            f"seal: {len(late)} events not logged yet ({', '.join(late[:5])}): "
            "a run stopped before logging them; the next writer logs them"
        )


def _latest(log: Log, trusted: Verifier, out: SealAudit) -> tuple[int, bytes]:
    """The latest checkpoint, checked; (size, root) to prove a saved checkpoint against."""
    sizes = log.checkpoint_sizes()
    if not sizes:
        if log.size:
            out.notes.append(f"seal: {log.size} leaves and no signed checkpoint yet")
        return log.size, log.root_hash()
    where = f"log/checkpoints/{sizes[-1]}"
    try:
        cp = open_checkpoint(log.read_checkpoint(sizes[-1]) or "", trusted, log.key.origin)
    except SealError as exc:
        out.problem("signature", where, str(exc))
        return log.size, log.root_hash()
    if cp.size != sizes[-1] or cp.size > log.size:
        out.problem("rolled back", where, f"signs {cp.size} leaves; the log has {log.size}")
        return log.size, log.root_hash()
    if cp.root != log.root_hash(cp.size):
        out.problem("edited", where, f"its root is not the tree hash of leaves 0..{cp.size - 1}")
    out.checkpoint = cp
    if log.size > cp.size:
        out.notes.append(f"seal: {log.size - cp.size} leaves after the latest checkpoint")
    return cp.size, cp.root


def _saved(
    log: Log, trusted: Verifier, text: str, name: str, head: tuple[int, bytes]
) -> tuple[str, str]:
    """A checkpoint the auditor kept: signed by the trusted key, and the log extends it.

    (problem kind, message), or ("", a note) when it holds.
    """
    try:
        cp = open_checkpoint(text, trusted, log.key.origin)
    except SealError as exc:
        return ("signature", f"{exc}")
    size, root = head
    if cp.size > size:
        return ("rolled back", f"it signs {cp.size} leaves; the archive's log now has {size}")
    if cp.size == size and cp.root != root:
        return ("forked", f"the log at size {size} has another root: its history was rewritten")
    proof = merkle.consistency_proof(log.hashes, cp.size, size)
    if not merkle.verify_consistency(cp.size, size, proof, cp.root, root):
        return (
            "not an extension",
            f"no consistency proof from size {cp.size} to {size}: "
            f"the first {cp.size} leaves are not the ones {name} signed",
        )
    return ("", f"seal: {name}: the log extends it ({cp.size} -> {size} leaves, proved)")


def audit_seal(
    archive: Archive,
    *,
    trusted: Verifier | None = None,
    saved: str | None = None,
    saved_name: str = "the saved checkpoint",
) -> SealAudit:
    out = SealAudit()
    try:
        # Every leaf from the bucket, never from this machine's cache: verify says what the
        # bucket holds (docs/ARCHIVE.md, "The leaf cache").
        log = Log.open(archive.store, use_cache=False)
    except SealError as exc:
        out.problem("seal", logstore.where(archive.store), str(exc))
        return out
    if log is None:
        out.notes.append(NOT_SEALED)
        if saved is not None:
            out.problem("removed", saved_name, "a checkpoint was kept, but the archive has no log")
        return out
    out.sealed, out.leaves = True, log.size
    if log.cache_differs:
        out.notes.append(
            f"seal: leaves {log.cache_differs[:5]} as this machine cached them are not the "
            "bucket's, or no longer in it: the cache was altered, or the bucket's log was "
            "rewritten since this machine read it (a checkpoint saved earlier tells: "
            "--checkpoint); what was checked is the bucket's"
        )
    if extra := log.extra_leaves():
        out.problem("gap", f"leaf {log.size}", f"missing, but leaves {extra[:5]} exist")
    key = trusted or log.key.verifier
    if trusted is not None and trusted != log.key.verifier:
        out.problem("signature", "log/key.json", f"names key {log.key.verifier}, not {trusted}")
    with (
        open_retention_reader(archive) as store,  # a bucket's cache brought up to date
        ProductionRegister.open_reader(archive.path) as productions,
    ):
        registers = Registers(archive.index, store, productions)
        auditor = _Auditor(archive, registers, log, out)
        for n, (event, _) in enumerate(log.events):
            auditor.leaf(n, event)
        _coverage(registers, log, out)
    head = _latest(log, key, out)
    if saved is not None:
        kind, message = _saved(log, key, saved, saved_name, head)
        if kind:
            out.problem(kind, saved_name, message)
        else:
            out.notes.append(message)
    return out
