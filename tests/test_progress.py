"""The progress estimate, driven by a fake clock: it must be honest, not just present."""

from __future__ import annotations

import io
import random
from typing import Any

import orjson
import pytest

from crawler.progress import Progress
from crawler.summary import human_duration, summary

RATE = 4.0


class FakeRun:
    """A crawl replayed at exactly RATE requests/s: list pages first, then projects in turn
    with ``concurrency`` of them in flight (round-robin, one request each per turn)."""

    def __init__(self, costs: list[int], *, concurrency: int = 4) -> None:
        self.costs = costs
        self.concurrency = concurrency
        self.now = 1000.0
        self.stats: dict[str, Any] = {"total": 0, "by_endpoint": {}}
        self.progress = Progress(
            lambda: self.stats, mode="log", stream=io.StringIO(), rate=RATE, clock=lambda: self.now
        )

    def request(self, endpoint: str) -> None:
        self.now += 1 / RATE
        self.stats["total"] += 1
        slot = self.stats["by_endpoint"].setdefault(endpoint, {})
        slot["200"] = slot.get("200", 0) + 1

    def total_requests(self) -> int:
        pages = -(-len(self.costs) // 100)
        return pages + sum(self.costs)

    def replay(self, on_request: Any) -> None:
        p = self.progress
        p.start("snap", resumed=False, incremental=False)
        for i in range(0, len(self.costs), 100):
            self.request("projects.list")
            p.listed(len(self.costs[i : i + 100]))
            on_request()
        p.listing_done(len(self.costs))
        pending = list(enumerate(self.costs))
        flight: dict[int, int] = {}
        while pending or flight:
            while pending and len(flight) < self.concurrency:
                idx, cost = pending.pop(0)
                flight[idx] = cost
                p.in_flight += 1
            for idx in list(flight):
                self.request("projects.detail")
                flight[idx] -= 1
                if flight[idx] == 0:
                    del flight[idx]
                    p.in_flight -= 1
                    p.project("done")
                on_request()


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_eta_is_within_ten_percent_of_the_remaining_work_past_ten_percent(concurrency: int) -> None:
    # Uneven projects (most small, some with many documents and pages), evenly mixed
    # through the list as in a real organisation: a shuffled deck of sizes, dealt again and again.
    rng = random.Random(15)
    deck = [3, 4, 4, 5, 6, 7, 9, 12]
    costs: list[int] = []
    while len(costs) < 600:
        rng.shuffle(deck)
        costs += deck
    run = FakeRun(costs, concurrency=concurrency)
    total = run.total_requests()
    checked = 0
    estimating_seen = False

    def check() -> None:
        nonlocal checked, estimating_seen
        est = run.progress.estimate()
        done = run.stats["total"]
        if est.eta_seconds is None:
            estimating_seen = True
            assert done <= 0.1 * total, f"still estimating at {done}/{total} requests"
            return
        true_left = (total - done) / RATE
        if done >= 0.1 * total and true_left > 0:
            # Past the first tenth the estimate is trusted: within 10 % of the truth. In the
            # last tenth a few projects are left and which ones (a big one or a small one)
            # decides more than any average can: there, within 1 % of the whole run.
            slack = max(0.1 * true_left, 0.01 * total / RATE)
            assert abs(est.eta_seconds - true_left) <= slack, (
                done,
                est.eta_seconds,
                true_left,
            )
            checked += 1

    run.replay(check)
    assert estimating_seen  # it said "estimating" before it had data
    assert checked > 0.8 * total
    assert run.progress.estimate().eta_seconds == 0.0


def test_eta_follows_the_rate_limit_not_the_machine() -> None:
    """Work known, clock faster than the limit (a burst): the ETA still divides by the rate."""
    now = [0.0]
    stats: dict[str, Any] = {"total": 0, "by_endpoint": {}}
    p = Progress(lambda: stats, mode="quiet", rate=RATE, clock=lambda: now[0])
    p.start("s", resumed=False, incremental=False)
    p.listed(100)
    p.listing_done(100)
    for done in range(1, 11):
        stats["total"] = 10 * done
        p.project("done")
    now[0] = 1.0  # 100 requests in one second: 100 req/s achieved, far above the limit
    est = p.estimate()
    assert est.requests_left == 900
    assert est.eta_seconds == pytest.approx(900 / RATE)
    # Held below the limit (a server pause): the achieved rate sets the pace.
    now[0] = 50.0
    assert p.estimate().eta_seconds == pytest.approx(900 / 2.0)


def test_estimating_until_the_walk_ends() -> None:
    stats: dict[str, Any] = {"total": 50, "by_endpoint": {"projects.list": {"200": 5}}}
    p = Progress(lambda: stats, mode="quiet", rate=RATE, clock=lambda: 10.0)
    p.listed(500)
    for _ in range(20):
        p.project("done")
    assert p.estimate().eta_seconds is None
    assert "listing projects: 500 found, 20 done" in p.line()
    assert "ETA estimating" in p.line()


def test_terminal_bar_fits_the_width_and_shows_the_estimate() -> None:
    now = [0.0]
    stats: dict[str, Any] = {"total": 0, "by_endpoint": {}}
    out = io.StringIO()
    p = Progress(lambda: stats, mode="tty", stream=out, rate=RATE, clock=lambda: now[0], width=80)
    p.listed(40)
    p.listing_done(40)
    for i in range(1, 21):
        stats["total"] = 5 * i
        now[0] = 5 * i / RATE
        p.project("done")
    p.tick()
    text = out.getvalue()
    assert text.startswith("\r")
    assert len(text) - 1 <= 79
    assert "█" * 12 + "░" * 12 + " 20/40  50%" in text and "ETA 25s" in text


def test_json_log_lines_carry_the_estimate_and_nothing_else() -> None:
    stats: dict[str, Any] = {"total": 12, "retries": 1, "rate_limited": 0, "by_endpoint": {}}
    out = io.StringIO()
    p = Progress(
        lambda: stats, mode="log", log_format="json", stream=out, rate=RATE, clock=lambda: 3.0
    )
    p.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = orjson.loads(lines[0])
    assert record["event"] == "progress"
    assert record["eta_seconds"] is None and record["listing"] is True
    assert record["rate_configured"] == RATE
    assert "ETA estimating" in record["message"]


def test_text_log_lines_carry_the_eta() -> None:
    stats: dict[str, Any] = {"total": 0, "by_endpoint": {}}
    out = io.StringIO()
    now = [0.0]
    p = Progress(lambda: stats, mode="log", stream=out, rate=RATE, clock=lambda: now[0])
    p.listed(10)
    p.listing_done(10)
    for i in range(1, 7):
        stats["total"] = 4 * i
        now[0] = i
        p.project("done")
    p.tick()
    assert "ETA 4s" in out.getvalue() and "(~16 left)" in out.getvalue()
    assert "crawler: projects 6/10  60% · ETA 4s" in out.getvalue()  # no bar glyphs in a log


def test_summary_names_the_pace_against_the_floor() -> None:
    stats = {"total": 400}
    now = [0.0]
    p = Progress(lambda: stats, mode="quiet", rate=RATE, clock=lambda: now[0])
    p.start("s", resumed=False, incremental=False)
    now[0] = 104.0
    assert p.pace() == "400 in 1m44s this run; the floor at 4 req/s is 1m40s: 1.04x the floor"
    manifest = {
        "snapshot_id": "s",
        "status": "complete",
        "counts": {
            k: 0
            for k in [
                "projects",
                "done",
                "carried",
                "gone",
                "partial",
                "failed",
                "documents",
                "files",
                "collaborators",
                "bytes",
            ]
        },
        "requests": {"total": 400, "retries": 0, "rate_limited": 0},
        "runs": [{}],
    }
    assert "  pace       400 in 1m44s" in summary(manifest, "a", pace=p.pace())
    assert "rate unlimited" in Progress(lambda: stats, rate=0).pace()


def test_human_duration() -> None:
    assert [human_duration(s) for s in (0, 59.4, 61, 3599, 7260)] == [
        "0s",
        "59s",
        "1m01s",
        "59m59s",
        "2h01m",
    ]
