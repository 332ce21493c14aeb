"""Fault injection: what can go wrong, per endpoint, seeded and changeable at runtime.

Every decision is a pure function of ``(plan.seed, fault kind, request URL,
attempt number of that URL)``, so a run is reproducible whatever the order in
which concurrent requests arrive. ``max_faults_per_url`` caps how many
probabilistic faults one URL ever sees, so a client that retries always gets
through in the end and a crawl under faults can still be complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from crawler.simulator.paging import draw

ENDPOINTS = (
    "organizations",
    "users",
    "projects.list",
    "projects.get",
    "projects.delete",
    "attachments",
    "collaborators",
    "documents.get",
    "documents.metadata",
    "documents.delete",
    "files.get",
    "files.content",
    "activities",
)


@dataclass
class EndpointFaults:
    """The faults of one endpoint. Rates are per request, in [0, 1].

    - ``latency``: (low, high) seconds, uniform, before answering.
    - ``error_rate``: answer one of ``error_statuses`` with ``x-should-retry: true``.
    - ``reset_rate``: abort the connection without an answer.
    - ``truncate_rate``: JSON: send a Content-Length larger than the body, part of
      it, then close; file content: stop mid-stream and close.
    - ``malformed_rate``: a 200 whose JSON body does not parse.
    - ``chunk_delay``: seconds between body chunks (a slow body).
    - ``bad_content_md5_rate``: file content with a wrong ``Content-MD5`` header.
    - ``corrupt_body_rate``: file content with one byte flipped (header for the true bytes).
    - ``expire_token_rate``: a presented page token is treated as expired (for good).
    - ``fail_first``: the first N attempts of every URL answer an error (not capped).
    - ``retry_after``: seconds sent as ``retry-after`` with every injected error, in
      ``retry_after_form`` ``"seconds"`` or ``"http-date"`` (None: no header).
    - ``should_retry``: the ``x-should-retry`` of injected errors (None: by status).
    - ``stall_rate``: wait ``stall_seconds`` before answering (a read timeout).
    - ``dangling_page_rate``: a page whose ``has_more`` is true but ``next_page`` null.
    Documents' metadata takes ``bad_content_md5_rate`` too: an ``md5`` that
    disagrees with the text.
    """

    latency: tuple[float, float] | None = None
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503, 529)
    reset_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    chunk_delay: float = 0.0
    bad_content_md5_rate: float = 0.0
    corrupt_body_rate: float = 0.0
    expire_token_rate: float = 0.0
    fail_first: int = 0
    retry_after: float | None = None
    retry_after_form: str = "seconds"
    should_retry: bool | None = None
    stall_rate: float = 0.0
    stall_seconds: float = 1.0
    dangling_page_rate: float = 0.0


@dataclass
class FaultPlan:
    """Faults for every endpoint: ``default`` unless ``endpoints`` names one.

    ``always_500_ids``: any request whose path holds one of these ids answers a
    deterministic 500 (``x-should-retry: false``), every time.
    ``gone_ids``: likewise a 404, as if the item was deleted after it was listed.
    ``file_bodies``: file id -> the exact bytes its content serves (with a true
    Content-MD5), e.g. half of a crafted md5 collision.
    """

    seed: int = 0
    default: EndpointFaults = field(default_factory=EndpointFaults)
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    always_500_ids: set[str] = field(default_factory=set)
    max_faults_per_url: int | None = 2
    gone_ids: set[str] = field(default_factory=set)
    file_bodies: dict[str, bytes] = field(default_factory=dict)

    def for_endpoint(self, name: str) -> EndpointFaults:
        return self.endpoints.get(name, self.default)

    def set(self, endpoint: str | None = None, **changes: Any) -> None:
        """Change some faults of one endpoint (or of the default): ``plan.set("files.content", reset_rate=0.5)``."""
        if endpoint is None:
            self.default = replace(self.default, **changes)
        else:
            self.endpoints[endpoint] = replace(self.for_endpoint(endpoint), **changes)

    def clear(self) -> None:
        self.default = EndpointFaults()
        self.endpoints.clear()
        self.always_500_ids.clear()
        self.gone_ids.clear()
        self.file_bodies.clear()


ERROR = "error"
RESET = "reset"
TRUNCATE = "truncate"
MALFORMED = "malformed"
BAD_MD5 = "bad_content_md5"
CORRUPT = "corrupt_body"
EXPIRE = "expire_token"
STALL = "stall"
DANGLING = "dangling_page"


@dataclass(frozen=True)
class Injection:
    latency: float = 0.0
    action: str | None = None
    status: int | None = None
    chunk_delay: float = 0.0


class FaultDecider:
    """Remembers attempts per URL and decides, per request, which fault (if any) to inject."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self.faulted: dict[str, int] = {}
        self.injected: dict[str, int] = {}

    def reset(self) -> None:
        self.attempts.clear()
        self.faulted.clear()
        self.injected.clear()

    def decide(self, plan: FaultPlan, endpoint: str, url: str, *, has_token: bool) -> Injection:
        f = plan.for_endpoint(endpoint)
        attempt = self.attempts.get(url, 0)
        self.attempts[url] = attempt + 1
        latency = 0.0
        if f.latency is not None:
            lo, hi = f.latency
            latency = lo + (hi - lo) * draw(plan.seed, "latency", url, attempt)
        action: str | None = None
        status: int | None = None
        if attempt < f.fail_first:
            action = ERROR
            status = f.error_statuses[attempt % len(f.error_statuses)]
        else:
            capped = (
                plan.max_faults_per_url is not None
                and self.faulted.get(url, 0) >= plan.max_faults_per_url
            )
            is_file = endpoint == "files.content"
            candidates: list[tuple[str, float]] = [
                (RESET, f.reset_rate),
                (ERROR, f.error_rate),
                (TRUNCATE, f.truncate_rate),
                (STALL, f.stall_rate),
            ]
            if not is_file:
                candidates.append((MALFORMED, f.malformed_rate))
                candidates.append((DANGLING, f.dangling_page_rate))
            if endpoint == "documents.metadata":
                candidates.append((BAD_MD5, f.bad_content_md5_rate))
            elif is_file:  # body faults mean nothing on JSON endpoints
                candidates += [(BAD_MD5, f.bad_content_md5_rate), (CORRUPT, f.corrupt_body_rate)]
            if has_token:
                candidates.append((EXPIRE, f.expire_token_rate))
            for kind, rate in candidates if not capped else ():
                if rate > 0 and draw(plan.seed, kind, url, attempt) < rate:
                    action = kind
                    break
            if action == ERROR:
                pick = int(draw(plan.seed, "status", url, attempt) * len(f.error_statuses))
                status = f.error_statuses[pick]
            if action is not None:
                self.faulted[url] = self.faulted.get(url, 0) + 1
        if action == STALL:
            latency += f.stall_seconds
        if action is not None:
            self.injected[action] = self.injected.get(action, 0) + 1
        return Injection(latency, action, status, f.chunk_delay)
