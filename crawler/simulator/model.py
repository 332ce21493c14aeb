"""The simulator's records and how each one renders as the API serves it.

Records hold the state; ``*_entry``/``*_response`` methods build fresh dicts in
the exact shape (and key order) the endpoints send, including one field the
docs do not list (``sim_extra`` and friends) so clients can prove they keep
unknown fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crawler.simulator.content import document_text, file_md5, text_digest

Json = dict[str, Any]

# Attachment listing modes for a file's md5/size_bytes: as recorded, null, or absent.
LISTED_FULL = "full"
LISTED_NULL = "null"
LISTED_ABSENT = "absent"


@dataclass
class Org:
    uuid: str
    tagged_id: str
    name: str
    created_at: str
    created_ns: int

    def entry(self) -> Json:
        return {
            "uuid": self.uuid,
            "name": self.name,
            "created_at": self.created_at,
            "sim_extra": {"tagged_id": self.tagged_id},
        }


@dataclass
class User:
    id: str
    full_name: str
    email: str
    created_at: str
    created_ns: int
    organization_role: str
    org_uuid: str

    def entry(self) -> Json:
        return {
            "id": self.id,
            "full_name": self.full_name,
            "email": self.email,
            "created_at": self.created_at,
            "organization_role": self.organization_role,
            "sim_extra": {"seat_tier": "team"},
        }

    def ref(self) -> Json:
        return {"id": self.id, "email_address": self.email}


@dataclass
class Document:
    id: str
    project_id: str
    filename: str
    created_at: str
    created_ns: int
    user: Json | None
    text_seed: int
    text_bytes: int
    multibyte: bool = False
    version: int = 0

    @property
    def text(self) -> str:
        return document_text(self.text_seed, self.text_bytes, self.multibyte)

    @property
    def md5(self) -> str:
        return text_digest(self.text_seed, self.text_bytes, self.multibyte)[0]

    @property
    def size(self) -> int:
        return text_digest(self.text_seed, self.text_bytes, self.multibyte)[1]

    def attachment_entry(self) -> Json:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "filename": self.filename,
            "mime_type": "text/plain",
            "updated_at": None,
            "type": "project_doc",
            "sim_extra": {"source": "upload"},
        }

    def response(self) -> Json:
        return {
            "id": self.id,
            "content": self.text,
            "created_at": self.created_at,
            "filename": self.filename,
            "user": dict(self.user) if self.user is not None else None,
            "sim_extra": {"version": self.version},
        }

    def metadata(self) -> Json:
        return {
            "id": self.id,
            "claude_project_id": self.project_id,
            "created_at": self.created_at,
            "filename": self.filename,
            "md5": self.md5,
            "mime_type": "text/plain",
            "size_bytes": self.size,
            "user": dict(self.user) if self.user is not None else None,
            "sim_extra": {"version": self.version},
        }


@dataclass
class FileRec:
    id: str
    filename: str
    mime_type: str
    created_at: str
    created_ns: int
    size: int
    content_seed: int
    listed: str = LISTED_FULL
    recorded_md5_null: bool = False
    stale_md5: str | None = None  # a recorded md5 that disagrees with the bytes
    chat_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    @property
    def md5(self) -> str:
        """The true md5 of the bytes served (what Content-MD5 says)."""
        return file_md5(self.content_seed, self.size)

    @property
    def recorded_md5(self) -> str | None:
        """The md5 as recorded at upload: null for some, stale for one."""
        if self.recorded_md5_null:
            return None
        if self.stale_md5 is not None:
            return self.stale_md5
        return self.md5

    def attachment_entry(self) -> Json:
        entry: Json = {
            "id": self.id,
            "created_at": self.created_at,
            "filename": self.filename,
            "mime_type": self.mime_type,
        }
        if self.listed == LISTED_FULL:
            entry["md5"] = self.recorded_md5
            entry["size_bytes"] = self.size
        elif self.listed == LISTED_NULL:
            entry["md5"] = None
            entry["size_bytes"] = None
        entry["type"] = "project_file"
        entry["sim_extra"] = {"storage_class": "standard"}
        return entry

    def metadata(self) -> Json:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": self.size,
            "md5": self.recorded_md5,
            "claude_chat_ids": list(self.chat_ids),
            "message_ids": list(self.message_ids),
            "sim_extra": {"scanned": True},
        }


PRINCIPAL_FIELD = {
    "user": "user_id",
    "group": "group_id",
    "organization": "organization_uuid",
    "organization_role": "organization_role",
}


@dataclass
class Collaborator:
    assignment_uuid: str
    type: str  # user | group | organization | organization_role
    principal: str | None
    role: str
    granted_at: str
    granted_ns: int

    def sort_key(self) -> tuple[int, str]:
        return (self.granted_ns, self.assignment_uuid)

    def entry(self) -> Json:
        entry: Json = {"type": self.type, PRINCIPAL_FIELD[self.type]: self.principal}
        entry["role"] = self.role
        entry["granted_at"] = self.granted_at
        entry["sim_extra"] = {"inherited": False}
        return entry


@dataclass
class Project:
    id: str
    org: Org
    creator: User | None
    name: str
    description: str
    instructions: str
    created_at: str
    created_ns: int
    updated_at: str
    updated_ns: int
    deleted_at: str | None
    is_private: bool
    chats_count: int
    index: int
    gone_on_detail: bool = False
    # (kind, id) with kind "doc" or "file"; order is irrelevant: listings sort.
    attachments: list[tuple[str, str]] = field(default_factory=list)
    collaborators: list[Collaborator] = field(default_factory=list)

    def sort_key(self) -> tuple[int, str]:
        return (self.created_ns, self.id)

    def list_entry(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "deleted_at": self.deleted_at,
            "is_private": self.is_private,
            "organization_id": self.org.tagged_id,
            "organization_uuid": self.org.uuid,
            "user": self.creator.ref() if self.creator is not None else None,
            "sim_extra": {"shard": self.index % 7},
        }

    def detail(self, attachments_count: int) -> Json:
        body = self.list_entry()
        body.update(
            {
                "description": self.description,
                "instructions": self.instructions,
                "chats_count": self.chats_count,
                "attachments_count": attachments_count,
                "knowledge_base": {"enabled": self.index % 3 == 0},
            }
        )
        return body
