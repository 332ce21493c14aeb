"""Settings: defaults, then the TOML file, then the environment, then flags (flags win).

Everything is validated here, before anything touches the network or the
disk, so that a bad value ends the run with a message naming it and nothing
written. The access key is read from the environment or from a key file the
config names, never from the TOML itself, and never appears in ``repr``.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.canonical import canonical_json
from crawler.errors import UsageError

DEFAULT_BASE_URL = "https://api.anthropic.com"
# Every default, once: Settings, the API client and the retry policy all use these.
DEFAULT_RATE = 4.0  # requests per second: the API's documented budget
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0  # per socket read, so per chunk for streamed bodies
DEFAULT_TOTAL_TIMEOUT = 300.0  # whole JSON request; downloads have none
DEFAULT_MAX_JSON_BYTES = 64 * 1024 * 1024
DEFAULT_BACKOFF_BASE = 1.0  # first retry wait without retry-after; doubles up to the cap
DEFAULT_BACKOFF_CAP = 60.0
KEY_ENV_VARS = ("ANTHROPIC_COMPLIANCE_ACCESS_KEY", "ANTHROPIC_COMPLIANCE_API_KEY")
MAX_RATE = 1000.0
MAX_CONCURRENCY = 256

# The TOML schema: section -> {key: type}. Anything else is an error, so a typo
# cannot silently fall back to a default.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "api": {
        "base_url": str,
        "key_file": str,
        "rate": (int, float),
        "max_attempts": int,
        "connect_timeout": (int, float),
        "read_timeout": (int, float),
        "max_json_bytes": int,
        "backoff_base": (int, float),
        "backoff_cap": (int, float),
    },
    "archive": {"path": str},
    "crawl": {
        "concurrency": int,
        "files": bool,
        "document_metadata": bool,
        "incremental": bool,
        "refresh_collaborators": bool,
        "require_feed": bool,
        "feed_settle_seconds": (int, float),
        "feed_overlap_seconds": (int, float),
    },
    "filters": {
        "organization_ids": list,
        "user_ids": list,
        "since": str,
        "until": str,
        "updated_since": str,
        "updated_until": str,
    },
    "output": {"log_format": str, "quiet": bool},
}
_SECRET_KEYS = {"key", "api_key", "access_key", "secret"}


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
        if self.created_at_gte:
            q.append(("created_at.gte", self.created_at_gte))
        if self.created_at_lt:
            q.append(("created_at.lt", self.created_at_lt))
        if self.updated_at_gte:
            q.append(("updated_at.gte", self.updated_at_gte))
        if self.updated_at_lt:
            q.append(("updated_at.lt", self.updated_at_lt))
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
    archive: Path = Path("archive")
    base_url: str = DEFAULT_BASE_URL
    api_key: str = field(default="", repr=False)
    key_source: str = ""  # where the key came from (an env var name or "key_file"), never the key
    rate: float = DEFAULT_RATE  # 0 lifts the limit (benchmarks only)
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
    require_feed: bool = False  # a key without read:compliance_activities is an error (exit 2)
    feed_settle_seconds: float = 60.0  # the feed window ends this far in the past (API.md)
    feed_overlap_seconds: float = 3600.0  # re-read behind the last window: late events
    restart: bool = False
    log_format: str = "text"
    quiet: bool = False

    def public(self) -> dict[str, Any]:
        """Every setting except the key: what a manifest records."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "api_key":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Filters):
                value = value.to_json()
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


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))


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


