"""``crawler search QUERY``: every archived word, ranked, with snippets (offline).

Terms are quoted for you (punctuation is text); ``"a phrase"``, ``prefix*``,
``AND``/``OR``/``NOT`` and parentheses are syntax. ``--raw`` passes SQLite FTS5
syntax through untouched. ``--preset secrets`` sweeps for API keys, private keys
and card numbers instead of a query. Text output: a count, then one hit per
block (kind, project, document, snapshot, snippet); ``--json``: one object per
hit on stdout, the count on stderr. Exit 0 with or without hits.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from crawler.config import add_archive_argument, archive_path_from
from crawler.errors import UsageError
from crawler.read.presets import PRESETS
from crawler.read.reader import ArchiveReader
from crawler.read.search import Hit, run_search
from crawler.read.searchindex import KINDS
from crawler.read.searching import make_filters, open_search_index


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_archive_argument(parser)
    parser.add_argument("query", nargs="?", metavar="QUERY", help="words, phrases, AND/OR/NOT")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--snapshot", metavar="ID", help="default: the latest finished")
    which.add_argument(
        "--all-snapshots", action="store_true", help="every indexed snapshot; hits list which"
    )
    parser.add_argument("--org", action="append", default=[], metavar="ID", help="uuid or org_…")
    parser.add_argument("--user", action="append", default=[], metavar="ID", help="creator")
    parser.add_argument("--since", metavar="TIME", help="project created at or after")
    parser.add_argument("--until", metavar="TIME", help="project created before")
    parser.add_argument("--kind", choices=KINDS, help="only documents, projects or filenames")
    parser.add_argument("--raw", action="store_true", help="the query is SQLite FTS5 syntax")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a ready-made DLP sweep")
    parser.add_argument("--limit", type=int, default=20, metavar="N", help="hits shown (20)")
    parser.add_argument("--json", action="store_true", help="one JSON object per hit")


def run(args: argparse.Namespace) -> int:
    if not args.query and not args.preset:
        raise UsageError("search: give a QUERY or --preset")
    if args.query and args.preset:
        raise UsageError("search: give a QUERY or --preset, not both")
    if args.limit < 1:
        raise UsageError("search: --limit must be at least 1")
    with ArchiveReader.open(archive_path_from(args)) as reader:
        index = open_search_index(reader)
        try:
            filters = make_filters(
                reader,
                index,
                snapshot=args.snapshot,
                all_snapshots=args.all_snapshots,
                orgs=args.org,
                users=args.user,
                since=args.since,
                until=args.until,
                kind=args.kind,
            )
            result = run_search(
                index, args.query or "", filters, raw=args.raw, preset=args.preset, limit=args.limit
            )
        finally:
            index.close()
    if args.json:
        for hit in result.hits:
            sys.stdout.write(orjson.dumps(hit.to_json()).decode() + "\n")
        print(f"{result.count} hits", file=sys.stderr)
        return 0
    where = (
        "every snapshot" if filters.snapshot_ids is None else f"snapshot {filters.snapshot_ids[0]}"
    )
    shown = f", showing {len(result.hits)}" if len(result.hits) < result.count else ""
    print(f"{result.count} hits in {where}{shown}")
    bold = sys.stdout.isatty()
    for hit in result.hits:
        print()
        for line in render_hit(hit, bold):
            print(line)
    return 0


def render_hit(hit: Hit, bold: bool) -> list[str]:
    name = _clean(hit.project_name or "(no name)")
    lines = [f"[{hit.kind}] {name}  {hit.project_id}"]
    if hit.kind != "project":
        lines.append(f"  {hit.kind}: {_clean(hit.label or '(no name)')}  {hit.item_id}")
    lines.append(
        f"  snapshot{'s' if len(hit.snapshot_ids) > 1 else ''}: {', '.join(hit.snapshot_ids)}"
    )
    lines.append("  " + mark(hit.snippet, hit.highlights, bold))
    return lines


def mark(snippet: str, spans: list[tuple[int, int]], bold: bool) -> str:
    """The snippet with its highlights: bold on a terminal, ``**…**`` elsewhere."""
    on, off = ("\x1b[1m", "\x1b[0m") if bold else ("**", "**")
    out, pos = [], 0
    for start, end in spans:
        out += [_clean(snippet[pos:start]), on, _clean(snippet[start:end]), off]
        pos = end
    out.append(_clean(snippet[pos:]))
    return "".join(out)


def _clean(text: str) -> str:
    """Archived text never drives the terminal: control characters are shown, not sent."""
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in text)
