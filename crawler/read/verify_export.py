"""``crawler verify-export``: check what an export wrote against its manifest.

A recipient runs it on the manifest beside an NDJSON export, or on a BagIt bag,
to prove they received exactly what was sent: every file present, with the md5
and sha256 the manifest names. Reads only the export; never the archive.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from crawler.archive.note import Verifier
from crawler.archive.refs import hash_file
from crawler.errors import UsageError
from crawler.read.export import EXPORT_FORMAT
from crawler.seal.proof import check_export_seal, load_seal


@dataclass
class ExportCheck:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_export_manifest(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"export manifest {path} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read export manifest {path}: {exc.strerror}") from None
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path} is not an export manifest: not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("export_format") != EXPORT_FORMAT:
        raise UsageError(f"{path} is not a crawler export manifest (no export_format 1)")
    if not isinstance(manifest.get("files"), list):
        raise UsageError(f"export manifest {path} has no files list")
    return manifest


def check_file(base: Path, rel: str, expected: dict[str, Any]) -> str | None:
    """None if ``base/rel`` has the expected size, md5 and sha256, else what is wrong."""
    path = base / rel
    try:
        md5, sha, size = hash_file(path)
    except FileNotFoundError:
        return f"{rel}: missing"
    except OSError as exc:
        return f"{rel}: cannot read: {exc.strerror}"
    wrong = []
    if "size" in expected and size != expected["size"]:
        wrong.append(f"size {size}, expected {expected['size']}")
    if "md5" in expected and md5 != expected["md5"]:
        wrong.append(f"md5 {md5}, expected {expected['md5']}")
    if "sha256" in expected and sha != expected["sha256"]:
        wrong.append(f"sha256 {sha}, expected {expected['sha256']}")
    return f"{rel}: " + "; ".join(wrong) if wrong else None


def verify_export(manifest_path: Path, trusted: Verifier | None = None) -> ExportCheck:
    """Rehash every file an export manifest lists (paths relative to the manifest).

    A sealed export's seal is checked too: with ``trusted`` (the recipient's own
    key) or, said as weaker, the key embedded in the seal.
    """
    manifest = load_export_manifest(manifest_path)
    base = manifest_path.parent
    sub = manifest.get("base")  # a bag's export manifest lists paths under data/
    if isinstance(sub, str) and sub and not os.path.isabs(sub) and ".." not in Path(sub).parts:
        base = base / sub
    check = ExportCheck()
    for entry in manifest["files"]:
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or not rel or os.path.isabs(rel):
            check.problems.append(f"malformed files entry in the manifest: {entry!r:.200}")
            continue
        check.checked += 1
        problem = check_file(base, rel, entry)
        if problem:
            check.problems.append(problem)
    if isinstance(manifest.get("seal"), str):
        check_seal_file(check, manifest, base / manifest["seal"], trusted)
    return check


def check_seal_file(
    check: ExportCheck, manifest: dict[str, Any], path: Path, trusted: Verifier | None
) -> None:
    """An export's seal against the export manifest's snapshot (problems and a note added)."""
    snap = (manifest.get("snapshot") if isinstance(manifest, dict) else None) or {}
    doc = load_seal(path)
    problems = check_export_seal(doc, snap.get("id"), snap.get("manifest_sha256"), trusted)
    check.problems.extend(f"seal: {path.name}: {p}" for p in problems)
    if problems:
        return
    whose = f"the trusted key {trusted}" if trusted else "the key embedded in the seal"
    check.notes.append(
        f"seal: snapshot {snap.get('id')} is leaf {doc['leaf_index']} of a log of "
        f"{doc['tree_size']} leaves, signed by {whose}"
        + ("" if trusted else " (pass --public-key with your own copy to prove who signed)")
    )
