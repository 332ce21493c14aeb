"""Standard output whose reader may go away early (``crawler search … | head -1``).

Every command writes its output through ``sys.stdout``. When the reader of a pipe
exits, the next write, or the flush at exit of what is still buffered, raises
``BrokenPipeError``. :func:`run_guarded` runs the whole command line so that this
ends it quietly: no traceback, one line on stderr ("the output was closed early")
and exit 1, the output having been cut short; a command that had already failed
keeps its own exit code. ``--help`` and ``--version`` exit 0 and say nothing, as
argparse makes them. Standard output is then pointed at ``/dev/null``, so that the
interpreter's last flush cannot raise again.

SIGPIPE stays ignored (Python's default): restoring its default action would let
a peer closing a network socket kill the crawler mid-write.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
from collections.abc import Callable

CLOSED_EARLY_EXIT = 1


def stdout_closed() -> bool:
    """True if standard output is a pipe or socket whose reader has gone.

    A ``BrokenPipeError`` may also come from a socket; only one from standard
    output is ours to end quietly.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # replaced by a test, or closed
        return False
    if not hasattr(select, "poll"):  # Windows: no way to ask; take it as ours, as before
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def run_guarded(run: Callable[[], int], command: str | None = None) -> int:
    """``run()``'s exit code, and its output flushed; if the reader went away, see above."""
    try:
        code = run()
    except SystemExit:
        # argparse's --help and --version: argparse itself ignores a closed output (exit 0
        # quietly); what is still buffered must not fail the exit instead.
        if not _flushed():
            _silence_stdout()
        raise
    except BrokenPipeError:
        if not stdout_closed():
            raise
        return _closed(command, 0)
    return code if _flushed() else _closed(command, code)


def _flushed() -> bool:
    """Flush standard output; False if its reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        if not stdout_closed():
            raise
        return False
    return True


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _closed(command: str | None, code: int) -> int:
    _silence_stdout()
    where = f"{command}: " if command else ""
    with contextlib.suppress(OSError):  # stderr may be gone too; the exit code still says it
        print(f"crawler: {where}the output was closed early", file=sys.stderr)
    return code or CLOSED_EARLY_EXIT
