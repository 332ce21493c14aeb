"""Seeded change sets applied to a live dataset, reported exactly so tests can assert a diff.

What bumps a project's ``updated_at``: a rename, an edit of the description or
instructions, and a soft delete (which also sets ``deleted_at``). What does
not (API.md: "assume they do not"): attachments added or removed, a document
replaced in place (same id, new text), collaborators granted or revoked, a
sharing change (it shows in the list entry's ``is_private``). An incremental
crawler that trusts ``updated_at`` alone misses those, as it would live.

Each change leaves the Activity Feed event the live service records (dated
at the change, or at wall-clock time when the data's clock runs ahead), by a
``user_actor`` of the project's organisation: document uploaded / updated /
deleted, file uploaded / deleted, ``role_assignment_granted|revoked`` (on the
``claude_proj_`` id), ``claude_project_sharing_updated``,
``claude_project_created`` (with the uploads and grants of its contents),
``claude_project_deleted`` for a deletion in claude.ai (the project stays
listed). Renames and edits leave none (there is no ``claude_project_updated``);
hard deletes (retention) leave none: the project just vanishes.

Kinds: hard_delete, soft_delete, rename, attach, detach, replace, grant,
revoke, create, edit, share. By default every one (``DEFAULT_KINDS`` ==
``KINDS``; ``"all"`` says the same); ``kinds=[...]`` applies only some. The
RNG draws of the first nine are what they were before edit and share
existed, so a seed picks the same projects for them as it always did. Opt-in extras:
``bulk=N`` projects lose every document (or file) at once, recorded as one
``..._bulk_deletion_audit_truncated`` event after one audited deletion;
``noise=N`` read events (``claude_project_viewed``, ``..._document_viewed``)
that change nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.simulator.activity import user_actor
from crawler.simulator.dataset import Dataset, Factory
from crawler.simulator.model import Collaborator, Json, Project
from crawler.simulator.timestamps import format_instant, now_ns, parse_instant

KINDS = (
    "hard_delete",
    "soft_delete",
    "rename",
    "attach",
    "detach",
    "replace",
    "grant",
    "revoke",
    "create",
    "edit",
    "share",
)
DEFAULT_KINDS = KINDS


@dataclass
class ChangeSet:
    """Ids of what one mutation changed; pairs are (project id, item id).

    ``activity_ids``: the feed events it recorded, in the order made (ids carry
    wall-clock time: the one field two runs of the same seed do not share).
    ``bulk_truncated``: projects whose bulk deletion the feed reports only as a
    truncated audit (their removed items are in ``attachments_removed`` too).
    """

    at: str
    projects_added: list[str] = field(default_factory=list)
    projects_renamed: list[str] = field(default_factory=list)
    projects_soft_deleted: list[str] = field(default_factory=list)
    projects_hard_deleted: list[str] = field(default_factory=list)
    attachments_added: list[tuple[str, str]] = field(default_factory=list)
    attachments_removed: list[tuple[str, str]] = field(default_factory=list)
    documents_replaced: list[tuple[str, str]] = field(default_factory=list)
    collaborators_granted: list[tuple[str, str]] = field(default_factory=list)
    collaborators_revoked: list[tuple[str, str]] = field(default_factory=list)
    projects_edited: list[str] = field(default_factory=list)
    sharing_changed: list[str] = field(default_factory=list)
    bulk_truncated: list[str] = field(default_factory=list)
    activity_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def touched_projects(self) -> set[str]:
        """Every project whose served data differs after the change (added and deleted included)."""
        out = set(self.projects_added + self.projects_renamed + self.projects_soft_deleted)
        out |= set(self.projects_hard_deleted + self.projects_edited + self.sharing_changed)
        out |= set(self.bulk_truncated)
        for pairs in (
            self.attachments_added,
            self.attachments_removed,
            self.documents_replaced,
            self.collaborators_granted,
            self.collaborators_revoked,
        ):
            out |= {pid for pid, _ in pairs}
        return out


class _Mutation:
    """One change set in the making: the picks, the changes, and the events they leave."""

    def __init__(self, ds: Dataset, seed: int, fraction: float, at: str | None) -> None:
        self.ds = ds
        self.seed = seed
        self.rng = random.Random(f"mutate:{ds.spec.seed}:{seed}")
        # Actors come from their own RNG so the changes stay what they were before events.
        self.actors = random.Random(f"actors:{ds.spec.seed}:{seed}")
        self.fac = Factory(ds, self.rng)
        self.at_ns = ds.advance_clock(parse_instant(at) if at is not None else now_ns())
        self.changes = ChangeSet(at=format_instant(self.at_ns, 1))
        # Feed events are dated on the wall clock: where the data's clock runs ahead of it
        # (large generated datasets reach years ahead), they keep their spacing but move
        # back, so feed windows that end a minute in the past still hold them.
        self.shift = max(0, self.at_ns - now_ns())
        live = [p for p in ds.sorted_projects() if not p.gone_on_detail]
        self.n = max(1, round(fraction * len(live))) if live else 0
        self.pool = list(live)
        self.rng.shuffle(self.pool)

    def take(self, pred: Callable[[Project], bool] | None = None) -> list[Project]:
        picked: list[Project] = []
        for p in self.pool:
            if len(picked) == self.n:
                break
            if pred is None or pred(p):
                picked.append(p)
        # By identity: list.remove would compare whole dataclasses, slow on large pools.
        chosen = {id(p) for p in picked}
        self.pool = [p for p in self.pool if id(p) not in chosen]
        return picked

    def emit(self, p: Project, type_: str, fields: Json, at_ns: int | None = None) -> None:
        users = self.ds.users.get(p.org.uuid, [])
        actor = user_actor(self.actors.choice(users)) if users else {"type": "anthropic_actor"}
        if not fields.get("resource_id"):
            fields = {"claude_project_id": p.id, **fields}
        when = (at_ns or self.at_ns) - self.shift
        ev = self.ds.activities.record(type_, when, p.org, actor, fields)
        self.changes.activity_ids.append(ev)

    def doc_event(self, p: Project, type_: str, doc_id: str, at_ns: int | None = None) -> None:
        doc = self.ds.documents[doc_id]
        fields = {"claude_project_document_id": doc_id, "filename": doc.filename}
        self.emit(p, f"claude_project_document_{type_}", fields, at_ns)

    def role_event(self, p: Project, type_: str, c: Collaborator, at_ns: int | None = None) -> None:
        fields = {
            "resource_id": p.id,
            "resource_type": "claude_project",
            "role": c.role,
            "target_id": c.principal,
            "target_type": c.type,
        }
        self.emit(p, f"role_assignment_{type_}", fields, at_ns)

    def remove_file(self, p: Project, file_id: str) -> None:
        p.attachments.remove(("file", file_id))
        self.ds.drop_file_if_orphan(file_id)

    # -- the kinds, in the order their picks are drawn ------------------------------------

    def hard_delete(self) -> None:
        for p in self.take():
            self.ds.delete_project(p.id)
            self.changes.projects_hard_deleted.append(p.id)

    def soft_delete(self) -> None:
        ch = self.changes
        for p in self.take(lambda p: p.deleted_at is None):
            p.deleted_at, p.updated_at, p.updated_ns = ch.at, ch.at, self.at_ns
            ch.projects_soft_deleted.append(p.id)
            self.emit(p, "claude_project_deleted", {})

    def rename(self) -> None:
        for p in self.take():
            p.name = f"{p.name} (renamed {self.seed})"
            p.updated_at, p.updated_ns = self.changes.at, self.at_ns
            self.changes.projects_renamed.append(p.id)

    def attach(self) -> None:
        for p in self.take():
            if self.rng.random() < 0.5:
                item = self.fac.document(p, at_ns=self.at_ns).id
                self.doc_event(p, "uploaded", item)
            else:
                rec = self.fac.file(p, at_ns=self.at_ns)
                item = rec.id
                fields = {"claude_file_id": rec.id, "filename": rec.filename}
                self.emit(p, "claude_project_file_uploaded", fields)
            self.changes.attachments_added.append((p.id, item))

    def detach(self) -> None:
        for p in self.take(lambda p: bool(p.attachments)):
            kind, item = self.rng.choice(sorted(p.attachments))
            if kind == "doc":
                self.doc_event(p, "deleted", item)
                self.ds.delete_document(item)
            else:
                self.remove_file(p, item)
                self.emit(p, "claude_project_file_deleted", {"claude_file_id": item})
            self.changes.attachments_removed.append((p.id, item))

    def replace(self) -> None:
        rng = self.rng
        for p in self.take(lambda p: any(kind == "doc" for kind, _ in p.attachments)):
            doc_id = rng.choice(sorted(i for k, i in p.attachments if k == "doc"))
            doc = self.ds.documents[doc_id]
            doc.text_seed = rng.getrandbits(48)
            doc.text_bytes = rng.randint(1, max(1, self.ds.spec.document_bytes))
            doc.version += 1
            self.changes.documents_replaced.append((p.id, doc_id))
            self.doc_event(p, "updated", doc_id)

    def grant(self) -> None:
        for p in self.take():
            collab = self.fac.collaborator(p, at_ns=self.at_ns)
            self.changes.collaborators_granted.append((p.id, collab.assignment_uuid))
            self.role_event(p, "granted", collab)

    def revoke(self) -> None:
        for p in self.take(lambda p: bool(p.collaborators)):
            collab = self.rng.choice(p.collaborators)
            p.collaborators.remove(collab)
            self.changes.collaborators_revoked.append((p.id, collab.assignment_uuid))
            self.role_event(p, "revoked", collab)

    def create(self, hard_deleted: int) -> None:
        ds, rng, fac = self.ds, self.rng, self.fac
        base = len(ds.projects) + hard_deleted
        for i in range(self.n):
            org = ds.orgs[rng.randrange(len(ds.orgs))]
            p = fac.project(org, self.at_ns + (i + 1) * 1000, base + i, style=1)
            p.updated_at, p.updated_ns, p.deleted_at = p.created_at, p.created_ns, None
            ds.projects[p.id] = p
            self.emit(p, "claude_project_created", {}, p.created_ns)
            for _ in range(rng.randint(*ds.spec.attachments_per_project)):
                if rng.random() < 0.5:
                    doc = fac.document(p, at_ns=p.created_ns)
                    self.doc_event(p, "uploaded", doc.id, p.created_ns)
                else:
                    rec = fac.file(p, at_ns=p.created_ns)
                    fields = {"claude_file_id": rec.id, "filename": rec.filename}
                    self.emit(p, "claude_project_file_uploaded", fields, p.created_ns)
            for _ in range(rng.randint(*ds.spec.collaborators_per_project)):
                self.role_event(p, "granted", fac.collaborator(p, at_ns=p.created_ns), p.created_ns)
            self.changes.projects_added.append(p.id)

    def edit(self) -> None:
        for p in self.take():
            if self.rng.random() < 0.5:
                p.description = f"{p.description} (edited {self.seed})"
            else:
                p.instructions = f"{p.instructions} (edited {self.seed})"
            p.updated_at, p.updated_ns = self.changes.at, self.at_ns
            self.changes.projects_edited.append(p.id)

    def share(self) -> None:
        for p in self.take():
            p.is_private = not p.is_private
            audience: list[Json] = [] if p.is_private else [{"type": "organization"}]
            self.emit(p, "claude_project_sharing_updated", {"audience": audience})
            self.changes.sharing_changed.append(p.id)

    def bulk(self, count: int) -> None:
        """Whole-kind deletions too large to audit: one audited event, then the truncated one."""

        def many(p: Project) -> bool:
            kinds = [k for k, _ in p.attachments]
            return kinds.count("doc") >= 2 or kinds.count("file") >= 2

        picked = [p for p in self.pool if many(p)][:count]
        chosen = {id(p) for p in picked}
        self.pool = [p for p in self.pool if id(p) not in chosen]
        for p in picked:
            docs = [i for k, i in sorted(p.attachments) if k == "doc"]
            files = [i for k, i in sorted(p.attachments) if k == "file"]
            kind, items = ("document", docs) if len(docs) >= 2 else ("file", files)
            for n, item in enumerate(items):
                if kind == "document":
                    if n == 0:
                        self.doc_event(p, "deleted", item)
                    self.ds.delete_document(item)
                else:
                    if n == 0:
                        self.emit(p, "claude_project_file_deleted", {"claude_file_id": item})
                    self.remove_file(p, item)
                self.changes.attachments_removed.append((p.id, item))
            fields = {"audited_count": 1, "requested_count": len(items)}
            self.emit(p, f"claude_project_{kind}_bulk_deletion_audit_truncated", fields)
            self.changes.bulk_truncated.append(p.id)

    def noise(self, count: int) -> None:
        """Reads that change nothing (a reader must not refetch for them)."""
        live = [p for p in self.ds.sorted_projects() if not p.gone_on_detail]
        for _ in range(count if live else 0):
            p = self.actors.choice(live)
            docs = [i for k, i in p.attachments if k == "doc"]
            if docs and self.actors.random() < 0.5:
                self.doc_event(p, "viewed", self.actors.choice(docs))
            else:
                self.emit(p, "claude_project_viewed", {})


def mutate(
    ds: Dataset,
    seed: int = 1,
    fraction: float = 0.01,
    at: str | None = None,
    *,
    kinds: Collection[str] | str | None = None,
    bulk: int = 0,
    noise: int = 0,
) -> ChangeSet:
    """Apply one seeded change set to ``ds``: about ``fraction`` of the projects per kind.

    ``kinds``: these kinds (default ``DEFAULT_KINDS``; ``"all"``: ``KINDS``); ``bulk``:
    projects bulk-deleting their documents or files; ``noise``: read events to add.
    """
    if kinds is None:
        kinds = DEFAULT_KINDS
    elif isinstance(kinds, str):
        kinds = KINDS if kinds == "all" else kinds.split(",")
    wanted = set(kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown mutation kind(s): {sorted(unknown)}")
    m = _Mutation(ds, seed, fraction, at)
    for kind in KINDS[:8]:
        if kind in wanted:
            getattr(m, kind)()
    if "create" in wanted:
        m.create(len(m.changes.projects_hard_deleted))
    for kind in ("edit", "share"):
        if kind in wanted:
            getattr(m, kind)()
    if bulk:
        m.bulk(bulk)
    if noise:
        m.noise(noise)
    ds.advance_clock(m.at_ns + (m.n + 1) * 1000)
    ds.touch()
    return m.changes
