"""What ``crawler verify`` found: problems (the archive is not ok) and notes (it is)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``kind`` (stable, for scripts), what it concerns, and why."""

    kind: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.message}"


@dataclass
class VerifyReport:
    full: bool
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, kind: str, subject: str | Path, message: str) -> None:
        self.problems.append(Problem(kind, str(subject), message))

    def summary(self) -> str:
        c = self.checked
        mode = "full" if self.full else "fast"
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"verify ({mode}): {verdict}: {c['snapshots']} snapshots, {c['manifests']} manifests, "
            f"{c['records']} records, {c['blobs']} blobs checked"
            + (f", {c['hashed']} blobs rehashed" if self.full else "")
            + (f", {c['receipts']} receipts checked against their plans" if c["receipts"] else "")
            + (f", {c['leaves']} log leaves checked" if c["leaves"] else "")
            + f"; {len(self.problems)} problems, {len(self.notes)} notes"
        )
