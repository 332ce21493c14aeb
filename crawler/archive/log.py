"""The seal's log: leaves (the archive's events), the tree over them, signed checkpoints.

docs/ARCHIVE.md, "The seal". A leaf is the canonical JSON of one event (type,
id, the sha256 of the record it names, when) with its own index; its hash is
RFC 6962's (``crawler.archive.merkle``); a checkpoint is the C2SP
``tlog-checkpoint`` of the first ``size`` leaves, in a C2SP signed note
(``crawler.archive.note``). Bytes are read and written only through
``crawler.archive.logstore``. :meth:`Log.append` is the one way in: under the
log's lock it reloads what others appended, skips events already logged, and
writes the rest, each leaf once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import logstore, merkle
from crawler.archive.logstore import LogRaceError, Where
from crawler.archive.note import (
    Checkpoint,
    Verifier,
    checkpoint_body,
    open_note,
    parse_checkpoint,
    parse_vkey,
    public_bytes,
    sign_note,
    vkey_of,
)
from crawler.canonical import canonical_json, utc_now
from crawler.errors import SealError

__all__ = [
    "EVENT_TYPES",
    "Event",
    "Log",
    "LogKey",
    "decode_leaf",
    "encode_leaf",
    "init_log",
    "open_checkpoint",
    "read_log_key",
]

LEAF_FORMAT = 1
_RACE_ATTEMPTS = 20  # leaf indexes lost to racing writers before one append gives up
LOG_FORMAT = 1
EVENT_TYPES = ("snapshot", "hold", "plan", "intent", "receipt", "production")


@dataclass(frozen=True)
class Event:
    """One event of the archive's history: what a leaf records."""

    type: str
    id: str
    sha256: str
    at: str
    record: dict[str, Any] | None = None  # inline, for records that have no file of their own

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.type, self.id, self.sha256)


def encode_leaf(index: int, event: Event, logged_at: str) -> bytes:
    doc: dict[str, Any] = {
        "leaf_format": LEAF_FORMAT,
        "index": index,
        "type": event.type,
        "id": event.id,
        "sha256": event.sha256,
        "at": event.at,
        "logged_at": logged_at,
    }
    if event.record is not None:
        doc["record"] = event.record
    return canonical_json(doc) + b"\n"


def decode_leaf(data: bytes, index: int) -> tuple[Event, str]:
    """(the event, its logged_at); SealError naming the leaf when it is not one."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SealError(f"leaf {index} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("leaf_format") != LEAF_FORMAT:
        raise SealError(f"leaf {index} has no leaf_format {LEAF_FORMAT}")
    if doc.get("index") != index:
        raise SealError(f"leaf {index} says it is leaf {doc.get('index')!r}: moved")
    fields = [doc.get(k) for k in ("type", "id", "sha256", "at", "logged_at")]
    if not all(isinstance(f, str) for f in fields) or doc["type"] not in EVENT_TYPES:
        raise SealError(f"leaf {index} is malformed")
    record = doc.get("record")
    event = Event(doc["type"], doc["id"], doc["sha256"], doc["at"], record)
    return event, doc["logged_at"]


@dataclass(frozen=True)
class LogKey:
    """``log/key.json``: the log's origin and the public key its checkpoints verify with."""

    origin: str
    verifier: Verifier


