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
# Vouching for cached leaves costs a LIST and a GET (the latest checkpoint): fewer
# cached leaves than this are cheaper to read again.
_WARM_LEAVES = 3
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
        self.cache = logstore.leaf_cache(root, f"{key.origin} {key.verifier}")
        self.cache_differs: list[int] = []  # cached copies unlike the bucket's (verify)
        self._checkpoints: dict[int, str] = {}  # read once: written once, never replaced

    @classmethod
    def open(cls, root: Where, *, use_cache: bool = True) -> Log | None:
        """The archive's log, every leaf read; None for an archive that is not sealed.

        In a bucket, ``use_cache`` takes the cached leaves that the bucket's latest
        signed checkpoint vouches for instead of a GET each; without it (``verify``)
        every leaf is read from the bucket, and ``cache_differs`` names the cached
        copies unlike it.
        """
        key = read_log_key(root)
        if key is None:
            return None
        log = cls(root, key)
        cached = log.cache.leaves() if log.cache is not None else []
        failed = log._warm(cached) if use_cache else None
        log.refresh()
        if failed is not None:
            log._heal(failed)
        if not use_cache:
            # Copies unlike the bucket's leaves (or of leaves it no longer has) are kept:
            # verify reports them, and the next open uses them only if a checkpoint vouches.
            log.cache_differs = [
                n for n, d in enumerate(cached) if n >= log.size or d != log.leaves[n]
            ]
        return log

    @property
    def size(self) -> int:
        return len(self.leaves)

    def _take(self, data: bytes) -> None:
        event, logged_at = decode_leaf(data, self.size)
        self.leaves.append(data)
        self.hashes.append(merkle.leaf_hash(data))
        self.events.append((event, logged_at))
        self.logged.add(event.key)

    def refresh(self) -> None:
        """Read the leaves appended since (by this process or another)."""
        start = self.size
        while (data := logstore.get(self.root, f"leaves/{self.size}")) is not None:
            self._take(data)
        if self.cache is not None:
            self.cache.put(start, self.leaves[start:])

    def _heal(self, failed: Checkpoint) -> None:
        """The cache failed the checkpoint; if the bucket's leaves pass it, the cache was
        altered: it takes the bucket's. (If not, it stays: it may be the one trace of the
        signed log, which ``verify`` reports.)"""
        vouched = self.size >= failed.size and self.root_hash(failed.size) == failed.root
        if vouched and self.cache is not None:
            self.cache.put(0, self.leaves, replace=True)

    def _warm(self, cached: list[bytes]) -> Checkpoint | None:
        """Take the cached leaves the latest signed checkpoint vouches for (docs/ARCHIVE.md).

        The checkpoint is the bucket's, its signature checked with key.json's key; the
        cached prefix (completed from the bucket up to the checkpoint's size) is used
        only if its tree hash is the checkpoint's root. Anything else reads the bucket;
        the checkpoint is returned when the cache was what failed it.
        """
        if len(cached) < _WARM_LEAVES or self.cache is None:
            return None
        sizes = self.checkpoint_sizes()
        text = self.read_checkpoint(sizes[-1]) if sizes else None
        try:
            cp = open_checkpoint(text or "", self.key.verifier, self.key.origin)
        except SealError:
            return None  # no checkpoint, or none that holds: nothing vouches for the cache
        if cp.size != sizes[-1]:
            return None
        leaves = cached[: cp.size]
        while len(leaves) < cp.size:
            data = logstore.get(self.root, f"leaves/{len(leaves)}")
            if data is None:
                return None  # the bucket lacks a leaf it signed: read as it is (verify says so)
            leaves.append(data)
        if merkle.root_hash([merkle.leaf_hash(d) for d in leaves]) != cp.root:
            return cp  # not the leaves the key signed: the bucket's are read
        for data in leaves:
            self._take(data)
        self.cache.put(len(cached), leaves[len(cached) :])
        return None

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
        if self.cache is not None:
            self.cache.put(self.size, [data], replace=True)
        self._take(data)
        return 1

    def root_hash(self, size: int | None = None) -> bytes:
        return merkle.root_hash(self.hashes, size)

    def check_history(self) -> None:
        """Refuse to extend a log whose leaves are not what its latest signed checkpoint
        signed (a leaf rewritten or removed since): a writer never signs over that.

        A checkpoint this log already read or signed is as good a witness as the
        newest one (every prefix must still hash to its root), so only the first
        check lists ``checkpoints/``: one LIST per process, not one per append."""
        known = max(self._checkpoints, default=None)
        text = self._checkpoints[known] if known is not None else self.latest_checkpoint()
        if text is None:
            return
        cp = open_checkpoint(text, self.key.verifier, self.key.origin)
        if cp.size > self.size:
            self.refresh()  # signed by another writer since this one read the log
        if cp.size > self.size or self.root_hash(cp.size) != cp.root:
            raise SealError(
                f"the seal's log no longer holds what its checkpoint of size {cp.size} signed "
                f"(it has {self.size} leaves): its history was changed; nothing more is "
                "logged or signed until `crawler verify` says what and the log is restored"
            )

    def sign(self, key: Ed25519PrivateKey) -> str:
        """Sign the checkpoint of the current size (once per size); the signed note."""
        if public_bytes(key.public_key()) != self.key.verifier.public:
            raise SealError("the signing key is not the key this archive's log was made with")
        name = f"checkpoints/{self.size}"
        existing = self.read_checkpoint(self.size)
        if existing is not None:
            return existing
        body = checkpoint_body(self.key.origin, self.size, self.root_hash())
        signed = sign_note(body, self.key.origin, key)
        logstore.put_once(self.root, name, signed.encode())
        self._checkpoints[self.size] = signed
        return signed

    def checkpoint_sizes(self) -> list[int]:
        return sorted(int(n) for n in logstore.names(self.root, "checkpoints") if n.isdigit())

    def read_checkpoint(self, size: int) -> str | None:
        if size in self._checkpoints:
            return self._checkpoints[size]
        data = logstore.get(self.root, f"checkpoints/{size}")
        if data is None:
            return None
        self._checkpoints[size] = text = data.decode("utf-8", "replace")
        return text

    def latest_checkpoint(self) -> str | None:
        sizes = self.checkpoint_sizes()
        return self.read_checkpoint(sizes[-1]) if sizes else None


def open_checkpoint(text: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """A signed checkpoint's body, its signature checked (and its origin, when given)."""
    cp = parse_checkpoint(open_note(text, verifier))
    if origin is not None and cp.origin != origin:
        raise SealError(f"the checkpoint is for log {cp.origin!r}, not {origin!r}")
    return cp
