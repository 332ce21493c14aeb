"""Helpers shared by the integration tests: run the real commands against a simulator."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from crawler.commands.archive import _archive, add_arguments
from crawler.config import build_settings

TEST_KEY_ENV = "ANTHROPIC_COMPLIANCE_ACCESS_KEY"


async def crawl(
    base_url: str, key: str, archive: Path, *flags: str, rate: float = 0, **overrides: Any
) -> int:
    """``crawler archive`` in-process, on the running loop (the simulator shares it).

    ``rate=0`` lifts the client's limit so tests run at loopback speed; tests of
    the limiter pass the simulator's rate. ``overrides`` replace settings that
    have no flag (``backoff_base=0.01`` keeps fault tests fast).
    """
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--base-url", base_url, "--archive", str(archive), "--rate", str(rate), "--quiet", *flags]
    )
    settings = build_settings(args, {TEST_KEY_ENV: key})
    settings = dataclasses.replace(settings, **overrides)
    return await _archive(settings)
