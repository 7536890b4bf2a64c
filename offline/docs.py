"""Generated parts of the README and docs/benchmarks.md, so the docs cannot drift from the code.

`python -m offline.docs` rewrites each `<!-- NAME:start -->`…`<!-- NAME:end -->` block of README.md
and docs/benchmarks.md (the idle cost, from offline.cost_docs) from its source; the tests fail when
a block is stale.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from offline.engine import REPO_ROOT

README = REPO_ROOT / "README.md"
# Settings every stack must set itself (they have no sensible project-wide default).
REQUIRED_IN_STACK = {"aws:region": ("string", "Region to deploy to; must offer Bedrock Agents.")}
LONG_DEFAULT = 60  # longer defaults are referred to Pulumi.yaml rather than inlined


def config_table(project_file: Path = REPO_ROOT / "Pulumi.yaml") -> str:
    declared: dict[str, Any] = yaml.safe_load(project_file.read_text(encoding="utf-8"))["config"]
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, (type_, meaning) in REQUIRED_IN_STACK.items():
        rows.append(f"| `{key}` | {type_} | (required, per stack) | {meaning} |")
    for key, spec in declared.items():
        rows.append(
            f"| `{key}` | {spec['type']} | {_default(spec)} | {' '.join(spec['description'].split())} |"
        )
    return "\n".join(rows)


def _default(spec: dict[str, Any]) -> str:
    if "default" not in spec:
        # No default: either optional ("Optional …") or set per stack (required).
        return "(unset)" if spec["description"].startswith("Optional") else "(required, per stack)"
    value = spec["default"]
    text = json.dumps(value) if not isinstance(value, str) else value
    text = {"true": "true", "false": "false"}.get(text, text)
    return "(see Pulumi.yaml)" if len(text) > LONG_DEFAULT else f"`{text}`"


def policy_table() -> str:
    """Every rule of the pack, as its Analyzer service describes it (the pack is started for this)."""
    from offline.analyzer import PolicyAnalyzer
    from policies.readme import render

    with PolicyAnalyzer() as analyzer:
        return render(analyzer.info()[2])


def idle_cost_summary() -> str:
    """Each stack's idle cost, from the model the preview prints (offline.cost)."""
    from offline.cost_docs import README_STACKS, cost_summary, stack_estimates

    return cost_summary(stack_estimates(README_STACKS))


GENERATORS: dict[str, Callable[[], str]] = {
    "config-table": config_table,
    "policy-table": policy_table,
    "idle-cost-summary": idle_cost_summary,
}
BENCHMARKS = REPO_ROOT / "docs" / "benchmarks.md"


def benchmark_generators() -> dict[str, Callable[[], str]]:
    from offline.cost_docs import generators

    return generators()


def block(text: str, name: str, document: str = "README.md") -> str:
    match = re.search(rf"<!-- {name}:start -->\n(.*?)\n?<!-- {name}:end -->", text, re.DOTALL)
    if match is None:
        raise LookupError(f"{document} has no <!-- {name}:start --> … <!-- {name}:end --> block")
    return match.group(1)


def refresh(text: str, generators: dict[str, Callable[[], str]] | None = None) -> str:
    for name, generate in (GENERATORS if generators is None else generators).items():
        block(text, name)  # fails clearly when the markers are missing
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?\n?(<!-- {name}:end -->)", re.DOTALL)
        match = pattern.search(text)
        assert match is not None
        text = f"{text[: match.end(1)]}{generate()}\n{text[match.start(2) :]}"
    return text


if __name__ == "__main__":
    README.write_text(refresh(README.read_text(encoding="utf-8")), encoding="utf-8")
    BENCHMARKS.write_text(
        refresh(BENCHMARKS.read_text(encoding="utf-8"), benchmark_generators()), encoding="utf-8"
    )
    sys.exit(0)
