"""The log's persistence: every file written once, never replaced, 0600, in log/."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crawler.archive import logstore
from crawler.errors import SealError


def test_put_once_writes_once_and_refuses_other_bytes(tmp_path: Path) -> None:
    assert logstore.put_once(tmp_path, "leaves/0", b"a\n") is True
    assert logstore.put_once(tmp_path, "leaves/0", b"a\n") is False  # the same bytes: a no-op
    with pytest.raises(SealError, match="written once"):
        logstore.put_once(tmp_path, "leaves/0", b"b\n")
    assert logstore.get(tmp_path, "leaves/0") == b"a\n"
    assert logstore.get(tmp_path, "leaves/1") is None
    assert logstore.names(tmp_path, "leaves") == ["0"]
    assert logstore.names(tmp_path, "checkpoints") == []
    assert os.listdir(tmp_path / "log" / "tmp") == []  # no temporary file left behind
    mode = stat.S_IMODE(os.stat(tmp_path / "log" / "leaves" / "0").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "log").st_mode) == 0o700


def test_names_never_leave_the_log(tmp_path: Path) -> None:
    for bad in ("../x", "leaves/../../x", "/abs", "leaves//0", "."):
        with pytest.raises(ValueError):
            logstore.put_once(tmp_path, bad, b"x")


def test_an_archive_is_sealed_once_it_has_a_key(tmp_path: Path) -> None:
    assert not logstore.is_sealed(tmp_path)
    logstore.put_once(tmp_path, "key.json", b"{}")
    assert logstore.is_sealed(tmp_path)
    with logstore.locked(tmp_path):
        assert (tmp_path / "log" / "lock").exists()
