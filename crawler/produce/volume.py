"""One production volume: natives, texts and the load files, numbered family by family.

Numbered steps, for a volume ``VOL`` under the build directory ``root``:

1. open the DAT (``VOL/DATA/VOL.dat``: BOM, header row) and the EDRM XML
   (``VOL/DATA/VOL.xml``), both streamed;
2. for each project of the selection, in the snapshot's list order (streamed
   from the index, one project in memory at a time): its family
   (:mod:`crawler.produce.family`) takes the next numbers, the sheet first;
3. each member's native goes to ``VOL/NATIVES/<folder>/<BATES>.<ext>`` (a
   blob is copied and rehashed on the way: a damaged one is refused) and its
   text to ``VOL/TEXT/<folder>/<BATES>.txt``; then its DAT record and its
   EDRM document are written;
4. the field dictionary and the (empty) privilege log;
5. the checksum lists are committed (``crawler.produce.files``).

Nothing here reads a clock: what is written depends only on the archive and
the :class:`Plan`, so ``--reproduce`` writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.archive import SnapshotRow
from crawler.errors import ArchiveError, UsageError
from crawler.produce.bates import Numbering, link
from crawler.produce.dat import (
    PRIVILEGE_LOG_COLUMNS,
    csv_file,
    dat_date,
    dat_header,
    dat_record,
    field_dictionary,
)
from crawler.produce.edrm import EdrmWriter
from crawler.produce.family import Family, Member, family_of
from crawler.produce.files import FileSet, Written
from crawler.read.reader import ArchiveReader, RowFilter

__all__ = ["LIST_NAME", "Outcome", "Plan", "write_volume"]

LIST_NAME = "production"  # production.md5 / production.sha256 beside the volume


@dataclass(frozen=True)
class Plan:
    """Everything a production's bytes depend on, besides the archive."""

    numbering: Numbering
    snapshot: SnapshotRow
    selection: dict[str, Any]
    by: str
    at: str
    tool_version: str


@dataclass
class Outcome:
    last: int = 0  # the last number used (first - 1 when nothing was produced)
    families: int = 0
    documents: int = 0
    natives: int = 0
    texts: int = 0
    load_file: Written = ("", "", 0)
    edrm: Written = ("", "", 0)
    lists: tuple[Written, Written] = (("", "", 0), ("", "", 0))
    files: int = 0
    bytes: int = 0
    paths: dict[str, str] = field(default_factory=dict)
    snapshot_status: str = ""

    def counts(self) -> dict[str, int]:
        return {
            "families": self.families,
            "documents": self.documents,
            "natives": self.natives,
            "texts": self.texts,
            "files": self.files,
            "bytes": self.bytes,
        }


