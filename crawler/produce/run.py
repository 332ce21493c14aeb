"""``crawler produce``: a new production, or ``--reproduce ID`` of a registered one.

Order, so that a number is never handed out twice and never lost unrecorded:

1. the selection and its numbers are checked against the register (a
   selection produced already is refused, numbers start after the prefix's
   last one);
2. the volume is written in a hidden build directory (``crawler.produce.place``);
3. its row is registered (the checks of 1 repeated in the same transaction:
   another production may have been registered meanwhile; in a bucket, the
   cache first replayed and the row put once as its object,
   ``crawler.produce.bucket``), then, in a sealed archive, logged as a leaf
   and signed (``Sealer.sync``);
4. the directory is renamed into place.

A reproduction takes everything from the register's row (numbers, volume,
who, when, tool version) and is accepted only if its load file hashes as
registered; the rewrite is recorded as a reproduction, and logged like a
production. The :class:`~crawler.seal.sealer.Sealer` is the caller's, made
before anything is written, so a wrong signing key is refused first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crawler import __version__
from crawler.archive.productions import ProductionRow
from crawler.archive.store.location import ArchiveLocation
from crawler.canonical import utc_now
from crawler.errors import ArchiveError, UsageError
from crawler.produce.bates import Numbering, check_prefix, check_volume
from crawler.produce.bucket import open_register_reader
from crawler.produce.place import Build
from crawler.produce.register import (
    Selection,
    check_new,
    recorded_selection,
    register,
    register_reproduction,
    selection_sha256,
    selection_text,
)
from crawler.produce.volume import Outcome, Plan, write_volume
from crawler.read.connector import ExportFilters
from crawler.read.reader import ArchiveReader
from crawler.seal.sealer import Sealer

__all__ = ["Request", "produce", "reproduce"]


@dataclass(frozen=True)
class Request:
    archive: ArchiveLocation
    out: Path
    by: str
    sealer: Sealer
    bag: bool = False
    prefix: str = ""
    selection: Selection | None = None
    snapshot_id: str | None = None
    start: int | None = None
    volume: str | None = None
    digits: int = 9


def _row(rid: int, plan: Plan, sel: str, outcome: Outcome) -> ProductionRow:
    n = plan.numbering
    return ProductionRow(
        id=rid,
        prefix=n.prefix,
        digits=n.digits,
        first_number=n.first,
        last_number=outcome.last,
        volume=n.volume,
        snapshot_id=plan.snapshot.id,
        manifest_sha256=plan.snapshot.manifest_sha256,
        selection=sel,
        selection_sha256=selection_sha256(sel),
        families=outcome.families,
        documents=outcome.documents,
        load_file_md5=outcome.load_file[0],
        load_file_sha256=outcome.load_file[1],
        load_file_size=outcome.load_file[2],
        by=plan.by,
        at=plan.at,
        tool_version=plan.tool_version,
    )


def produce(req: Request) -> tuple[ProductionRow, Outcome]:
    """A new production of ``req.selection`` (steps 1-4 of the module docstring)."""
    prefix = check_prefix(req.prefix)
    selection = req.selection or Selection(ExportFilters())
    with ArchiveReader.open(req.archive) as reader:
        snapshot = reader.snapshot(req.snapshot_id)
        sel = selection_text(selection, snapshot.id)
        with open_register_reader(reader.archive) as reg:
            first = check_new(reg, selection_sha256(sel), prefix, req.start)
            rid = reg.next_id()
        volume = check_volume(req.volume or f"VOL{rid:03d}")
        plan = Plan(
            Numbering(prefix, req.digits, first, volume),
            snapshot,
            selection.to_json(snapshot.id),
            req.by,
            utc_now(),
            __version__,
        )
        build = Build(req.out, bag=req.bag)
        try:
            outcome = write_volume(reader, plan, selection.matches, build.root)
            row = _row(rid, plan, sel, outcome)
            build.finish(row, plan, outcome)
            row = register(reader.archive, row, req.sealer)
        except BaseException:
            build.abort()
            raise
        build.place()
    return row, outcome


def reproduce(req: Request, production_id: int) -> tuple[ProductionRow, Outcome]:
    """Rewrite a registered production byte for byte, or refuse (nothing placed)."""
    with ArchiveReader.open(req.archive) as reader:
        with open_register_reader(reader.archive) as reg:
            row = reg.get(production_id)
            known = [p.id for p in reg.productions()]
        if row is None:
            raise UsageError(
                f"--reproduce {production_id}: no such production (registered: "
                f"{', '.join(map(str, known)) or 'none'}; see crawler productions)"
            )
        snapshot = reader.snapshot(row.snapshot_id)
        if snapshot.manifest_sha256 != row.manifest_sha256:
            raise ArchiveError(
                f"production {row.id}: snapshot {row.snapshot_id}'s manifest is not the one "
                "it was produced from; it cannot be reproduced"
            )
        selection = recorded_selection(row)
        plan = Plan(
            Numbering(row.prefix, row.digits, row.first_number, row.volume),
            snapshot,
            selection.to_json(snapshot.id),
            row.by,
            row.at,
            row.tool_version,
        )
        build = Build(req.out, bag=req.bag)
        try:
            outcome = write_volume(reader, plan, selection.matches, build.root)
            _same(row, outcome)
            build.finish(row, plan, outcome)
            register_reproduction(reader.archive, row, req.sealer, by=req.by, at=utc_now())
        except BaseException:
            build.abort()
            raise
        build.place()
    return row, outcome


def _same(row: ProductionRow, outcome: Outcome) -> None:
    if outcome.last != row.last_number or outcome.load_file[1] != row.load_file_sha256:
        raise ArchiveError(
            f"production {row.id}: the rewritten load file differs from the registered one "
            f"(sha256 {outcome.load_file[1]}, registered {row.load_file_sha256}; numbers to "
            f"{outcome.last}, registered {row.last_number}): written by crawler "
            f"{row.tool_version}, this is {__version__}; nothing was placed"
        )
