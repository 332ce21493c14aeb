"""``crawler verify`` on an archive in a bucket: the S3 legal holds the holds in force need.

A legal hold (``crawler hold add``) covers every object of the held projects
(their records and what the records name, :func:`~crawler.archive.holding.record_keys`)
in every finished snapshot; each must carry the S3 legal hold (docs/ARCHIVE.md,
"Object Lock"). An unfinished snapshot is left out: the run that continues it holds
what a killed run could not, before its manifest.
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.archive import Archive, SnapshotRow
from crawler.archive.holding import record_keys
from crawler.archive.index import FINISHED_STATUSES
from crawler.errors import ArchiveError
from crawler.read.verify_store import VerifyReport
from crawler.retention.bucket import open_retention_reader
from crawler.retention.holds import active_holds, holds_covering

__all__ = ["check_legal_holds"]


def check_legal_holds(
    archive: Archive, report: VerifyReport, snapshots: Iterable[SnapshotRow]
) -> None:
    """A problem for each object of a held project that lacks the S3 legal hold."""
    try:
        with open_retention_reader(archive) as store:
            holds = active_holds(store.hold_events())
    except ArchiveError:
        return  # reported by the retention checks
    if not holds:
        return
    seen: set[str] = set()
    for snap in snapshots:
        if snap.status not in FINISHED_STATUSES:
            continue
        for row in archive.index.projects(snap.id):
            if row.record is None or not holds_covering(holds, row.list_entry):
                continue
            try:
                record = archive.read_record(row.record)
            except ArchiveError:
                continue  # reported by the record checks
            for key in record_keys(archive.blobs.key_of, row.record, record):
                if key not in seen:
                    seen.add(key)
                    _check_one(archive, report, key)


def _check_one(archive: Archive, report: VerifyReport, key: str) -> None:
    info = archive.store.head(key)
    if info is None:
        return  # missing: the blob checks say so
    report.checked["legal_holds"] += 1
    if not info.legal_hold:
        report.problem(
            "legal_hold_missing",
            archive.store.where(key),
            "a hold in force covers this object's project, but it has no S3 legal hold",
        )
