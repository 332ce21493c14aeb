"""``make demo``: start the simulator, archive it at the API's pace, verify, stop.

It drives the same commands a user would type, so what it shows is what the
tool does: ``crawler simulate`` in a subprocess, then ``crawler archive`` and
``crawler verify`` against it over HTTP on loopback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from crawler.cli import main as crawler_main

ARCHIVE = Path("demo-archive")
DEMO_KEY = "sk-ant-api01-demo.not-a-real-key.00000000"
PROJECTS = "12"
# Small enough to finish in under a minute at the live API's 4 requests/s, yet
# holding every case that breaks crawlers (>100 attachments and collaborators,
# a 404 between list and detail, hostile filenames, a multi-MB file...).
DATASET = [
    "--attachments=0-2", "--collaborators=0-2", "--many-attachments=101", "--many-collaborators=101",
    "--big-document-bytes=200000", "--big-file-bytes=2000000",
]  # fmt: skip
RATE = "4"


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable, "-m", "crawler", "simulate",
        "--port", "0", "--projects", PROJECTS, "--seed", "7", "--rate", RATE, "--key", DEMO_KEY,
        *DATASET,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("base_url="):
            return proc, line.strip().split("=", 1)[1]
    proc.kill()
    raise SystemExit("demo: the simulator did not start")


def main() -> int:
    if ARCHIVE.exists():
        shutil.rmtree(ARCHIVE)
    sim, base_url = start_simulator()
    print(
        f"demo: simulator at {base_url} ({PROJECTS} projects, {RATE} requests/s, as the live API)"
    )
    os.environ["ANTHROPIC_COMPLIANCE_ACCESS_KEY"] = DEMO_KEY
    started = time.monotonic()
    try:
        code = crawler_main(
            ["archive", "--base-url", base_url, "--archive", str(ARCHIVE), "--rate", RATE]
        )
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    print(f"demo: archived in {time.monotonic() - started:.1f} s into ./{ARCHIVE}")
    print("demo: checking it offline with `crawler verify --full`:")
    verified = crawler_main(["verify", "--archive", str(ARCHIVE), "--full"])
    print(f"demo: next, try `.venv/bin/crawler export --archive {ARCHIVE} --out -`")
    return code or verified


if __name__ == "__main__":
    raise SystemExit(main())
