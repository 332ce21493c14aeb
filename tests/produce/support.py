"""What the production tests share: the simulator's truth, and a DAT parser of their own.

The parser follows the format's rules (PRODUCTION.md), not the project's
writer: UTF-8 with a BOM; every record, the header included, ends with CRLF;
U+0014 between values; U+00FE around each value, doubled inside it; U+00AE
stands for a newline inside a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.archive import Archive
from crawler.cli import main
from crawler.simulator import Dataset, ProjectTruth

BOM = b"\xef\xbb\xbf"
SEP, QUOTE, NEWLINE = "\x14", "\u00fe", "\u00ae"


@dataclass
class Crawled:
    archive: Path
    snapshot: str
    dataset: Dataset
    truths: list[ProjectTruth]  # in list order


def truth_of(archive: Path, dataset: Dataset) -> Crawled:
    with Archive.open_for_reading(archive) as a:
        snap = a.index.latest_finished()
        assert snap is not None
    return Crawled(archive, snap.id, dataset, list(dataset.projects_truth()))


def parse_value(cell: str) -> str:
    assert cell.startswith(QUOTE) and cell.endswith(QUOTE) and len(cell) >= 2, cell[:80]
    inner = cell[1:-1]
    assert QUOTE not in inner.replace(QUOTE + QUOTE, ""), f"lone thorn in {inner[:80]!r}"
    assert "\r" not in inner and "\n" not in inner
    return inner.replace(QUOTE + QUOTE, QUOTE).replace(NEWLINE, "\n")


def parse_dat(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    assert data.startswith(BOM), "no UTF-8 byte-order mark"
    text = data[len(BOM) :].decode("utf-8")
    assert text.endswith("\r\n"), "the last record must end with CRLF"
    lines = text[:-2].split("\r\n")
    header = [parse_value(c) for c in lines[0].split(SEP)]
    records = []
    for line in lines[1:]:
        cells = [parse_value(c) for c in line.split(SEP)]
        assert len(cells) == len(header)
        records.append(dict(zip(header, cells, strict=True)))
    return header, records


def produce(archive: Path, out: Path, *flags: str, code: int = 0) -> None:
    assert main(["produce", "--archive", str(archive), "--out", str(out), *flags]) == code


def volume_records(out: Path, volume: str = "VOL001") -> list[dict[str, str]]:
    return parse_dat((out / volume / "DATA" / f"{volume}.dat").read_bytes())[1]


def local(out: Path, link: str) -> Path:
    """A load-file link (``.\\VOL\\NATIVES\\...``) as a path under the production."""
    assert link.startswith(".\\"), link
    return out.joinpath(*link[2:].split("\\"))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def by_item(records: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for r in records:
        out.setdefault(r["ITEMID"], []).append(r)
    return out


def attachment_ids(truth: ProjectTruth) -> list[Any]:
    return [a["id"] for a in truth.attachments]
