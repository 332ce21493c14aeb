"""``crawler watch``'s own settings: flags < ``[watch]`` in the TOML, each checked here.

Durations are written as people write them (``90s``, ``5m``, ``24h``, ``1d``; a bare
number is seconds); ``--verify-slice`` as a share (``1%`` or ``0.01``).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.config import Picker
from crawler.errors import UsageError

__all__ = [
    "DEFAULT_EVERY",
    "DEFAULT_FULL_EVERY",
    "DEFAULT_LOCK_WAIT",
    "WatchOptions",
    "check_ping_url",
    "parse_duration",
    "parse_listen",
    "parse_share",
    "watch_options",
]

DEFAULT_EVERY = 300.0
DEFAULT_FULL_EVERY = 86400.0
DEFAULT_LOCK_WAIT = 600.0  # minutes, not seconds: a nightly run or a retention apply may hold it
DEFAULT_VERIFY_SLICE = 0.01  # every blob re-read within 100 cycles
DEFAULT_BACKOFF = 10.0  # a failed cycle retries after this, doubling up to ``every``
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")


@dataclass(frozen=True)
class WatchOptions:
    every: float = DEFAULT_EVERY
    full_every: float = DEFAULT_FULL_EVERY
    lock_wait: float = DEFAULT_LOCK_WAIT
    verify_slice: float = DEFAULT_VERIFY_SLICE
    backoff: float = DEFAULT_BACKOFF
    metrics: tuple[str, int] | None = None  # host, port of the /metrics listener
    metrics_file: Path | None = None  # textfile-collector output, rewritten each cycle
    ping_url: str | None = None  # healthchecks.io-style check URL
    cycles: int | None = None  # stop after this many (tests, benchmarks); None: forever

    def public(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "full_every": self.full_every,
            "lock_wait": self.lock_wait,
            "verify_slice": self.verify_slice,
        }


def parse_duration(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{what} must be a duration such as 30s, 5m or 24h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.fullmatch(str(value).strip())
        if m is None:
            raise UsageError(f"{what} must be a duration such as 30s, 5m or 24h, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not 0 <= seconds <= 366 * 86400:
        raise UsageError(f"{what} must be between 0 and a year, got {value!r}")
    return seconds


def parse_share(value: Any, what: str) -> float:
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"{what} must be a share such as 1% or 0.01, got {value!r}") from None
    if not 0 <= share <= 1:
        raise UsageError(f"{what} must be between 0% and 100%, got {value!r}")
    return share


def parse_listen(value: str, what: str = "--metrics") -> tuple[str, int]:
    """``HOST:PORT`` or ``:PORT`` (loopback); port 0 picks a free one (tests)."""
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{what} must be HOST:PORT such as 127.0.0.1:9464, got {value!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def check_ping_url(value: str | None) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--ping-url must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def watch_options(args: argparse.Namespace, toml: dict[str, Any]) -> WatchOptions:
    """Flags, then ``[watch]``, then the defaults."""
    pick = Picker(args, {})
    d = WatchOptions()
    every = parse_duration(pick("every", None, toml.get("every"), d.every), "--every")
    if every <= 0:
        raise UsageError("--every must be more than 0")
    full = parse_duration(
        pick("full_every", None, toml.get("full_every"), d.full_every), "--full-every"
    )
    metrics = pick("metrics", None, toml.get("metrics"), None)
    metrics_file = pick("metrics_file", None, toml.get("metrics_file"), None)
    return WatchOptions(
        every=every,
        full_every=full,
        lock_wait=parse_duration(
            pick("lock_wait", None, toml.get("lock_wait"), d.lock_wait), "--lock-wait"
        ),
        verify_slice=parse_share(
            pick("verify_slice", None, toml.get("verify_slice"), d.verify_slice), "--verify-slice"
        ),
        backoff=min(d.backoff, every),
        metrics=parse_listen(metrics) if metrics else None,
        metrics_file=Path(metrics_file) if metrics_file else None,
        ping_url=check_ping_url(pick("ping_url", None, toml.get("ping_url"), None)),
        cycles=getattr(args, "cycles", None),
    )