def init_log(root: Where, origin: str, key: Ed25519PrivateKey) -> LogKey:
    """Write ``log/key.json`` (once: an archive's key is never replaced)."""
    if logstore.is_sealed(root):
        where = logstore.where(root, "key.json")
        raise SealError(f"{_archive_name(root)} already has a signing key ({where})")
    vkey = vkey_of(origin, public_bytes(key.public_key()))
    doc = {"log_format": LOG_FORMAT, "origin": origin, "vkey": vkey, "created_at": utc_now()}
    logstore.put_once(root, "key.json", orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return LogKey(origin, parse_vkey(vkey))


def _archive_name(root: Where) -> str:
    return str(root) if isinstance(root, Path) else root.url


def read_log_key(root: Where) -> LogKey | None:
    data = logstore.get(root, "key.json")
    if data is None:
        return None
    where = logstore.where(root, "key.json")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SealError(f"{where} is not JSON") from None
    if not isinstance(doc, dict) or doc.get("log_format") != LOG_FORMAT:
        raise SealError(f"{where} has no log_format {LOG_FORMAT}")
    if not isinstance(doc.get("origin"), str) or not isinstance(doc.get("vkey"), str):
        raise SealError(f"{where} lacks origin or vkey")
    verifier = parse_vkey(doc["vkey"])
    if verifier.name != doc["origin"]:
        raise SealError(f"{where}: the key's name is not the origin")
    return LogKey(doc["origin"], verifier)


class Log:
    """The leaves read so far, their hashes, and what they record (to skip repeats)."""

    def __init__(self, root: Where, key: LogKey) -> None:
        self.root = root
        self.key = key
        self.leaves: list[bytes] = []
        self.hashes: list[bytes] = []
        self.events: list[tuple[Event, str]] = []
        self.logged: set[tuple[str, str, str]] = set()

    @classmethod
    def open(cls, root: Where) -> Log | None:
        """The archive's log, every leaf read; None for an archive that is not sealed."""
        key = read_log_key(root)
        if key is None:
            return None
        log = cls(root, key)
        log.refresh()
        return log

    @property
    def size(self) -> int:
        return len(self.leaves)

    def refresh(self) -> None:
        """Read the leaves appended since (by this process or another)."""
        while (data := logstore.get(self.root, f"leaves/{self.size}")) is not None:
            event, logged_at = decode_leaf(data, self.size)
            self.leaves.append(data)
            self.hashes.append(merkle.leaf_hash(data))
            self.events.append((event, logged_at))
            self.logged.add(event.key)

    def extra_leaves(self) -> list[int]:
        """Leaf files past the first missing index: a gap (never written so by a writer)."""
        found = []
        for name in logstore.names(self.root, "leaves"):
            if name.isdigit() and int(name) > self.size:
                found.append(int(name))
        return sorted(found)

    def append(self, events: Iterable[Event]) -> int:
        """Log each event not logged yet, in order; how many leaves were written.

        The caller holds :func:`logstore.locked`; in a bucket, where that is no lock, a
        leaf index another writer took first is re-read and the event retried after it.
        """
        self.refresh()
        written = 0
        for event in events:
            if event.type not in EVENT_TYPES:
                raise ValueError(f"unknown event type {event.type!r}")
            for _attempt in range(_RACE_ATTEMPTS):
                if event.key in self.logged:
                    break
                try:
                    written += self._append_one(event)
                    break
                except LogRaceError:
                    self.refresh()  # another writer's leaf: read it, try the next index
            else:
                raise SealError(f"leaf {self.size}: other writers kept taking the index; rerun")
        return written

    def _append_one(self, event: Event) -> int:
        logged_at = utc_now()
        data = encode_leaf(self.size, event, logged_at)
        logstore.put_once(self.root, f"leaves/{self.size}", data)
        self.leaves.append(data)
        self.hashes.append(merkle.leaf_hash(data))
        self.events.append((event, logged_at))
        self.logged.add(event.key)
        return 1

    def root_hash(self, size: int | None = None) -> bytes:
        return merkle.root_hash(self.hashes, size)

    def sign(self, key: Ed25519PrivateKey) -> str:
        """Sign the checkpoint of the current size (once per size); the signed note."""
        if public_bytes(key.public_key()) != self.key.verifier.public:
            raise SealError("the signing key is not the key this archive's log was made with")
        name = f"checkpoints/{self.size}"
        existing = logstore.get(self.root, name)
        if existing is not None:
            return existing.decode()
        body = checkpoint_body(self.key.origin, self.size, self.root_hash())
        signed = sign_note(body, self.key.origin, key)
        logstore.put_once(self.root, name, signed.encode())
        return signed

    def checkpoint_sizes(self) -> list[int]:
        return sorted(int(n) for n in logstore.names(self.root, "checkpoints") if n.isdigit())

    def read_checkpoint(self, size: int) -> str | None:
        data = logstore.get(self.root, f"checkpoints/{size}")
        return None if data is None else data.decode("utf-8", "replace")

    def latest_checkpoint(self) -> str | None:
        sizes = self.checkpoint_sizes()
        return self.read_checkpoint(sizes[-1]) if sizes else None


def open_checkpoint(text: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """A signed checkpoint's body, its signature checked (and its origin, when given)."""
    cp = parse_checkpoint(open_note(text, verifier))
    if origin is not None and cp.origin != origin:
        raise SealError(f"the checkpoint is for log {cp.origin!r}, not {origin!r}")
    return cp