class _Volume:
    def __init__(self, reader: ArchiveReader, plan: Plan, root: Path) -> None:
        self.reader = reader
        self.plan = plan
        self.n = plan.numbering
        self.files = FileSet(root, LIST_NAME)
        self.out = Outcome(last=self.n.first - 1, snapshot_status=plan.snapshot.status)
        self.out.paths = {"dat": self.n.data_path(".dat"), "edrm": self.n.data_path(".xml")}
        self.dat = self.files.open(self.out.paths["dat"])
        self.dat.write(dat_header())
        self.xml = self.files.open(self.out.paths["edrm"])
        self.edrm = EdrmWriter(self.xml, f"Production {self.n.label(self.n.first)}")

    def family(self, fam: Family) -> None:
        first = self.out.last + 1
        last = first + len(fam.members) - 1
        for offset, member in enumerate(fam.members):
            try:
                self.member(fam, member, first + offset, first, last)
            except ArchiveError as exc:
                raise ArchiveError(f"project {fam.project_id}: {member.item_id}: {exc}") from None
        self.out.last = last
        self.out.families += 1

    def member(self, fam: Family, m: Member, number: int, first: int, last: int) -> None:
        native_rel = self.n.native_path(number, m.ext)
        text_rel = self.n.text_path(number)
        native: Written | None = None
        text: Written | None = None
        text_status = m.text_status
        if m.native is not None:
            native = self.files.put(native_rel, m.native)
            if m.text is not None:
                text = self.files.put(text_rel, m.text)
        elif m.native_blob is not None:
            source = self.reader.open_blob(m.native_blob)
            native, text = self.files.copy(
                native_rel, source, m.native_blob.md5, text_rel if m.text_from_native else None
            )
            if m.text_from_native and text is None:
                text_status = "no text: the file is not UTF-8 text"
        values = self.values(fam, m, number, first, last)
        values["NATIVESTATUS"] = m.native_status
        values["TEXTSTATUS"] = text_status
        if native is not None:
            values["MD5HASH"], values["SHA256HASH"] = native[0], native[1]
            values["FILESIZE"] = str(native[2])
            values["NATIVELINK"] = link(native_rel)
            values["FILEEXT"] = m.ext
        if text is not None:
            values["TEXTLINK"] = link(text_rel)
        self.dat.write(dat_record(values))
        self.edrm.document(
            values,
            (values["NATIVELINK"], values["MD5HASH"]) if native else None,
            (values["TEXTLINK"], text[0]) if text else None,
        )
        self.out.documents += 1
        self.out.natives += int(native is not None)
        self.out.texts += int(text is not None)

    def values(self, fam: Family, m: Member, number: int, first: int, last: int) -> dict[str, str]:
        label = self.n.label
        return {
            "BEGBATES": label(number),
            "ENDBATES": label(number),
            "BEGATTACH": label(first),
            "ENDATTACH": label(last),
            "PARENTID": "" if number == first else label(first),
            "FAMILYID": label(first),
            "DOCTYPE": m.doctype,
            "PROJECTID": fam.project_id,
            "ITEMID": m.item_id,
            "CUSTODIAN": fam.custodian,
            "ALLCUSTODIANS": fam.all_custodians,
            "FILENAME": m.filename,
            "FILEEXT": "",
            "MIMETYPE": m.mime_type,
            "FILESIZE": "",
            "DATECREATED": dat_date(m.created),
            "DATEMODIFIED": dat_date(m.modified),
            "TIMEZONE": "UTC",
            "MD5HASH": "",
            "SHA256HASH": "",
            "NATIVELINK": "",
            "TEXTLINK": "",
            "NATIVESTATUS": "",
            "TEXTSTATUS": "",
            "FOLDERPATH": fam.folder_path,
            "SNAPSHOT": self.plan.snapshot.id,
            "PRODVOL": self.n.volume,
        }

    def finish(self) -> Outcome:
        self.edrm.finish()
        self.out.load_file = self.files.done(self.out.paths["dat"], self.dat)
        self.out.edrm = self.files.done(self.out.paths["edrm"], self.xml)
        self.files.put(self.n.data_path("_FIELDS.csv"), field_dictionary())
        self.files.put(self.n.data_path("_PRIVILEGE_LOG.csv"), csv_file(PRIVILEGE_LOG_COLUMNS, []))
        self.out.lists = self.files.close()
        self.out.files, self.out.bytes = self.files.count, self.files.bytes
        return self.out

    def abort(self) -> None:
        self.edrm.abort()
        self.files.abort()


def write_volume(reader: ArchiveReader, plan: Plan, where: RowFilter, root: Path) -> Outcome:
    """Write the volume for the projects of ``plan.snapshot`` that pass ``where``."""
    volume = _Volume(reader, plan, root)
    try:
        for data in reader.projects(plan.snapshot.id, where):
            volume.family(family_of(data, plan.snapshot.id))
        if volume.out.documents == 0:
            raise UsageError(
                f"nothing to produce: no project of snapshot {plan.snapshot.id} matches the filters"
            )
        return volume.finish()
    except BaseException:
        volume.abort()
        raise
