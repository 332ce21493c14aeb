"""The figures the operator reads: sizes, durations, the pace, the end-of-run summary.

Plain functions of numbers and the manifest (no state), shared by the live
progress (:mod:`crawler.progress`) and the summary printed at the end.
"""

from __future__ import annotations

from typing import Any

__all__ = ["human_bytes", "human_duration", "pace_line", "summary"]


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def human_duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def pace_line(requests: int, elapsed: float, rate: float) -> str:
    """A run against the budget's floor: elapsed ÷ (requests ÷ rate); 1.00x is perfect."""
    head = f"{requests} in {human_duration(elapsed)} this run"
    if rate <= 0:
        return f"{head} (rate unlimited: no floor)"
    floor = requests / rate
    if floor <= 0:
        return f"{head} (no requests: no floor)"
    return (
        f"{head}; the floor at {rate:g} req/s is {human_duration(floor)}: "
        f"{elapsed / floor:.2f}x the floor"
    )


def _feed_line(feed: Any) -> str | None:
    """One line on what the activity feed did for this snapshot."""
    if not isinstance(feed, dict):
        return None
    status = feed.get("status")
    if status == "read":
        window = feed.get("window") or {}
        events = feed.get("events") or {}
        return (
            f"read {window.get('created_at_gte')} .. {window.get('created_at_lt')}: "
            f"{events.get('read', 0)} events ({events.get('acted', 0)} new), "
            f"{feed.get('projects', 0)} projects named, {len(feed.get('pages') or [])} page(s)"
        )
    if status == "unavailable":
        return f"unavailable: {feed.get('reason')}"
    if status == "no_position":
        return f"no usable position ({feed.get('reason')}): every project fetched"
    return None


def summary(manifest: dict[str, Any], archive: str, *, pace: str | None = None) -> str:
    """The final report: what was collected, what it cost, and what failed."""
    c = manifest["counts"]
    r = manifest["requests"]
    lines = [
        f"snapshot {manifest['snapshot_id']}: {manifest['status']}",
        f"  projects   {c['projects']} (done {c['done']}, carried {c['carried']}, gone {c['gone']}, "
        f"partial {c['partial']}, failed {c['failed']})",
        f"  documents  {c['documents']}   files {c['files']}   collaborators {c['collaborators']}   "
        f"bodies {human_bytes(c['bytes'])}",
        f"  requests   {r['total']} (retries {r['retries']}, 429s {r['rate_limited']}) over "
        f"{len(manifest['runs'])} run(s)",
    ]
    if pace:
        lines.append(f"  pace       {pace}")
    feed = _feed_line(manifest.get("feed"))
    if feed:
        lines.append(f"  feed       {feed}")
    lines.append(f"  archive    {archive}")
    failures = manifest.get("failures") or []
    if failures:
        lines.append(f"  failures   {len(failures)} (a rerun with the same filters retries them):")
        for f in failures[:20]:
            rid = f" request-id {f['request_id']}" if f.get("request_id") else ""
            lines.append(
                f"    - {f['kind']} {f.get('item_id') or ''} of {f.get('project_id')}: {f['reason']}{rid}"
            )
        if len(failures) > 20:
            lines.append(f"    ... and {len(failures) - 20} more in the manifest")
    return "\n".join(lines)
