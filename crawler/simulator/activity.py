"""The Activity Feed's store: events, their opaque sortable ids, visibility lag, and paging.

Ids are ``activity_`` + 32 hex digits of a 128-bit number
``(created µs << 72) | (sequence << 32) | noise``: they sort (as strings) in
``created_at`` order, ties in recording order, so ``after_id`` is a position
in time, as the docs imply. An event recorded with a ``created_at`` behind
events already served (a late row) gets an id behind them too, so a reader
that only ever continues from its last ``after_id`` skips it, as it would live.

Visibility: an event becomes readable ``lag_i`` seconds after it was recorded
(wall clock), ``lag_i`` drawn from ``[0, lag]`` by the seed, in recording order.
Recording time rather than ``created_at`` is used so that data whose clock
runs ahead of the wall (large generated datasets) still becomes visible;
for events of "now" the two agree. ``advance(seconds)`` moves the visibility
clock forward so tests need not sleep.

No history is generated for the initial dataset (recording "begins when the
Compliance API is first enabled"): the feed holds what happens while the
simulator runs: mutations and every authenticated request.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from crawler.simulator.model import Json, Org, User
from crawler.simulator.timestamps import NS_PER_S, format_instant, now_ns

ID_PREFIX = "activity_"
_ID_CHARS = frozenset("0123456789abcdef")
ACCESSED = "compliance_api_accessed"
API_ACTOR: Json = {"type": "api_actor"}


def user_actor(user: User) -> Json:
    return {"type": "user_actor", "user_id": user.id, "email_address": user.email}


def encode_id(created_ns: int, seq: int, noise: int) -> str:
    n = ((created_ns // 1000) & ((1 << 56) - 1)) << 72 | (seq & ((1 << 40) - 1)) << 32 | noise
    return f"{ID_PREFIX}{n:032x}"


def is_activity_id(text: str) -> bool:
    body = text[len(ID_PREFIX) :]
    return text.startswith(ID_PREFIX) and len(body) == 32 and set(body) <= _ID_CHARS


@dataclass(slots=True)
class Activity:
    id: str
    created_at: str
    created_ns: int
    visible_ns: int
    type: str
    org: Org | None
    actor: Json
    fields: Json

    def render(self) -> Json:
        body: Json = {
            "id": self.id,
            "created_at": self.created_at,
            "organization_id": self.org.tagged_id if self.org is not None else None,
            "organization_uuid": self.org.uuid if self.org is not None else None,
            "actor": dict(self.actor),
            "type": self.type,
        }
        body.update(self.fields)
        body["sim_extra"] = {"region": "us"}
        return body

    def actor_id(self) -> str | None:
        value = self.actor.get("user_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class FeedQuery:
    """One feed request, parsed and validated (instants as ns)."""

    types: frozenset[str] = frozenset()
    exclude_types: frozenset[str] = frozenset()
    actor_ids: frozenset[str] = frozenset()
    organization_ids: frozenset[str] = frozenset()
    gte: int | None = None
    gt: int | None = None
    lte: int | None = None
    lt: int | None = None
    limit: int = 100
    after_id: str | None = None
    before_id: str | None = None
    descending: bool = True

    def matches(self, ev: Activity) -> bool:
        if self.types and ev.type not in self.types:
            return False
        if ev.type in self.exclude_types:
            return False
        if self.actor_ids and ev.actor_id() not in self.actor_ids:
            return False
        if self.organization_ids and (
            ev.org is None
            or (
                ev.org.tagged_id not in self.organization_ids
                and ev.org.uuid not in self.organization_ids
            )
        ):
            return False
        t = ev.created_ns
        return not (
            (self.gte is not None and t < self.gte)
            or (self.gt is not None and t <= self.gt)
            or (self.lte is not None and t > self.lte)
            or (self.lt is not None and t >= self.lt)
        )


# API.md: events are "queryable within about a minute of occurring".
DEFAULT_FEED_LAG = 60.0


@dataclass
class ActivityLog:
    """Every event recorded, sorted by id; the server reads it and mutations write it."""

    seed: int = 0
    lag: float = 0.0  # seconds: each event becomes visible within [0, lag] after recording
    offset_ns: int = 0  # added to the wall clock for visibility only (tests: ``advance``)
    events: list[Activity] = field(default_factory=list)
    _ids: list[str] = field(default_factory=list)
    _seq: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._rng.seed(f"activity:{self.seed}")

    def now_ns(self) -> int:
        return now_ns() + self.offset_ns

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of visibility lag pass without sleeping."""
        self.offset_ns += int(seconds * NS_PER_S)

    def settle(self) -> None:
        """Let the whole lag pass: every event recorded so far is visible."""
        self.advance(self.lag)

    def record(
        self,
        type_: str,
        created_ns: int,
        org: Org | None,
        actor: Json,
        fields: Json | None = None,
    ) -> str:
        self._seq += 1
        seq = self._seq
        created_ns -= created_ns % 1000  # the served text keeps microseconds
        noise = self._rng.getrandbits(32)
        lag_ns = int(self.lag * self._rng.random() * NS_PER_S)
        ev = Activity(
            id=encode_id(created_ns, seq, noise),
            created_at=format_instant(created_ns, 1 + seq % 2),
            created_ns=created_ns,
            visible_ns=now_ns() + lag_ns,
            type=type_,
            org=org,
            actor=actor,
            fields=dict(fields or {}),
        )
        i = bisect_right(self._ids, ev.id)
        self._ids.insert(i, ev.id)
        self.events.insert(i, ev)
        return ev.id

    def accessed(self, request_id: str, method: str, status: int, url: str) -> str:
        """The ``compliance_api_accessed`` event of one served request (no organisation)."""
        fields = {
            "request_id": request_id,
            "request_method": method,
            "status_code": status,
            "url": url,
        }
        return self.record(ACCESSED, now_ns(), None, API_ACTOR, fields)

    # -- reading -----------------------------------------------------------------------------

    def visible(self) -> Iterator[Activity]:
        now = self.now_ns()
        return (e for e in self.events if e.visible_ns <= now)

    def rendered(
        self, types: Iterable[str] | None = None, *, visible_only: bool = False
    ) -> list[Json]:
        """Ground truth: events (oldest first), optionally only some types or the visible ones."""
        wanted = set(types) if types is not None else None
        source = self.visible() if visible_only else iter(self.events)
        return [e.render() for e in source if wanted is None or e.type in wanted]

    def get(self, activity_id: str) -> Activity | None:
        i = bisect_left(self._ids, activity_id)
        if i < len(self._ids) and self._ids[i] == activity_id:
            return self.events[i]
        return None

    def matching(self, q: FeedQuery) -> int:
        """Visible events a query matches (its bounds and filters; the cursor ignored)."""
        now = self.now_ns()
        return sum(1 for e in self.events if e.visible_ns <= now and q.matches(e))

    def pages(self, q: FeedQuery) -> int:
        """Requests a walk from the start to the end takes at ``q.limit``: never fewer than one."""
        return max(1, -(-self.matching(q) // q.limit))

    def projects_touched(self, activity_ids: Iterable[str]) -> set[str]:
        """Projects these events name: ``claude_project_id``, or a ``claude_proj_`` resource."""
        out: set[str] = set()
        for aid in activity_ids:
            ev = self.get(aid)
            if ev is None:
                continue
            pid = ev.fields.get("claude_project_id") or ev.fields.get("resource_id")
            if isinstance(pid, str) and pid.startswith("claude_proj_"):
                out.add(pid)
        return out

    def page(self, q: FeedQuery) -> Json:
        """One page of the feed, with the documented ``after_id``/``before_id`` semantics.

        ``after_id`` continues in the chosen order; ``before_id`` returns the ``limit``
        events nearest before it in that order (still listed in that order), and
        ``has_more`` says whether more lie further in the direction walked.
        """
        now = self.now_ns()
        toward_new = not q.descending
        if q.before_id is not None:
            toward_new = not toward_new
            cursor: str | None = q.before_id
        else:
            cursor = q.after_id
        if toward_new:
            start = 0 if cursor is None else bisect_right(self._ids, cursor)
            indices: Iterable[int] = range(start, len(self.events))
        else:
            start = len(self.events) if cursor is None else bisect_left(self._ids, cursor)
            indices = range(start - 1, -1, -1)
        got: list[Activity] = []
        more = False
        for i in indices:
            ev = self.events[i]
            if ev.visible_ns > now or not q.matches(ev):
                continue
            if len(got) == q.limit:
                more = True
                break
            got.append(ev)
        if q.before_id is not None:
            got.reverse()
        data = [e.render() for e in got]
        return {
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }
