"""``crawler hold``: who and when recorded, releases kept, bad input refused with exit 2."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from crawler.archive import Archive
from crawler.cli import main
from crawler.errors import UsageError
from tests.retention.support import hold


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    Archive.open_for_writing(path).close()
    return path


def listed(archive: Path, *flags: str) -> list[dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["hold", "list", "--archive", str(archive), "--json", *flags]) == 0
    rows = json.loads(out.getvalue())
    assert isinstance(rows, list)
    return rows


def test_add_list_release_keeps_the_whole_history(archive: Path) -> None:
    assert hold(archive, "add", "--matter", "M1", "--project", "claude_proj_a", "--user",
                "a@example.com", "--by", "counsel", "--note", "ticket 7") == 0  # fmt: skip
    assert hold(archive, "add", "--matter", "M2", "--org", "org_1") == 0
    active = listed(archive)
    assert [(h["matter"], h["scope"], h["target"]) for h in active] == [
        ("M1", "project", "claude_proj_a"),
        ("M1", "user", "a@example.com"),
        ("M2", "org", "org_1"),
    ]
    assert active[0]["by"] == "counsel" and active[0]["note"] == "ticket 7" and active[0]["at"]
    assert "@" in str(active[2]["by"])  # the default: user@host
    assert hold(archive, "release", "--matter", "M1", "--by", "counsel") == 0
    assert [h["matter"] for h in listed(archive)] == ["M2"]
    history = listed(archive, "--all")
    assert [e["action"] for e in history] == ["add", "add", "add", "release"]
    assert history[-1]["by"] == "counsel"


def test_bad_holds_are_usage_errors(archive: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at least one"):
        hold(archive, "add", "--matter", "M")
    with pytest.raises(UsageError, match="not a known matter"):
        hold(archive, "release", "--matter", "nope")
    assert hold(archive, "add", "--matter", "M", "--project", "p") == 0
    assert hold(archive, "release", "--matter", "M") == 0
    with pytest.raises(UsageError, match="already released"):
        hold(archive, "release", "--matter", "M")
    with pytest.raises(UsageError, match="not a valid id"):
        hold(archive, "add", "--matter", "M", "--project", "../x")
    with pytest.raises(UsageError, match="not a crawler archive"):
        hold(tmp_path, "add", "--matter", "M", "--project", "p")
    assert main(["hold", "add", "--archive", str(archive), "--matter", "M"]) == 2
