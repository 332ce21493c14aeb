"""Shared helpers for the benchmarks: running the crawler and the simulator, measuring, tables.

The crawler always runs as ``crawler archive`` does (``app.run_archive``
on ``crawler.loop``); the simulator runs either in-process (when a benchmark
needs its counters or wraps its limiter) or as ``crawler simulate`` in a
subprocess (when the crawler's own CPU time or memory must be measured alone).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.app import run_archive
from crawler.archive import Archive
from crawler.commands.archive import add_arguments
from crawler.config import build_settings
from crawler.simulator import DatasetSpec
from crawler.simulator.ratelimit import Decision

ROOT = Path(__file__).resolve().parent.parent


# -- output -------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain aligned text: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        parts = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def title(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def note(text: str) -> None:
    print(f"   {text}", flush=True)


def mib(n: float) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


# -- memory and time ------------------------------------------------------------------------


def vm_hwm_bytes() -> int:
    """Peak resident set of this process (VmHWM), in bytes."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def vm_rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def disk_usage(path: Path) -> dict[str, int]:
    """Allocated bytes (st_blocks) under ``path``, by top-level entry, plus 'total'."""
    out: dict[str, int] = {}
    total = 0
    for root, _dirs, files in os.walk(path):
        rel = Path(root).relative_to(path)
        top = rel.parts[0] if rel.parts else None
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            size = st.st_blocks * 512
            key = top or name
            out[key] = out.get(key, 0) + size
            total += size
    out["total"] = total
    return out


# -- the crawler in-process -------------------------------------------------------------------


async def crawl(
    base_url: str,
    key: str,
    archive: Path,
    *flags: str,
    rate: float = 0,
    concurrency: int = 16,
    **overrides: Any,
) -> int:
    """``crawler archive`` in-process on the running loop; returns its exit code."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--base-url",
            base_url,
            "--archive",
            str(archive),
            "--rate",
            str(rate),
            "--concurrency",
            str(concurrency),
            "--quiet",
            *flags,
        ]
    )
    env = {"ANTHROPIC_COMPLIANCE_ACCESS_KEY": key}
    if os.environ.get("CRAWLER_SIGNING_KEY_FILE"):  # bench.seal's sealed crawl
        env["CRAWLER_SIGNING_KEY_FILE"] = os.environ["CRAWLER_SIGNING_KEY_FILE"]
    settings = build_settings(args, env)
    # Settings without a flag (e.g. feed_settle_seconds=0: a benchmark that has let the
    # simulator's feed lag pass may end the feed window now instead of a minute ago).
    settings = dataclasses.replace(settings, **overrides)
    # The command prints its summary; the benchmark prints its own table instead.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        return await run_archive(settings)


def latest_manifest(archive: Path) -> dict[str, Any]:
    """The manifest of the most recently started finished snapshot."""
    with Archive.open_for_reading(archive) as arc:
        snaps = [s for s in arc.index.list_snapshots() if s.manifest_sha256]
        snaps.sort(key=lambda s: s.started_at)
        return arc.read_manifest(snaps[-1].id)


# -- the simulator in a subprocess --------------------------------------------------------------


@dataclass
class SimProcess:
    base_url: str
    key: str
    proc: subprocess.Popen[str]
    rusage: resource.struct_rusage | None = field(default=None)


@contextlib.contextmanager
def simulator_process(
    spec: DatasetSpec, *extra: str, rate: float = 0, ready_timeout: float = 120
) -> Iterator[SimProcess]:
    """``crawler simulate`` in a subprocess; on exit it is stopped and its rusage kept."""
    cmd = [
        sys.executable,
        "-m",
        "crawler",
        "simulate",
        "--port",
        "0",
        "--rate",
        str(rate),
        *spec.to_cli_args(),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    info: dict[str, str] = {}
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline and not {"base_url", "key", "projects"} <= info.keys():
        line = proc.stdout.readline()
        if not line:
            break
        k, _, v = line.strip().partition("=")
        info[k] = v
    if "base_url" not in info or "key" not in info:
        proc.kill()
        proc.wait()
        raise RuntimeError("the simulator did not start")
    sim = SimProcess(info["base_url"], info["key"], proc)
    try:
        yield sim
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                sim.rusage = usage
                break
            time.sleep(0.05)
        else:
            proc.kill()
            _, _, sim.rusage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        with contextlib.suppress(Exception):
            proc.stdout.close()


def child_json(cmd: Sequence[str], timeout: float = 600) -> dict[str, Any]:
    """Run a benchmark child process; its last stdout line is a JSON object."""
    out = subprocess.run(
        [sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def tmpfs_dir() -> Path | None:
    """/dev/shm when it is a writable tmpfs, else None."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def scratch(prefix: str, *, memory: bool = False) -> Iterator[Path]:
    """A temporary directory for archives, removed afterwards.

    On disk (``$CRAWLER_BENCH_DIR``, else the system temp dir) by default, where
    fsync costs what it costs users. ``memory=True`` puts it on tmpfs
    (/dev/shm) when there is one: for benchmarks that measure memory or the
    pipeline alone, and whose archives would take minutes to delete from a
    disk mounted with online discard.
    """
    base = os.environ.get("CRAWLER_BENCH_DIR") or None
    if memory and (shm := tmpfs_dir()) is not None:
        base = str(shm)
    with tempfile.TemporaryDirectory(prefix=f"crawler-bench-{prefix}-", dir=base) as d:
        yield Path(d)


def record_admissions(sim: Any) -> list[float]:
    """Wrap the simulator's limiter so that every admitted request's time is appended
    to the returned list: the server's own view of the crawler's pace."""
    admitted: list[float] = []
    limiter = sim.state.limiter
    check = limiter.check

    def timed_check() -> Decision:
        decision = check()
        if decision.allowed:
            admitted.append(time.monotonic())
        return decision

    limiter.check = timed_check
    return admitted
