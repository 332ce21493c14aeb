"""Seeded change sets applied to a live dataset, reported exactly so tests can assert a diff.

What bumps a project's ``updated_at``: a rename and a soft delete (which also
sets ``deleted_at``). What does not: attachments added or removed, a document
replaced in place (same id, new text), collaborators granted or revoked; an
incremental crawler that trusts ``updated_at`` alone misses those, as it would
live.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from crawler.simulator.dataset import Dataset, Factory
from crawler.simulator.model import Project
from crawler.simulator.timestamps import format_instant, now_ns, parse_instant


@dataclass
class ChangeSet:
    """Ids of what one mutation changed; pairs are (project id, item id)."""

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def touched_projects(self) -> set[str]:
        """Every project whose served data differs after the change (added and deleted included)."""
        out = set(self.projects_added + self.projects_renamed + self.projects_soft_deleted)
        out |= set(self.projects_hard_deleted)
        for pairs in (
            self.attachments_added,
            self.attachments_removed,
            self.documents_replaced,
            self.collaborators_granted,
            self.collaborators_revoked,
        ):
            out |= {pid for pid, _ in pairs}
        return out


def mutate(ds: Dataset, seed: int = 1, fraction: float = 0.01, at: str | None = None) -> ChangeSet:
    """Apply one seeded change set to ``ds``: about ``fraction`` of the projects per kind of change."""
    rng = random.Random(f"mutate:{ds.spec.seed}:{seed}")
    fac = Factory(ds, rng)
    at_ns = ds.advance_clock(parse_instant(at) if at is not None else now_ns())
    changes = ChangeSet(at=format_instant(at_ns, 1))
    live = [p for p in ds.sorted_projects() if not p.gone_on_detail]
    n = max(1, round(fraction * len(live))) if live else 0
    pool = list(live)
    rng.shuffle(pool)

    def take(pred: Any = None) -> list[Project]:
        picked: list[Project] = []
        for p in list(pool):
            if len(picked) == n:
                break
            if pred is None or pred(p):
                picked.append(p)
                pool.remove(p)
        return picked

    # Documents belong to the project they are listed in; only those are replaced.
    def has_doc(p: Project) -> bool:
        return any(kind == "doc" for kind, _ in p.attachments)

    for p in take():
        ds.delete_project(p.id)
        changes.projects_hard_deleted.append(p.id)
    for p in take(lambda p: p.deleted_at is None):
        p.deleted_at, p.updated_at, p.updated_ns = changes.at, changes.at, at_ns
        changes.projects_soft_deleted.append(p.id)
    for p in take():
        p.name = f"{p.name} (renamed {seed})"
        p.updated_at, p.updated_ns = changes.at, at_ns
        changes.projects_renamed.append(p.id)
    for p in take():
        if rng.random() < 0.5:
            item = fac.document(p, at_ns=at_ns).id
        else:
            item = fac.file(p, at_ns=at_ns).id
        changes.attachments_added.append((p.id, item))
    for p in take(lambda p: bool(p.attachments)):
        kind, item = rng.choice(sorted(p.attachments))
        if kind == "doc":
            ds.delete_document(item)
        else:
            p.attachments.remove((kind, item))
            if not any((kind, item) in q.attachments for q in ds.projects.values()):
                ds.files.pop(item, None)
        changes.attachments_removed.append((p.id, item))
    for p in take(has_doc):
        doc_id = rng.choice(sorted(i for k, i in p.attachments if k == "doc"))
        doc = ds.documents[doc_id]
        doc.text_seed = rng.getrandbits(48)
        doc.text_bytes = rng.randint(1, max(1, ds.spec.document_bytes))
        doc.version += 1
        changes.documents_replaced.append((p.id, doc_id))
    for p in take():
        collab = fac.collaborator(p, at_ns=at_ns)
        changes.collaborators_granted.append((p.id, collab.assignment_uuid))
    for p in take(lambda p: bool(p.collaborators)):
        collab = rng.choice(p.collaborators)
        p.collaborators.remove(collab)
        changes.collaborators_revoked.append((p.id, collab.assignment_uuid))

    base = len(ds.projects) + len(changes.projects_hard_deleted)
    for i in range(n):
        org = ds.orgs[rng.randrange(len(ds.orgs))]
        p = fac.project(org, at_ns + (i + 1) * 1000, base + i, style=1)
        p.updated_at, p.updated_ns, p.deleted_at = p.created_at, p.created_ns, None
        ds.projects[p.id] = p
        for _ in range(rng.randint(*ds.spec.attachments_per_project)):
            if rng.random() < 0.5:
                fac.document(p, at_ns=p.created_ns)
            else:
                fac.file(p, at_ns=p.created_ns)
        for _ in range(rng.randint(*ds.spec.collaborators_per_project)):
            fac.collaborator(p, at_ns=p.created_ns)
        changes.projects_added.append(p.id)
    ds.advance_clock(at_ns + (n + 1) * 1000)
    ds.touch()
    return changes
