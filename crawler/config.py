"""Settings: defaults, then the TOML file, then the environment, then flags (flags win).

Everything is validated here, before anything touches the network or the disk, so a bad
value ends the run with a message naming it and nothing written. The access key is read
from the environment or a key file the config names, never from the TOML, nor ``repr``.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.archive.store.location import ArchiveLocation, S3Location
from crawler.canonical import canonical_json, parse_instant
from crawler.config_archive import Picker as Picker
from crawler.config_archive import add_archive_argument as add_archive_argument
from crawler.config_archive import archive_location
from crawler.config_archive import archive_path_from as archive_path_from
from crawler.config_sources import load_toml, read_key, signing_key_path
from crawler.errors import UsageError

DEFAULT_BASE_URL = "https://api.anthropic.com"
# Every default, once: Settings, the API client and the retry policy all use these.
DEFAULT_RATE = 4.0  # requests per second: the API's documented budget
DEFAULT_RATE_RESERVE = 0.2  # --rate auto leaves this share of the server's budget to others
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0  # per socket read, so per chunk for streamed bodies
DEFAULT_TOTAL_TIMEOUT = 300.0  # whole JSON request; downloads have none
DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024
DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_CAP = 1.0, 60.0  # no retry-after: doubles to the cap
DEFAULT_FEED_SETTLE_SECONDS = 60.0  # API.md: feed windows end at least a minute in the past
DEFAULT_FEED_OVERLAP_SECONDS = 3600.0  # re-read behind the last window: late events
MAX_RATE = 1000.0
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class Filters:
    """What the project walk asks the API for; also what resume matches on."""

    organization_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    created_at_gte: str | None = None  # --since, inclusive
    created_at_lt: str | None = None  # --until, exclusive: windows tile without gaps
    updated_at_gte: str | None = None  # --updated-since, inclusive
    updated_at_lt: str | None = None  # --updated-until, exclusive

    def query(self) -> list[tuple[str, str]]:
        q = [("organization_ids[]", o) for o in self.organization_ids]
        q += [("user_ids[]", u) for u in self.user_ids]
        for name, value in (
            ("created_at.gte", self.created_at_gte),
            ("created_at.lt", self.created_at_lt),
            ("updated_at.gte", self.updated_at_gte),
            ("updated_at.lt", self.updated_at_lt),
        ):
            if value:
                q.append((name, value))
        return q

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "organization_ids": list(self.organization_ids),
            "user_ids": list(self.user_ids),
            "created_at_gte": self.created_at_gte,
            "created_at_lt": self.created_at_lt,
        }
        # Only when set: the filter key of every snapshot taken without them is unchanged.
        if self.updated_at_gte:
            out["updated_at_gte"] = self.updated_at_gte
        if self.updated_at_lt:
            out["updated_at_lt"] = self.updated_at_lt
        return out

    def key(self) -> str:
        """Canonical form: two runs with the same filters continue one snapshot."""
        canon = self.to_json()
        canon["organization_ids"] = sorted(set(self.organization_ids))
        canon["user_ids"] = sorted(set(self.user_ids))
        return canonical_json(canon).decode()


@dataclass(frozen=True)
class Settings:
    archive: ArchiveLocation = Path("archive")
    base_url: str = DEFAULT_BASE_URL
    api_key: str = field(default="", repr=False)
    key_source: str = ""  # where the key came from (an env var name or "key_file"), never the key
    rate: float = DEFAULT_RATE  # 0 lifts the limit (benchmarks only); with rate_auto: the start
    rate_auto: bool = False  # --rate auto: the server's budget less the reserve
    rate_reserve: float = DEFAULT_RATE_RESERVE
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    filters: Filters = Filters()
    files: bool = True
    document_metadata: bool = False
    incremental: bool = False
    refresh_collaborators: bool = False
    require_feed: bool = False  # a key without read:compliance_activities: exit 2
    feed_settle_seconds: float = DEFAULT_FEED_SETTLE_SECONDS
    feed_overlap_seconds: float = DEFAULT_FEED_OVERLAP_SECONDS
    restart: bool = False
    log_format: str = "text"
    quiet: bool = False
    signing_key_file: Path | None = None  # the seal's private key: its path, never in a manifest

    def public(self) -> dict[str, Any]:
        """Every setting except the key: what a manifest records."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("api_key", "signing_key_file"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, Filters):
                value = value.to_json()
            elif isinstance(value, S3Location):
                # The bucket's URL (never a credential) and the lock its objects get.
                out["object_lock"] = value.policy.mode
                out["retain_seconds"] = value.policy.retain_seconds
                value = str(value)
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out


