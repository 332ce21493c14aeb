"""The EDRM XML 1.2 file: the load file's documents again, with ``Container`` relationships.

Streamed: each ``Document`` is written as it comes; the relationships, which
EDRM puts after every document, are spooled to an anonymous temporary file
and appended at the end, so memory stays flat. XML 1.0 cannot carry a NUL
or most control characters even escaped: those are written as ``\\u{...}``
here (the DAT keeps every value exactly).
"""

from __future__ import annotations

import re
import tempfile
from typing import Any, Protocol
from xml.sax.saxutils import escape

from crawler.produce.dat import FIELDS

__all__ = ["EdrmWriter"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CHUNK = 1024 * 1024


class ByteSink(Protocol):
    def write(self, data: bytes) -> Any: ...


_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
     "\t": "&#9;"}
)  # fmt: skip


def _clean(value: str) -> str:
    if _NOT_XML.search(value) is None:
        return value
    return _NOT_XML.sub(lambda m: f"\\u{{{ord(m.group()):04x}}}", value)


def _attr(value: str) -> str:
    """A double-quoted attribute value; newlines and tabs as references, so they survive."""
    return '"' + _clean(value).translate(_ATTR) + '"'


class EdrmWriter:
    """Write ``Root > Fields, Batch > Documents, Relationships`` into ``out``."""

    def __init__(self, out: ByteSink, description: str) -> None:
        self.out = out
        self._rels = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()
        head = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<Root MajorVersion="1" MinorVersion="2" Description={_attr(description)} '
            'Locale="en-US" DataInterchangeType="Production">',
            "  <Fields>",
        ]
        for name in FIELDS:
            head.append(f'    <Field Name="{name}" DataType="Text" />')
        head += ["  </Fields>", "  <Batch>", "    <Documents>"]
        self._write("\n".join(head) + "\n")

    def _write(self, text: str) -> None:
        self.out.write(text.encode("utf-8"))

    def document(
        self,
        values: dict[str, str],
        native: tuple[str, str] | None,
        text: tuple[str, str] | None,
    ) -> None:
        """One document; ``native``/``text`` are (load-file link, md5) or None."""
        doc_id = values["BEGBATES"]
        lines = [
            f'      <Document DocID={_attr(doc_id)} DocType="File" '
            f"MimeType={_attr(values['MIMETYPE'])}>",
            "        <Tags>",
        ]
        for name in FIELDS:
            lines.append(
                f'          <Tag TagName="#{name}" TagDataType="Text" '
                f"TagValue={_attr(values[name])} />"
            )
        lines += ["        </Tags>", "        <Files>"]
        for kind, ref in (("Native", native), ("Text", text)):
            if ref is None:
                continue
            link, md5 = ref
            folder, _, name = link.removeprefix(".\\").rpartition("\\")
            lines.append(f'          <File FileType="{kind}">')
            lines.append(
                f"            <ExternalFile FilePath={_attr(folder)} FileName={_attr(name)} "
                f'Hash="{md5}" HashType="MD5" />'
            )
            lines.append("          </File>")
        lines += [
            "        </Files>",
            "        <Locations>",
            "          <Location>",
            f"            <Custodian>{escape(_clean(values['CUSTODIAN']))}</Custodian>",
            f"            <LocationURI>{escape(_clean(values['FOLDERPATH']))}</LocationURI>",
            "          </Location>",
            "        </Locations>",
            "      </Document>",
        ]
        self._write("\n".join(lines) + "\n")
        parent = values["PARENTID"]
        if parent:
            self._rels.write(
                f'      <Relationship Type="Container" ParentDocId={_attr(parent)} '
                f"ChildDocId={_attr(doc_id)} />\n".encode()
            )

    def finish(self) -> None:
        self._write("    </Documents>\n    <Relationships>\n")
        self._rels.seek(0)
        while chunk := self._rels.read(_CHUNK):
            self.out.write(chunk)
        self._rels.close()
        self._write("    </Relationships>\n  </Batch>\n</Root>\n")

    def abort(self) -> None:
        self._rels.close()
