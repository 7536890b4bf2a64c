"""Run the real `__main__.py` under the offline engine, once per test, with the stack's real config."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from offline.engine import ProgramRun, run_program

RunProgram = Callable[..., ProgramRun]


@pytest.fixture
def program() -> RunProgram:
    """`program("dev", azCount=3)` runs the program for the dev stack with overrides applied."""

    def run(stack: str = "dev", **overrides: Any) -> ProgramRun:
        return run_program(stack, overrides)

    return run


def policy_document(value: Any) -> dict[str, Any]:
    """IAM/KMS/endpoint policies are registered as JSON strings; parse one for assertions."""
    assert isinstance(value, str), f"expected a JSON policy string, got {type(value).__name__}"
    document = json.loads(value)
    assert document["Version"] == "2012-10-17"
    return document
