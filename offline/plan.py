"""The step plan: what `pulumi preview` would do to go from one program state to another, in order.

Two states of the program (usually: the program at a git revision standing for what is deployed,
and the working tree) are diffed by URN, and each resource gets the step the Pulumi engine takes:

- `create` / `delete` for URNs on one side only (aliases count as the same resource);
- `update` when inputs differ, with the changed properties;
- `replace` when a changed input forces it (offline/replacements.json, generated from the provider
  source), when the `replacement_trigger` or a `replace_on_changes` input changes, or when the AWS
  provider's region changes. A replacement's outputs are unknown until it is created, so every input
  that depends on it (its property dependencies) changes too, which may cascade into replacements;
- unchanged resources are counted.

Order follows the engine: a step starts when the steps of everything it depends on have finished
(dependencies and property dependencies; unchanged resources pass through at once), and independent
steps run in parallel, so the steps fall into *waves*. A replacement creates the new resource at its
place and deletes the old one at the end (create-before-delete), unless delete-before-replace is in
force (the option, or an explicitly set auto-name the new resource could not take while the old one
exists: the bridge's rule), in which case the old one goes first. Deletions (and the deletion of
replaced resources) run after every other step, in reverse dependency order of the old state.
`plan_destroy` plans `pulumi destroy`: everything deleted, dependents first.

`offline/hazards.py` checks the plan for orders that fail on real AWS; `offline/baseline.py` runs
the program at a revision; `python -m offline preview --base REV` prints both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline import replacements
from offline.model import ResourceSnapshot

CREATE, UPDATE, REPLACE, DELETE, SAME = "create", "update", "replace", "delete", "same"
# The phases a step's work is split into in the waves.
PHASE_CREATE, PHASE_UPDATE = "create", "update"
PHASE_CREATE_REPLACEMENT, PHASE_DELETE_REPLACED, PHASE_DELETE = (
    "create-replacement",
    "delete-replaced",
    "delete",
)
SYMBOLS = {CREATE: "+", UPDATE: "~", REPLACE: "+-", DELETE: "-"}
# Pulumi prints this for values known only after a step runs (its preview sentinel).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Change:
    """One changed input. `via` names the replaced resource whose new outputs make it change."""

    path: str
    old: Any
    new: Any
    via: str | None = None
    forces: tuple[str, ...] = ()  # the replace-forcing paths this change touches


@dataclass
class Step:
    op: str
    urn: str
    type: str
    name: str
    old: ResourceSnapshot | None
    new: ResourceSnapshot | None
    changes: tuple[Change, ...] = ()
    replace_reasons: tuple[str, ...] = ()
    delete_before_replace: bool = False
    wave: int = 0  # create / update / create-replacement (for delete-before-replace: the create)
    delete_wave: int = 0  # delete / delete-replaced

    @property
    def custom(self) -> bool:
        resource = self.new or self.old
        return resource is not None and resource.custom

    @property
    def changed_paths(self) -> tuple[str, ...]:
        return tuple(change.path for change in self.changes)

    def phases(self) -> list[tuple[int, str]]:
        """(wave, phase) of each piece of work this step does."""
        if self.op == CREATE:
            return [(self.wave, PHASE_CREATE)]
        if self.op == UPDATE:
            return [(self.wave, PHASE_UPDATE)]
        if self.op == DELETE:
            return [(self.delete_wave, PHASE_DELETE)]
        if self.op == REPLACE:
            return sorted([(self.wave, PHASE_CREATE_REPLACEMENT), (self.delete_wave, PHASE_DELETE_REPLACED)])
        return []


@dataclass
class Plan:
    steps: list[Step]
    unchanged: int
    destroy: bool = False
    base: str = ""
    hazards: list[Any] = field(default_factory=list)  # offline.hazards.Hazard, filled by the caller

    def step(self, urn: str) -> Step:
        for step in self.steps:
            if step.urn == urn:
                return step
        raise LookupError(urn)

    def by_op(self, op: str) -> list[Step]:
        return [step for step in self.steps if step.op == op]

    def counts(self) -> dict[str, int]:
        counts = {op: len(self.by_op(op)) for op in (CREATE, UPDATE, REPLACE, DELETE)}
        counts[SAME] = self.unchanged
        return counts

    def waves(self) -> list[list[tuple[str, Step]]]:
        """The custom resources' work, wave by wave: [(phase, step), ...] per wave."""
        by_wave: dict[int, list[tuple[str, Step]]] = {}
        for step in self.steps:
            if not step.custom:
                continue
            for wave, phase in step.phases():
                by_wave.setdefault(wave, []).append((phase, step))
        return [sorted(by_wave[w], key=lambda item: (item[1].type, item[1].name)) for w in sorted(by_wave)]

    @property
    def changes_anything(self) -> bool:
        return bool(self.steps)


