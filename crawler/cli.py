"""The ``crawler`` command: parse flags, dispatch to a subcommand, map errors to exit codes.

Each subcommand lives in ``crawler.commands.<name>`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Only the module of the
command being run is imported.

Exit codes: 0 success; 1 finished but with failed items or a failed check, or
the output was closed early (:mod:`crawler.output`); 2 usage, configuration or
authentication errors; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence
from types import ModuleType

from crawler import __version__
from crawler.config_sources import did_you_mean
from crawler.errors import CrawlerError, FatalError
from crawler.output import run_guarded

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "archive": ("crawler.commands.archive", "take a snapshot of every project the key can see"),
    "watch": ("crawler.commands.watch", "keep the archive current: a snapshot every few minutes"),
    "status": ("crawler.commands.status", "show unfinished and finished snapshots"),
    "snapshots": ("crawler.commands.snapshots", "list snapshots with filters, times, counts"),
    "verify": ("crawler.commands.verify", "check an archive's integrity (offline)"),
    "export": ("crawler.commands.export", "export a snapshot as NDJSON or a BagIt bag (offline)"),
    "verify-export": ("crawler.commands.verify_export", "check an export against its manifest"),
    "diff": ("crawler.commands.diff", "compare two snapshots (offline)"),
    "produce": ("crawler.commands.produce", "a Bates-numbered production for a review platform"),
    "productions": ("crawler.commands.productions", "list the productions registered"),
    "verify-production": (
        "crawler.commands.verify_production",
        "check a production against its load file",
    ),
    "hold": ("crawler.commands.hold", "legal holds: add, list, release (kept in the archive)"),
    "retention": ("crawler.commands.retention", "plan deletions upstream, then apply a plan"),
    "search": ("crawler.commands.search", "search every archived word (offline)"),
    "reindex": ("crawler.commands.reindex", "update or rebuild the search index (offline)"),
    "serve": ("crawler.commands.serve", "browse an archive in a web browser (read-only)"),
    "keys": ("crawler.commands.keys", "seal an archive: its signing key and signed log"),
    "checkpoint": ("crawler.commands.checkpoint", "print the latest signed checkpoint (seal)"),
    "orgs": ("crawler.commands.orgs", "list the organisations the key can see"),
    "users": ("crawler.commands.users", "list the users of one organisation"),
    "simulate": ("crawler.simulator.cli", "run the local Compliance API simulator"),
}


def _load(module: str) -> ModuleType:
    # A module that fails to import is a broken install: say so, never hide the command.
    return importlib.import_module(module)


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``load``, only those commands get their flags (and their
    modules imported): ``crawler status`` need not import aiohttp to start."""
    parser = argparse.ArgumentParser(
        prog="crawler",
        description="Archive Claude project data from the Anthropic Compliance API.",
    )
    parser.add_argument("--version", action="version", version=f"crawler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if load is None or name in load:
            module = _load(module_name)
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``parse_args``, with a "did you mean" for a mistyped command or flag."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv and not argv[0].startswith("-") and argv[0] not in sub.choices:
        hint = did_you_mean(argv[0], sub.choices)
        parser.error(f"unknown command {argv[0]!r}{hint} (see crawler --help)")
    args, extras = parser.parse_known_args(argv)
    if extras:
        where: argparse.ArgumentParser = sub.choices.get(str(getattr(args, "command", "")), parser)
        known = [o for a in where._actions for o in a.option_strings]
        hints = [did_you_mean(x.split("=", 1)[0], known) for x in extras if x.startswith("--")]
        where.error(f"unrecognized arguments: {' '.join(extras)}{''.join(h for h in hints if h)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    # The command is the first word (the top level has no options but --help/--version).
    command = words[0] if words and words[0] in COMMANDS else None
    return run_guarded(lambda: _main(words, command), command)


def _main(words: list[str], command: str | None) -> int:
    parser = build_parser(load=[command] if command else [])
    args = _parse(parser, words)
    module = getattr(args, "_module", None)
    if module is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("crawler: interrupted", file=sys.stderr)
        return 130
    except FatalError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except CrawlerError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
