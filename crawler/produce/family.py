"""One project as one family: its sheet first, then its documents and files in list order.

A :class:`Member` says what a load-file record describes and where its
native and text come from (the sheet's rendered bytes, a document's text
blob, a file's body blob); the volume writer reads the bodies. Only one
project's members are held at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawler.archive.refs import BlobRef
from crawler.produce.bates import native_extension
from crawler.produce.sheet import sheet_for, shown
from crawler.read.reader import ProjectData

__all__ = ["Family", "Member", "family_of"]

PDF_NO_TEXT = "no text: PDF text is not extracted (no PDF library)"


@dataclass(frozen=True)
class Member:
    doctype: str  # project | document | file
    item_id: str
    filename: str  # exactly as the API sent it
    mime_type: str
    created: Any
    modified: Any
    ext: str  # the native's extension: checked, never the raw name
    native: bytes | None = None  # rendered or small bytes (the sheet)
    native_blob: BlobRef | None = None  # a document's text or a file's body
    text: bytes | None = None  # the sheet's text
    text_from_native: bool = False  # the text is the native itself (documents, UTF-8 text files)
    native_status: str = "produced"
    text_status: str = ""


@dataclass(frozen=True)
class Family:
    project_id: str
    custodian: str
    all_custodians: str
    folder_path: str
    members: list[Member]


def _custodians(data: ProjectData) -> tuple[str, str]:
    user = data.row.list_entry.get("user")
    creator_id = user.get("id") if isinstance(user, dict) else None
    email = user.get("email_address") if isinstance(user, dict) else None
    custodian = str(email or creator_id or "")
    names = [custodian] if custodian else []
    for c in data.collaborators or []:
        uid = c.get("user_id") if isinstance(c, dict) and c.get("type") == "user" else None
        if isinstance(uid, str) and uid and uid != creator_id and uid not in names:
            names.append(uid)
    return custodian, ";".join(n.replace(";", "_") for n in names)


FOLDER_PART = 120  # characters of a folder name: a review platform's folder, not a path


def _folder(entry: dict[str, Any], project_id: str) -> str:
    """``org\\name``: a ``\\`` of the name (the separator) becomes ``_``, whitespace one space."""
    org = shown(entry.get("organization_id") or entry.get("organization_uuid") or "no-org")
    name = shown(entry.get("name")) or project_id
    parts = (" ".join(p.replace("\\", "_").split())[:FOLDER_PART] or "_" for p in (org, name))
    return "\\".join(parts)


def _document(entry: dict[str, Any], body: BlobRef | None) -> Member:
    common: dict[str, Any] = {
        "doctype": "document",
        "item_id": str(entry.get("id")),
        "filename": entry.get("filename") if isinstance(entry.get("filename"), str) else "",
        "mime_type": str(entry.get("mime_type") or "text/plain"),
        "created": entry.get("created_at"),
        "modified": entry.get("updated_at"),
        "ext": "txt",
    }
    if body is None:
        return Member(
            **common,
            native_status="no native: the archive holds no text for this document",
            text_status="no text: not archived",
        )
    return Member(
        **common, native_blob=body, text_from_native=True, text_status="document text (UTF-8)"
    )


def _file(entry: dict[str, Any], body: BlobRef | None) -> Member:
    filename = entry.get("filename") if isinstance(entry.get("filename"), str) else ""
    mime = str(entry.get("mime_type") or "")
    common: dict[str, Any] = {
        "doctype": "file",
        "item_id": str(entry.get("id")),
        "filename": filename,
        "mime_type": mime,
        "created": entry.get("created_at"),
        "modified": entry.get("updated_at"),
        "ext": native_extension(filename),
    }
    if body is None:
        return Member(
            **common,
            native_status="no native: the archive holds no body (--no-files, or it failed)",
            text_status="no text: not archived",
        )
    if mime.startswith("text/"):
        # The writer checks the bytes: UTF-8 gives the text, anything else "no text".
        return Member(**common, native_blob=body, text_from_native=True, text_status="file text")
    status = PDF_NO_TEXT if mime == "application/pdf" else f"no text: binary file ({shown(mime)})"
    return Member(**common, native_blob=body, text_status=status)


def _other(entry: dict[str, Any]) -> Member:
    kind = shown(entry.get("type"))
    name = entry.get("filename")
    return Member(
        doctype="attachment",
        item_id=str(entry.get("id")),
        filename=name if isinstance(name, str) else "",
        mime_type=str(entry.get("mime_type") or ""),
        created=entry.get("created_at"),
        modified=entry.get("updated_at"),
        ext="",
        native_status=f"no native: attachment type {kind!r} is not archived",
        text_status="no text: not archived",
    )


def family_of(data: ProjectData, snapshot_id: str) -> Family:
    """The project's family: the sheet, then every attachment in the list's order."""
    entry: dict[str, Any] = dict(data.row.list_entry)
    if data.details is not None:
        entry.update(data.details)
    sheet = sheet_for(data, snapshot_id)
    name = entry.get("name")
    members = [
        Member(
            doctype="project",
            item_id=data.project_id,
            filename=name if isinstance(name, str) else "",
            mime_type="text/html",
            created=entry.get("created_at"),
            modified=entry.get("updated_at"),
            ext="html",
            native=sheet.html(),
            text=sheet.text(),
            text_status="project sheet (rendered)",
        )
    ]
    for att in data.attachments or []:
        if not isinstance(att, dict):
            continue
        body = data.bodies.get(str(att.get("id")))
        if att.get("type") == "project_doc":
            members.append(_document(att, body))
        elif att.get("type") == "project_file":
            members.append(_file(att, body))
        else:  # a kind this crawler does not know: listed, never dropped
            members.append(_other(att))
    custodian, everyone = _custodians(data)
    return Family(data.project_id, custodian, everyone, _folder(entry, data.project_id), members)