# --------------------------------------------------------------------------------------------------
# Inputs as the engine compares them


def fingerprint_assets(resources: Iterable[ResourceSnapshot]) -> list[ResourceSnapshot]:
    """Assets are compared by content, as Pulumi hashes them, not by where the checkout lies."""
    return [_with_inputs(resource, _hash_paths(resource.inputs)) for resource in resources]


def _hash_paths(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"path"} and isinstance(value["path"], str) and Path(value["path"]).is_file():
            return {"sha256": hashlib.sha256(Path(value["path"]).read_bytes()).hexdigest()}
        return {key: _hash_paths(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_hash_paths(item) for item in value]
    return value


def _with_inputs(resource: ResourceSnapshot, inputs: dict[str, Any]) -> ResourceSnapshot:
    from dataclasses import replace

    return replace(resource, inputs=inputs)


def _dependencies(resource: ResourceSnapshot) -> set[str]:
    deps = set(resource.dependencies)
    for urns in resource.property_dependencies.values():
        deps.update(urns)
    if resource.deleted_with:
        deps.add(resource.deleted_with)
    deps.discard(resource.urn)
    return deps


def _topological(resources: Sequence[ResourceSnapshot]) -> list[ResourceSnapshot]:
    by_urn = {resource.urn: resource for resource in resources}
    ordered: list[ResourceSnapshot] = []
    state: dict[str, int] = {}

    def visit(resource: ResourceSnapshot) -> None:
        mark = state.get(resource.urn)
        if mark == 2:
            return
        if mark == 1:
            raise ValueError(f"dependency cycle through {resource.urn}")
        state[resource.urn] = 1
        for dep in sorted(_dependencies(resource)):
            if dep in by_urn:
                visit(by_urn[dep])
        if resource.parent in by_urn:
            visit(by_urn[resource.parent])
        state[resource.urn] = 2
        ordered.append(resource)

    for resource in resources:
        visit(resource)
    return ordered


def _values_at(value: Any, path: Sequence[str]) -> list[Any]:
    """Every value at the dotted `path` under `value` (lists are walked element by element)."""
    if not path:
        return [value]
    if isinstance(value, list):
        return [found for item in value for found in _values_at(item, path)]
    if isinstance(value, dict) and path[0] in value:
        return _values_at(value[path[0]], path[1:])
    return []


def _is_unknown(value: Any) -> bool:
    return value == UNKNOWN


def _forcing(
    table: replacements.Replacements, prop: str, old: Any, new: Any, computed: bool
) -> tuple[str, ...]:
    """The replace-forcing paths under `prop` whose value changes (all of them if `new` is unknown)."""
    forcing = []
    for path in table.forcing(prop):
        rest = path.split(".")[1:]
        if computed or _is_unknown(new) or _values_at(old, rest) != _values_at(new, rest):
            forcing.append(path)
    return tuple(forcing)


# --------------------------------------------------------------------------------------------------
# Diff


def diff(old: ResourceSnapshot, new: ResourceSnapshot, replaced: Mapping[str, str]) -> Step:
    """The step that takes `old` to `new`; `replaced` maps URNs being replaced to their names."""
    table = replacements.for_type(new.type) if new.custom else None
    ignored = set(new.ignore_changes)
    changes: list[Change] = []
    for prop in sorted(set(old.inputs) | set(new.inputs)):
        if prop in ignored or prop == "__defaults":
            continue
        before, after = old.inputs.get(prop), new.inputs.get(prop)
        via = next(
            (replaced[urn] for urn in new.property_dependencies.get(prop, ()) if urn in replaced), None
        )
        if before == after and via is None:
            continue
        forces = _forcing(table, prop, before, after, computed=via is not None) if table else ()
        changes.append(Change(prop, before, after, via, forces))

    reasons = [path for change in changes for path in change.forces]
    reasons += [change.path for change in changes if change.path in new.replace_on_changes]
    if old.replacement_trigger != new.replacement_trigger:
        reasons.append("replacementTrigger")
    old_region = (old.provider.properties.get("region") if old.provider else None) or ""
    new_region = (new.provider.properties.get("region") if new.provider else None) or ""
    if new.custom and old_region != new_region:
        reasons.append(f"provider region {old_region} -> {new_region}")
    if not changes and not reasons:
        return Step(SAME, new.urn, new.type, new.name, old, new)
    if not reasons:
        return Step(UPDATE, new.urn, new.type, new.name, old, new, tuple(changes))
    autoname = table.autoname if table else None
    explicit_name_kept = bool(
        autoname and autoname in new.inputs and old.inputs.get(autoname) == new.inputs.get(autoname)
    )
    return Step(
        REPLACE,
        new.urn,
        new.type,
        new.name,
        old,
        new,
        tuple(changes),
        tuple(dict.fromkeys(reasons)),
        delete_before_replace=new.delete_before_replace or explicit_name_kept,
    )


def _match_old(new: ResourceSnapshot, old_by_urn: Mapping[str, ResourceSnapshot]) -> ResourceSnapshot | None:
    if new.urn in old_by_urn:
        return old_by_urn[new.urn]
    for alias in new.aliases:
        if alias in old_by_urn:
            return old_by_urn[alias]
    return None


def plan(old: Sequence[ResourceSnapshot], new: Sequence[ResourceSnapshot], *, base: str = "") -> Plan:
    """The steps from the state `old` to the program state `new`, scheduled in waves."""
    old_by_urn = {resource.urn: resource for resource in old}
    matched: set[str] = set()
    replaced: dict[str, str] = {}
    steps: list[Step] = []
    for resource in _topological(new):
        previous = _match_old(resource, old_by_urn)
        if previous is None:
            steps.append(Step(CREATE, resource.urn, resource.type, resource.name, None, resource))
            continue
        matched.add(previous.urn)
        step = diff(previous, resource, replaced)
        if step.op == REPLACE:
            replaced[resource.urn] = resource.name
            replaced[previous.urn] = resource.name
        steps.append(step)
    for resource in old:
        if resource.urn not in matched:
            steps.append(Step(DELETE, resource.urn, resource.type, resource.name, resource, None))
    return schedule(steps, old, new, base=base)


def _delete_dependents_first(
    root: Step, steps: Sequence[Step], old: Sequence[ResourceSnapshot], start: int, deleted_first: set[int]
) -> int:
    """Before a delete-before-replace deletes `root`, the engine deletes the resources that depend on it
    and would be replaced by its deletion, dependents first; each is created again at its own turn.
    pulumi/pulumi step_generator.go, `calculateDependentReplacements`: of the root's transitive
    dependents (old state, in dependency order), those with an input whose property dependencies are in
    the replace set, and whose provider diff with those inputs unknown asks for replacement (here: the
    input has replace-forcing paths). Schedules those deletions from wave `start + 1` and returns how
    many waves they take."""
    if root.old is None:
        return 0
    by_old = {step.old.urn: step for step in steps if step.op == REPLACE and step.old is not None}
    replace_set = {root.old.urn}
    chosen: dict[str, ResourceSnapshot] = {}
    for resource in _topological(old):
        step = by_old.get(resource.urn)
        if step is None or step is root or id(step) in deleted_first or not resource.custom:
            continue
        unknown = [p for p, urns in resource.property_dependencies.items() if replace_set & set(urns)]
        if not unknown or resource.type not in replacements.known_types():
            continue  # a real engine plan may hold types the table lacks: its own steps give the order
        table = replacements.for_type(resource.type)
        if any(table.forcing(prop) for prop in unknown):
            replace_set.add(resource.urn)
            chosen[resource.urn] = resource
    height: dict[str, int] = {}

    def depth(urn: str) -> int:  # how many of the chosen ones must be deleted before `urn`
        if urn not in height:
            height[urn] = max(
                (
                    depth(other.urn) + 1
                    for other in chosen.values()
                    if urn in {u for us in other.property_dependencies.values() for u in us}
                ),
                default=0,
            )
        return height[urn]

    for urn in chosen:
        step = by_old[urn]
        step.delete_before_replace = True
        step.delete_wave = start + 1 + depth(urn)
        deleted_first.add(id(step))
    return max((depth(urn) + 1 for urn in chosen), default=0)


def plan_destroy(state: Sequence[ResourceSnapshot], *, base: str = "") -> Plan:
    steps = [Step(DELETE, r.urn, r.type, r.name, r, None) for r in state if not r.retain_on_delete]
    return schedule(steps, state, [], destroy=True, base=base)


def schedule(
    steps: list[Step],
    old: Sequence[ResourceSnapshot],
    new: Sequence[ResourceSnapshot],
    *,
    destroy: bool = False,
    base: str = "",
) -> Plan:
    by_urn = {step.urn: step for step in steps}
    finished: dict[str, int] = {}
    deleted_first: set[int] = set()  # id() of steps whose old resource a delete-before-replace removed
    for resource in _topological(new):
        step = by_urn[resource.urn]
        start = max((finished.get(dep, 0) for dep in _dependencies(resource)), default=0)
        if step.op == SAME or not resource.custom:
            finished[resource.urn] = start
            continue
        if id(step) in deleted_first:
            step.wave = max(start, step.delete_wave) + 1
        elif step.op == REPLACE and step.delete_before_replace:
            below = _delete_dependents_first(step, steps, old, start, deleted_first)
            step.delete_wave = start + 1 + below
            step.wave = step.delete_wave + 1
        else:
            step.wave = start + 1
        finished[resource.urn] = step.wave
        if step.old is not None:
            finished[step.old.urn] = step.wave
    last = max(finished.values(), default=0)

    # Deletions: after everything else; a resource goes after every deleted one that depended on it.
    deleting = {
        (step.old.urn if step.old else step.urn): step
        for step in steps
        if step.op == DELETE or (step.op == REPLACE and not step.delete_before_replace)
    }
    dependents: dict[str, set[str]] = {urn: set() for urn in deleting}
    for resource in old:
        if resource.urn not in deleting:
            continue
        for dep in _dependencies(resource) | ({resource.parent} if resource.parent else set()):
            if dep in dependents:
                dependents[dep].add(resource.urn)
    level: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(urn: str) -> int:
        if urn not in level:
            if urn in visiting:
                raise ValueError(f"dependency cycle through {urn}")
            visiting.add(urn)
            below = max((depth(dependent) for dependent in dependents[urn]), default=0)
            level[urn] = below + (1 if deleting[urn].custom else 0)
            visiting.discard(urn)
        return level[urn]

    for urn, step in deleting.items():
        step.delete_wave = last + max(depth(urn), 1)
    ordered = [step for step in steps if step.op != SAME]
    return Plan(ordered, unchanged=sum(1 for step in steps if step.op == SAME), destroy=destroy, base=base)


# --------------------------------------------------------------------------------------------------
# Rendering


def _display_type(type_: str) -> str:
    package, _, rest = type_.partition(":")
    module, _, name = rest.partition(":")
    return f"{package}:{module.split('/')[0]}:{name}" if name else type_


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_text(change: Change) -> str:
    if change.via is not None:
        return f"{change.path} (known after {change.via} is replaced)"
    if change.old is None:
        return f"{change.path}: + {_short(change.new)}"
    if change.new is None:
        return f"{change.path}: - {_short(change.old)}"
    if isinstance(change.old, str | int | float | bool) and isinstance(change.new, str | int | float | bool):
        return f"{change.path}: {_short(change.old, 40)} => {_short(change.new, 40)}"
    return change.path


def render(plan: Plan) -> list[str]:
    title = "Destroy plan" if plan.destroy else "Step plan"
    against = f" against {plan.base}" if plan.base else ""
    lines = [f"{title}{against} (offline: the engine's order, waves of steps that run in parallel):"]
    if not plan.changes_anything:
        lines.append("    no changes")
    for number, wave in enumerate(plan.waves(), start=1):
        lines.append(f"    wave {number}:")
        for phase, step in wave:
            symbol = {
                PHASE_CREATE_REPLACEMENT: "++",
                PHASE_DELETE_REPLACED: "--",
            }.get(phase, SYMBOLS.get(step.op, "?"))
            label = {PHASE_CREATE_REPLACEMENT: "create replacement", PHASE_DELETE_REPLACED: "delete replaced"}
            what = label.get(phase, step.op)
            if step.op == DELETE and step.old is not None and step.old.retain_on_delete:
                what = "delete (retain_on_delete: leaves the stack, stays in AWS)"
            lines.append(f"      {symbol:<3}{_display_type(step.type)}  {step.name}  {what}")
            if phase == PHASE_DELETE_REPLACED:
                continue
            if step.op == REPLACE:
                order = "delete-before-replace" if step.delete_before_replace else "create-before-delete"
                lines.append(f"           replaced because of: {', '.join(step.replace_reasons)} ({order})")
            for change in step.changes:
                if step.op == REPLACE and change.forces:
                    continue
                lines.append(f"           {_change_text(change)}")
    components = [s for s in plan.steps if not s.custom]
    if components:
        parts = ", ".join(f"{SYMBOLS[s.op]} {s.name}" for s in sorted(components, key=lambda s: s.name))
        lines.append(f"    components: {parts}")
    counts = plan.counts()
    lines.append(
        "    "
        + ", ".join(
            f"{SYMBOLS[op]} {counts[op]} to {op}" for op in (CREATE, UPDATE, REPLACE, DELETE) if counts[op]
        )
        + (", " if any(counts[op] for op in (CREATE, UPDATE, REPLACE, DELETE)) else "")
        + f"{counts[SAME]} unchanged"
    )
    return lines


def to_json(plan: Plan) -> dict[str, Any]:
    return {
        "base": plan.base,
        "destroy": plan.destroy,
        "counts": plan.counts(),
        "steps": [
            {
                "op": step.op,
                "urn": step.urn,
                "type": step.type,
                "name": step.name,
                "wave": step.wave or None,
                "deleteWave": step.delete_wave or None,
                "changes": [
                    {"path": c.path, "old": c.old, "new": c.new, "via": c.via, "forces": list(c.forces)}
                    for c in step.changes
                ],
                "replaceReasons": list(step.replace_reasons),
                "deleteBeforeReplace": step.delete_before_replace,
            }
            for step in plan.steps
        ],
        "waves": [[{"phase": phase, "urn": step.urn} for phase, step in wave] for wave in plan.waves()],
    }
