"""Run the real `__main__.py` under the offline engine with the stack's real config.

A run is ~150 resources and most tests only read one, so `program(...)` hands out runs from the
process-wide cache of tests/programs.py: one run per (stack, resolved config), shared with the
step-plan scenarios, the preview and the cost tests, each caller getting its own deep copy. A test
that uses `monkeypatch` always gets fresh runs, and so does any call after a module global of the
program's own code was rebound (see tests/programs.py). A test that means to compare two real runs
(is the program deterministic?) asks for `program.fresh(...)`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import pytest

from offline.engine import ProgramRun, run_program
from tests.programs import shared_run


class RunProgram(Protocol):
    """`program("dev", azCount=3)`: what the program registers for the dev stack with overrides."""

    def __call__(self, stack: str = "dev", **overrides: Any) -> ProgramRun: ...

    def fresh(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        """A new run of the program, never one from the cache (for determinism checks)."""
        ...


def cached_run(stack: str = "dev", **overrides: Any) -> ProgramRun:
    """The program's run for `stack` with `overrides`, from this process's cache when it is current."""
    return shared_run(stack, overrides)


class _Program:
    def __call__(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        return shared_run(stack, overrides)

    def fresh(self, stack: str = "dev", **overrides: Any) -> ProgramRun:
        return run_program(stack, overrides)


@pytest.fixture
def program() -> RunProgram:
    """`program("dev", azCount=3)` runs the program for the dev stack with overrides applied."""
    return _Program()


def policy_document(value: Any) -> dict[str, Any]:
    """IAM/KMS/endpoint policies are registered as JSON strings; parse one for assertions."""
    assert isinstance(value, str), f"expected a JSON policy string, got {type(value).__name__}"
    document = json.loads(value)
    assert document["Version"] == "2012-10-17"
    return document
