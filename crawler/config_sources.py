"""Where settings come from besides flags: the TOML config file and the access key.

The TOML is checked against a schema (an unknown section or key is an error,
so a typo cannot silently fall back to a default); the key is read from the
environment or from a key file the config names, never from the TOML itself,
and never echoed, even when malformed.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from crawler.errors import UsageError

__all__ = ["CREDENTIAL_NAME", "KEY_ENV_VARS", "did_you_mean", "load_toml", "read_key"]

KEY_ENV_VARS = ("ANTHROPIC_COMPLIANCE_ACCESS_KEY", "ANTHROPIC_COMPLIANCE_API_KEY")
# The credential's name under $CREDENTIALS_DIRECTORY (LoadCredential=, contrib/systemd).
CREDENTIAL_NAME = "compliance-access-key"


# The TOML schema: section -> {key: type}. Anything else is an error, so a typo
# cannot silently fall back to a default.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "api": {
        "base_url": str,
        "key_file": str,
        "rate": (int, float, str),
        "rate_reserve": (int, float),
        "max_attempts": int,
        "connect_timeout": (int, float),
        "read_timeout": (int, float),
        "max_json_bytes": int,
        "backoff_base": (int, float),
        "backoff_cap": (int, float),
    },
    "archive": {
        "path": str,
        "s3_endpoint": str,
        "cache_dir": str,
        "object_lock": str,
        "retain": str,
        "signing_key_file": str,
    },
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
    # crawler watch (crawler/watch/options.py): durations as "5m" or seconds.
    "watch": {
        "every": (int, float, str),
        "full_every": (int, float, str),
        "lock_wait": (int, float, str),
        "verify_slice": (int, float, str),
        "metrics": str,
        "metrics_file": str,
        "ping_url": str,
    },
}
_SECRET_KEYS = {"key", "api_key", "access_key", "secret"}


def did_you_mean(word: str, choices: Iterable[str], shown: str = "{}") -> str:
    """ "; did you mean X?" when one of ``choices`` is close to ``word``, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {shown.format(close[0])}?" if close else ""


def _unknown_key(section: str, key: str) -> str:
    """A close key in the same section, else the section the key belongs in, else any close key."""
    hint = did_you_mean(key, _SCHEMA[section], f"[{section}] {{}}")
    if hint:
        return hint
    homes = [s for s, keys in _SCHEMA.items() if key in keys]
    if homes:
        return f"; it belongs in [{homes[0]}]"
    return did_you_mean(key, [f"[{s}] {k}" for s, keys in _SCHEMA.items() for k in keys])


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
            hint = did_you_mean(section, _SCHEMA, "[{}]")
            raise UsageError(f"config file {path}: unknown section [{section}]{hint}")
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
                raise UsageError(
                    f"config file {path}: unknown key [{section}] {key}{_unknown_key(section, key)}"
                )
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
    creds = env.get("CREDENTIALS_DIRECTORY", "").strip()
    if not key_file and creds and (Path(creds) / CREDENTIAL_NAME).is_file():
        # systemd's LoadCredential=: the key never sits in the unit or the environment.
        key_file = str(Path(creds) / CREDENTIAL_NAME)
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
        "or name a file holding it with [api] key_file in the config (under systemd: "
        f"LoadCredential={CREDENTIAL_NAME}:FILE)"
    )


SIGNING_KEY_ENV = "CRAWLER_SIGNING_KEY_FILE"


def signing_key_path(env: Mapping[str, str], archive: Mapping[str, Any]) -> Path | None:
    """The seal's signing key file: the environment, then ``[archive] signing_key_file``."""
    value = env.get(SIGNING_KEY_ENV, "").strip() or archive.get("signing_key_file") or ""
    return Path(value).expanduser() if value else None


def _check_key(value: str, source: str) -> str:
    if any(c.isspace() for c in value) or not value.isascii() or len(value) > 512:
        # Never echo the value: it is a secret even when malformed.
        raise UsageError(f"the access key from {source} is malformed (spaces or non-ASCII)")
    return value
