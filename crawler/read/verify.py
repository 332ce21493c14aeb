"""``crawler verify``: check an archive's integrity, offline (docs/ARCHIVE.md, "Checks").

fast (default): the marker and schema version; every manifest parses and its sha256
equals the index's; every manifest's project list equals the index's rows; every
record the index references exists with the right size and parses; every blob a
record references exists with the right size. One ``stat`` per blob, one read per record.

receipts (whole-archive checks, both modes): every retention receipt against its
stored plan, snapshot and record (:mod:`crawler.retention.audit`).

full: also rehashes (md5 and sha256) every referenced blob and every file in
``blobs/``, and runs SQLite's integrity check. Orphans are reported as notes.

Problems make the archive not ok; notes (orphans, tmp leftovers, a manifest written
by an interrupted finish) do not. Nothing here writes to the archive.
"""

from __future__ import annotations

__all__ = ["Problem", "VerifyReport", "verify"]

import hashlib
from pathlib import Path
from typing import Any

import orjson

from crawler.archive import MARKER, Archive, SnapshotRow
from crawler.archive.index import FINISHED_STATUSES, SNAPSHOT_ID_RE
from crawler.archive.layout import check_marker
from crawler.archive.manifest import current_manifest_key, parse_manifest, read_manifest_bytes
from crawler.archive.note import Verifier
from crawler.archive.records import record_blob_refs
from crawler.archive.refs import MD5_RE, SHA256_RE, BlobRef, hash_file
from crawler.archive.store import DiskStore, LockPolicy
from crawler.errors import ArchiveError
from crawler.read.verify_holds import check_legal_holds
from crawler.read.verify_report import Problem, VerifyReport
from crawler.read.verify_store import check_locks, hash_object, walk_store_blobs
from crawler.retention.audit import check_retention
from crawler.seal.audit import audit_seal

# How many ids a mismatch message lists before it says "and N more".
_SHOW = 5


def _fmt_ids(ids: set[str]) -> str:
    shown = sorted(ids)[:_SHOW]
    more = len(ids) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


