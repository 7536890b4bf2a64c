"""Step-plan scenarios: a pair of program states, the steps the engine must take between them.

A `ProgramState` is the program of the working tree run for a stack, with config overrides and,
for changes to the program itself, an `edit` applied to a copy of the project (see `edit_file`).
`None` stands for "nothing deployed" (as base) or "destroyed" (as new).

Adding a scenario (docs/plan.md): append a `Scenario` to `SCENARIOS` in tests/offline/test_scenarios.py
with the steps you expect by resource name (`expect`: name -> create/update/replace/delete; every
custom resource not named must be unchanged, unless `others` names the op they all take). The test
runs both states, plans, compares, and checks the plan is hazard-free.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.baseline import isolated_project_modules
from offline.engine import REPO_ROOT, run_program
from offline.model import ResourceSnapshot
from offline.plan import Plan, fingerprint_assets, plan, plan_destroy
from tests.programs import shared_run

Edit = Callable[[Path], None]
_NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules", "tests"
)


@dataclass(frozen=True)
class ProgramState:
    stack: str = "dev"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    edit: Edit | None = None  # changes a copy of the project (the program itself changes)

    def resources(self) -> list[ResourceSnapshot]:
        return _run(self.stack, tuple(sorted(self.overrides.items())), self.edit)


@functools.cache
def _run(stack: str, overrides: tuple[tuple[str, Any], ...], edit: Edit | None) -> list[ResourceSnapshot]:
    if edit is None:
        return fingerprint_assets(shared_run(stack, dict(overrides)).resources)
    with tempfile.TemporaryDirectory(prefix="offline-scenario-") as folder:
        project = Path(folder) / "project"
        shutil.copytree(REPO_ROOT, project, ignore=_NOT_COPIED)
        edit(project)
        with isolated_project_modules(REPO_ROOT, project):
            run = run_program(stack, dict(overrides), project_dir=project)
        return fingerprint_assets(run.resources)


def edit_file(relative: str, pattern: str, replacement: str, *, count: int = 1) -> Edit:
    """An edit that replaces `pattern` (a regex) in one file of the project copy; it fails loudly
    when the program no longer has the text, so a stale scenario is noticed."""

    def apply(project: Path) -> None:
        path = project / relative
        text = path.read_text(encoding="utf-8")
        changed, found = re.subn(pattern, replacement, text, count=count, flags=re.DOTALL)
        if found == 0:
            raise AssertionError(
                f"scenario edit: {pattern!r} is no longer in {relative}; update the scenario"
            )
        path.write_text(changed, encoding="utf-8")

    apply.__qualname__ = f"edit_file({relative!r}, {pattern!r})"
    return apply


def append_to_file(relative: str, text: str) -> Edit:
    def apply(project: Path) -> None:
        path = project / relative
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    apply.__qualname__ = f"append_to_file({relative!r})"
    return apply


@dataclass(frozen=True)
class Scenario:
    name: str
    base: ProgramState | None
    new: ProgramState | None
    expect: Mapping[str, str] = field(default_factory=dict)
    others: str | None = None  # the op every custom resource not in `expect` takes (None: unchanged)

    def plan(self) -> Plan:
        old = self.base.resources() if self.base else []
        if self.new is None:
            return plan_destroy(old)
        return plan(old, self.new.resources())

    def __str__(self) -> str:
        return self.name


def steps_by_name(step_plan: Plan) -> dict[str, str]:
    return {step.name: step.op for step in step_plan.steps if step.custom}


def expected_steps(scenario: Scenario, step_plan: Plan) -> dict[str, str]:
    if scenario.others is None:
        return dict(scenario.expect)
    names = {step.name for step in step_plan.steps if step.custom}
    return {name: scenario.expect.get(name, scenario.others) for name in names}


def wave_of(step_plan: Plan, name: str, phase: str) -> int:
    """The wave (1-based, as rendered) in which the custom resource `name` does `phase` (create,
    update, delete, create-replacement, delete-replaced)."""
    for number, wave in enumerate(step_plan.waves(), start=1):
        if any(step.name == name and done == phase for done, step in wave):
            return number
    raise AssertionError(f"{name} does not {phase} in this plan")


def assert_in_order(step_plan: Plan, *work: tuple[str, str]) -> None:
    """Each (name, phase) runs in a later wave than the one before it."""
    waves = [wave_of(step_plan, name, phase) for name, phase in work]
    assert all(a < b for a, b in itertools.pairwise(waves)), list(zip(work, waves, strict=True))
