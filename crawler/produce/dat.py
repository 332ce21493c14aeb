"""The load file's codec: the DAT (Concordance defaults), its field dictionary, the privilege log.

DAT rules (/work/shared/PRODUCTION.md): UTF-8 with a byte-order mark (the
only thing Relativity detects the encoding from); U+0014 between columns;
U+00FE around every value; one header row; CRLF after every record, the last
one too. Inside a value CR, LF and CRLF become U+00AE, a U+00FE is doubled,
and U+0014, which cannot be escaped, is removed. Long text stays out: it is
in the TEXT files, linked.
"""

from __future__ import annotations

from datetime import datetime

from crawler.canonical import instant_or_none

__all__ = [
    "BOM",
    "FIELDS",
    "PRIVILEGE_LOG_COLUMNS",
    "csv_file",
    "dat_date",
    "dat_header",
    "dat_record",
    "field_dictionary",
]

COLUMN = "\x14"
QUOTE = "\u00fe"
NEWLINE = "\u00ae"
MULTI = ";"
BOM = "\ufeff".encode()
CRLF = "\r\n"

# name -> what it holds (the field dictionary). Order is the DAT's column order.
FIELDS: dict[str, str] = {
    "BEGBATES": "the document's Bates number, also its identifier",
    "ENDBATES": "the document's last Bates number (one number per native: equal to BEGBATES)",
    "BEGATTACH": "the family's first Bates number (its project sheet)",
    "ENDATTACH": "the family's last Bates number",
    "PARENTID": "the family parent's Bates number; empty on the parent",
    "FAMILYID": "the family parent's Bates number, on every member (the group identifier)",
    "DOCTYPE": "project (the sheet), document, file, or attachment (a type not archived)",
    "PROJECTID": "the Claude project id",
    "ITEMID": "the API id of the document or file; the project id on the parent",
    "CUSTODIAN": "the project's creator (email address, else user id)",
    "ALLCUSTODIANS": "the creator (as CUSTODIAN), then collaborators that are users (ids), ';'",
    "FILENAME": "the original name exactly as the API sent it (the project's name on the parent)",
    "FILEEXT": "the native file's extension (empty when the name has no plain one)",
    "MIMETYPE": "the MIME type the API listed (text/html for the project sheet)",
    "FILESIZE": "the native file's size in bytes (empty without a native)",
    "DATECREATED": "created_at, MM/DD/YYYY HH:MM:SS in UTC",
    "DATEMODIFIED": "updated_at, MM/DD/YYYY HH:MM:SS in UTC (empty when the API sent none)",
    "TIMEZONE": "the zone of every date field: UTC",
    "MD5HASH": "md5 of the native (a document's equals the API's document md5)",
    "SHA256HASH": "sha256 of the native",
    "NATIVELINK": "the native file, relative to the production, backslash-separated",
    "TEXTLINK": "the extracted text file, relative, backslash-separated; empty without text",
    "NATIVESTATUS": "produced, or why there is no native (the archive holds no body)",
    "TEXTSTATUS": "where the text comes from, or why there is none",
    "FOLDERPATH": "organization id \\ project name ('\\' in it as '_', whitespace as one space)",
    "SNAPSHOT": "the archive snapshot the production was made from",
    "PRODVOL": "the production volume",
}

PRIVILEGE_LOG_COLUMNS = (
    "BEGBATES",
    "ENDBATES",
    "FAMILYID",
    "DOCTYPE",
    "DATE",
    "AUTHOR",
    "RECIPIENTS",
    "CUSTODIAN",
    "PRIVILEGE TYPE",
    "WITHHELD OR REDACTED",
    "DESCRIPTION",
)


def dat_value(value: str) -> str:
    text = value.replace(COLUMN, "")
    text = text.replace("\r\n", NEWLINE).replace("\r", NEWLINE).replace("\n", NEWLINE)
    return QUOTE + text.replace(QUOTE, QUOTE + QUOTE) + QUOTE


def _line(values: list[str]) -> bytes:
    return (COLUMN.join(dat_value(v) for v in values) + CRLF).encode("utf-8")


def dat_header() -> bytes:
    """The BOM and the header row: the first bytes of the file."""
    return BOM + _line(list(FIELDS))


def dat_record(values: dict[str, str]) -> bytes:
    """One record, CRLF-terminated; every field of FIELDS must be given (empty is ``""``)."""
    missing = [name for name in FIELDS if name not in values]
    if missing or len(values) != len(FIELDS):
        raise ValueError(f"a DAT record needs exactly the fields {list(FIELDS)}; missing {missing}")
    return _line([values[name] for name in FIELDS])


def dat_date(value: object) -> str:
    """An API timestamp as ``MM/DD/YYYY HH:MM:SS`` in UTC; ``""`` when it is not one."""
    moment: datetime | None = instant_or_none(value)
    return "" if moment is None else moment.strftime("%m/%d/%Y %H:%M:%S")


def _csv_cell(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_file(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> bytes:
    """RFC 4180 CSV (CRLF), UTF-8 with a BOM, as spreadsheet programs expect."""
    lines = [",".join(_csv_cell(c) for c in header)]
    lines += [",".join(_csv_cell(c) for c in row) for row in rows]
    return BOM + "".join(line + CRLF for line in lines).encode("utf-8")


def field_dictionary() -> bytes:
    rows = [[name, "text", desc] for name, desc in FIELDS.items()]
    for row in rows:
        if row[0] in ("FILESIZE",):
            row[1] = "whole number"
        elif row[0] in ("DATECREATED", "DATEMODIFIED"):
            row[1] = "date MM/DD/YYYY HH:MM:SS (UTC)"
        elif row[0] == "ALLCUSTODIANS":
            row[1] = "multi-value (;)"
    return csv_file(("FIELD", "TYPE", "DESCRIPTION"), rows)