class _Verifier:
    def __init__(self, archive: Archive, report: VerifyReport, policy: LockPolicy | None) -> None:
        self.archive = archive
        self.report = report
        self.full = report.full
        # blob file path -> (md5, sha256, size) as rehashed in the full walk of blobs/
        self.hashed: dict[Path, tuple[str, str, int]] = {}
        # (md5, sha256) -> problem-free? so each blob is looked at once
        self.seen_blobs: dict[tuple[str, str], bool] = {}
        self.seen_records: set[tuple[str, str]] = set()
        self.hashed_keys: dict[str, tuple[str, str, int]] = {}  # a store's key -> its hashes
        self.policy = policy
        self.referenced: set[tuple[str, str]] = set()

    # -- whole archive -----------------------------------------------------------------------

    def run(self, snapshot_id: str | None) -> None:
        archive = self.archive
        store = archive.store
        try:
            check_marker(store.get(MARKER), store.url, store.where(MARKER))
        except ArchiveError as exc:
            self.report.problem("marker", store.where(MARKER), str(exc))
        if self.full:
            result = archive.index.integrity_check()
            if result != ["ok"]:
                self.report.problem("index", archive.index.path, "; ".join(result[:_SHOW]))
            if isinstance(store, DiskStore):
                self.walk_blobs()
            else:
                self.hashed_keys = walk_store_blobs(archive, self.report)
        if snapshot_id is not None:
            snapshots = [archive.index.get_snapshot(snapshot_id)]
        else:
            snapshots = archive.index.list_snapshots()
        for snap in snapshots:
            self.check_snapshot(snap)
        if snapshot_id is None:
            # Before the orphan notes: plans, receipts and response bodies are referenced.
            self.report.checked["receipts"] = check_retention(
                archive,
                self.report.problem,
                self.report.notes.append,
                self.check_blob,
                self.referenced,
                full=self.full,
            )
            self.check_registered_blobs()
            if isinstance(store, DiskStore):
                self.check_snapshot_dir({s.id for s in snapshots})
        if isinstance(store, DiskStore):
            self.check_tmp()
        else:
            check_locks(archive, self.report, snapshots, self.policy, full=self.full)
            check_legal_holds(archive, self.report, snapshots)

    def walk_blobs(self) -> None:
        """Full mode: rehash every file in blobs/; a name its bytes disagree with is damage."""
        blobs_dir = self.archive.blobs.blobs_dir
        if not blobs_dir.is_dir():
            self.report.problem("layout", blobs_dir, "blobs/ directory is missing")
            return
        for shard in sorted(blobs_dir.iterdir()):
            if not shard.is_dir() or len(shard.name) != 2:
                self.report.notes.append(f"stray entry in blobs/: {shard}")
                continue
            for f in sorted(shard.iterdir()):
                md5_name, _, sha_name = f.name.partition(".")
                if (
                    not MD5_RE.fullmatch(md5_name)
                    or not md5_name.startswith(shard.name)
                    or (sha_name and not SHA256_RE.fullmatch(sha_name))
                    or not f.is_file()
                ):
                    self.report.notes.append(f"stray entry in blobs/: {f}")
                    continue
                try:
                    md5, sha, size = hash_file(f)
                except OSError as exc:
                    self.report.problem("blob_unreadable", f, exc.strerror or str(exc))
                    continue
                self.report.checked["hashed"] += 1
                self.hashed[f] = (md5, sha, size)
                if md5 != md5_name or (sha_name and sha != sha_name):
                    self.report.problem(
                        "blob_corrupt", f, f"content hashes to md5 {md5}, not its name"
                    )
                elif self.archive.index.find_blob(md5, sha) is None:
                    self.report.notes.append(f"orphan blob (not in the index): {f}")

    def check_registered_blobs(self) -> None:
        """Every blob the index registers exists (size, and in full mode its hashes)."""
        for ref, _kind, _variant in self.archive.index.iter_blobs():
            ok = self.check_blob(ref, "index blobs table")
            if ok and self.full and (ref.md5, ref.sha256) not in self.referenced:
                self.report.notes.append(
                    "unreferenced blob (no record refers to it): "
                    + self.archive.store.where(self.archive.blobs.key_of(ref))
                )

    def check_snapshot_dir(self, known: set[str]) -> None:
        snaps = self.archive.path / "snapshots"
        if not snaps.is_dir():
            self.report.problem("layout", snaps, "snapshots/ directory is missing")
            return
        for f in sorted(snaps.iterdir()):
            sid = f.name.removesuffix(".json")
            if not (f.name.endswith(".json") and SNAPSHOT_ID_RE.fullmatch(sid) and sid in known):
                self.report.notes.append(f"stray file in snapshots/ (no such snapshot): {f}")

    def check_tmp(self) -> None:
        tmp = self.archive.path / "tmp"
        if not tmp.is_dir():
            self.report.problem("layout", tmp, "tmp/ directory is missing")
            return
        for f in sorted(tmp.iterdir()):
            self.report.notes.append(f"leftover in tmp/ (swept by the next run): {f}")

    # -- one snapshot ------------------------------------------------------------------------

    def check_snapshot(self, snap: SnapshotRow) -> None:
        self.report.checked["snapshots"] += 1
        sid = snap.id
        # Only (state, record) per project is kept: memory stays small for big snapshots.
        rows: dict[str, tuple[str, dict[str, Any] | None]] = {}
        index = self.archive.index
        # A delta stores (and its manifest lists) only what it changed; the rest is its
        # base's, checked there.
        own = index.own_projects(sid) if index.is_delta(sid) else index.projects(sid)
        for row in own:
            rows[row.project_id] = (row.state, row.record.to_json() if row.record else None)
            if row.record is not None:
                self.check_record(row.record, sid, row.project_id)
            elif row.state in ("done", "partial", "gone", "carried"):
                self.report.problem(
                    "record_missing",
                    f"snapshot {sid} project {row.project_id}",
                    f"state {row.state} but the index names no record",
                )
        self.check_manifest(snap, rows)

    def check_manifest(
        self, snap: SnapshotRow, rows: dict[str, tuple[str, dict[str, Any] | None]]
    ) -> None:
        sid = snap.id
        store = self.archive.store
        path = store.where(current_manifest_key(store, sid))
        finished = snap.status in FINISHED_STATUSES
        try:
            data = read_manifest_bytes(store, sid)
        except ArchiveError as exc:
            if "has no manifest" not in str(exc):
                self.report.problem("manifest_unreadable", path, str(exc))
                return
            if finished or snap.manifest_sha256 is not None:
                self.report.problem(
                    "manifest_missing", path, f"snapshot {sid} is {snap.status} but has no manifest"
                )
            return
        self.report.checked["manifests"] += 1
        sha = hashlib.sha256(data).hexdigest()
        if snap.manifest_sha256 is None:
            if finished:
                self.report.problem(
                    "manifest_unrecorded", path, "the index holds no sha256 for this manifest"
                )
            else:
                # Killed between the manifest's rename and its index row: the rerun
                # finishes the snapshot. Harmless, like an orphan blob.
                self.report.notes.append(
                    f"manifest of unfinished snapshot {sid} not yet recorded: {path}"
                )
        elif sha != snap.manifest_sha256:
            self.report.problem(
                "manifest_checksum", path, "sha256 differs from the index's: altered or damaged"
            )
        try:
            manifest = parse_manifest(data, sid, path)
        except ArchiveError as exc:
            self.report.problem("manifest_damaged", path, str(exc))
            return
        self.compare_projects(path, manifest, rows)

    def compare_projects(
        self,
        path: str,
        manifest: dict[str, Any],
        rows: dict[str, tuple[str, dict[str, Any] | None]],
    ) -> None:
        """The manifest's project list against the index's rows: same ids, states, records."""
        listed = {p["id"]: p for p in manifest["projects"]}
        missing = set(rows) - set(listed)
        extra = set(listed) - set(rows)
        if missing:
            self.report.problem(
                "manifest_mismatch",
                path,
                f"projects in the index but not listed: {_fmt_ids(missing)}",
            )
        if extra:
            self.report.problem(
                "manifest_mismatch",
                path,
                f"projects listed but not in the index: {_fmt_ids(extra)}",
            )
        differ = set()
        for pid in set(rows) & set(listed):
            state, record = rows[pid]
            item = listed[pid]
            if item.get("state") != state or item.get("record") != record:
                differ.add(pid)
        if differ:
            self.report.problem(
                "manifest_mismatch",
                path,
                f"state or record differs from the index for: {_fmt_ids(differ)}",
            )

    # -- records and blobs -------------------------------------------------------------------

    def check_record(self, ref: BlobRef, sid: str, pid: str) -> None:
        key = (ref.md5, ref.sha256)
        self.referenced.add(key)
        if key in self.seen_records:
            return
        self.seen_records.add(key)
        self.report.checked["records"] += 1
        where = f"snapshot {sid} project {pid}"
        if not self.check_blob(ref, f"record of {where}"):
            return
        path = self.archive.store.where(self.archive.blobs.key_of(ref))
        try:
            record = orjson.loads(self.archive.blobs.read(ref))
        except (ArchiveError, orjson.JSONDecodeError) as exc:
            self.report.problem("record_damaged", path, f"record of {where} does not parse: {exc}")
            return
        if not isinstance(record, dict) or record.get("project_id") != pid:
            self.report.problem(
                "record_damaged", path, f"record of {where} is not a record of project {pid}"
            )
            return
        try:
            refs = list(record_blob_refs(record))
        except ArchiveError as exc:
            self.report.problem("record_damaged", path, f"record of {where}: {exc}")
            return
        for what, blob in refs:
            self.referenced.add((blob.md5, blob.sha256))
            self.check_blob(blob, f"{what} in record of {where}")

    def check_blob(self, ref: BlobRef, referrer: str) -> bool:
        """Exists with the right size (and hashes, in full mode). True if sound."""
        key = (ref.md5, ref.sha256)
        if key in self.seen_blobs:
            return self.seen_blobs[key]
        self.report.checked["blobs"] += 1
        ok = self._check_blob(ref, referrer)
        self.seen_blobs[key] = ok
        return ok

    def _check_blob(self, ref: BlobRef, referrer: str) -> bool:
        key = self.archive.blobs.key_of(ref)
        path = self.archive.store.where(key)
        try:
            info = self.archive.store.head(key)
        except ArchiveError as exc:
            self.report.problem("blob_unreadable", path, str(exc))
            return False
        if info is None:
            self.report.problem("blob_missing", path, f"blob {ref.md5} ({referrer}) is missing")
            return False
        size = info.size
        if size != ref.size:
            self.report.problem(
                "blob_size", path, f"blob ({referrer}) has {size} bytes, expected {ref.size}"
            )
            return False
        if self.full:
            hashed = self.hashed.get(Path(path)) or self.hashed_keys.get(key)
            if hashed is None:  # not met in the walk of blobs/ (a single-snapshot check)
                try:
                    hashed = hash_object(self.archive.store, key)
                except (OSError, ArchiveError) as exc:
                    self.report.problem("blob_unreadable", path, str(exc))
                    return False
                self.report.checked["hashed"] += 1
                self.hashed_keys[key] = hashed
            if hashed[:2] != (ref.md5, ref.sha256):
                self.report.problem(
                    "blob_corrupt", path, f"blob ({referrer}) content does not match its md5/sha256"
                )
                return False
        return True


def verify(
    archive: Archive,
    *,
    full: bool = False,
    snapshot_id: str | None = None,
    policy: LockPolicy | None = None,
    trusted: Verifier | None = None,
    saved: tuple[str, str] | None = None,
) -> VerifyReport:
    """Check ``archive`` (all snapshots, or one). Raises ArchiveError for an unknown snapshot.

    ``policy``: in a bucket, the Object Lock every snapshot's objects must have at least
    (default: what each snapshot's run asked for, as its manifest records). The seal is
    checked with the whole archive: ``trusted`` is the auditor's key (else the archive's
    own), ``saved`` a checkpoint they kept (its name, its text).
    """
    report = VerifyReport(full=full)
    if snapshot_id is not None:
        archive.index.get_snapshot(snapshot_id)  # unknown snapshot: a usage error, raised
    _Verifier(archive, report, policy).run(snapshot_id)
    if snapshot_id is None or saved is not None:
        name, text = saved if saved is not None else ("", None)
        audit = audit_seal(archive, trusted=trusted, saved=text, saved_name=name)
        for kind, subject, message in audit.problems:
            report.problem(f"seal: {kind}", subject, message)
        report.notes.extend(audit.notes)
        report.checked["leaves"] = audit.leaves
    return report
