"""One cache of program runs per test process, shared by every test that only reads a run.

A run of the real `__main__.py` under mocks is ~0.4 CPU-seconds and the suite asks for a few hundred,
many of them the same program with the same settings through different doors (the `program`
fixture, the step-plan scenarios, the preview and cost tests). `shared_run(stack, overrides)` keys a
run by what decides it: the stack and its *resolved* config (`Pulumi.yaml` defaults, the stack file,
then the overrides), so `program("dev")`, `program("dev", azCount=2)` when 2 is the stack's value and
`run_program("dev", {})` are one run. Every caller gets its own deep copy: what a test changes in its
copy never reaches another test.

A run is redone, not reused, whenever the program could differ from the cached one:
- while a test that uses `monkeypatch` runs (tests/conftest.py tells this module; monkeypatch can
  change what no identity check sees: the environment, a library's attribute, a dict in place);
- after any module global of the program's own code (components, functions, client, offline) was
  rebound by any other means since the run was cached.
Failed runs (ProgramError) are never cached: they stop in milliseconds. A test that means to compare
two real runs (is the program deterministic?) calls `run_program` itself, never this.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from offline.analyzer import PolicyAnalyzer
from offline.engine import REPO_ROOT, ProgramRun, resolve_stack_config, run_program
from offline.preview import PreviewResult

_PROJECT_PACKAGES = ("components", "functions", "client", "offline")
_PROJECT_PREFIXES = tuple(f"{REPO_ROOT}/{package}/" for package in _PROJECT_PACKAGES)


def _program_globals() -> tuple[Any, ...]:
    """Every module global of the program's own code, as objects (identity is what is compared)."""
    return tuple(
        value
        for name, module in sorted(sys.modules.items())
        if str(getattr(module, "__file__", None)).startswith(_PROJECT_PREFIXES)
        for value in vars(module).values()
    )


class _Entry:
    def __init__(self, state: tuple[Any, ...], run: ProgramRun) -> None:
        self.state = state  # holds the objects, so their ids stay unique while the entry lives
        self.run = run

    def matches(self, state: tuple[Any, ...]) -> bool:
        return len(state) == len(self.state) and all(a is b for a, b in zip(state, self.state, strict=True))


_RUNS: dict[str, _Entry] = {}
_fresh_only = False


def fresh_runs_only(fresh: bool) -> None:
    """While `fresh` is true every `shared_run` runs the program anew (set around each test that
    uses `monkeypatch`, by tests/conftest.py)."""
    global _fresh_only
    _fresh_only = fresh


def run_key(stack: str, overrides: Mapping[str, Any] | None = None) -> str:
    """What decides a run: the stack and the config the program is handed."""
    return json.dumps([stack, resolve_stack_config(stack, overrides)], sort_keys=True)


def shared_run(stack: str = "dev", overrides: Mapping[str, Any] | None = None) -> ProgramRun:
    """The program's run for `stack` with `overrides`, from this process's cache when it is current."""
    if _fresh_only:
        return run_program(stack, overrides)
    try:
        key = run_key(stack, overrides)
    except Exception:  # noqa: BLE001 -- a stack or override the engine refuses: let it say so itself
        return run_program(stack, overrides)
    entry = _RUNS.get(key)
    if entry is None or not entry.matches(_program_globals()):
        run = run_program(stack, overrides)
        entry = _RUNS[key] = _Entry(_program_globals(), run)
    return copy.deepcopy(entry.run)


def shared_preview(
    analyzer: PolicyAnalyzer, stack: str = "dev", overrides: Mapping[str, Any] | None = None
) -> PreviewResult:
    """`offline.preview.preview(stack, overrides=..., analyzer=analyzer)` on the shared run: the
    program's run judged by the running pack. The CLI tests (tests/offline/test_preview.py,
    test_plan.py, test_report.py) run `preview` itself through `main`."""
    started = time.perf_counter()
    run = shared_run(stack, overrides)
    return PreviewResult(run, analyzer.analyze(run.resources), time.perf_counter() - started)
