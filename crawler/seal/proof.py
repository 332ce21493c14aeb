"""An export's seal: the snapshot's leaf, its inclusion proof and a signed checkpoint.

Written beside an NDJSON export as ``<out>.seal.json`` (docs/ARCHIVE.md, "The
seal", "Exports") and checked by ``crawler verify-export`` offline, with the
auditor's own public key (``--public-key``) or, weaker, the key embedded in it.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import orjson

from crawler.archive import merkle
from crawler.archive.log import Log, decode_leaf, open_checkpoint
from crawler.archive.logstore import Where
from crawler.archive.note import Verifier, parse_vkey
from crawler.errors import SealError, UsageError

__all__ = ["SEAL_FORMAT", "check_export_seal", "export_seal", "trusted_key"]

SEAL_FORMAT = 1


def trusted_key(value: str | None) -> Verifier | None:
    """``--public-key``: a verifier key (``name+id+key``), or a file holding one."""
    if value is None:
        return None
    text = value
    if "+" not in value or Path(value).is_file():
        try:
            text = Path(value).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--public-key {value}: cannot read it: {exc}") from None
    try:
        return parse_vkey(text)
    except SealError as exc:
        raise UsageError(f"--public-key: {exc}") from None


def export_seal(
    root: Where, snapshot_id: str, manifest_sha256: str | None
) -> dict[str, Any] | None:
    """The seal of one snapshot, or None (not sealed, not logged, or no checkpoint covers it).

    ``root``: the archive's directory or its store (a bucket: ``log/`` in it)."""
    log = Log.open(root)
    if log is None or manifest_sha256 is None:
        return None
    wanted = ("snapshot", snapshot_id, manifest_sha256)
    found = [n for n, (e, _) in enumerate(log.events) if e.key == wanted]
    sizes = [s for s in log.checkpoint_sizes() if found and s > found[-1] and s <= log.size]
    if not sizes:
        return None
    index, size = found[-1], sizes[-1]
    return {
        "seal_format": SEAL_FORMAT,
        "leaf": log.leaves[index].decode(),
        "leaf_index": index,
        "tree_size": size,
        "inclusion_proof": [
            base64.b64encode(h).decode() for h in merkle.inclusion_proof(log.hashes, index, size)
        ],
        "checkpoint": log.read_checkpoint(size),
        "vkey": str(log.key.verifier),
    }


def check_export_seal(
    doc: Any, snapshot_id: Any, manifest_sha256: Any, trusted: Verifier | None
) -> list[str]:
    """What is wrong with an export's seal (empty: it proves the snapshot is in the log)."""
    if not isinstance(doc, dict) or doc.get("seal_format") != SEAL_FORMAT:
        return [f"not a seal (no seal_format {SEAL_FORMAT})"]
    try:
        key = trusted or parse_vkey(str(doc.get("vkey")))
        cp = open_checkpoint(str(doc.get("checkpoint")), key)
        leaf = str(doc.get("leaf")).encode()
        index, size = int(doc["leaf_index"]), int(doc["tree_size"])
        proof = [base64.b64decode(p, validate=True) for p in doc["inclusion_proof"]]
        event, _ = decode_leaf(leaf, index)
    except (SealError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        return [f"signature or format: {exc}"]
    problems = []
    if event.key != ("snapshot", snapshot_id, manifest_sha256):
        problems.append(
            f"the leaf names {event.type} {event.id} ({event.sha256}), "
            f"not this export's snapshot {snapshot_id} ({manifest_sha256})"
        )
    if size != cp.size:
        problems.append(f"the proof is for {size} leaves, the checkpoint signs {cp.size}")
    elif not merkle.verify_inclusion(merkle.leaf_hash(leaf), index, size, proof, cp.root):
        problems.append(
            f"the inclusion proof of leaf {index} does not lead to the checkpoint's root"
        )
    return problems


def load_seal(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return {"error": str(exc)}
