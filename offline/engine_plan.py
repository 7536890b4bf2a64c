"""The same hazard checks on the real engine's plan: `pulumi preview --json` (or its engine events).

With the Pulumi CLI and AWS credentials:

    pulumi preview --stack dev --json > preview.json
    python -m offline check-plan preview.json

`pulumi preview --json` prints the preview digest: `steps`, each with `op`, `urn`, `oldState` and
`newState` (the engine's resource state: type, inputs, outputs, parent, dependencies,
propertyDependencies, ...), `diffReasons` and `replaceReasons`. The engine's event stream
(`pulumi preview --event-log`, the Automation API's `ResourcePreEvent.metadata`) carries the same
steps as `StepEventMetadata` (`old`/`new` as `StepEventStateMetadata`, `diffs`, `keys`); both shapes
are read here, through the Automation API's types (pulumi.automation.events). A replacement is
several engine steps (create-replacement, replace, delete-replaced) folded into one `replace`; it
deletes before it creates when delete-replaced comes first. Values the preview does not know yet are
Pulumi's unknown sentinel; a policy that becomes unknown because the resource it names is replaced
is checked as dropping that resource's old ARNs. The waves come from the steps' dependencies, as in
the offline plan (offline/plan.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi.automation.events import OpType, StepEventStateMetadata

from offline import hazards
from offline.model import ResourceSnapshot
from offline.plan import CREATE, DELETE, REPLACE, SAME, UPDATE, Change, Plan, Step, render, schedule

_SKIPPED_TYPES = ("pulumi:providers:", "pulumi:pulumi:Stack")


def _state(data: Mapping[str, Any] | None) -> ResourceSnapshot | None:
    if not data:
        return None
    meta = StepEventStateMetadata.from_json(dict(data))
    return ResourceSnapshot(
        urn=meta.urn,
        type=meta.type,
        name=meta.urn.rsplit("::", 1)[-1],
        inputs=dict(meta.inputs or {}),
        custom=bool(meta.custom),
        parent=meta.parent or None,
        dependencies=tuple(data.get("dependencies") or ()),
        property_dependencies={k: tuple(v) for k, v in (data.get("propertyDependencies") or {}).items()},
        protect=bool(meta.protect),
        outputs={"id": meta.id, **dict(meta.outputs or {})},
        retain_on_delete=bool(meta.retain_on_delete),
        deleted_with=str(data.get("deletedWith") or ""),
    )


def _op(ops: Sequence[str]) -> tuple[str, bool]:
    """The plan's op for a URN's engine steps, and whether a replacement deletes first."""
    kinds = set(ops)
    if kinds & {OpType.REPLACE.value, OpType.CREATE_REPLACEMENT.value}:
        creates = ops.index(OpType.CREATE_REPLACEMENT.value) if OpType.CREATE_REPLACEMENT.value in ops else 0
        deletes = ops.index(OpType.DELETE_REPLACED.value) if OpType.DELETE_REPLACED.value in ops else len(ops)
        return REPLACE, deletes < creates
    for engine_op, op in ((OpType.CREATE, CREATE), (OpType.UPDATE, UPDATE), (OpType.DELETE, DELETE)):
        if engine_op.value in kinds:
            return op, False
    return SAME, False


def read_engine_plan(document: Mapping[str, Any]) -> Plan:
    """A `Plan` from `pulumi preview --json` output (or a list of engine step events)."""
    raw_steps = document.get("steps", []) if isinstance(document, Mapping) else document
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for raw in raw_steps:
        grouped.setdefault(str(raw["urn"]), []).append(raw)
    steps: list[Step] = []
    old_state: list[ResourceSnapshot] = []
    new_state: list[ResourceSnapshot] = []
    for urn, raws in grouped.items():
        old = next((s for r in raws if (s := _state(r.get("oldState") or r.get("old")))), None)
        new = next((s for r in raws if (s := _state(r.get("newState") or r.get("new")))), None)
        resource = new or old
        if resource is None or resource.type.startswith(_SKIPPED_TYPES):
            continue
        op, delete_first = _op([str(r["op"]) for r in raws])
        if op == DELETE:
            new = None
        elif op == SAME and old is None:
            old = new
        if old is not None:
            old_state.append(old)
        if new is not None:
            new_state.append(new)
        diffs = [str(k) for r in raws for k in (r.get("diffReasons") or r.get("diffs") or ())]
        replace_reasons = [str(k) for r in raws for k in (r.get("replaceReasons") or r.get("keys") or ())]
        changes = tuple(
            Change(
                path,
                (old.inputs if old else {}).get(path),
                (new.inputs if new else {}).get(path),
                forces=(path,) if path in replace_reasons else (),
            )
            for path in dict.fromkeys(d.split(".", 1)[0].split("[", 1)[0] for d in diffs)
        )
        steps.append(
            Step(
                op,
                urn,
                resource.type,
                resource.name,
                old,
                new,
                changes,
                tuple(dict.fromkeys(replace_reasons)) if op == REPLACE else (),
                delete_before_replace=delete_first,
            )
        )
    return schedule(steps, old_state, new_state, base="pulumi preview --json")


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print(
            "usage: python -m offline check-plan PREVIEW.json  (from `pulumi preview --json`)",
            file=sys.stderr,
        )
        return 2
    document = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    engine_plan = read_engine_plan(document)
    engine_plan.hazards = hazards.check(engine_plan)
    print("\n".join([*render(engine_plan), "", *hazards.render(engine_plan.hazards)]))
    return 1 if engine_plan.hazards else 0
