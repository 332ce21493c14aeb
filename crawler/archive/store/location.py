"""Naming an archive: a directory, or ``s3://BUCKET/PREFIX`` with its endpoint and lock policy.

Parsed once here (flags, environment, TOML all come through), so that bad input is
refused before anything is opened: a URL without a bucket, a retention that cannot
be parsed, a lock mode that does not exist. Credentials never pass through here:
they come from the standard AWS chain, read by the S3 client itself.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from crawler.archive.store.base import LOCK_MODES, LockPolicy
from crawler.errors import UsageError

__all__ = ["ArchiveLocation", "S3Location", "default_cache_root", "parse_archive", "parse_retain"]

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_DURATION_RE = re.compile(r"\s*(\d+)\s*([smhdy])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}


@dataclass(frozen=True)
class S3Location:
    """An archive in a bucket; ``cache_dir`` holds its local SQLite cache."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    cache_root: Path | None = None
    policy: LockPolicy = field(default_factory=LockPolicy)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def __str__(self) -> str:
        return self.url

    @property
    def cache_dir(self) -> Path:
        """One directory per (endpoint, bucket, prefix): two archives never share a cache."""
        endpoint = self.endpoint or os.environ.get("AWS_ENDPOINT_URL", "")  # as the client does
        ident = f"{endpoint}\n{self.bucket}\n{self.prefix}".encode()
        root = self.cache_root or default_cache_root()
        return root / hashlib.sha256(ident).hexdigest()[:16]


ArchiveLocation = Path | S3Location


def default_cache_root(env: dict[str, str] | None = None) -> Path:
    """``CRAWLER_CACHE_DIR``, else ``$XDG_CACHE_HOME/crawler``, else ``~/.cache/crawler``."""
    e = os.environ if env is None else env
    if e.get("CRAWLER_CACHE_DIR"):
        return Path(e["CRAWLER_CACHE_DIR"]).expanduser()
    xdg = e.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "crawler"


def parse_archive(
    value: str | Path,
    *,
    endpoint: str | None = None,
    cache_root: Path | None = None,
    policy: LockPolicy | None = None,
) -> ArchiveLocation:
    """A directory as a Path; ``s3://BUCKET[/PREFIX]`` as an :class:`S3Location`."""
    text = str(value)
    if not text.lower().startswith("s3:"):
        if policy is not None and policy.active:
            raise UsageError(
                "--object-lock needs an archive in a bucket (--archive s3://BUCKET/PREFIX): "
                "a directory cannot be made write-once"
            )
        return Path(text).expanduser()
    if not text.lower().startswith("s3://"):
        raise UsageError(f"archive {text!r}: an S3 archive is named s3://BUCKET/PREFIX")
    bucket, _, prefix = text[5:].partition("/")
    if not bucket:
        raise UsageError(f"archive {text!r} names no bucket: use s3://BUCKET/PREFIX")
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket:
        raise UsageError(
            f"archive {text!r}: {bucket!r} is not a valid bucket name "
            "(3-63 lowercase letters, digits, dots and hyphens)"
        )
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UsageError(f"archive {text!r}: the prefix has an empty, '.' or '..' part")
    if endpoint is not None:
        _check_endpoint(endpoint)
    return S3Location(bucket, prefix, endpoint or None, cache_root, policy or LockPolicy())


def _check_endpoint(endpoint: str) -> None:
    if not re.fullmatch(r"https?://[^/\s@]+(/.*)?", endpoint):
        raise UsageError(
            f"S3 endpoint {endpoint!r} must be an http(s) URL such as https://s3.example.com "
            "(and carries no credentials)"
        )


def parse_retain(text: str | int | None) -> int:
    """``30s``, ``15m``, ``12h``, ``90d``, ``7y`` (a year: 365 days) -> seconds."""
    if text is None or text == "":
        return 0
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    m = _DURATION_RE.fullmatch(str(text))
    if not m or int(m.group(1)) == 0:
        raise UsageError(
            f"--retain {text!r} cannot be parsed: give a positive number and a unit, "
            "e.g. 30s, 15m, 12h, 90d or 7y"
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


def parse_policy(mode: str | None, retain: str | int | None) -> LockPolicy:
    """``--object-lock`` and ``--retain``, checked together."""
    mode = (mode or "off").lower()
    if mode not in LOCK_MODES:
        raise UsageError(f"--object-lock must be one of {', '.join(LOCK_MODES)}, not {mode!r}")
    seconds = parse_retain(retain)
    if mode != "off" and seconds == 0:
        raise UsageError(f"--object-lock {mode} needs --retain DURATION (e.g. 7y)")
    return LockPolicy(mode, seconds)
