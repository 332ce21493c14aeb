"""``crawler verify-export PATH``: check what an export recipient received (offline).

PATH is an export manifest (``<out>.manifest.json``: every file it lists is
rehashed, paths relative to the manifest) or a bag directory made by
``crawler export --bag`` (every manifest and tag manifest entry is rehashed, the
payload checked for completeness and against its Payload-Oxum). Prints each
problem, naming the file, then a summary. Exit 0 when everything matches, 1 on any
mismatch, 2 when PATH is neither.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from crawler.errors import UsageError
from crawler.read.bag import verify_bag
from crawler.read.verify_export import verify_export
from crawler.seal.proof import trusted_key


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", type=Path, metavar="MANIFEST|BAG", help="an export manifest or a bag directory"
    )
    parser.add_argument(
        "--public-key",
        metavar="VKEY|FILE",
        help="your trusted copy of the archive's public key, for the export's seal",
    )


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.is_dir():
        check = verify_bag(path, trusted_key(args.public_key))
    elif path.exists():
        check = verify_export(path, trusted_key(args.public_key))
    else:
        raise UsageError(f"{path} does not exist")
    for problem in check.problems:
        print(f"FAILED: {problem}")
    for note in check.notes:
        print(f"note: {note}")
    if check.ok:
        print(f"verify-export: OK: {check.checked} files match {path}")
        return 0
    print(f"verify-export: FAILED: {len(check.problems)} problems in {path}")
    return 1
