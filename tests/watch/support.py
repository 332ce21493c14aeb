"""Helpers for the watch tests: a Watch on a running simulator, in-process."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from crawler.commands.watch import add_arguments
from crawler.config import build_settings
from crawler.watch.loop import Watch
from crawler.watch.options import watch_options
from tests.support import TEST_KEY_ENV


def make_watch(
    base_url: str,
    key: str,
    archive: Path,
    *flags: str,
    env: dict[str, str] | None = None,
    **opts: Any,
) -> Watch:
    """``crawler watch`` as the command builds it; ``opts`` replace WatchOptions fields."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--base-url", base_url, "--archive", str(archive), "--rate", "0", "--quiet", *flags]
    )
    settings = build_settings(args, {TEST_KEY_ENV: key, **(env or {})})
    options = replace(watch_options(args, {}), **opts)
    return Watch(settings, options, say=lambda _m: None)


def made(sim: Any) -> dict[str, int]:
    """Requests the simulator answered, by endpoint (its own count, not the crawler's)."""
    out = {e: sum(v.values()) for e, v in sim.counters.by_endpoint.items()}
    return {e: n for e, n in out.items() if n}