def load_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None
    for section, body in data.items():
        if section not in _SCHEMA:
            raise UsageError(f"config file {path}: unknown section [{section}]")
        if not isinstance(body, dict):
            raise UsageError(f"config file {path}: {section} must be a table [{section}]")
        for key, value in body.items():
            if key in _SECRET_KEYS:
                raise UsageError(
                    f"config file {path}: [{section}] {key}: the access key must not be stored "
                    f"in the config file; set {KEY_ENV_VARS[0]} or name a file with [api] key_file"
                )
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise UsageError(f"config file {path}: unknown key [{section}] {key}")
            if isinstance(value, bool) and expected is not bool and bool not in _as_tuple(expected):
                raise UsageError(f"config file {path}: [{section}] {key} must not be a boolean")
            if not isinstance(value, expected):
                names = "/".join(t.__name__ for t in _as_tuple(expected))
                raise UsageError(
                    f"config file {path}: [{section}] {key} must be {names}, "
                    f"got {type(value).__name__}"
                )
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise UsageError(f"config file {path}: [{section}] {key} must be a list of strings")
    return data


def _as_tuple(t: type | tuple[type, ...]) -> tuple[type, ...]:
    return t if isinstance(t, tuple) else (t,)


def read_key(env: Mapping[str, str], key_file: str | None) -> tuple[str, str]:
    """The access key and where it came from. The environment wins over the key file."""
    for name in KEY_ENV_VARS:
        value = env.get(name, "").strip()
        if value:
            return _check_key(value, name), name
    if key_file:
        path = Path(key_file).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read the key file {path}: {reason}") from None
        if not value:
            raise UsageError(f"the key file {path} is empty")
        return _check_key(value, f"key file {path}"), "key_file"
    raise UsageError(
        f"no access key: set {KEY_ENV_VARS[0]} (or the older {KEY_ENV_VARS[1]}), "
        "or name a file holding it with [api] key_file in the config"
    )


def _check_key(value: str, source: str) -> str:
    if any(c.isspace() for c in value) or not value.isascii() or len(value) > 512:
        # Never echo the value: it is a secret even when malformed.
        raise UsageError(f"the access key from {source} is malformed (spaces or non-ASCII)")
    return value


# -- building Settings ----------------------------------------------------------------------


def add_archive_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument("--archive", type=Path, metavar="DIR", help="archive directory")


