"""``crawler retention`` flags: the selection and the delete key, checked before anything runs."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.commands import retention
from crawler.errors import UsageError
from crawler.retention.receipts import DELETE_KEY_ENV

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    retention.add_arguments(parser)
    return parser.parse_args(["plan", *argv])


def test_selection_from_flags_and_a_file(tmp_path: Path) -> None:
    ids = tmp_path / "erasure.txt"
    ids.write_text("claude_proj_b\nclaude_proj_doc_c\nclaude_proj_a\n")
    sel = retention.selection_from(
        parse("--project", "claude_proj_a", "--from-file", str(ids), "--older-than", "3y",
              "--age-field", "updated_at", "--deleted-in-claude"),
        NOW,
    )  # fmt: skip
    assert sel.projects == ("claude_proj_a", "claude_proj_b")
    assert sel.documents == ("claude_proj_doc_c",)
    assert sel.cutoff == "2023-11-28T12:00:00.000000Z" and sel.age_field == "updated_at"
    assert sel.to_json()["older_than"] == "3y" and sel.deleted_in_claude


def test_a_plan_must_select_something() -> None:
    with pytest.raises(UsageError, match="selects nothing"):
        retention.selection_from(parse(), NOW)


def test_the_delete_key_is_its_own_and_never_the_read_key() -> None:
    assert retention.delete_key_from({DELETE_KEY_ENV: " sk-del "}, "sk-read") == "sk-del"
    for env in ({}, {DELETE_KEY_ENV: "  "}):
        with pytest.raises(UsageError, match="no delete key"):
            retention.delete_key_from(env, "sk-read")
    with pytest.raises(UsageError, match="read key") as err:
        retention.delete_key_from({DELETE_KEY_ENV: "sk-read"}, "sk-read")
    assert "sk-read" not in str(err.value)
    with pytest.raises(UsageError, match="malformed") as err:
        retention.delete_key_from({DELETE_KEY_ENV: "sk del"}, "sk-read")
    assert "sk del" not in str(err.value)
