"""What changed between two snapshots of one archive (offline).

Projects are matched by id. A project is *added* (only in B), *removed* (only in
A), *changed*, *unchanged*, or *incomparable* (its record is missing on one side:
state ``failed`` or ``listed``, so its contents are unknown there).

Same record blob on both sides (a carried project, or an identical refetch) means
unchanged, without reading anything: records are compared by sha256 first. Otherwise
both projects are parsed from their raw blobs and compared:

* ``fields``: list-entry fields (``source: "list"``) and detail fields
  (``source: "details"``) whose values differ, with before and after;
* ``gone``: the detail answered 404 on one side only;
* ``attachments``: added and removed by id; ``changed`` when the listed entry's
  fields differ or the archived body differs (e.g. a document replaced in place:
  its text md5 changed; visible only if B fetched that document again, which a
  full snapshot does);
* ``collaborators``: grants in B and not in A (``granted``) and the reverse
  (``revoked``), each with its principal (``type`` and the principal field:
  ``user_id``, ``group_id``, ``organization_uuid`` or ``organization_role``).
  Entries carry no id, so they are compared as a multiset of whole entries: a
  changed role shows as one revoked and one granted.

Memory: one small tuple per project of A (id, state, record sha256, name), and the
two records of the project being compared.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from crawler.archive import ProjectRow, SnapshotRow
from crawler.canonical import canonical_json
from crawler.read.reader import ArchiveReader, ProjectData

PRINCIPAL_FIELDS = {
    "user": "user_id",
    "group": "group_id",
    "organization": "organization_uuid",
    "organization_role": "organization_role",
}
_MISSING: Any = object()


@dataclass
class ProjectChange:
    project_id: str
    name: Any
    fields: list[dict[str, Any]] = field(default_factory=list)
    gone: dict[str, bool] | None = None
    attachments_added: list[dict[str, Any]] = field(default_factory=list)
    attachments_removed: list[dict[str, Any]] = field(default_factory=list)
    attachments_changed: list[dict[str, Any]] = field(default_factory=list)
    collaborators_granted: list[dict[str, Any]] = field(default_factory=list)
    collaborators_revoked: list[dict[str, Any]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (
            self.fields
            or self.gone
            or self.attachments_added
            or self.attachments_removed
            or self.attachments_changed
            or self.collaborators_granted
            or self.collaborators_revoked
        )

    def kinds(self) -> dict[str, list[Any]]:
        """What changed, in the words an auditor uses (see :func:`change_kinds`)."""
        return change_kinds(self)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.project_id, "name": self.name, "fields": self.fields}
        out["what"] = self.kinds()
        if self.gone is not None:
            out["gone"] = self.gone
        out["attachments"] = {
            "added": self.attachments_added,
            "removed": self.attachments_removed,
            "changed": self.attachments_changed,
        }
        out["collaborators"] = {
            "granted": self.collaborators_granted,
            "revoked": self.collaborators_revoked,
        }
        return out


@dataclass
class SnapshotDiff:
    a: SnapshotRow
    b: SnapshotRow
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[ProjectChange] = field(default_factory=list)
    incomparable: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    same_record: int = 0  # unchanged without reading the record (same blob on both sides)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": {"id": self.a.id, "status": self.a.status, "filters": self.a.filters},
            "b": {"id": self.b.id, "status": self.b.status, "filters": self.b.filters},
            "warnings": self.warnings,
            "summary": {
                "added": len(self.added),
                "removed": len(self.removed),
                "changed": len(self.changed),
                "unchanged": self.unchanged,
                "incomparable": len(self.incomparable),
            },
            "added": self.added,
            "removed": self.removed,
            "changed": [c.to_json() for c in self.changed],
            "incomparable": self.incomparable,
        }


def _brief(row: ProjectRow) -> dict[str, Any]:
    return {"id": row.project_id, "name": row.list_entry.get("name"), "state": row.state}


def diff_snapshots(reader: ArchiveReader, a: SnapshotRow, b: SnapshotRow) -> SnapshotDiff:
    """Compare snapshot ``a`` (before) with ``b`` (after)."""
    result = SnapshotDiff(a, b)
    if a.filter_key != b.filter_key:
        result.warnings.append(
            "the snapshots were taken with different filters: projects outside one side's "
            "filters show as added or removed"
        )
    for snap in (a, b):
        if snap.status not in ("complete",):
            result.warnings.append(
                f"snapshot {snap.id} is {snap.status}: projects without a record are incomparable"
            )
    # Only what is needed to match and to report a removal: flat in the record sizes.
    before: dict[str, tuple[str, str | None, Any]] = {}
    for row in reader.rows(a.id):
        sha = row.record.sha256 if row.record else None
        before[row.project_id] = (row.state, sha, row.list_entry.get("name"))
    for row in reader.rows(b.id):
        old = before.pop(row.project_id, None)
        if old is None:
            result.added.append(_brief(row))
            continue
        old_state, old_sha, _name = old
        if row.record is not None and old_sha == row.record.sha256:
            result.unchanged += 1
            result.same_record += 1
            continue
        if row.record is None or old_sha is None:
            result.incomparable.append(
                {
                    "id": row.project_id,
                    "name": row.list_entry.get("name"),
                    "state_a": old_state,
                    "state_b": row.state,
                }
            )
            continue
        old_row = reader.row(a.id, row.project_id)
        assert old_row is not None  # listed in a moment ago; a reader sees one state
        change = compare_projects(reader.project(old_row), reader.project(row))
        if change.empty():
            result.unchanged += 1
        else:
            result.changed.append(change)
    for pid, (state, _sha, name) in before.items():
        result.removed.append({"id": pid, "name": name, "state": state})
    return result


def compare_projects(old: ProjectData, new: ProjectData) -> ProjectChange:
    """What differs between two loaded versions of one project."""
    change = ProjectChange(new.project_id, new.row.list_entry.get("name"))
    change.fields += _field_changes("list", old.row.list_entry, new.row.list_entry)
    if old.gone != new.gone:
        # The whole detail appears or vanishes: say that once, not field by field.
        change.gone = {"before": old.gone, "after": new.gone}
    else:
        change.fields += _field_changes("details", old.details or {}, new.details or {})
    _attachment_changes(change, old, new)
    _collaborator_changes(change, old.collaborators or [], new.collaborators or [])
    return change


def _field_changes(
    source: str, before: dict[str, Any], after: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key, _MISSING), after.get(key, _MISSING)
        if a is _MISSING or b is _MISSING or canonical_json(a) != canonical_json(b):
            item: dict[str, Any] = {"source": source, "field": key}
            item["before"] = None if a is _MISSING else a
            item["after"] = None if b is _MISSING else b
            if a is _MISSING:
                item["added"] = True
            if b is _MISSING:
                item["removed"] = True
            out.append(item)
    return out


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(a.get("id")): a for a in items if isinstance(a, dict)}


def _attachment_brief(att: dict[str, Any], data: ProjectData) -> dict[str, Any]:
    aid = str(att.get("id"))
    body = data.bodies.get(aid)
    return {
        "id": aid,
        "type": att.get("type"),
        "filename": att.get("filename"),
        "body_md5": body.md5 if body else None,
    }


def _attachment_changes(change: ProjectChange, old: ProjectData, new: ProjectData) -> None:
    before, after = _by_id(old.attachments or []), _by_id(new.attachments or [])
    for aid, att in after.items():
        if aid not in before:
            change.attachments_added.append(_attachment_brief(att, new))
    for aid, att in before.items():
        if aid not in after:
            change.attachments_removed.append(_attachment_brief(att, old))
    for aid, att in after.items():
        if aid not in before:
            continue
        item = _attachment_brief(att, new)
        fields = _field_changes("attachment", before[aid], att)
        if fields:
            item["fields"] = fields
        a_body, b_body = old.bodies.get(aid), new.bodies.get(aid)
        # A body archived on one side only (e.g. --no-files, a failed download) says
        # nothing about the content: only two archived bodies are compared.
        if a_body is not None and b_body is not None and a_body.sha256 != b_body.sha256:
            item["body"] = {
                "before": {"md5": a_body.md5, "size_bytes": a_body.size},
                "after": {"md5": b_body.md5, "size_bytes": b_body.size},
            }
        if "fields" in item or "body" in item:
            change.attachments_changed.append(item)


_NOUN = {"project_doc": "document", "project_file": "file"}
_VERBS = {
    "document": ("uploaded", "deleted", "replaced"),
    "file": ("added", "removed", "replaced"),
    "attachment": ("added", "removed", "changed"),
}


def _noun_verb(attachment: dict[str, Any], index: int) -> tuple[str, str]:
    """An attachment change in words: index 0 added, 1 removed, 2 changed."""
    noun = _NOUN.get(str(attachment.get("type")), "attachment")
    if index == 2 and "body" not in attachment:
        return noun, "edited"  # the listed entry changed, the archived body did not
    return noun, _VERBS[noun][index]


def change_kinds(change: ProjectChange) -> dict[str, list[Any]]:
    """Per kind of change, what it touched: ``document_replaced: [ids]``, ``fields_edited``...

    A document whose entry is unchanged but whose archived text differs was replaced
    in place; an entry whose listed fields differ was edited. Attachments of a type
    this crawler does not know are named ``attachment_*``.
    """
    out: dict[str, list[Any]] = {}

    def add(kind: str, item: Any) -> None:
        slot = out.setdefault(kind, [])
        if item not in slot:
            slot.append(item)

    for f in change.fields:
        add("fields_edited", f"{f['source']}.{f['field']}")
    if change.gone is not None:
        add("gone" if change.gone.get("after") else "back", True)
    for group, index in (
        (change.attachments_added, 0),
        (change.attachments_removed, 1),
        (change.attachments_changed, 2),
    ):
        for a in group:
            noun, verb = _noun_verb(a, index)
            add(f"{noun}_{verb}", a["id"])
    for g in change.collaborators_granted:
        add("collaborator_granted", _who(g))
    for r in change.collaborators_revoked:
        add("collaborator_revoked", _who(r))
    return out


def principal(entry: dict[str, Any]) -> dict[str, Any]:
    """Who a collaborator entry grants to: its type and principal field."""
    kind = entry.get("type")
    key = PRINCIPAL_FIELDS.get(kind) if isinstance(kind, str) else None
    out: dict[str, Any] = {"type": kind}
    if key is not None:
        out[key] = entry.get(key)
    out["role"] = entry.get("role")
    out["granted_at"] = entry.get("granted_at")
    out["entry"] = entry
    return out


def _collaborator_changes(
    change: ProjectChange, before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    a = Counter(canonical_json(e) for e in before)
    b = Counter(canonical_json(e) for e in after)
    for key, n in (b - a).items():
        change.collaborators_granted += [principal(orjson.loads(key))] * n
    for key, n in (a - b).items():
        change.collaborators_revoked += [principal(orjson.loads(key))] * n


# -- text rendering ---------------------------------------------------------------------------


def _short(value: Any, width: int = 60) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 3] + "..."


def _who(p: dict[str, Any]) -> str:
    key = PRINCIPAL_FIELDS.get(str(p.get("type")))
    ident = p.get(key) if key else None
    return f"{p.get('type')} {ident if ident is not None else '(none)'} as {p.get('role')}"


def render_text(d: SnapshotDiff) -> Iterator[str]:
    yield f"diff {d.a.id} ({d.a.status}) -> {d.b.id} ({d.b.status})"
    for w in d.warnings:
        yield f"warning: {w}"
    for p in d.added:
        yield f"+ project {p['id']} {_short(p['name'])} ({p['state']})"
    for p in d.removed:
        yield f"- project {p['id']} {_short(p['name'])} ({p['state']})"
    for p in d.incomparable:
        yield f"? project {p['id']} {_short(p['name'])}: state {p['state_a']} -> {p['state_b']}"
    for c in d.changed:
        yield f"~ project {c.project_id} {_short(c.name)}"
        kinds = c.kinds()
        summary = ", ".join(f"{k.replace('_', ' ')} {len(v)}" for k, v in kinds.items())
        yield f"    what: {summary}"
        if c.gone is not None:
            yield f"    gone: {c.gone['before']} -> {c.gone['after']}"
        for f in c.fields:
            yield f"    {f['source']}.{f['field']}: {_short(f['before'], 40)} -> {_short(f['after'], 40)}"
        for sign, group in (("+", c.attachments_added), ("-", c.attachments_removed)):
            for a in group:
                noun, verb = _noun_verb(a, 0 if sign == "+" else 1)
                yield f"    {sign} {noun} {verb} {a['id']} {_short(a['filename'], 40)}"
        for a in c.attachments_changed:
            noun, verb = _noun_verb(a, 2)
            what = [f"{f['field']}" for f in a.get("fields", [])]
            if "body" in a:
                what.append(f"body md5 {a['body']['before']['md5']} -> {a['body']['after']['md5']}")
            yield f"    ~ {noun} {verb} {a['id']}: {', '.join(what)}"
        for g in c.collaborators_granted:
            yield f"    + collaborator granted: {_who(g)}"
        for r in c.collaborators_revoked:
            yield f"    - collaborator revoked: {_who(r)}"
    yield (
        f"{len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed, "
        f"{d.unchanged} unchanged ({d.same_record} by identical record), "
        f"{len(d.incomparable)} incomparable"
    )
