"""``crawler retention``: plan deletions upstream (never deleting), then apply a plan.

    crawler retention plan  [--older-than 3y [--age-field updated_at]] [--project ID]...
                            [--document ID]... [--user ID]... [--org ID]...
                            [--deleted-in-claude] [--from-file FILE] [--out FILE] [--json]
    crawler retention apply --plan FILE --yes --max-deletes N

Both take the connection settings of ``archive`` (``--base-url``, ``--rate``,
``--config``) and read with the read key (``ANTHROPIC_COMPLIANCE_ACCESS_KEY``).
``apply`` deletes with a second key, ``ANTHROPIC_COMPLIANCE_DELETE_KEY``: a
missing delete key, a delete key equal to the read key, a missing ``--yes``
or ``--max-deletes`` all exit 2 before anything is opened or sent.
Exit codes: 0 done; 1 some items refused or failed at apply; 2 usage.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from crawler import app, loop
from crawler.canonical import rfc3339
from crawler.config import Settings, add_crawl_arguments, build_settings
from crawler.errors import UsageError
from crawler.retention.plan import HASH_KEY, read_plan, write_plan
from crawler.retention.receipts import DELETE_KEY_ENV
from crawler.retention.report import apply_totals, plan_table, plan_totals
from crawler.retention.select import (
    AGE_FIELDS,
    Selection,
    check_id,
    cutoff,
    ids_from_file,
    parse_age,
    unique,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    plan = sub.add_parser("plan", help="decide what may be deleted upstream; deletes nothing")
    add_crawl_arguments(plan)
    plan.add_argument("--older-than", metavar="AGE", help="e.g. 90d, 12w, 18m, 3y")
    plan.add_argument(
        "--age-field", choices=AGE_FIELDS, default="created_at", help="what --older-than compares"
    )
    plan.add_argument("--project", action="append", default=[], metavar="ID", help="repeatable")
    plan.add_argument(
        "--document", action="append", default=[], metavar="ID", help="one document; repeatable"
    )
    plan.add_argument("--user", action="append", default=[], metavar="ID", help="creator")
    plan.add_argument("--org", action="append", default=[], metavar="ID", help="tagged id or UUID")
    plan.add_argument("--deleted-in-claude", action="store_true", help="only deleted_at set")
    plan.add_argument("--from-file", type=Path, metavar="FILE", help="ids, one a line")
    plan.add_argument("--out", type=Path, metavar="FILE", help="write the plan here")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.add_argument("--concurrency", type=int, metavar="N", help="candidates checked at once")
    apply = sub.add_parser("apply", help="delete what a plan found eligible, with receipts")
    add_crawl_arguments(apply)
    apply.add_argument("--plan", type=Path, required=True, metavar="FILE")
    apply.add_argument("--yes", action="store_true", help="confirm: deletions cannot be undone")
    apply.add_argument("--max-deletes", type=int, required=True, metavar="N")


def run(args: argparse.Namespace) -> int:
    if args.retention_command == "plan":
        selection = selection_from(args, datetime.now(UTC))
        settings = build_settings(args)
        return loop.run(_plan(settings, selection, args.out, as_json=args.json))
    if not args.yes:
        raise UsageError("retention apply deletes upstream, permanently: pass --yes to confirm")
    if args.max_deletes < 1:
        raise UsageError(f"--max-deletes must be at least 1, got {args.max_deletes}")
    settings = build_settings(args)
    delete_key = delete_key_from(os.environ, settings.api_key)
    plan, plan_bytes = read_plan(args.plan)
    return loop.run(_apply(settings, delete_key, plan, plan_bytes, args.max_deletes))


def delete_key_from(env: Mapping[str, str], read_key: str) -> str:
    """The delete key: its own variable, never the read key."""
    key = env.get(DELETE_KEY_ENV, "").strip()
    if not key:
        raise UsageError(
            f"no delete key: set {DELETE_KEY_ENV} to a separate key with scope "
            "delete:compliance_user_data (the read key is never used to delete)"
        )
    if key == read_key:
        raise UsageError(
            f"{DELETE_KEY_ENV} holds the read key; deletes need a separate key with scope "
            "delete:compliance_user_data, and the read key must not have it"
        )
    if any(c.isspace() for c in key) or not key.isascii() or len(key) > 512:
        raise UsageError(f"the key in {DELETE_KEY_ENV} is malformed (spaces or non-ASCII)")
    return key


def selection_from(args: argparse.Namespace, now: datetime) -> Selection:
    projects = [check_id(p, "--project") for p in args.project]
    documents = [check_id(d, "--document") for d in args.document]
    if args.from_file:
        more_projects, more_documents = ids_from_file(args.from_file)
        projects += more_projects
        documents += more_documents
    age = parse_age(args.older_than) if args.older_than else None
    selection = Selection(
        projects=unique(projects),
        documents=unique(documents),
        users=unique(check_id(u, "--user") for u in args.user),
        orgs=unique(check_id(o, "--org") for o in args.org),
        older_than=age,
        age_field=args.age_field,
        cutoff=rfc3339(cutoff(now, age)) if age else None,
        deleted_in_claude=bool(args.deleted_in_claude),
    )
    if not selection.names_items and not selection.narrows:
        raise UsageError(
            "retention plan selects nothing: give --older-than, --project, --document, "
            "--user, --org, --deleted-in-claude or --from-file"
        )
    return selection


async def _plan(
    settings: Settings, selection: Selection, out: Path | None, *, as_json: bool
) -> int:
    plan = await app.retention_plan(settings, selection)
    if out is not None:
        write_plan(out, plan)
    if as_json:
        sys.stdout.write(orjson.dumps(plan, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(plan_table(plan))
        print(plan_totals(plan, str(out) if out else None))
    return 0


async def _apply(
    settings: Settings, delete_key: str, plan: dict[str, Any], plan_bytes: bytes, max_deletes: int
) -> int:
    result = await app.retention_apply(settings, delete_key, plan, plan_bytes, max_deletes)
    print(apply_totals(result, str(plan[HASH_KEY])))
    bad = sum(result.outcomes.get(k, 0) for k in ("refused", "failed", "unsettled"))
    return 1 if bad else 0
