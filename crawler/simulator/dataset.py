"""The synthetic organisation: generated from a seed, mutable, and the ground truth for tests.

``Dataset.generate(spec)`` builds the same data for the same ``DatasetSpec``
every time (ids, names, timestamps, texts, bytes), in well under a second per
few thousand projects. It plants the cases that break crawlers and names them
in ``dataset.cases``. The server reads and mutates this one object; tests read
it through the ground-truth helpers (``projects()``, ``project()``,
``list_pages()``, ``minimum_requests()``), which render exactly what the
endpoints serve.
"""

from __future__ import annotations

import math
import random
import uuid
from bisect import bisect_right
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from crawler.simulator.activity import ActivityLog
from crawler.simulator.content import content_md5_header, iter_file_bytes
from crawler.simulator.model import (
    LISTED_ABSENT,
    LISTED_FULL,
    LISTED_NULL,
    Collaborator,
    Document,
    FileRec,
    Json,
    Org,
    Project,
    User,
)
from crawler.simulator.paging import pages_for
from crawler.simulator.timestamps import NS_PER_S, format_instant, parse_instant

BASE_NS = parse_instant("2024-01-01T00:00:00Z")
DAY = 86_400
ORG_ROLES = ("user", "user", "user", "admin", "developer", "claude_code_user", "owner", "billing")
COLLAB_ROLES = ("admin", "editor", "owner", "viewer")
MIME_TYPES = (
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("text/csv", "csv"),
    ("application/octet-stream", "bin"),
    ("image/jpeg", "jpg"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
)
HOSTILE_NAMES = (
    "../../x",
    "dir/sub\\file.txt",
    "line\nbreak.txt",
    "nul\x00byte.bin",
    "a" * 296 + ".pdf",
    "..",
    "résumé 日本語 \u202etxt.exe",
    "CON",
    "%2e%2e%2fencoded.txt",
    "/etc/passwd",
)
_FIRST = ("Ada", "Grace", "Alan", "Zoë", "Jürgen", "Mei", "Olu", "Priya", "Søren", "Ana")
_LAST = ("Lovelace", "Hopper", "Turing", "Ng", "Müller", "Okafor", "Rao", "Kierkegaard")
_WORDS = ("Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_TABLE = bytes(ord(_B62[i % 62]) for i in range(256))
_STYLE_UNIT = (NS_PER_S, 1000, 1000, 1_000_000)  # the precision each timestamp style keeps


@dataclass(frozen=True)
class DatasetSpec:
    """Size and shape of the synthetic organisation. Same spec, same data.

    ``short_page_rate``/``empty_page_rate`` shape every paginated walk (a short
    page holds half the limit; an empty page still carries ``next_page``).
    Edge cases need ``projects >= 10`` to land on distinct projects.
    """

    seed: int = 0
    orgs: int = 2
    users_per_org: int = 6
    projects: int = 30
    attachments_per_project: tuple[int, int] = (0, 4)
    collaborators_per_project: tuple[int, int] = (0, 3)
    document_bytes: int = 2000
    big_document_bytes: int = 1_000_000
    file_size_max: int = 256 * 1024
    big_file_bytes: int = 4 * 1024 * 1024
    many_attachments: int = 105
    many_collaborators: int = 105
    edge_cases: bool = True
    short_page_rate: float = 0.1
    empty_page_rate: float = 0.05

    @classmethod
    def small(cls, **overrides: Any) -> DatasetSpec:
        """A quick dataset for tests: 30 projects, tiny files and documents, every edge case."""
        base: dict[str, Any] = {
            "seed": 7,
            "projects": 30,
            "document_bytes": 400,
            "big_document_bytes": 4096,
            "file_size_max": 2048,
            "big_file_bytes": 8192,
        }
        base.update(overrides)
        return cls(**base)

    def to_cli_args(self) -> list[str]:
        """Flags for ``crawler simulate`` that rebuild exactly this dataset in a subprocess."""
        a, b = self.attachments_per_project
        c, d = self.collaborators_per_project
        args = [
            f"--seed={self.seed}",
            f"--orgs={self.orgs}",
            f"--users-per-org={self.users_per_org}",
            f"--projects={self.projects}",
            f"--attachments={a}-{b}",
            f"--collaborators={c}-{d}",
            f"--document-bytes={self.document_bytes}",
            f"--big-document-bytes={self.big_document_bytes}",
            f"--file-size-max={self.file_size_max}",
            f"--big-file-bytes={self.big_file_bytes}",
            f"--many-attachments={self.many_attachments}",
            f"--many-collaborators={self.many_collaborators}",
            f"--short-page-rate={self.short_page_rate}",
            f"--empty-page-rate={self.empty_page_rate}",
        ]
        if not self.edge_cases:
            args.append("--no-edge-cases")
        return args


_TIME_FIELDS = (
    "created_at_gte",
    "created_at_gt",
    "created_at_lte",
    "created_at_lt",
    "updated_at_gte",
    "updated_at_gt",
    "updated_at_lte",
    "updated_at_lt",
)


@dataclass(frozen=True)
class ProjectFilters:
    """Filters of the project list, as the ground truth takes them (values as RFC 3339 text)."""

    organization_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    created_at_gte: str | None = None
    created_at_gt: str | None = None
    created_at_lte: str | None = None
    created_at_lt: str | None = None
    updated_at_gte: str | None = None
    updated_at_gt: str | None = None
    updated_at_lte: str | None = None
    updated_at_lt: str | None = None

    @classmethod
    def coerce(cls, value: ProjectFilters | Mapping[str, Any] | None) -> ProjectFilters:
        if value is None:
            return cls()
        if isinstance(value, ProjectFilters):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown filter(s): {sorted(unknown)}")
        kwargs: dict[str, Any] = dict(value)
        for name in ("organization_ids", "user_ids"):
            if name in kwargs:
                kwargs[name] = tuple(kwargs[name] or ())
        return cls(**kwargs)

    def key(self) -> str:
        """Canonical text of the filters (order of ids does not matter)."""
        parts = [
            "o=" + ",".join(sorted(set(self.organization_ids))),
            "u=" + ",".join(sorted(set(self.user_ids))),
        ]
        for name in _TIME_FIELDS:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={parse_instant(value)}")
        return "&".join(parts)

    def matches(self, project: Project) -> bool:
        if self.organization_ids and not (
            project.org.tagged_id in self.organization_ids
            or project.org.uuid in self.organization_ids
        ):
            return False
        if self.user_ids and (project.creator is None or project.creator.id not in self.user_ids):
            return False
        for name in _TIME_FIELDS:
            bound = getattr(self, name)
            if bound is None:
                continue
            value = project.created_ns if name.startswith("created") else project.updated_ns
            limit = parse_instant(bound)
            op = name.rsplit("_", 1)[1]
            ok = {
                "gte": value >= limit,
                "gt": value > limit,
                "lte": value <= limit,
                "lt": value < limit,
            }[op]
            if not ok:
                return False
        return True


@dataclass
class Cases:
    """Ids of the planted cases that break crawlers (empty when ``edge_cases`` is off)."""

    empty_project: str | None = None
    many_attachments_project: str | None = None
    many_collaborators_project: str | None = None
    gone_project: str | None = None
    null_creator_project: str | None = None
    deleted_projects: list[str] = field(default_factory=list)
    private_project: str | None = None
    public_project: str | None = None
    tie_group: list[str] = field(default_factory=list)
    identical_documents: list[str] = field(default_factory=list)
    empty_document: str | None = None
    big_document: str | None = None
    null_creator_document: str | None = None
    zero_byte_file: str | None = None
    big_file: str | None = None
    null_md5_file: str | None = None
    absent_md5_file: str | None = None
    stale_md5_file: str | None = None
    shared_file: str | None = None
    duplicate_content_files: list[str] = field(default_factory=list)
    hostile_name_files: list[str] = field(default_factory=list)
    hostile_name_documents: list[str] = field(default_factory=list)


# -- ground truth views ---------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentTruth:
    id: str
    project_id: str
    text: str
    md5: str
    size: int
    response: Json
    metadata: Json


@dataclass(frozen=True)
class FileTruth:
    id: str
    filename: str
    mime_type: str
    size: int
    md5: str  # true md5 of the bytes served
    recorded_md5: str | None  # what file metadata says (null or stale for some)
    content_md5: str  # the Content-MD5 header value
    metadata: Json
    content_seed: int

    def iter_bytes(self) -> Iterator[bytes]:
        return iter_file_bytes(self.content_seed, self.size)

    def read_bytes(self) -> bytes:
        return b"".join(self.iter_bytes())


@dataclass(frozen=True)
class ProjectTruth:
    id: str
    list_entry: Json
    detail: Json | None  # None: the detail answers 404
    gone: bool
    attachments: list[Json]
    collaborators: list[Json]
    documents: list[DocumentTruth]
    files: list[FileTruth]  # one per project_file attachment, in attachment order


# -- generation -----------------------------------------------------------------------------


class Factory:
    """Makes records from one RNG; the generator and the mutations both use it."""

    def __init__(self, dataset: Dataset, rng: random.Random) -> None:
        self.ds = dataset
        self.rng = rng

    def tagged(self, prefix: str) -> str:
        return prefix + self.rng.randbytes(24).translate(_B62_TABLE).decode("ascii")

    def stamp(self, ns: int, style: int | None = None) -> tuple[str, int]:
        """The text in one of the served spellings, and the instant that text denotes."""
        style = self.rng.randrange(4) if style is None else style
        return format_instant(ns, style), ns - ns % _STYLE_UNIT[style]

    def jitter(self, base_ns: int, max_seconds: int) -> int:
        return (
            base_ns
            + self.rng.randint(1, max(1, max_seconds)) * NS_PER_S
            + self.rng.randrange(1_000_000) * 1000
        )

    def _when(self, at_ns: int | None, after_ns: int, days: int) -> tuple[str, int]:
        """Exactly ``at_ns`` (mutations), else a random moment within ``days`` after ``after_ns``."""
        if at_ns is not None:
            return self.stamp(at_ns, 1)
        return self.stamp(self.jitter(after_ns, days * DAY))

    def user_ref(self, org: Org) -> User | None:
        users = self.ds.users.get(org.uuid, [])
        return self.rng.choice(users) if users else None

    def project(self, org: Org, created_ns: int, index: int, style: int | None = None) -> Project:
        rng = self.rng
        created_at, cns = self.stamp(created_ns, style)
        if rng.random() < 0.2:
            updated_at, uns = created_at, cns
        else:
            updated_at, uns = self.stamp(self.jitter(cns, 60 * DAY))
        deleted_at = updated_at if rng.random() < 0.06 else None
        creator = None if rng.random() < 0.03 else self.user_ref(org)
        name = f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} {index}"
        return Project(
            id=self.tagged("claude_proj_"),
            org=org,
            creator=creator,
            name=name,
            description=f"Description of {name}: {rng.choice(_WORDS).lower()} work.",
            instructions=f"Be concise. Cite sources. Project #{index}. Ünïcode ok.",
            created_at=created_at,
            created_ns=cns,
            updated_at=updated_at,
            updated_ns=uns,
            deleted_at=deleted_at,
            is_private=rng.random() < 0.5,
            chats_count=rng.choice((0, 0, 0, 1, 2, 5)),
            index=index,
        )

    def document(
        self,
        project: Project,
        *,
        after_ns: int | None = None,
        text_seed: int | None = None,
        text_bytes: int | None = None,
        multibyte: bool = False,
        filename: str | None = None,
        user: Json | bool | None = True,
        at_ns: int | None = None,
    ) -> Document:
        rng = self.rng
        created_at, cns = self._when(at_ns, after_ns or project.created_ns, 30)
        if user is True:
            ref = self.user_ref(project.org) if rng.random() < 0.9 else None
            owner: Json | None = ref.ref() if ref is not None else None
        elif user is False or user is None:
            owner = None
        else:
            owner = user
        doc = Document(
            id=self.tagged("claude_proj_doc_"),
            project_id=project.id,
            filename=filename or f"{rng.choice(_WORDS).lower()}-notes-{rng.randrange(1000)}.md",
            created_at=created_at,
            created_ns=cns,
            user=owner,
            text_seed=rng.getrandbits(48) if text_seed is None else text_seed,
            text_bytes=(
                rng.randint(1, max(1, self.ds.spec.document_bytes))
                if text_bytes is None
                else text_bytes
            ),
            multibyte=multibyte,
        )
        self.ds.documents[doc.id] = doc
        project.attachments.append(("doc", doc.id))
        return doc

    def file(
        self,
        project: Project,
        *,
        size: int | None = None,
        content_seed: int | None = None,
        filename: str | None = None,
        listed: str | None = None,
        at_ns: int | None = None,
    ) -> FileRec:
        rng = self.rng
        created_at, cns = self._when(at_ns, project.created_ns, 30)
        mime, ext = rng.choice(MIME_TYPES)
        if size is None:
            # At least 16 random bytes: no two ordinary files share content by chance, so the
            # only shared bodies are the planted ones and dedupe counts are exact.
            top = max(1, self.ds.spec.file_size_max)
            size = max(min(16, top), min(top, int(math.exp(rng.uniform(0, math.log(top + 1))))))
        if listed is None:
            u = rng.random()
            listed = LISTED_FULL if u < 0.85 else LISTED_NULL if u < 0.93 else LISTED_ABSENT
        rec = FileRec(
            id=self.tagged("claude_file_"),
            filename=filename or f"{rng.choice(_WORDS).lower()}-{rng.randrange(10000)}.{ext}",
            mime_type=mime,
            created_at=created_at,
            created_ns=cns,
            size=size,
            content_seed=rng.getrandbits(48) if content_seed is None else content_seed,
            listed=listed,
            recorded_md5_null=listed == LISTED_NULL,
            chat_ids=[self.tagged("claude_chat_") for _ in range(rng.randrange(3))],
            message_ids=[self.tagged("chat_msg_") for _ in range(rng.randrange(3))],
        )
        self.ds.files[rec.id] = rec
        project.attachments.append(("file", rec.id))
        return rec

    def collaborator(self, project: Project, at_ns: int | None = None) -> Collaborator:
        rng = self.rng
        previous = project.collaborators[-1] if project.collaborators else None
        if at_ns is None and previous is not None and rng.random() < 0.2:
            granted_at, gns = previous.granted_at, previous.granted_ns  # a tie on granted_at
        else:
            granted_at, gns = self._when(at_ns, project.created_ns, 20)
        kind = rng.choices(
            ("user", "group", "organization", "organization_role"), (60, 15, 10, 15)
        )[0]
        principal: str | None
        if kind == "user":
            ref = self.user_ref(project.org)
            principal = None if ref is None or rng.random() < 0.1 else ref.id
        elif kind == "group":
            principal = self.tagged("group_")
        elif kind == "organization":
            principal = project.org.uuid
        else:
            principal = rng.choice(("admin", "developer", "user", "membership_admin"))
        collab = Collaborator(
            assignment_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            type=kind,
            principal=principal,
            role=rng.choice(COLLAB_ROLES),
            granted_at=granted_at,
            granted_ns=gns,
        )
        project.collaborators.append(collab)
        return collab


class Dataset:
    """The organisation's current state, plus ground-truth views of what the API serves."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self.orgs: list[Org] = []
        self.users: dict[str, list[User]] = {}
        self.projects: dict[str, Project] = {}
        self.documents: dict[str, Document] = {}
        self.files: dict[str, FileRec] = {}
        self.cases = Cases()
        self.clock_ns = BASE_NS
        self.activities = ActivityLog(seed=spec.seed)
        self._sorted: list[Project] | None = None
        self._keys: list[tuple[int, str]] = []

    # -- building ------------------------------------------------------------------------

    @classmethod
    def generate(cls, spec: DatasetSpec | None = None) -> Dataset:
        ds = cls(spec or DatasetSpec())
        _generate(ds)
        return ds

    def touch(self) -> None:
        """Forget cached orderings after a change."""
        self._sorted = None

    def advance_clock(self, at_ns: int) -> int:
        """A mutation's instant: never before anything already in the data."""
        self.clock_ns = max(self.clock_ns + NS_PER_S, at_ns)
        return self.clock_ns

    # -- server-side access ----------------------------------------------------------------

    def sorted_projects(self) -> list[Project]:
        if self._sorted is None:
            self._sorted = sorted(self.projects.values(), key=Project.sort_key)
            self._keys = [p.sort_key() for p in self._sorted]
        return self._sorted

    def projects_after(self, after: tuple[int, str] | None) -> Iterator[Project]:
        """Projects in list order strictly after the keyset position ``after``."""
        order = self.sorted_projects()
        start = 0 if after is None else bisect_right(self._keys, after)
        for i in range(start, len(order)):
            yield order[i]

    def attachment_items(self, project: Project) -> list[tuple[tuple[int, str], Json]]:
        items: list[tuple[tuple[int, str], Json]] = []
        for kind, item_id in project.attachments:
            if kind == "doc":
                doc = self.documents[item_id]
                items.append(((doc.created_ns, doc.id), doc.attachment_entry()))
            else:
                rec = self.files[item_id]
                items.append(((rec.created_ns, rec.id), rec.attachment_entry()))
        items.sort(key=lambda kv: kv[0])
        return items

    def collaborator_items(self, project: Project) -> list[tuple[tuple[int, str], Json]]:
        return sorted(((c.sort_key(), c.entry()) for c in project.collaborators), key=_first)

    def org_by_uuid(self, org_uuid: str) -> Org | None:
        for org in self.orgs:
            if org.uuid == org_uuid:
                return org
        return None

    def delete_project(self, project_id: str) -> None:
        """Hard delete: the project, its documents, and files no other project holds."""
        p = self.projects.pop(project_id)
        for kind, item_id in p.attachments:
            if kind == "doc":
                self.documents.pop(item_id, None)
            else:
                self.drop_file_if_orphan(item_id)
        self.touch()

    def drop_file_if_orphan(self, file_id: str) -> None:
        """Forget a file no project lists any more.

        Only the planted shared file is ever listed by two projects, so only it
        needs the scan (which is slow on large datasets).
        """
        if file_id == self.cases.shared_file and any(
            ("file", file_id) in q.attachments for q in self.projects.values()
        ):
            return
        self.files.pop(file_id, None)

    def delete_document(self, document_id: str) -> None:
        doc = self.documents.pop(document_id)
        p = self.projects.get(doc.project_id)
        if p is not None and ("doc", document_id) in p.attachments:
            p.attachments.remove(("doc", document_id))

    # -- ground truth ----------------------------------------------------------------------

    def organizations(self) -> list[Json]:
        return [o.entry() for o in sorted(self.orgs, key=lambda o: (o.created_ns, o.uuid))]

    def organization_users(self, org_uuid: str) -> list[Json]:
        users = self.users.get(org_uuid, [])
        return [u.entry() for u in sorted(users, key=lambda u: (u.created_ns, u.id))]

    def project_ids(self, filters: ProjectFilters | Mapping[str, Any] | None = None) -> list[str]:
        f = ProjectFilters.coerce(filters)
        return [p.id for p in self.sorted_projects() if f.matches(p)]

    def projects_truth(
        self, filters: ProjectFilters | Mapping[str, Any] | None = None
    ) -> Iterator[ProjectTruth]:
        """Every matching project in list order, as the endpoints would serve it now."""
        f = ProjectFilters.coerce(filters)
        for p in self.sorted_projects():
            if f.matches(p):
                yield self.project(p.id)

    def project(self, project_id: str) -> ProjectTruth:
        p = self.projects[project_id]
        if p.gone_on_detail:
            return ProjectTruth(p.id, p.list_entry(), None, True, [], [], [], [])
        attachments = [entry for _, entry in self.attachment_items(p)]
        docs = [self.document(a["id"]) for a in attachments if a["type"] == "project_doc"]
        files = [self.file(a["id"]) for a in attachments if a["type"] == "project_file"]
        return ProjectTruth(
            id=p.id,
            list_entry=p.list_entry(),
            detail=p.detail(len(attachments)),
            gone=False,
            attachments=attachments,
            collaborators=[entry for _, entry in self.collaborator_items(p)],
            documents=docs,
            files=files,
        )

    def document(self, document_id: str) -> DocumentTruth:
        d = self.documents[document_id]
        return DocumentTruth(d.id, d.project_id, d.text, d.md5, d.size, d.response(), d.metadata())

    def file(self, file_id: str) -> FileTruth:
        f = self.files[file_id]
        return FileTruth(
            id=f.id,
            filename=f.filename,
            mime_type=f.mime_type,
            size=f.size,
            md5=f.md5,
            recorded_md5=f.recorded_md5,
            content_md5=content_md5_header(f.md5),
            metadata=f.metadata(),
            content_seed=f.content_seed,
        )

    def walk_pages(self, walk: str, total: int, limit: int = 100) -> int:
        s = self.spec
        return pages_for(total, s.seed, walk, limit, s.short_page_rate, s.empty_page_rate)

    def list_pages(
        self, filters: ProjectFilters | Mapping[str, Any] | None = None, limit: int = 100
    ) -> int:
        """Requests a full walk of the project list takes, short and empty pages included."""
        return self.walk_pages("projects", len(self.project_ids(filters)), limit)

    def attachment_pages(self, project_id: str, limit: int = 100) -> int:
        p = self.projects[project_id]
        return self.walk_pages(f"attachments:{p.id}", len(p.attachments), limit)

    def collaborator_pages(self, project_id: str, limit: int = 100) -> int:
        p = self.projects[project_id]
        return self.walk_pages(f"collaborators:{p.id}", len(p.collaborators), limit)

    def minimum_requests(
        self,
        filters: ProjectFilters | Mapping[str, Any] | None = None,
        files: bool = True,
        document_metadata: bool = False,
        *,
        only: Collection[str] | None = None,
        archived_md5s: Iterable[str] = (),
    ) -> dict[str, int]:
        """Requests, by endpoint, the ideal crawler makes for one full snapshot.

        ``only``: fetch just these projects (the list is still walked whole), as an
        incremental snapshot does. ``archived_md5s``: bodies already in the archive,
        whose files are not downloaded again, as in a second snapshot.

        All list pages at limit 100; one detail per listed project (a 404 detail
        ends that project); attachment pages only when ``attachments_count > 0``;
        collaborator pages always; one ``documents.get`` per distinct document
        (and one ``documents.metadata`` if asked); one ``files.content`` per file
        attachment, except that a listed md5 already seen is not downloaded again
        (a null or absent md5 always is). Only the planted files share bytes (the
        shared file, the duplicate-content pair, both listed with their md5; the
        empty file is listed without one so it cannot match the empty document),
        so this equals "skip when the listed md5 is already archived" whatever
        the order in which a concurrent crawler fetches.
        """
        counts = {
            "projects.list": self.list_pages(filters, 100),
            "projects.get": 0,
            "attachments": 0,
            "collaborators": 0,
            "documents.get": 0,
            "documents.metadata": 0,
            "files.content": 0,
        }
        seen_docs: set[str] = set()
        seen_md5: set[str] = set(archived_md5s)
        for truth in self.projects_truth(filters):
            if only is not None and truth.id not in only:
                continue
            counts["projects.get"] += 1
            if truth.gone:
                continue
            if truth.attachments:
                counts["attachments"] += self.attachment_pages(truth.id)
            counts["collaborators"] += self.collaborator_pages(truth.id)
            for entry in truth.attachments:
                if entry["type"] == "project_doc":
                    if entry["id"] not in seen_docs:
                        seen_docs.add(entry["id"])
                        counts["documents.get"] += 1
                        counts["documents.metadata"] += int(document_metadata)
                elif files:
                    md5 = entry.get("md5")
                    if md5 is None:
                        counts["files.content"] += 1
                    elif md5 not in seen_md5:
                        seen_md5.add(md5)
                        counts["files.content"] += 1
        return counts

    def summary(self) -> dict[str, Any]:
        return {
            "spec": asdict(self.spec),
            "orgs": len(self.orgs),
            "projects": len(self.projects),
            "documents": len(self.documents),
            "files": len(self.files),
        }


def _first(kv: tuple[tuple[int, str], Json]) -> tuple[int, str]:
    return kv[0]


_ROLES = (
    "empty",
    "many_attachments",
    "many_collaborators",
    "gone",
    "null_creator",
    "deleted",
    "docs_a",
    "docs_b",
    "files_a",
    "files_b",
)


def _generate(ds: Dataset) -> None:
    spec = ds.spec
    rng = random.Random(spec.seed)
    fac = Factory(ds, rng)

    for i in range(max(1, spec.orgs)):
        created_at, cns = fac.stamp(BASE_NS - (400 - i) * DAY * NS_PER_S, 0)
        org = Org(
            uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            tagged_id=fac.tagged("org_"),
            name=f"{rng.choice(_WORDS)} Org {i}",
            created_at=created_at,
            created_ns=cns,
        )
        ds.orgs.append(org)
        users: list[User] = []
        for j in range(spec.users_per_org):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            u_at, u_ns = fac.stamp(fac.jitter(org.created_ns, 300 * DAY))
            users.append(
                User(
                    id=fac.tagged("user_"),
                    full_name=f"{first} {last}",
                    email=f"{first.lower()}.{last.lower()}{i}{j}@example.com",
                    created_at=u_at,
                    created_ns=u_ns,
                    organization_role=rng.choice(ORG_ROLES),
                    org_uuid=org.uuid,
                )
            )
        ds.users[org.uuid] = users

    n = spec.projects
    roles: dict[int, set[str]] = {}
    if spec.edge_cases and n > 0:
        picks = rng.sample(range(n), min(n, len(_ROLES)))
        for j, role in enumerate(_ROLES):
            roles.setdefault(picks[j % len(picks)], set()).add(role)
    tie_start = 98 if n >= 104 else max(0, n // 2 - 2)
    tie_styles = (0, 1, 2, 3, 1)
    tie = range(tie_start, tie_start + 5) if spec.edge_cases and n >= 5 else range(0)

    cursor = BASE_NS
    lo_a, hi_a = spec.attachments_per_project
    lo_c, hi_c = spec.collaborators_per_project
    for i in range(n):
        style: int | None = None
        if i in tie:
            if i == tie_start:
                cursor = fac.jitter(cursor, 6 * 3600)
                cursor -= cursor % NS_PER_S  # style 0 cannot carry sub-seconds
            style = tie_styles[i - tie_start]
        else:
            cursor = fac.jitter(cursor, 6 * 3600)
        org = ds.orgs[rng.randrange(len(ds.orgs))]
        p = fac.project(org, cursor, i, style)
        ds.projects[p.id] = p
        if i in tie:
            ds.cases.tie_group.append(p.id)
        mine = roles.get(i, set())
        if "gone" in mine:
            p.gone_on_detail = True
            ds.cases.gone_project = p.id
            continue
        if "null_creator" in mine:
            p.creator = None
            ds.cases.null_creator_project = p.id
        if "deleted" in mine:
            p.deleted_at = p.updated_at
            p.is_private = True
        if "docs_a" in mine:
            p.is_private = True
            ds.cases.private_project = p.id
        if "docs_b" in mine:
            p.is_private = False
            ds.cases.public_project = p.id
        if "empty" in mine:
            ds.cases.empty_project = p.id
        else:
            count = spec.many_attachments if "many_attachments" in mine else rng.randint(lo_a, hi_a)
            if "many_attachments" in mine:
                ds.cases.many_attachments_project = p.id
            for _ in range(count):
                if rng.random() < 0.5:
                    fac.document(p)
                else:
                    small = "many_attachments" in mine
                    fac.file(p, size=rng.randint(16, 512) if small else None)
            _plant(ds, fac, p, mine)
        count = spec.many_collaborators if "many_collaborators" in mine else rng.randint(lo_c, hi_c)
        if "many_collaborators" in mine:
            ds.cases.many_collaborators_project = p.id
        for _ in range(count):
            fac.collaborator(p)
    _link_shared(ds)
    ds.cases.deleted_projects = [p.id for p in ds.sorted_projects() if p.deleted_at is not None]
    ds.clock_ns = _max_instant(ds)
    ds.touch()


def _plant(ds: Dataset, fac: Factory, p: Project, roles: Iterable[str]) -> None:
    """Attach the edge-case documents and files that belong to project ``p``."""
    spec = ds.spec
    c = ds.cases
    roles = set(roles)
    seed = spec.seed * 7919 + 17
    if "docs_a" in roles or "docs_b" in roles:
        same = fac.document(p, text_seed=seed, text_bytes=600)
        c.identical_documents.append(same.id)
    if "docs_a" in roles:
        c.empty_document = fac.document(p, text_seed=1, text_bytes=0, filename="empty.txt").id
        for name in HOSTILE_NAMES[:3]:
            c.hostile_name_documents.append(fac.document(p, filename=name).id)
    if "docs_b" in roles:
        big = fac.document(
            p, text_bytes=spec.big_document_bytes, multibyte=True, filename="big-утф8.txt"
        )
        c.big_document = big.id
    if "null_creator" in roles:
        c.null_creator_document = fac.document(p, user=None).id
    if "files_a" in roles:
        # Listed without md5: with it, its md5 would equal the empty document's, and
        # whether a crawler skips it would depend on which finished first.
        c.zero_byte_file = fac.file(p, size=0, listed=LISTED_NULL, filename="empty.bin").id
        c.big_file = fac.file(p, size=spec.big_file_bytes, listed=LISTED_FULL).id
        c.null_md5_file = fac.file(p, listed=LISTED_NULL).id
        c.absent_md5_file = fac.file(p, listed=LISTED_ABSENT).id
        stale = fac.file(p, listed=LISTED_FULL)
        stale.stale_md5 = "0" * 8 + stale.md5[8:] if stale.md5[:8] != "0" * 8 else "f" * 32
        c.stale_md5_file = stale.id
        shared = fac.file(p, listed=LISTED_FULL, size=min(4096, spec.file_size_max))
        c.shared_file = shared.id
        dup = fac.file(p, listed=LISTED_FULL, size=1234, content_seed=seed + 1)
        c.duplicate_content_files.append(dup.id)
        for name in HOSTILE_NAMES:
            c.hostile_name_files.append(fac.file(p, filename=name, size=32).id)
    if "files_b" in roles:
        dup = fac.file(p, listed=LISTED_FULL, size=1234, content_seed=seed + 1)
        c.duplicate_content_files.append(dup.id)


def _link_shared(ds: Dataset) -> None:
    """Attach the shared file (planted with files_a) to the files_b project as well."""
    shared = ds.cases.shared_file
    if shared is None:
        return
    for q in ds.projects.values():
        has_dup = any(("file", f) in q.attachments for f in ds.cases.duplicate_content_files)
        if has_dup and ("file", shared) not in q.attachments:
            q.attachments.append(("file", shared))


def _max_instant(ds: Dataset) -> int:
    latest = BASE_NS
    for p in ds.projects.values():
        latest = max(latest, p.created_ns, p.updated_ns)
    for d in ds.documents.values():
        latest = max(latest, d.created_ns)
    for f in ds.files.values():
        latest = max(latest, f.created_ns)
    return latest
