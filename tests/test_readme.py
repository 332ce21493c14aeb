"""The README's command table is true to ``--help``: one row per command, in ``--help``'s
order, and every flag a row names is one its command (or a subcommand of it) takes."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from crawler import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def table_rows() -> list[tuple[str, str]]:
    """(command, the whole row) for each ``| `crawler …` |`` row."""
    rows = []
    for line in README.read_text(encoding="utf-8").splitlines():
        found = re.match(r"\| `crawler ([a-z-]+)[^`]*` \|", line)
        if found:
            rows.append((found.group(1), line))
    return rows


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option of ``parser`` and of its subcommands (``hold add``, ``retention plan``)."""
    out: set[str] = set()
    for action in parser._actions:
        out.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= option_strings(sub)
    return out


def test_one_row_per_command_in_the_order_of_help() -> None:
    assert [command for command, _ in table_rows()] == list(cli.COMMANDS)


def test_every_flag_in_a_row_is_one_its_command_takes() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    checked = 0
    for command, row in table_rows():
        known = option_strings(sub.choices[command])
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", row))
        assert named <= known, (command, sorted(named - known))
        checked += len(named)
    assert checked > 40  # the rows were read, flags and all
