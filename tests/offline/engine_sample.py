"""Build a `pulumi preview --json` document from an offline plan, with the Automation API's step types.

The recorded sample tests/offline/fixtures/pulumi-preview-instruction-change.json was written by
`python -m tests.offline.engine_sample` from the design-2026-12-01 fixtures (an instruction change on
today's design): each step is a `StepEventMetadata` whose `old`/`new` are `StepEventStateMetadata`,
laid out as the preview digest lays out its steps (`oldState`/`newState`, `diffReasons`,
`replaceReasons`, with `dependencies`/`propertyDependencies` as in the engine's resource state), and
the values a real preview cannot know yet (outputs of a replaced resource and what is built from them)
are Pulumi's unknown sentinel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pulumi.automation.events import OpType, StepEventMetadata, StepEventStateMetadata

from offline.model import ResourceSnapshot
from offline.plan import REPLACE, SAME, UNKNOWN, Plan, Step, plan
from offline.snapshots import read

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "pulumi-preview-instruction-change.json"


def _state(resource: ResourceSnapshot, unknown: set[str]) -> dict[str, Any]:
    meta = StepEventStateMetadata(
        type=resource.type,
        urn=resource.urn,
        id=str(resource.outputs.get("id", "")),
        parent=resource.parent or "",
        provider=resource.provider.urn if resource.provider else "",
        custom=resource.custom,
        protect=resource.protect,
        retain_on_delete=resource.retain_on_delete,
        inputs={k: (UNKNOWN if k in unknown else v) for k, v in resource.inputs.items()},
        outputs=dict(resource.outputs),
    )
    return {
        "type": meta.type,
        "urn": meta.urn,
        "id": meta.id,
        "parent": meta.parent,
        "provider": meta.provider,
        "custom": meta.custom,
        "protect": meta.protect,
        "retainOnDelete": meta.retain_on_delete,
        "inputs": meta.inputs,
        "outputs": meta.outputs,
        "dependencies": list(resource.dependencies),
        "propertyDependencies": {k: list(v) for k, v in resource.property_dependencies.items()},
    }


def _events(step: Step) -> list[StepEventMetadata]:
    unknown = {c.path for c in step.changes if c.via is not None}
    old = StepEventStateMetadata.from_json(_state(step.old, set())) if step.old else None
    new = StepEventStateMetadata.from_json(_state(step.new, unknown)) if step.new else None
    common: dict[str, Any] = {"urn": step.urn, "type": step.type, "provider": "", "old": old, "new": new}
    if step.op != REPLACE:
        return [StepEventMetadata(op=OpType(step.op), diffs=list(step.changed_paths), **common)]
    return [
        StepEventMetadata(op=OpType.CREATE_REPLACEMENT, keys=list(step.replace_reasons), **common),
        StepEventMetadata(
            op=OpType.REPLACE, keys=list(step.replace_reasons), diffs=list(step.changed_paths), **common
        ),
        StepEventMetadata(op=OpType.DELETE_REPLACED, **common),
    ]


def preview_document(step_plan: Plan, unchanged: list[ResourceSnapshot]) -> dict[str, Any]:
    by_urn = {step.urn: step for step in step_plan.steps}
    states = {step.urn: step for step in step_plan.steps}
    raw_steps: list[dict[str, Any]] = []
    for resource in unchanged:
        if resource.urn not in by_urn:
            states[resource.urn] = Step(SAME, resource.urn, resource.type, resource.name, resource, resource)
    for urn, step in states.items():
        for event in _events(step):
            raw_steps.append(
                {
                    "op": event.op.value,
                    "urn": event.urn,
                    "provider": event.provider,
                    # Unchanged resources: their new state is all the plan needs (and the file stays small).
                    **(
                        {"oldState": _state(step.old, set())}
                        if event.old and step.old and step.op != SAME
                        else {}
                    ),
                    **(
                        {"newState": _state(step.new, {c.path for c in step.changes if c.via})}
                        if event.new and step.new
                        else {}
                    ),
                    "diffReasons": event.diffs or [],
                    "replaceReasons": event.keys or [],
                }
            )
        del urn
    counts: dict[str, int] = {}
    for raw in raw_steps:
        counts[raw["op"]] = counts.get(raw["op"], 0) + 1
    return {"steps": raw_steps, "changeSummary": counts, "diagnostics": []}


def main() -> int:
    design = FIXTURES / "design-2026-12-01"
    old, new = read(design / "dev.json"), read(design / "dev-instruction-changed.json")
    document = preview_document(plan(old, new), new)
    steps = [
        json.dumps(step, sort_keys=True, default=str, separators=(",", ":")) for step in document["steps"]
    ]
    head = json.dumps({k: v for k, v in document.items() if k != "steps"}, sort_keys=True)[1:-1]
    SAMPLE.write_text("{" + head + ',\n"steps": [\n' + ",\n".join(steps) + "\n]}\n", encoding="utf-8")
    print(f"wrote {SAMPLE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
