"""Where a production is built and how it is put in place: its description, the bag, the rename.

``DIR`` holds, when whole::

    DIR/production.json         what was produced: id, numbers, snapshot, selection, who, when,
                                counts, the load file's hashes, the checksum lists' hashes
    DIR/production.md5          every file under DIR/<VOLUME>/ (md5sum -c)
    DIR/production.sha256       the same (sha256sum -c)
    DIR/<VOLUME>/DATA/<VOLUME>.dat, .xml, _FIELDS.csv, _PRIVILEGE_LOG.csv
    DIR/<VOLUME>/NATIVES/0001/<BATES>.<ext> ...   DIR/<VOLUME>/TEXT/0001/<BATES>.txt ...

With ``--bag``, all of that is the payload (``DIR/data/...``) of a BagIt bag
whose dates are the production's own. The whole is built in a hidden sibling
of ``DIR`` and renamed into place, so ``DIR`` is either absent or whole.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import orjson

from crawler.archive.fs import AtomicFile, fsync_dir, os_error, write_file_atomic
from crawler.archive.productions import ProductionRow
from crawler.errors import UsageError
from crawler.produce.files import Written
from crawler.produce.volume import LIST_NAME, Outcome, Plan

__all__ = ["DESCRIPTION", "Build", "description"]

DESCRIPTION = "production.json"
PRODUCTION_FORMAT = 1
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def _file(path: str, w: Written) -> dict[str, Any]:
    return {"path": path, "md5": w[0], "sha256": w[1], "size": w[2]}


def description(row: ProductionRow, plan: Plan, outcome: Outcome) -> bytes:
    n = plan.numbering
    doc = {
        "production_format": PRODUCTION_FORMAT,
        "id": row.id,
        "prefix": n.prefix,
        "digits": n.digits,
        "first": n.label(row.first_number),
        "last": n.label(row.last_number),
        "first_number": row.first_number,
        "last_number": row.last_number,
        "volume": n.volume,
        "snapshot": {"id": plan.snapshot.id, "manifest_sha256": plan.snapshot.manifest_sha256},
        "selection": plan.selection,
        "by": plan.by,
        "at": plan.at,
        "tool": {"name": "crawler", "version": plan.tool_version},
        "counts": outcome.counts(),
        "load_file": _file(outcome.paths["dat"], outcome.load_file),
        "edrm": _file(outcome.paths["edrm"], outcome.edrm),
        "checksums": {
            "md5": _file(f"{LIST_NAME}.md5", outcome.lists[0]),
            "sha256": _file(f"{LIST_NAME}.sha256", outcome.lists[1]),
        },
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


class Build:
    """The hidden directory a production is built in, renamed to ``out`` when whole."""

    def __init__(self, out: Path, *, bag: bool) -> None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"--out {out}: already exists and is not an empty directory")
        if not out.parent.is_dir():
            raise UsageError(f"--out {out}: the directory {out.parent} does not exist")
        self.out = out
        self.bag = bag
        self.tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(self.tmp, 0o755)
            self.root = self.tmp / "data" if bag else self.tmp
            if bag:
                os.mkdir(self.root, 0o755)
        except OSError as exc:
            self.abort()
            raise os_error(exc, "create", self.tmp) from None

    def finish(self, row: ProductionRow, plan: Plan, outcome: Outcome) -> None:
        """production.json, then the bag's tag files if asked; nothing renamed yet."""
        body = description(row, plan, outcome)
        desc = write_file_atomic(self.root / DESCRIPTION, body)
        if self.bag:
            self._bag(plan, outcome, desc)

    def _bag(self, plan: Plan, outcome: Outcome, desc: Written) -> None:
        tops = [(DESCRIPTION, desc), (f"{LIST_NAME}.md5", outcome.lists[0])]
        tops.append((f"{LIST_NAME}.sha256", outcome.lists[1]))
        tags: list[tuple[str, Written]] = []
        tags.append(("bagit.txt", write_file_atomic(self.tmp / "bagit.txt", BAGIT_TXT)))
        count = outcome.files + len(tops)
        total = outcome.bytes + sum(w[2] for _, w in tops)
        n = plan.numbering
        info = [
            (
                "Source-Organization",
                "Claude projects, collected through the Anthropic Compliance API",
            ),
            ("External-Identifier", f"crawler-production:{n.label(n.first)}"),
            ("Bagging-Date", plan.at[:10]),
            ("Bag-Software-Agent", f"crawler {plan.tool_version}"),
            ("Payload-Oxum", f"{total}.{count}"),
            ("Crawler-Snapshot-Id", plan.snapshot.id),
            ("Crawler-Production-Volume", n.volume),
        ]
        text = "".join(f"{k}: {v}\n" for k, v in info).encode()
        tags.append(("bag-info.txt", write_file_atomic(self.tmp / "bag-info.txt", text)))
        for alg, index in (("md5", 0), ("sha256", 1)):
            name = f"manifest-{alg}.txt"
            tags.append((name, self._manifest(name, tops, alg, index)))
        for alg, index in (("md5", 0), ("sha256", 1)):
            lines = "".join(f"{w[index]}  {name}\n" for name, w in tags)
            write_file_atomic(self.tmp / f"tagmanifest-{alg}.txt", lines.encode())

    def _manifest(
        self, name: str, tops: list[tuple[str, Written]], alg: str, index: int
    ) -> Written:
        """A payload manifest: the top files, then every line of the checksum list, under data/."""
        out = AtomicFile(self.tmp / name)
        try:
            for top, w in tops:
                out.write(f"{w[index]}  data/{top}\n".encode())
            with open(self.root / f"{LIST_NAME}.{alg}", "rb") as listed:
                for line in listed:
                    digest, _, rel = line.partition(b"  ")
                    out.write(digest + b"  data/" + rel)
        except BaseException:
            out.abort()
            raise
        return out.commit()

    def place(self) -> None:
        try:
            fsync_dir(self.tmp)
            if self.out.exists():
                self.out.rmdir()  # empty, checked when the build began
            os.rename(self.tmp, self.out)
            fsync_dir(self.out.parent)
        except OSError as exc:
            self.abort()
            raise os_error(exc, "put in place", self.out) from None

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