def add_crawl_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the commands that talk to the API."""
    add_archive_argument(parser)
    parser.add_argument("--base-url", metavar="URL", help=f"API host (default {DEFAULT_BASE_URL})")
    parser.add_argument(
        "--rate", type=float, metavar="R", help=f"requests per second (default {DEFAULT_RATE:g})"
    )
    parser.add_argument("--log-format", choices=["text", "json"], help="log line format")
    parser.add_argument(
        "--quiet", action="store_true", default=None, help="only errors and the summary"
    )


def archive_path_from(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Path:
    """The archive directory for the offline commands: --archive, then env, then config."""
    env = os.environ if env is None else env
    if getattr(args, "archive", None):
        return Path(args.archive)
    if env.get("CRAWLER_ARCHIVE"):
        return Path(env["CRAWLER_ARCHIVE"])
    if getattr(args, "config", None):
        data = load_toml(Path(args.config))
        path = data.get("archive", {}).get("path")
        if path:
            return Path(path).expanduser()
    raise UsageError("no archive given: pass --archive DIR or set [archive] path in --config")


def build_settings(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, *, need_key: bool = True
) -> Settings:
    env = os.environ if env is None else env
    s = Settings()
    data: dict[str, Any] = load_toml(Path(args.config)) if getattr(args, "config", None) else {}
    api, arc, crawl = data.get("api", {}), data.get("archive", {}), data.get("crawl", {})
    flt, out = data.get("filters", {}), data.get("output", {})

    def pick(flag: str, env_name: str | None, toml_value: Any, default: Any) -> Any:
        value = getattr(args, flag, None)
        if value is not None:
            return value
        if env_name and env.get(env_name):
            return env[env_name]
        return default if toml_value is None else toml_value

    base_url = check_base_url(
        str(pick("base_url", "CRAWLER_BASE_URL", api.get("base_url"), s.base_url))
    )
    archive = Path(str(pick("archive", "CRAWLER_ARCHIVE", arc.get("path"), s.archive)))
    rate = _number(pick("rate", "CRAWLER_RATE", api.get("rate"), s.rate), "rate")
    if not (0 <= rate <= MAX_RATE) or math.isnan(rate):
        raise UsageError(
            f"rate must be between 0 and {MAX_RATE:g} requests per second, got {rate:g}"
        )
    concurrency = int(
        _number(
            pick("concurrency", "CRAWLER_CONCURRENCY", crawl.get("concurrency"), s.concurrency),
            "concurrency",
        )
    )
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

    orgs = getattr(args, "org", None) or flt.get("organization_ids") or []
    users = getattr(args, "user", None) or flt.get("user_ids") or []
    since_raw = pick("since", None, flt.get("since"), None)
    until_raw = pick("until", None, flt.get("until"), None)
    since = parse_timestamp(since_raw, "--since") if since_raw else None
    until = parse_timestamp(until_raw, "--until") if until_raw else None
    if since and until and instant(since) >= instant(until):
        raise UsageError(f"--since {since} must be before --until {until}")
    upd_since_raw = pick("updated_since", None, flt.get("updated_since"), None)
    upd_until_raw = pick("updated_until", None, flt.get("updated_until"), None)
    upd_since = parse_timestamp(upd_since_raw, "--updated-since") if upd_since_raw else None
    upd_until = parse_timestamp(upd_until_raw, "--updated-until") if upd_until_raw else None
    if upd_since and upd_until and instant(upd_since) >= instant(upd_until):
        raise UsageError(f"--updated-since {upd_since} must be before --updated-until {upd_until}")
    filters = Filters(
        organization_ids=tuple(_check_id(o, "--org") for o in orgs),
        user_ids=tuple(_check_id(u, "--user") for u in users),
        created_at_gte=since,
        created_at_lt=until,
        updated_at_gte=upd_since,
        updated_at_lt=upd_until,
    )
    settle = _number(crawl.get("feed_settle_seconds", s.feed_settle_seconds), "feed_settle_seconds")
    overlap = _number(
        crawl.get("feed_overlap_seconds", s.feed_overlap_seconds), "feed_overlap_seconds"
    )
    if not (0 <= settle <= 86400 and 0 <= overlap <= 30 * 86400):
        raise UsageError(
            "[crawl] feed_settle_seconds must be 0..86400 and feed_overlap_seconds 0..2592000"
        )

    log_format = str(pick("log_format", None, out.get("log_format"), s.log_format))
    if log_format not in ("text", "json"):
        raise UsageError(f"[output] log_format must be 'text' or 'json', got {log_format!r}")

    api_key, key_source = ("", "")
    if need_key:
        api_key, key_source = read_key(env, api.get("key_file"))

    return replace(
        s,
        archive=archive,
        base_url=base_url,
        api_key=api_key,
        key_source=key_source,
        rate=rate,
        concurrency=concurrency,
        max_attempts=max_attempts,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_json_bytes=max_json_bytes,
        backoff_base=backoff_base,
        backoff_cap=backoff_cap,
        filters=filters,
        files=bool(pick("files", None, crawl.get("files"), s.files)),
        document_metadata=bool(
            pick("document_metadata", None, crawl.get("document_metadata"), s.document_metadata)
        ),
        incremental=bool(pick("incremental", None, crawl.get("incremental"), s.incremental)),
        refresh_collaborators=bool(
            pick(
                "refresh_collaborators",
                None,
                crawl.get("refresh_collaborators"),
                s.refresh_collaborators,
            )
        ),
        require_feed=bool(pick("require_feed", None, crawl.get("require_feed"), s.require_feed)),
        feed_settle_seconds=settle,
        feed_overlap_seconds=overlap,
        restart=bool(getattr(args, "restart", False)),
        log_format=log_format,
        quiet=bool(pick("quiet", None, out.get("quiet"), s.quiet)),
    )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise UsageError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number, got {value!r}") from None
