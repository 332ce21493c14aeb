"""The project sheet: a family's parent document, rendered as HTML (its native) and as text.

What a reviewer needs to read a project without the archive: its name, ids,
creator, dates, visibility, description, instructions and the collaborators
with their roles and grant times. Both renderings are pure functions of the
archived responses, so a reproduced production renders the same bytes.
Invisible and control characters (a NUL, a right-to-left override) are shown
as ``\\u{...}`` so a hostile name cannot hide or reorder text; the load file's
``FILENAME`` keeps the name exactly as sent.
"""

from __future__ import annotations

import html
import re
from typing import Any

from crawler.read.reader import ProjectData

__all__ = ["Sheet", "collaborator_principal", "sheet_for"]

_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
PRINCIPAL_KEYS = ("user_id", "group_id", "organization_uuid", "organization_role")


def shown(value: object) -> str:
    """Text with hidden characters made visible; None and missing as ``""``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _HIDDEN.sub(lambda m: f"\\u{{{ord(m.group()):04x}}}", text)


def collaborator_principal(entry: dict[str, Any]) -> str:
    for key in PRINCIPAL_KEYS:
        if key in entry:
            value = entry[key]
            return f"{key} {value}" if value is not None else f"{key} (none)"
    return ""


class Sheet:
    """The sheet's rows: (label, value) pairs, then the collaborators' table."""

    def __init__(
        self, title: str, rows: list[tuple[str, str]], collaborators: list[list[str]]
    ) -> None:
        self.title = title
        self.rows = rows
        self.collaborators = collaborators

    def text(self) -> bytes:
        lines = [self.title, "=" * min(len(self.title), 78), ""]
        for label, value in self.rows:
            head, *rest = value.split("\n") if value else [""]
            lines.append(f"{label}: {head}")
            lines.extend(f"    {line}" for line in rest)
        lines += ["", f"Collaborators ({len(self.collaborators)}):"]
        for type_, principal, role, granted in self.collaborators:
            lines.append(f"  - {type_}: {principal}, role {role}, granted {granted}")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def html(self) -> bytes:
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title></head><body>",
            f"<h1>{e(self.title)}</h1>",
            "<table>",
        ]
        for label, value in self.rows:
            cell = e(value).replace("\n", "<br>\n")
            out.append(f"<tr><th>{e(label)}</th><td>{cell}</td></tr>")
        out += ["</table>", f"<h2>Collaborators ({len(self.collaborators)})</h2>", "<table>"]
        out.append("<tr><th>type</th><th>principal</th><th>role</th><th>granted at</th></tr>")
        for cells in self.collaborators:
            out.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in cells) + "</tr>")
        out += ["</table>", "</body></html>", ""]
        return "\n".join(out).encode("utf-8")


def _creator(entry: dict[str, Any]) -> str:
    user = entry.get("user")
    if not isinstance(user, dict):
        return "(none)"
    email, uid = user.get("email_address"), user.get("id")
    return f"{shown(email)} ({shown(uid)})" if email else shown(uid)


def _status(data: ProjectData) -> str:
    if data.record is None:
        return f"not fetched (index state {data.row.state}): only the list entry is known"
    if data.gone:
        return "gone: the project's detail answered 404 when it was archived"
    return f"archived ({data.row.state})"


def sheet_for(data: ProjectData, snapshot_id: str) -> Sheet:
    """The sheet of one project as the snapshot holds it (the detail, else its list entry)."""
    entry: dict[str, Any] = dict(data.row.list_entry)
    if data.details is not None:
        entry.update(data.details)
    private = entry.get("is_private")
    visibility = "private" if private is True else "shared" if private is False else "unknown"
    rows = [
        ("Project", shown(entry.get("name"))),
        ("Project id", shown(data.project_id)),
        (
            "Organization",
            f"{shown(entry.get('organization_id'))} ({shown(entry.get('organization_uuid'))})",
        ),
        ("Created by", _creator(entry)),
        ("Created at", shown(entry.get("created_at"))),
        ("Updated at", shown(entry.get("updated_at"))),
        ("Deleted in Claude at", shown(entry.get("deleted_at")) or "not deleted"),
        ("Visibility", visibility),
        ("Chats", shown(entry.get("chats_count"))),
        ("Attachments", str(len(data.attachments)) if data.attachments is not None else "unknown"),
        ("Description", shown(entry.get("description"))),
        ("Instructions", shown(entry.get("instructions"))),
        ("Archive", f"snapshot {snapshot_id}; {_status(data)}"),
    ]
    collaborators = [
        [
            shown(c.get("type")),
            shown(collaborator_principal(c)),
            shown(c.get("role")),
            shown(c.get("granted_at")),
        ]
        for c in data.collaborators or []
        if isinstance(c, dict)
    ]
    return Sheet(shown(entry.get("name")) or shown(data.project_id), rows, collaborators)
