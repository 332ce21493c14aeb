"""Naming the archive, for every command: ``--archive`` and its S3 companions.

``--archive DIR|s3://BUCKET/PREFIX``, ``--s3-endpoint``, ``--object-lock``,
``--retain``; each also from the environment (``CRAWLER_ARCHIVE``,
``AWS_ENDPOINT_URL``, ``CRAWLER_CACHE_DIR``) and ``[archive]`` in the TOML,
flag first (:class:`Picker`). Split from :mod:`crawler.config` to keep each small.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crawler.archive.store.base import LOCK_MODES
from crawler.archive.store.location import ArchiveLocation, parse_archive, parse_policy
from crawler.config_sources import load_toml
from crawler.errors import UsageError

__all__ = ["Picker", "add_archive_argument", "archive_location", "archive_path_from"]


def add_archive_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument(
        "--archive", metavar="DIR|s3://BUCKET/PREFIX", help="archive directory, or a bucket"
    )
    parser.add_argument(
        "--s3-endpoint",
        metavar="URL",
        help="S3-compatible service (default: AWS_ENDPOINT_URL, else AWS itself)",
    )
    parser.add_argument(
        "--object-lock",
        choices=LOCK_MODES,
        help="S3 Object Lock mode for every object written (default off)",
    )
    parser.add_argument(
        "--retain", metavar="DURATION", help="with --object-lock: 30s, 15m, 12h, 90d, 7y"
    )


def archive_path_from(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> ArchiveLocation:
    """The archive for the offline commands: --archive, then env, then config.

    A directory (a Path), or ``s3://BUCKET/PREFIX`` with its endpoint, cache and lock
    policy (each: flag, then environment, then ``[archive]`` in the TOML).
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = load_toml(Path(args.config)) if getattr(args, "config", None) else {}
    location = archive_location(args, env, data.get("archive", {}), None)
    if location is None:
        raise UsageError(
            "no archive given: pass --archive DIR (or s3://BUCKET/PREFIX) "
            "or set [archive] path in --config"
        )
    return location


def local_archive_path(args: argparse.Namespace, command: str) -> Path:
    """:func:`archive_path_from` for a command that works on a directory archive only."""
    location = archive_path_from(args)
    if not isinstance(location, Path):
        raise UsageError(
            f"{command} works on a directory archive only for now, not on {location.url}"
        )
    return location


def archive_location(
    args: argparse.Namespace, env: Mapping[str, str], arc: dict[str, Any], default: Path | None
) -> ArchiveLocation | None:
    pick = Picker(args, env)
    raw = pick("archive", "CRAWLER_ARCHIVE", arc.get("path"), default)
    if raw is None or raw == "":
        return None
    cache = pick("cache_dir", "CRAWLER_CACHE_DIR", arc.get("cache_dir"), None)
    policy = parse_policy(
        pick("object_lock", None, arc.get("object_lock"), None),
        pick("retain", None, arc.get("retain"), None),
    )
    return parse_archive(
        str(raw),
        endpoint=pick("s3_endpoint", "AWS_ENDPOINT_URL", arc.get("s3_endpoint"), None),
        cache_root=Path(str(cache)).expanduser() if cache else None,
        policy=policy,
    )


class Picker:
    """Flag, then environment variable, then TOML value, then the default."""

    def __init__(self, args: argparse.Namespace, env: Mapping[str, str]) -> None:
        self.args, self.env = args, env

    def __call__(self, flag: str, env_name: str | None, toml_value: Any, default: Any) -> Any:
        value = getattr(self.args, flag, None)
        if value is not None:
            return value
        if env_name and self.env.get(env_name):
            return self.env[env_name]
        return default if toml_value is None else toml_value
