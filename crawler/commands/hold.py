"""``crawler hold``: legal holds kept in the archive (offline; no key needed).

    crawler hold add --matter NAME (--project ID | --user ID | --org ID)... [--by WHO] [--note TEXT]
    crawler hold list [--all] [--json]
    crawler hold release --matter NAME [--by WHO] [--note TEXT]

A held project is never deleted by ``crawler retention``, whatever a plan
says: ``apply`` reads the holds again just before every delete. A hold is
never removed: ``release`` appends a release, with who and when, and
``hold list --all`` shows the whole history. Adding a hold works while a crawl
is running (it does not need the archive's lock).
"""

from __future__ import annotations

import argparse
import functools
import getpass
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import orjson

from crawler.archive import Archive
from crawler.canonical import utc_now
from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import UsageError
from crawler.read.reader import require_archive
from crawler.retention.bucket import apply_legal_holds, open_retention, open_retention_reader
from crawler.retention.holds import Hold, active_holds, matters
from crawler.retention.select import check_id
from crawler.retention.store import RetentionStore
from crawler.seal.keyfile import key_file_from_args
from crawler.seal.sealer import SealedStore, Sealer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="hold_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="put projects, users' projects or organisations on hold")
    add_archive_argument(add)
    add.add_argument("--matter", required=True, metavar="NAME", help="the legal matter")
    add.add_argument("--project", action="append", default=[], metavar="ID", help="repeatable")
    add.add_argument(
        "--user", action="append", default=[], metavar="ID", help="creator id or email"
    )
    add.add_argument("--org", action="append", default=[], metavar="ID", help="tagged id or UUID")
    _who(add)
    lst = sub.add_parser("list", help="holds in force (--all: the whole history)")
    add_archive_argument(lst)
    lst.add_argument("--all", action="store_true", help="every add and release, in order")
    lst.add_argument("--json", action="store_true", help="print JSON")
    rel = sub.add_parser("release", help="release every hold of a matter (recorded, never erased)")
    add_archive_argument(rel)
    rel.add_argument("--matter", required=True, metavar="NAME")
    _who(rel)


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", metavar="WHO", help="who asks (default: user@host)")
    parser.add_argument("--note", metavar="TEXT", help="why, a ticket, a reference")


def _default_who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _matter(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 200 or not text.isprintable():
        raise UsageError(f"--matter {value!r}: give a printable name of up to 200 characters")
    return text


def run(args: argparse.Namespace) -> int:
    path = archive_path_from(args)
    require_archive(path)
    if args.hold_command == "list":
        with (
            Archive.open_for_reading(path) as archive,
            open_retention_reader(archive) as store,
        ):
            return _list(store, show_all=args.all, as_json=args.json)
    with Archive.open_for_reading(path) as archive:
        return _change(args, archive)


def _change(args: argparse.Namespace, archive: Archive) -> int:
    """``hold add`` / ``hold release``: a row (and, in a bucket, its object and legal holds)."""
    matter = _matter(args.matter)
    who = (args.by or "").strip() or _default_who()
    if args.hold_command == "add":
        targets = [("project", check_id(p, "--project")) for p in args.project]
        targets += [("user", check_id(u, "--user")) for u in args.user]
        targets += [("org", check_id(o, "--org")) for o in args.org]
        if not targets:
            raise UsageError("hold add needs at least one --project, --user or --org")
        with open_retention(archive, _sealed(args, archive)) as store:
            before = active_holds(store.hold_events())
            store.add_hold(matter, targets, by=who, at=utc_now(), note=args.note)
            _legal_holds(archive, store, before)
        print(f"hold: {matter}: {len(targets)} target(s) held, by {who}")
        return 0
    with open_retention(archive, _sealed(args, archive)) as store:
        events = store.hold_events()
        if matter not in {h.matter for h in active_holds(events)}:
            known = matters(events)
            what = "was already released" if matter in known else "is not a known matter"
            raise UsageError(f"hold release: {matter!r} {what}; nothing to release")
        before = active_holds(events)
        store.release_hold(matter, by=who, at=utc_now(), note=args.note)
        _legal_holds(archive, store, before)
    print(f"hold: {matter}: released by {who} (kept in the history: hold list --all)")
    return 0


def _legal_holds(archive: Archive, store: RetentionStore, before: list[Hold]) -> None:
    changed = apply_legal_holds(archive, store, before)
    if changed:
        print(f"hold: S3 legal hold set or lifted on {changed} object(s) of {archive.location}")


def _sealed(args: argparse.Namespace, archive: Archive) -> Callable[[Path], RetentionStore]:
    """Opens the retention store whose every hold event is logged and signed (when sealed)."""
    warn = functools.partial(print, "crawler: warning:", file=sys.stderr)
    sealer = Sealer(archive.path, key_file_from_args(args), warn, archive.store)
    return functools.partial(SealedStore.open_sealed, sealer=sealer)


def _list(store: RetentionStore, *, show_all: bool, as_json: bool) -> int:
    events = store.hold_events()
    rows = [asdict(e) for e in events] if show_all else [asdict(h) for h in active_holds(events)]
    if as_json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    if not rows:
        print("no holds" + ("" if show_all else " in force"))
        return 0
    for r in rows:
        action = f"{r['action']:<8}" if show_all else ""
        target = f"{r['scope']} {r['target']}" if r.get("scope") else "(every target)"
        note = f"  {r['note']}" if r.get("note") else ""
        print(f"{action}{r['matter']:<24} {target:<48} by {r['by']} at {r['at']}{note}")
    return 0
