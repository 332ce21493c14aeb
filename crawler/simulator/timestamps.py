"""RFC 3339 timestamps: strict parsing to an exact instant, and the forms the API sends.

The simulator keeps every timestamp as the exact string it serves and compares
instants as integer nanoseconds since the epoch, so ``...Z``, ``...123456Z`` and
``...+00:00`` spellings of one moment are equal and nothing is lost to float
rounding.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)

NS_PER_S = 1_000_000_000


class TimestampError(ValueError):
    """Not a full RFC 3339 date-time with a zone."""


def parse_instant(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 date-time; a bare date or no zone is an error."""
    m = _RFC3339.match(text)
    if m is None:
        raise TimestampError(f"not an RFC 3339 date-time with a zone: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = (m.group(7) or "").ljust(9, "0")
    if m.group(8):
        tz = UTC
    else:
        sign = 1 if m.group(9) == "+" else -1
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise TimestampError(f"bad zone offset: {text!r}")
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise TimestampError(f"bad date-time: {text!r}") from exc
    return int(dt.timestamp()) * NS_PER_S + int(frac)


def format_instant(ns: int, style: int = 0) -> str:
    """Render an instant in one of the spellings the live service uses.

    style 0: ``2025-06-01T10:00:00Z``; 1: ``...00.123456Z``; 2: ``...00.123456+00:00``;
    3: ``...00.123Z``. Sub-second digits beyond the style's precision are dropped,
    so generated data only uses instants the chosen style can express.
    """
    seconds, rem = divmod(ns, NS_PER_S)
    base = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    micros = rem // 1000
    if style == 0:
        return base + "Z"
    if style == 1:
        return f"{base}.{micros:06d}Z"
    if style == 2:
        return f"{base}.{micros:06d}+00:00"
    return f"{base}.{micros // 1000:03d}Z"


def now_ns() -> int:
    """Wall-clock now, in whole microseconds (what the styles can express)."""
    return int(datetime.now(UTC).timestamp() * 1_000_000) * 1000
