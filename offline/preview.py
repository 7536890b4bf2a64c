"""`pulumi preview --policy-pack policies`, offline: the program under mocks, judged by the real pack.

Prints the resource tree grouped by component the way `pulumi preview` does, the stack outputs and
the policy report, and returns a non-zero exit code on a mandatory violation or a program error.
The tests drive the same functions, so what CI checks is what users run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from components.config import declared_config_keys
from offline.analyzer import DEFAULT_PACK_DIR, PolicyAnalyzer, PolicyConfigError, PolicyPackError
from offline.baseline import RevisionError
from offline.cost import preview_json, preview_lines
from offline.engine import REPO_ROOT, STACK_TYPE, ProgramError, ProgramRun, run_program
from offline.model import PolicyReport, ResourceSnapshot
from offline.replacements import UnknownResourceTypeError
from offline.report import render_violations
from offline.step_plan import add_plan_arguments, plan_for, plan_json, render_plan

EXIT_OK, EXIT_POLICY, EXIT_PROGRAM = 0, 1, 2


@dataclass
class PreviewResult:
    run: ProgramRun
    report: PolicyReport
    seconds: float

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.report.passed else EXIT_POLICY


def preview(
    stack: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    stack_config_dir: Path | None = None,
    policy_config: Mapping[str, Any] | None = None,
    analyzer: PolicyAnalyzer | None = None,
    pack_dir: Path = DEFAULT_PACK_DIR,
) -> PreviewResult:
    """Run the program for `stack` and judge it. Pass a running `analyzer` to reuse its process."""
    started = time.perf_counter()
    run = run_program(stack, overrides, stack_config_dir=stack_config_dir)
    if analyzer is None:
        with PolicyAnalyzer(pack_dir, policy_config) as own:
            report = own.analyze(run.resources)
    else:
        report = analyzer.analyze(run.resources)
    return PreviewResult(run, report, time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------
# Rendering


def display_type(type_: str) -> str:
    """`aws:ec2/vpc:Vpc` is shown as `aws:ec2:Vpc`, as the Pulumi CLI shows it."""
    package, _, rest = type_.partition(":")
    module, _, name = rest.partition(":")
    return f"{package}:{module.split('/')[0]}:{name}" if name else type_


def render_tree(run: ProgramRun) -> list[str]:
    children: dict[str | None, list[ResourceSnapshot]] = {}
    for resource in run.resources:
        children.setdefault(resource.parent, []).append(resource)
    for siblings in children.values():
        # Components first, then by type and name: a stable order, unlike registration order.
        siblings.sort(key=lambda r: (r.custom, display_type(r.type), r.name))

    rows: list[tuple[str, str, str]] = [("", display_type(STACK_TYPE), f"{run.project}-{run.stack}")]

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for index, resource in enumerate(kids):
            last = index == len(kids) - 1
            branch = "└─ " if last else "├─ "
            marker = " [protected]" if resource.protect else ""
            rows.append((prefix + branch, display_type(resource.type), resource.name + marker))
            walk(resource.urn, prefix + ("   " if last else "│  "))

    walk(run.stack_urn, "")
    width = max(len(indent) + len(type_) for indent, type_, _ in rows) + 2
    lines = [f"     {'Type':<{width}}Name"]
    lines += [f" +   {(indent + type_):<{width}}{name}" for indent, type_, name in rows]
    return lines


def render_outputs(outputs: Mapping[str, Any]) -> list[str]:
    lines = ["Outputs:"]
    width = max((len(key) for key in outputs), default=0) + 1
    for key in sorted(outputs):
        value = outputs[key]
        text = json.dumps(value) if isinstance(value, str) else json.dumps(value, indent=4, sort_keys=True)
        text = text.replace("\n", "\n" + " " * (width + 6))
        lines.append(f"    {key + ':':<{width}} {text}")
    return lines


def render_report(report: PolicyReport, run: ProgramRun) -> list[str]:
    mark = "✅" if report.passed else "❌"
    lines = [
        "Policies:",
        f"    {mark} {report.pack_name}@v{report.pack_version} (local: policies) — "
        f"{len(report.policies)} policies, {len(report.mandatory_violations)} mandatory and "
        f"{len(report.violations) - len(report.mandatory_violations)} advisory violation(s)",
    ]
    defaults = {
        key: spec.get("default") for key, spec in declared_config_keys().items() if isinstance(spec, dict)
    }
    lines += render_violations(
        report,
        run.resources,
        config=run.config,
        project=run.project,
        defaults=defaults,
        display_type=display_type,
    )
    return lines


def render(result: PreviewResult) -> str:
    run = result.run
    lines = [f"Previewing update ({run.stack}) — offline: Pulumi mocks + policy pack analyzer", ""]
    lines += render_tree(run)
    lines += ["", *render_outputs(run.outputs), ""]
    lines += render_report(result.report, run)
    lines += ["", *preview_lines(run)]
    lines += [
        "",
        "Resources:",
        f"    + {len(run.resources) + 1} to create",
        "",
        f"Duration: {result.seconds:.1f}s",
    ]
    return "\n".join(lines)


def to_json(result: PreviewResult) -> dict[str, Any]:
    run, report = result.run, result.report
    return {
        "project": run.project,
        "stack": run.stack,
        "config": run.config,
        "resources": [asdict(resource) for resource in run.resources],
        "outputs": run.outputs,
        "policies": {
            "pack": report.pack_name,
            "version": report.pack_version,
            "passed": report.passed,
            "rules": [asdict(policy) for policy in report.policies],
            "violations": [asdict(violation) for violation in report.violations],
        },
        "cost": preview_json(run),
    }


# --------------------------------------------------------------------------------------------------
# Command line


def _policy_config(path: Path | None) -> Any:
    """The `--policy-pack-config` document; PolicyConfigError (no traceback) when it cannot be read."""
    if path is None:
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyConfigError(f"cannot read the policy pack config {path}: {error.strerror}") from error
    except ValueError as error:
        raise PolicyConfigError(f"the policy pack config {path} is not JSON: {error}") from error
    if not isinstance(config, dict):
        raise PolicyConfigError(f"the policy pack config {path} must be a JSON object of policy names")
    return config


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m offline preview",
        description="Offline `pulumi preview --policy-pack policies`: the program under Pulumi mocks, "
        "judged by the real policy pack over its Analyzer gRPC service.",
    )
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default dev)")
    parser.add_argument(
        "--stack-config-dir",
        type=Path,
        default=None,
        help=f"folder holding Pulumi.<stack>.yaml (default: the project folder {REPO_ROOT})",
    )
    parser.add_argument(
        "--policy-pack-config",
        type=Path,
        default=None,
        help="JSON file in the format of `pulumi preview --policy-pack-config`",
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the resource graph and report here"
    )
    add_plan_arguments(parser)
    args = parser.parse_args(argv)

    try:
        policy_config = _policy_config(args.policy_pack_config)
        result = preview(args.stack, stack_config_dir=args.stack_config_dir, policy_config=policy_config)
    except ProgramError as error:
        print(f"error: the program failed for stack '{args.stack}':\n{error.cause}", file=err)
        return EXIT_PROGRAM
    except FileNotFoundError as error:
        print(f"error: {error}", file=err)
        return EXIT_PROGRAM
    except PolicyConfigError as error:
        print(f"error: invalid --policy-pack-config: {error}", file=err)
        return EXIT_PROGRAM
    except PolicyPackError as error:
        print(f"error: the policy pack could not judge the stack: {error}", file=err)
        return EXIT_PROGRAM
    try:
        step_plan = plan_for(args, result.run)
    except (RevisionError, ProgramError, UnknownResourceTypeError) as error:
        print(f"error: no step plan against {args.base}: {getattr(error, 'cause', error)}", file=err)
        return EXIT_PROGRAM
    print(render(result), file=out)
    if step_plan is not None:
        print("\n" + "\n".join(render_plan(step_plan)), file=out)
    if args.json is not None:
        document = to_json(result)
        if step_plan is not None:
            document["plan"] = plan_json(step_plan)
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"\nWrote {args.json}", file=out)
    if not result.report.passed:
        print(
            f"\nerror: {len(result.report.mandatory_violations)} mandatory policy violation(s); "
            "nothing would be deployed.",
            file=err,
        )
    if step_plan is not None and step_plan.hazards:
        print(f"\nerror: {len(step_plan.hazards)} mandatory hazard(s) in the step plan.", file=err)
        return EXIT_POLICY
    return result.exit_code
