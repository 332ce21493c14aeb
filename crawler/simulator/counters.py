"""Request counters readable in-process: per endpoint and status, total, 429s.

A connection the simulator aborted on purpose is counted under status 0.
``deletes`` counts every DELETE request per target id (project or document),
by status, whatever the answer: a retried or repeated delete shows up here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crawler.simulator.faults import ENDPOINTS


def _empty() -> dict[str, dict[int, int]]:
    return {name: {} for name in ENDPOINTS}


@dataclass
class Counters:
    by_endpoint: dict[str, dict[int, int]] = field(default_factory=_empty)
    total: int = 0
    rate_limited: int = 0
    deletes: dict[str, dict[int, int]] = field(default_factory=dict)

    def record_delete(self, target_id: str, status: int) -> None:
        per = self.deletes.setdefault(target_id, {})
        per[status] = per.get(status, 0) + 1

    def delete_calls(self, target_id: str, status: int | None = None) -> int:
        """DELETE requests received for one id (all statuses, or one)."""
        per = self.deletes.get(target_id, {})
        return sum(per.values()) if status is None else per.get(status, 0)

    def record(self, endpoint: str, status: int) -> None:
        per = self.by_endpoint.setdefault(endpoint, {})
        per[status] = per.get(status, 0) + 1
        self.total += 1
        if status == 429:
            self.rate_limited += 1

    def count(self, endpoint: str, status: int | None = None) -> int:
        per = self.by_endpoint.get(endpoint, {})
        return sum(per.values()) if status is None else per.get(status, 0)

    def ok(self, endpoint: str) -> int:
        """Successful (2xx) answers of one endpoint."""
        return sum(n for s, n in self.by_endpoint.get(endpoint, {}).items() if 200 <= s < 300)

    def reset(self) -> None:
        self.by_endpoint = _empty()
        self.total = 0
        self.rate_limited = 0
        self.deletes = {}