# -- parsing helpers ------------------------------------------------------------------------


def parse_timestamp(value: str, what: str) -> str:
    """Accept RFC 3339 with a zone, or a bare date meaning midnight UTC.

    The API rejects a bare date, so we expand it here rather than send it.
    """
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise UsageError(f"{what}: {value!r} is not a valid date") from None
        return f"{text}T00:00:00Z"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{what}: {value!r} is not an RFC 3339 timestamp (e.g. 2025-01-31T00:00:00Z)"
        ) from None
    if "T" not in text.upper() or parsed.tzinfo is None:
        raise UsageError(f"{what}: {value!r} needs a time and a zone (e.g. 2025-01-31T00:00:00Z)")
    return text


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"base URL {url!r} must be an http(s) URL such as {DEFAULT_BASE_URL}")
    if parts.username or parts.password:
        raise UsageError("base URL must not carry credentials")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError(
            f"base URL {url!r} is plain http to a non-loopback host; "
            "use https (plain http is allowed only for the local simulator on 127.0.0.1)"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_id(value: str, what: str) -> str:
    text = value.strip()
    if not text or any(c.isspace() for c in text) or len(text) > 200:
        raise UsageError(f"{what}: {value!r} is not a valid id")
    return text


# -- building Settings ----------------------------------------------------------------------


def add_crawl_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the commands that talk to the API."""
    add_archive_argument(parser)
    parser.add_argument("--base-url", metavar="URL", help=f"API host (default {DEFAULT_BASE_URL})")
    parser.add_argument(
        "--rate",
        metavar="R",
        help=f"requests per second, a hard ceiling (default {DEFAULT_RATE:g}); 'auto': the"
        " server's budget less --rate-reserve",
    )
    parser.add_argument(
        "--rate-reserve",
        type=float,
        metavar="F",
        help="with --rate auto, the share of the server's budget left to other consumers"
        f" (default {DEFAULT_RATE_RESERVE:g})",
    )
    parser.add_argument("--log-format", choices=["text", "json"], help="log line format")
    parser.add_argument(
        "--quiet", action="store_true", default=None, help="only errors and the summary"
    )


def build_settings(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, *, need_key: bool = True
) -> Settings:
    """Defaults < TOML < environment < flags, every value checked once, here."""
    env = os.environ if env is None else env
    s = Settings()
    data: dict[str, Any] = load_toml(Path(args.config)) if getattr(args, "config", None) else {}
    api, arc, crawl = data.get("api", {}), data.get("archive", {}), data.get("crawl", {})
    flt, out = data.get("filters", {}), data.get("output", {})
    pick = Picker(args, env)
    base_url = check_base_url(
        str(pick("base_url", "CRAWLER_BASE_URL", api.get("base_url"), s.base_url))
    )
    archive = archive_location(args, env, arc, Path("archive")) or s.archive
    requests = _request_settings(pick, api, crawl, s)
    filters = _filters(args, pick, flt)
    log_format = str(pick("log_format", None, out.get("log_format"), s.log_format))
    if log_format not in ("text", "json"):
        raise UsageError(f"[output] log_format must be 'text' or 'json', got {log_format!r}")
    api_key, key_source = read_key(env, api.get("key_file")) if need_key else ("", "")
    return replace(
        s,
        archive=archive,
        base_url=base_url,
        api_key=api_key,
        key_source=key_source,
        **requests,
        filters=filters,
        **{
            name: bool(pick(name, None, crawl.get(name), getattr(s, name)))
            for name in (
                "files",
                "document_metadata",
                "incremental",
                "refresh_collaborators",
                "require_feed",
            )
        },
        **_feed_settings(crawl, s),
        restart=bool(getattr(args, "restart", False)),
        log_format=log_format,
        quiet=bool(pick("quiet", None, out.get("quiet"), s.quiet)),
        signing_key_file=signing_key_path(env, arc),
    )


def _request_settings(
    pick: Picker, api: dict[str, Any], crawl: dict[str, Any], s: Settings
) -> dict[str, Any]:
    """Rate, concurrency, attempts, timeouts, size limit and backoff, each checked."""
    rate, rate_auto = _rate(pick("rate", "CRAWLER_RATE", api.get("rate"), s.rate))
    raw = pick("rate_reserve", "CRAWLER_RATE_RESERVE", api.get("rate_reserve"), s.rate_reserve)
    rate_reserve = _number(raw, "rate reserve")
    if not 0 <= rate_reserve < 1:
        raise UsageError(
            f"rate reserve must be a share of the budget, at least 0 and below 1, got {raw!r}"
        )
    raw = pick("concurrency", "CRAWLER_CONCURRENCY", crawl.get("concurrency"), s.concurrency)
    concurrency = int(_number(raw, "concurrency"))
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    max_attempts = int(api.get("max_attempts", s.max_attempts))
    if not 1 <= max_attempts <= 100:
        raise UsageError(f"[api] max_attempts must be between 1 and 100, got {max_attempts}")
    connect_timeout = float(api.get("connect_timeout", s.connect_timeout))
    read_timeout = float(api.get("read_timeout", s.read_timeout))
    for name, t in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
        if not 0 < t <= 3600:
            raise UsageError(f"[api] {name} must be between 0 and 3600 seconds, got {t:g}")
    max_json_bytes = int(api.get("max_json_bytes", s.max_json_bytes))
    if max_json_bytes < 1024:
        raise UsageError(f"[api] max_json_bytes must be at least 1024, got {max_json_bytes}")
    backoff_base = float(api.get("backoff_base", s.backoff_base))
    backoff_cap = float(api.get("backoff_cap", s.backoff_cap))
    if not 0 < backoff_base <= backoff_cap <= 3600:
        raise UsageError(
            f"[api] backoff_base ({backoff_base:g}) and backoff_cap ({backoff_cap:g}) must satisfy "
            "0 < backoff_base <= backoff_cap <= 3600"
        )
    return {
        "rate": rate,
        "rate_auto": rate_auto,
        "rate_reserve": rate_reserve,
        "concurrency": concurrency,
        "max_attempts": max_attempts,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
        "max_json_bytes": max_json_bytes,
        "backoff_base": backoff_base,
        "backoff_cap": backoff_cap,
    }


def _rate(value: Any) -> tuple[float, bool]:
    """``--rate``/``rate``: requests per second, or ``auto`` (then the default is the start)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return DEFAULT_RATE, True
    rate = _number(value, "rate (requests per second, or 'auto')")
    if not (0 <= rate <= MAX_RATE) or math.isnan(rate):
        raise UsageError(
            f"rate must be between 0 and {MAX_RATE:g} requests per second (or 'auto'), got {rate:g}"
        )
    return rate, False


def _feed_settings(crawl: dict[str, Any], s: Settings) -> dict[str, Any]:
    settle = _number(crawl.get("feed_settle_seconds", s.feed_settle_seconds), "feed_settle_seconds")
    overlap = _number(
        crawl.get("feed_overlap_seconds", s.feed_overlap_seconds), "feed_overlap_seconds"
    )
    if not (0 <= settle <= 86400 and 0 <= overlap <= 30 * 86400):
        raise UsageError(
            "[crawl] feed_settle_seconds must be 0..86400 and feed_overlap_seconds 0..2592000"
        )
    return {"feed_settle_seconds": settle, "feed_overlap_seconds": overlap}


def time_window(pick: Picker, flt: dict[str, Any], name: str) -> tuple[str | None, str | None]:
    """A --NAME-since / --NAME-until pair (created_at: --since / --until), checked."""
    flag = "" if name == "created" else f"{name}_"
    shown = "--" if name == "created" else f"--{name}-"
    lo_raw = pick(f"{flag}since", None, flt.get(f"{flag}since"), None)
    hi_raw = pick(f"{flag}until", None, flt.get(f"{flag}until"), None)
    lo = parse_timestamp(lo_raw, f"{shown}since") if lo_raw else None
    hi = parse_timestamp(hi_raw, f"{shown}until") if hi_raw else None
    if lo and hi and parse_instant(lo) >= parse_instant(hi):
        raise UsageError(f"{shown}since {lo} must be before {shown}until {hi}")
    return lo, hi


def _filters(args: argparse.Namespace, pick: Picker, flt: dict[str, Any]) -> Filters:
    orgs = getattr(args, "org", None) or flt.get("organization_ids") or []
    users = getattr(args, "user", None) or flt.get("user_ids") or []
    since, until = time_window(pick, flt, "created")
    upd_since, upd_until = time_window(pick, flt, "updated")
    return Filters(
        organization_ids=tuple(_check_id(o, "--org") for o in orgs),
        user_ids=tuple(_check_id(u, "--user") for u in users),
        created_at_gte=since,
        created_at_lt=until,
        updated_at_gte=upd_since,
        updated_at_lt=upd_until,
    )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number, got {value!r}") from None
