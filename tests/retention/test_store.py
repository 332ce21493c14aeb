"""retention.sqlite: holds are never dropped, intents and receipts settle in one transaction."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from crawler.archive.refs import BlobRef
from crawler.errors import ArchiveError
from crawler.retention.store import FILENAME, Intent, RetentionStore

REF = BlobRef("0" * 32, "0" * 64, 0)


def test_an_archive_without_the_file_reads_as_no_holds_no_receipts(tmp_path: Path) -> None:
    with RetentionStore.open_reader(tmp_path) as store:
        assert store.hold_events() == [] and store.receipts() == [] and store.intents() == []
    assert not (tmp_path / FILENAME).exists()  # a reader never creates it


def test_holds_are_appended_never_changed_or_deleted(tmp_path: Path) -> None:
    with RetentionStore.open(tmp_path) as store:
        store.add_hold("M", [("project", "p1"), ("user", "u1")], by="me", at="t1", note="n")
        store.release_hold("M", by="counsel", at="t2", note=None)
    assert stat.S_IMODE((tmp_path / FILENAME).stat().st_mode) == 0o600
    conn = sqlite3.connect(tmp_path / FILENAME)
    for sql in ("DELETE FROM hold_events", "UPDATE hold_events SET matter = 'x'"):
        with pytest.raises(sqlite3.DatabaseError, match="never"):
            conn.execute(sql)
    conn.close()
    with RetentionStore.open_reader(tmp_path) as store:
        events = store.hold_events()
    assert [(e.action, e.by, e.at) for e in events] == [
        ("add", "me", "t1"),
        ("add", "me", "t1"),
        ("release", "counsel", "t2"),
    ]


def test_one_open_intent_per_item_and_the_receipt_closes_it(tmp_path: Path) -> None:
    with RetentionStore.open(tmp_path) as store:
        store.add_intent(Intent("project", "p1", "h" * 64, "t", "/v1/compliance/apps/projects/p1"))
        with pytest.raises(ArchiveError, match="unfinished delete"):
            store.add_intent(Intent("project", "p1", "h" * 64, "t2", "/x"))
        store.add_receipt("project", "p1", "h" * 64, "deleted", "t3", REF)
        assert store.intents() == []
        assert store.done_receipt("project", "p1") is not None
        assert store.done_receipt("document", "p1") is None
        with pytest.raises(ValueError):
            store.add_receipt("project", "p2", "h" * 64, "maybe", "t", REF)
    conn = sqlite3.connect(tmp_path / FILENAME)
    with pytest.raises(sqlite3.DatabaseError, match="never"):
        conn.execute("DELETE FROM receipts")
    conn.close()
