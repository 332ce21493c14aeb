"""What a production selects, and its entry in the register (``archive/productions``).

The selection is export's filters (:class:`crawler.read.connector.ExportFilters`,
reused, not copied) plus ``--project`` ids, over one snapshot. Its canonical
JSON, hashed, is what "the same selection" means. Registering is one call,
:func:`register` (or :func:`register_reproduction` for a rewrite), the only
place a production enters the record: its row, then, where the archive is
sealed, its leaf and checkpoint (``Sealer.sync``, which first logs whatever a
crash left unlogged), before ``produce`` places the volume and reports done.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from crawler.archive import Archive, ProjectRow
from crawler.archive.productions import ProductionRegister, ProductionRow
from crawler.canonical import canonical_json
from crawler.errors import ArchiveError, UsageError
from crawler.produce.bucket import open_register
from crawler.read.connector import ExportFilters
from crawler.seal.sealer import Sealer

__all__ = ["Selection", "register", "register_reproduction"]


@dataclass(frozen=True)
class Selection:
    """Which projects of the snapshot: every filter given must match."""

    filters: ExportFilters
    projects: tuple[str, ...] = ()

    def matches(self, row: ProjectRow) -> bool:
        if self.projects and row.project_id not in self.projects:
            return False
        return self.filters.matches(row)

    def to_json(self, snapshot_id: str) -> dict[str, Any]:
        """Canonical: ids sorted and once each, so flag order never makes a new selection."""
        filters = self.filters.to_json()
        for key in ("organization_ids", "users"):
            filters[key] = sorted(set(filters[key]))
        return {
            "snapshot_id": snapshot_id,
            "filters": filters,
            "projects": sorted(set(self.projects)),
        }

    @classmethod
    def from_json(cls, value: Any) -> Selection:
        """The selection a register row recorded (``to_json``'s shape)."""
        try:
            f = value["filters"]
            filters = ExportFilters(
                orgs=tuple(f["organization_ids"]),
                users=tuple(f["users"]),
                since=f["created_at_gte"],
                until=f["created_at_lt"],
                updated_since=f.get("updated_at_gte"),
                updated_until=f.get("updated_at_lt"),
                exclude_deleted=bool(f["exclude_deleted"]),
            )
            return cls(filters, tuple(value["projects"]))
        except (KeyError, TypeError) as exc:
            raise ArchiveError(f"a registered selection is malformed: {exc}") from None


def selection_text(selection: Selection, snapshot_id: str) -> str:
    return canonical_json(selection.to_json(snapshot_id)).decode()


def selection_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def register(archive: Archive, row: ProductionRow, sealer: Sealer) -> ProductionRow:
    """Add a production to the register (the range and selection re-checked inside); seal it.

    In a bucket the row's object is written first (:mod:`crawler.produce.bucket`).
    """
    with open_register(archive) as reg:
        done = reg.add(row)
        sealer.sync(productions=reg)
    return done


def register_reproduction(
    archive: Archive, row: ProductionRow, sealer: Sealer, *, by: str, at: str
) -> None:
    with open_register(archive) as reg:
        reg.add_reproduction(row.id, by=by, at=at)
        sealer.sync(productions=reg)


def recorded_selection(row: ProductionRow) -> Selection:
    try:
        value = orjson.loads(row.selection)
    except orjson.JSONDecodeError:
        raise ArchiveError(f"production {row.id}: its recorded selection is not JSON") from None
    return Selection.from_json(value)


def check_new(reg: ProductionRegister, sha: str, prefix: str, start: int | None) -> int:
    """The first number of a new production; refuses a selection produced already."""
    same = reg.by_selection(sha)
    if same is not None:
        raise UsageError(
            f"this selection was produced already: production {same.id} "
            f"({same.prefix} {same.first_number}-{same.last_number}, volume {same.volume}, "
            f"{same.at}); --reproduce {same.id} rewrites it byte for byte"
        )
    following = reg.next_number(prefix)
    if start is None:
        return following
    if start < following:
        raise UsageError(
            f"--start {start}: {prefix} numbers up to {following - 1} are already used "
            f"(never reused); start at {following} or above"
        )
    return start
