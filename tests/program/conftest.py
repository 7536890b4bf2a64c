"""Run the real `__main__.py` under the offline engine with the stack's real config.

A run is ~150 resources and most tests only read one, so each pytest(-xdist) worker keeps one run per
(stack, overrides) and hands every test its own deep copy: what a test changes in its copy never
reaches another test. A run is redone, not reused, whenever the program could differ from the cached
one: a test that uses `monkeypatch` always gets a fresh run, and so does any call after a module
global of the program's own code (components, functions, client, offline) was rebound by any other
means. A test that means to compare two real runs (is the program deterministic?) asks for
`program.fresh(...)`. Failed runs (ProgramError) are never cached: they stop in milliseconds.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any, Protocol

import pytest

from offline.engine import REPO_ROOT, ProgramRun, run_program

_PROJECT_PACKAGES = ("components", "functions", "client", "offline")
_PROJECT_PREFIXES = tuple(f"{REPO_ROOT}/{package}/" for package in _PROJECT_PACKAGES)


class RunProgram(Protocol):
    """`program("dev", azCount=3)`: what the program registers for the dev stack with overrides."""

    def __call__(self, stack: str = "dev", **overrides: Any) -> ProgramRun: ...

    def fresh(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        """A new run of the program, never one from the cache (for determinism checks)."""
        ...


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


def _key(stack: str, overrides: dict[str, Any]) -> str:
    return json.dumps([stack, overrides], sort_keys=True, default=repr)


def cached_run(stack: str = "dev", **overrides: Any) -> ProgramRun:
    """The program's run for `stack` with `overrides`, from this worker's cache when it is current."""
    key = _key(stack, overrides)
    entry = _RUNS.get(key)
    if entry is None or not entry.matches(_program_globals()):
        run = run_program(stack, overrides)
        entry = _RUNS[key] = _Entry(_program_globals(), run)
    return copy.deepcopy(entry.run)


class _Program:
    def __init__(self, cache: bool) -> None:
        self._cache = cache

    def __call__(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        return cached_run(stack, **overrides) if self._cache else run_program(stack, overrides)

    def fresh(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        return run_program(stack, overrides)


@pytest.fixture
def program(request: pytest.FixtureRequest) -> RunProgram:
    """`program("dev", azCount=3)` runs the program for the dev stack with overrides applied."""
    return _Program(cache="monkeypatch" not in request.fixturenames)


def policy_document(value: Any) -> dict[str, Any]:
    """IAM/KMS/endpoint policies are registered as JSON strings; parse one for assertions."""
    assert isinstance(value, str), f"expected a JSON policy string, got {type(value).__name__}"
    document = json.loads(value)
    assert document["Version"] == "2012-10-17"
    return document
