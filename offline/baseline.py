"""The "deployed" state for a step plan: the program as it was at a git revision.

`git archive REV` unpacks the project at REV into a temporary folder; the offline engine of the
working tree runs that program (its `__main__.py`, its components and its `Pulumi.<stack>.yaml`)
in this process. The project's own packages (components, functions, client, ...) are imported
afresh for it and the working tree's come back afterwards, so both programs run in one process at
the cost of one more program run (no second interpreter, no second policy analyzer).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from offline.engine import REPO_ROOT, ProgramRun, run_program
from offline.model import ResourceSnapshot
from offline.plan import fingerprint_assets

# The offline tooling itself always comes from the working tree.
_TOOLING = frozenset({"offline", "tests", "bench", "policies"})


class RevisionError(Exception):
    """The revision cannot be read (unknown, or not a git checkout)."""


@dataclass
class Baseline:
    revision: str
    commit: str
    run: ProgramRun

    @property
    def resources(self) -> list[ResourceSnapshot]:
        return self.run.resources


def _project_packages(*roots: Path) -> set[str]:
    names: set[str] = set()
    for root in roots:
        for child in root.iterdir():
            if child.is_dir() and (child / "__init__.py").is_file() and child.name not in _TOOLING:
                names.add(child.name)
    return names


@contextlib.contextmanager
def isolated_project_modules(*roots: Path) -> Iterator[None]:
    """Import the project's packages afresh inside the block; restore the previous ones after it."""
    packages = _project_packages(*roots)

    def ours(name: str) -> bool:
        return name.split(".", 1)[0] in packages

    saved: dict[str, ModuleType] = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def resolve(revision: str, repo: Path = REPO_ROOT) -> str:
    result = subprocess.run(  # noqa: S603 (git with a revision the user named)
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RevisionError(
            f"'{revision}' is not a commit of {repo} (fetch it first, e.g. `git fetch origin main`)"
        )
    return result.stdout.strip()


def _unpack(commit: str, target: Path, repo: Path) -> None:
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", str(repo), "archive", "--format=tar", commit],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def run_at_revision(
    revision: str,
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    repo: Path = REPO_ROOT,
) -> Baseline:
    """Run the program as it was at `revision` for `stack` (its stack file at that revision)."""
    commit = resolve(revision, repo)
    with tempfile.TemporaryDirectory(prefix="offline-base-") as folder:
        project = Path(folder)
        _unpack(commit, project, repo)
        with isolated_project_modules(repo, project):
            run = run_program(stack, overrides, project_dir=project)
        # Assets point into the temporary folder: fingerprint them before it goes.
        run.resources = fingerprint_assets(run.resources)
    return Baseline(revision, commit, run)
