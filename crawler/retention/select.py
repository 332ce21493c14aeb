"""What a plan selects: the flags of ``retention plan``, parsed and checked. Pure.

``--older-than 3y`` compares ``created_at`` (or ``updated_at`` with
``--age-field updated_at``) with a cutoff counted back from the plan's own
time: ``Nd`` days, ``Nw`` weeks, ``Nm`` calendar months, ``Ny`` calendar
years. ``--project``/``--from-file``/``--document`` name items; the other
flags narrow. Named projects are checked against the other flags too, and
reported as ``outside_selection`` when they fail them, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from crawler.canonical import instant_or_none
from crawler.errors import UsageError

AGE_RE = re.compile(r"(\d{1,4})([dwmy])")
AGE_FIELDS = ("created_at", "updated_at")


def parse_age(text: str) -> tuple[int, str]:
    m = AGE_RE.fullmatch(text.strip().lower())
    if m is None or int(m.group(1)) == 0:
        raise UsageError(
            f"--older-than {text!r}: give a positive number and a unit: d, w, m or y (e.g. 3y)"
        )
    return int(m.group(1)), m.group(2)


def cutoff(now: datetime, age: tuple[int, str]) -> datetime:
    """``now`` minus the age; calendar months and years (29 Feb becomes 28 Feb)."""
    n, unit = age
    if unit == "d":
        return now - timedelta(days=n)
    if unit == "w":
        return now - timedelta(weeks=n)
    months = n if unit == "m" else 12 * n
    year, month = divmod(now.year * 12 + (now.month - 1) - months, 12)
    month += 1
    day = min(now.day, _days_in(year, month))
    return now.replace(year=year, month=month, day=day)


def _days_in(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


@dataclass(frozen=True)
class Selection:
    projects: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    orgs: tuple[str, ...] = ()
    older_than: tuple[int, str] | None = None
    age_field: str = "created_at"
    cutoff: str | None = None  # RFC 3339, set when the plan starts
    deleted_in_claude: bool = False

    @property
    def names_items(self) -> bool:
        return bool(self.projects or self.documents)

    @property
    def narrows(self) -> bool:
        return bool(self.users or self.orgs or self.cutoff or self.deleted_in_claude)

    def to_json(self) -> dict[str, Any]:
        return {
            "projects": list(self.projects),
            "documents": list(self.documents),
            "users": list(self.users),
            "orgs": list(self.orgs),
            "older_than": f"{self.older_than[0]}{self.older_than[1]}" if self.older_than else None,
            "age_field": self.age_field,
            "cutoff": self.cutoff,
            "deleted_in_claude": self.deleted_in_claude,
        }

    def list_query(self) -> list[tuple[str, str]]:
        """The project-list filters that do this selection's narrowing upstream."""
        q = [("organization_ids[]", o) for o in self.orgs]
        if not any("@" in u for u in self.users):  # emails are matched here, not upstream
            q += [("user_ids[]", u) for u in self.users]
        if self.cutoff:
            q.append((f"{self.age_field}.lt", self.cutoff))
        return q

    def excludes(self, project: Mapping[str, Any]) -> str | None:
        """Why this project (list entry or detail) falls outside the narrowing flags."""
        user = project.get("user")
        user = user if isinstance(user, Mapping) else {}
        if self.users and not {user.get("id"), user.get("email_address")} & set(self.users):
            return f"created by {user.get('id')!r}, not by {', '.join(self.users)}"
        orgs = {project.get("organization_id"), project.get("organization_uuid")}
        if self.orgs and not orgs & set(self.orgs):
            return f"in organisation {project.get('organization_uuid')!r}"
        if self.cutoff:
            when, limit = instant_or_none(project.get(self.age_field)), instant_or_none(self.cutoff)
            if when is None or limit is None or not when < limit:
                return (
                    f"{self.age_field} {project.get(self.age_field)!r} is not before {self.cutoff}"
                )
        if self.deleted_in_claude and not project.get("deleted_at"):
            return "not deleted in claude.ai (deleted_at is null)"
        return None


def ids_from_file(path: Path) -> tuple[list[str], list[str]]:
    """(project ids, document ids) from a file: one id a line, ``#`` comments.

    A line is a document id when it starts with ``claude_proj_doc_`` (the API's
    tagged form), else a project id.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"--from-file {path}: {reason}") from None
    projects: list[str] = []
    documents: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        check_id(line, f"--from-file {path} line {n}")
        (documents if line.startswith("claude_proj_doc_") else projects).append(line)
    return projects, documents


def check_id(value: str, what: str) -> str:
    text = value.strip()
    if not text or len(text) > 200 or any(c.isspace() or c in "/\\?#%" for c in text):
        raise UsageError(f"{what}: {value!r} is not a valid id")
    return text


def unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
