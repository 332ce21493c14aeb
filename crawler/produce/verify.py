"""``crawler verify-production DIR``: a recipient's check of a production, from its files alone.

1. A bag (``bagit.txt``) is checked as BagIt first (:func:`crawler.read.bag.verify_bag`).
2. ``production.json`` names the checksum lists; their hashes are checked, then
   every file they list is rehashed, and any file of the volume they do not
   list is reported.
3. The DAT is read back with this module's own parser (not the writer's
   codec): BOM, header, CRLF after every record, every value quoted; the
   numbers run without a gap from the first to the last; families are
   contiguous and consistent; every native matches the hashes and size its
   record states, every text link resolves to a listed file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crawler.errors import UsageError
from crawler.read.bag import verify_bag
from crawler.read.verify_export import ExportCheck, check_file

__all__ = ["read_dat", "verify_production"]

_SEP, _Q, _NL = "\x14", "\u00fe", "\u00ae"
REQUIRED = ("BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "PARENTID", "NATIVELINK",
            "TEXTLINK", "MD5HASH", "SHA256HASH", "FILESIZE", "PRODVOL")  # fmt: skip


def _unquote(cell: str, where: str) -> str:
    if len(cell) < 2 or cell[0] != _Q or cell[-1] != _Q:
        raise ValueError(f"{where}: a value not enclosed in U+00FE")
    inner = cell[1:-1]
    if inner.replace(_Q + _Q, "").count(_Q):
        raise ValueError(f"{where}: a lone U+00FE inside a value")
    return inner.replace(_Q + _Q, _Q).replace(_NL, "\n")


def read_dat(path: Path) -> Iterator[dict[str, str]]:
    """The records of a DAT, one at a time, as {field: value}; ValueError when malformed."""
    with open(path, "rb") as f:
        header: list[str] | None = None
        for n, raw in enumerate(f, 1):
            if not raw.endswith(b"\r\n"):
                raise ValueError(f"line {n}: does not end with CRLF")
            if n == 1:
                if not raw.startswith(b"\xef\xbb\xbf"):
                    raise ValueError("no UTF-8 byte-order mark")
                raw = raw[3:]
            try:
                text = raw[:-2].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"line {n}: not UTF-8 ({exc.reason})") from None
            if "\r" in text or "\n" in text:
                raise ValueError(f"line {n}: a raw CR or LF inside a record")
            cells = [_unquote(c, f"line {n}") for c in text.split(_SEP)]
            if header is None:
                header = cells
                continue
            if len(cells) != len(header):
                raise ValueError(f"line {n}: {len(cells)} values for {len(header)} fields")
            yield dict(zip(header, cells, strict=True))
        if header is None:
            raise ValueError("empty: no header row")


def _description(base: Path) -> dict[str, Any]:
    path = base / "production.json"
    try:
        doc = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(f"{base} is not a production (no production.json)") from None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("production_format") != 1:
        raise UsageError(f"{path} is not a crawler production description (production_format 1)")
    return doc


def _safe(rel: str) -> bool:
    return bool(rel) and not os.path.isabs(rel) and ".." not in Path(rel).parts


def _listed(base: Path, doc: dict[str, Any], check: ExportCheck) -> set[str]:
    """Rehash every file the sha256 list names; the paths listed (to find what is not)."""
    listed: set[str] = set()
    for alg in ("md5", "sha256"):
        entry = doc.get("checksums", {}).get(alg, {})
        rel = entry.get("path", "")
        if not _safe(rel) or (problem := check_file(base, rel, entry)):
            check.problems.append(f"checksum list {alg}: {problem or 'unsafe path'}")
            return listed
    for line in (base / doc["checksums"]["sha256"]["path"]).read_text("utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if not _safe(rel):
            check.problems.append(f"production.sha256: unsafe path {rel!r}")
            continue
        check.checked += 1
        if problem := check_file(base, rel, {"sha256": digest}):
            check.problems.append(problem)
        listed.add(rel)
    volume = str(doc.get("volume", ""))
    for root, _dirs, names in os.walk(base / volume):
        for name in names:
            rel = (Path(root) / name).relative_to(base).as_posix()
            if rel not in listed:
                check.problems.append(f"{rel}: in the volume but in no checksum list")
    return listed


@dataclass
class _Numbers:
    prefix: str
    digits: int
    expected: int
    family_end: str = ""

    def label(self, n: int) -> str:
        return f"{self.prefix}{n:0{self.digits}d}"


def _stated(rec: dict[str, str]) -> dict[str, Any]:
    """The hashes and size a record states for its native."""
    size = rec["FILESIZE"]
    return {
        "md5": rec["MD5HASH"],
        "sha256": rec["SHA256HASH"],
        "size": int(size) if size.isdigit() else size,
    }


def _record(rec: dict[str, str], nums: _Numbers, base: Path, listed: set[str]) -> list[str]:
    bates, problems = rec["BEGBATES"], []
    if bates != nums.label(nums.expected):
        problems.append(f"{bates}: expected {nums.label(nums.expected)} (numbers must not skip)")
    if rec["ENDBATES"] != bates:
        problems.append(f"{bates}: ENDBATES {rec['ENDBATES']}")
    if not rec["PARENTID"]:
        if nums.family_end and nums.label(nums.expected - 1) != nums.family_end:
            problems.append(f"{bates}: the family before ends at {nums.family_end}, not before")
        if rec["BEGATTACH"] != bates:
            problems.append(f"{bates}: a parent whose BEGATTACH is {rec['BEGATTACH']}")
        nums.family_end = rec["ENDATTACH"]
    elif rec["PARENTID"] != rec["BEGATTACH"] or rec["ENDATTACH"] != nums.family_end:
        problems.append(f"{bates}: PARENTID/BEGATTACH/ENDATTACH disagree with its family")
    for key in ("NATIVELINK", "TEXTLINK"):
        link = rec[key]
        if not link:
            continue
        rel = link.removeprefix(".\\").replace("\\", "/")
        if not link.startswith(".\\") or not _safe(rel) or rel not in listed:
            problems.append(f"{bates}: {key} {link!r} is not a listed file of the volume")
        elif key == "NATIVELINK":
            problem = check_file(base, rel, _stated(rec))
            if problem:
                problems.append(f"{bates}: native {problem} (its record)")
    nums.expected += 1
    return problems


def _check_dat(base: Path, doc: dict[str, Any], listed: set[str], check: ExportCheck) -> None:
    entry = doc.get("load_file", {})
    rel = entry.get("path", "")
    if not _safe(rel) or (problem := check_file(base, rel, entry)):
        check.problems.append(f"load file: {problem or 'unsafe path'} (per production.json)")
        return
    nums = _Numbers(str(doc["prefix"]), int(doc["digits"]), int(doc["first_number"]))
    try:
        for rec in read_dat(base / rel):
            missing = [f for f in REQUIRED if f not in rec]
            if missing:
                check.problems.append(f"load file: no field {', '.join(missing)}")
                return
            check.problems.extend(_record(rec, nums, base, listed))
            check.checked += 1
    except ValueError as exc:
        check.problems.append(f"load file {rel}: {exc}")
        return
    if nums.family_end != nums.label(nums.expected - 1):
        check.problems.append(f"load file: the last family ends at {nums.family_end}")
    if nums.expected - 1 != doc["last_number"]:
        check.problems.append(
            f"load file: numbers end at {nums.label(nums.expected - 1)}, "
            f"production.json says {doc['last']}"
        )


def verify_production(path: Path) -> ExportCheck:
    """Check a production directory (or its bag); every problem names the file or number."""
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    check = ExportCheck()
    base = path
    if (path / "bagit.txt").is_file():
        bag = verify_bag(path)
        check.problems += [f"bag: {p}" for p in bag.problems]
        base = path / "data"
    doc = _description(base)
    listed = _listed(base, doc, check)
    _check_dat(base, doc, listed, check)
    return check
