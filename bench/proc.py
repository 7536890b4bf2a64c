"""Run a child process and measure it: wall time and peak resident memory, from `wait4`.

`os.wait4` returns the rusage of exactly that child (and of the descendants it waited for, e.g. the
policy analyzer the preview starts and stops), so other processes on the machine do not leak into
the number the way `getrusage(RUSAGE_CHILDREN)` deltas can. `ru_maxrss` is the peak RSS of the
largest single process of that tree, in KiB on Linux.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChildRun:
    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    max_rss_bytes: int
    stdout: str
    stderr: str


def run_child(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout_s: float = 900.0
) -> ChildRun:
    """Run `argv` in the repository root; its output goes to files, so no pipe can fill up."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            list(argv), cwd=REPO_ROOT, stdout=out, stderr=err, env=dict(env) if env is not None else None
        )
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return ChildRun(
            argv=tuple(argv),
            returncode=process.returncode,
            wall_s=wall,
            max_rss_bytes=usage.ru_maxrss * 1024,
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
        )


def python(*args: str) -> list[str]:
    """This interpreter (the project's virtualenv) with `args`."""
    return [sys.executable, *args]
