"""The step plan in `python -m offline preview`: `--base REV` and `--destroy`.

Kept apart from offline/preview.py (the preview's own report) so each changes on its own:
preview.py calls `add_plan_arguments`, `plan_for` and prints `render_plan` under its report.
"""

from __future__ import annotations

import argparse
from typing import Any

from offline import hazards
from offline.baseline import run_at_revision
from offline.engine import ProgramRun
from offline.plan import Plan, fingerprint_assets, plan, plan_destroy, render, to_json


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base",
        default=None,
        metavar="REV",
        help="git revision standing for the deployed state (e.g. origin/main): print the step plan "
        "from it to the working tree, with its hazard checks",
    )
    parser.add_argument(
        "--destroy",
        action="store_true",
        help="plan `pulumi destroy` of the deployed state (--base REV, else the working tree)",
    )


def plan_for(args: argparse.Namespace, run: ProgramRun) -> Plan | None:
    """The plan the arguments ask for (None without --base/--destroy), hazards checked."""
    if args.base is None and not args.destroy:
        return None
    current = fingerprint_assets(run.resources)
    if args.base is not None:
        try:
            base = run_at_revision(args.base, run.stack).resources
        except FileNotFoundError:
            base = []  # no stack file at the base: the stack is deployed for the first time
        label = args.base
    else:
        base, label = current, "the working tree"
    step_plan = plan_destroy(base, base=label) if args.destroy else plan(base, current, base=label)
    step_plan.hazards = hazards.check(step_plan)
    return step_plan


def render_plan(step_plan: Plan) -> list[str]:
    return [*render(step_plan), "", *hazards.render(step_plan.hazards)]


def plan_json(step_plan: Plan) -> dict[str, Any]:
    return {**to_json(step_plan), "hazards": hazards.to_json(step_plan.hazards)}
