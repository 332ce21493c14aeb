"""Logging the archive's events as they happen, and signing the log's head.

:class:`Sealer` is made when a writer opens an archive (so a bad signing key is
refused before anything is written) and :meth:`Sealer.sync` is called after each
step that makes history is durable, before the step is reported done: it logs
every event the archive records that the log lacks (so after a crash the next
writer logs what is missing, never a gap), then signs the checkpoint of the new
size. The registers it reads are the caller's where given, the others opened
read-only for the sync. :class:`SealedStore` is the retention store whose writes
(holds, plans, intents, receipts) each end in a sync; ``crawler produce`` syncs
after each register row (``crawler.produce.register``). An archive without ``log/key.json`` is
not sealed: it is written as before, and the sealer says so once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crawler.archive import logstore
from crawler.archive.index import Index
from crawler.archive.layout import INDEX
from crawler.archive.log import Event, Log
from crawler.archive.logstore import Where
from crawler.archive.note import load_private_key, public_bytes
from crawler.archive.productions import ProductionRegister
from crawler.archive.refs import BlobRef
from crawler.archive.store.base import ObjectStore
from crawler.errors import SealError, UsageError
from crawler.retention.store import Intent, RetentionStore
from crawler.seal.events import Registers, history

__all__ = ["NOT_SEALED", "SealedStore", "Sealer"]

NOT_SEALED = "this archive's history is not sealed (no signed log): see `crawler keys init`"


class Sealer:
    """``root``: the archive's directory (a bucket's: its cache), whose registers it reads;
    ``store``: where the log is (default the directory; a bucket's store: ``log/`` in it)."""

    def __init__(
        self,
        root: Path,
        key_file: Path | None,
        warn: Callable[[str], None],
        store: ObjectStore | None = None,
    ) -> None:
        self.root = Path(root)
        self.place: Where = self.root if store is None else store
        self.warn = warn
        self.log = Log.open(self.place)
        self.key: Ed25519PrivateKey | None = None
        self._said: set[str] = set()
        if self.log is not None and key_file is not None:
            try:
                self.key = load_private_key(key_file)
            except SealError as exc:
                raise UsageError(str(exc)) from None  # a setting to fix: exit 2
            if public_bytes(self.key.public_key()) != self.log.key.verifier.public:
                raise UsageError(
                    f"the signing key in {key_file} is not this archive's "
                    f"(its log is signed by {self.log.key.verifier})"
                )

    def _say_once(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            self.warn(message)

    def sync(
        self,
        index: Index | None = None,
        store: RetentionStore | None = None,
        extra: Sequence[Event] = (),
        *,
        productions: ProductionRegister | None = None,
    ) -> int:
        """Log what the archive holds and the log lacks (then ``extra``); sign. Leaves written."""
        if self.log is None:
            self._say_once(NOT_SEALED)
            return 0
        given = Registers(index, store, productions)
        with logstore.locked(self.place), _registers(self.root, given) as registers:
            self.log.check_history()
            written = self.log.append([*history(registers), *extra])
            if self.key is not None:
                self.log.sign(self.key)
            elif written:
                self._say_once(
                    "events are logged but not signed: no signing key "
                    "(CRAWLER_SIGNING_KEY_FILE or [archive] signing_key_file); "
                    "the next writer with the key signs them"
                )
        return written

    def append_event(self, event: Event, index: Index | None = None) -> int:
        """Log one event of a register the gatherers do not read (yet), after the catch-up."""
        return self.sync(index, extra=[event])


@contextlib.contextmanager
def _registers(root: Path, given: Registers) -> Iterator[Registers]:
    """The registers to read: the caller's, or opened read-only here."""
    index, store, productions = given.index, given.store, given.productions
    with contextlib.ExitStack() as stack:
        if index is None and (root / INDEX).exists():
            index = Index.open_reader(root / INDEX)
            stack.callback(index.close)
        if store is None:
            store = stack.enter_context(RetentionStore.open_reader(root))
        if productions is None:
            productions = stack.enter_context(ProductionRegister.open_reader(root))
        yield Registers(index, store, productions)


class SealedStore(RetentionStore):
    """The retention store, each write of history followed by :meth:`Sealer.sync`."""

    sealer: Sealer | None = None
    index: Index | None = None

    @classmethod
    def open_sealed(cls, root: Path, sealer: Sealer, index: Index | None = None) -> SealedStore:
        store = cls.open(root)
        assert isinstance(store, SealedStore)
        store.sealer, store.index = sealer, index
        return store

    def _seal(self) -> None:
        if self.sealer is not None:
            self.sealer.sync(self.index, self)

    def add_hold(self, matter: str, targets: Sequence[tuple[str, str]], **kw: Any) -> None:
        super().add_hold(matter, targets, **kw)
        self._seal()

    def release_hold(self, matter: str, **kw: Any) -> None:
        super().release_hold(matter, **kw)
        self._seal()

    def add_plan(self, sha256: str, blob: BlobRef, *, at: str) -> None:
        super().add_plan(sha256, blob, at=at)
        self._seal()

    def add_intent(self, intent: Intent) -> None:
        super().add_intent(intent)
        self._seal()

    def add_receipt(self, *args: Any, **kw: Any) -> None:
        super().add_receipt(*args, **kw)
        self._seal()
