"""Rule plumbing shared by every rule module.

Rules never touch pulumi_policy's property proxies directly: `plain()` copies them into ordinary
dicts/lists and replaces every value that is unknown during preview with `UNKNOWN`. A rule then
decides explicitly what an unknown means (always "cannot tell yet, do not flag": the same rule runs
again at `pulumi up`, when every input is known). Reading a proxy carelessly would raise
`UnknownValueError`, which pulumi_policy turns into a vague advisory that hides the real check.

`RuleSet.resource` / `RuleSet.stack` turn small generator functions into pulumi_policy policies:
the function yields violation messages; the wrapper filters resource types, merges config defaults
and converts an unexpected exception into a violation at the rule's own level (failing closed)
instead of aborting the whole preview with a gRPC error.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__))
MANDATORY: Final = EnforcementLevel.MANDATORY
ADVISORY: Final = EnforcementLevel.ADVISORY

_UNKNOWN_SENTINELS: Final = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class _Unknown:
    """A value the engine cannot know during preview (an output of a resource not yet created)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:
        # Truthiness of an unknown is a bug waiting to happen; rules must call is_unknown() first.
        raise TypeError("truth value of an unknown property is undefined; check is_unknown() first")


UNKNOWN: Final = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Copy pulumi_policy proxies into plain dicts/lists, mapping unknowns to `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {key: _item(value, key) for key in value}
    if isinstance(value, Sequence):
        return [_item(value, index) for index in range(len(value))]
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def strings(value: Any) -> list[str]:
    """Every known string inside a (possibly nested) value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def as_list(value: Any) -> list[Any]:
    """A property that AWS accepts as a scalar or a list, as a list (None -> [])."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def number(value: Any) -> float | None:
    """Numbers arrive as floats (protobuf Struct); numeric strings are accepted, bools are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def dig(value: Any, path: str) -> Any:
    """`dig(props, "vpcConfig.subnetIds")`; None when any step is missing, UNKNOWN when unknown."""
    current = value
    for part in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


@dataclass(frozen=True, eq=False)
class Resource:
    """One resource as a rule sees it: plain props (inputs, or outputs for stack rules).
    Compared and hashed by identity: one object per resource per evaluation."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False  # the `protect` resource option, as the engine sends it

    def get(self, path: str) -> Any:
        return dig(self.props, path)

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} '{self.name}'"


@dataclass(frozen=True)
class Refs:
    """What a reference property points at inside the stack."""

    found: tuple[Resource, ...]
    unresolved: tuple[str, ...]  # known values that match no resource of the wanted types
    unknown: bool  # some referenced value is unknown (preview)


# Output properties other resources use to refer to a resource (Bedrock names its ARNs specially).
_IDENTITY_KEYS: Final = ("id", "arn", "name", "agentArn", "agentAliasArn")


class Stack:
    """The whole stack graph with reference resolution.

    A property such as `vpcConfig.subnetIds` refers to other resources by ID/ARN/name. Two sources
    of truth are combined: value matching against each resource's `id`/`arn`/`name`, and the
    engine's `propertyDependencies` (which still name the referenced URNs when the IDs themselves
    are unknown during preview, or when a mock engine invents IDs that appear nowhere else).
    """

    def __init__(self, resources: Sequence[Resource]) -> None:
        self.resources = tuple(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[Resource]] = {}
        self._identity: dict[str, list[Resource]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)
            for key in _IDENTITY_KEYS:
                value = r.props.get(key)
                if isinstance(value, str) and value:
                    self._identity.setdefault(value, []).append(r)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for t in types for r in self._by_type.get(t, [])]

    def refs(self, res: Resource, path: str, types: Collection[str]) -> Refs:
        """What `res`'s property at `path` ("vpcConfig.subnetIds") refers to among `types`."""
        return self.resolve(res, path.split(".", 1)[0], res.get(path), types)

    def resolve(self, res: Resource, top: str, value: Any, types: Collection[str]) -> Refs:
        """Resolve `value`, found under `res`'s top-level property `top`, to resources of `types`."""
        found: list[Resource] = []
        unresolved: list[str] = []
        for text in strings(value):
            hits = [r for r in self._identity.get(text, []) if r.type in types and r is not res]
            if hits:
                found.extend(h for h in hits if h not in found)
            else:
                unresolved.append(text)
        unknown = has_unknown(value)
        if unknown or unresolved:
            extra = [
                self.by_urn[urn]
                for urn in res.property_dependencies.get(top, ())
                if urn in self.by_urn and self.by_urn[urn].type in types and self.by_urn[urn] not in found
            ]
            found.extend(extra)
            # Each dependency explains one value we could not match by ID.
            unresolved = unresolved[len(extra) :]
        return Refs(tuple(found), tuple(unresolved), unknown)

    def points_to(self, res: Resource, path: str, target: Resource) -> bool:
        return target in self.refs(res, path, (target.type,)).found

    def referrers(self, target: Resource, types: Collection[str], path: str) -> list[Resource]:
        """Resources of `types` whose `path` refers to `target`."""
        return [r for r in self.of_type(*types) if self.points_to(r, path, target)]


# --- rule registration ---------------------------------------------------------------------------

Config = Mapping[str, Any]
ResourceCheck = Callable[[Resource, Config], Iterable[str]]
StackCheck = Callable[[Stack, Config], Iterable[tuple[str, str]]]  # (urn, message)


@dataclass(frozen=True)
class Setting:
    """One configurable property of a rule; `default` is also published in the JSON schema."""

    name: str
    schema: Mapping[str, Any]
    default: Any
    description: str

    def property_schema(self) -> dict[str, Any]:
        return {**self.schema, "default": self.default, "description": self.description}


def _config_schema(settings: Sequence[Setting]) -> PolicyConfigSchema | None:
    if not settings:
        return None
    return PolicyConfigSchema(properties={s.name: s.property_schema() for s in settings})


def _config(settings: Sequence[Setting], given: Mapping[str, Any]) -> dict[str, Any]:
    # The engine fills schema defaults before Configure; defaults here keep the rule correct when
    # a pack is driven without config (or by an older engine).
    return {**{s.name: s.default for s in settings}, **dict(given)}


def _to_resource(args: ResourceValidationArgs) -> Resource:
    return Resource(
        type=args.resource_type,
        urn=args.urn,
        name=args.name,
        props=plain(args.props),
        provider_props=plain(args.provider.props) if args.provider is not None else {},
        parent=args.opts.parent,
        protect=bool(args.opts.protect),
    )


def _stack_resource(r: PolicyResource) -> Resource:
    return Resource(
        type=r.resource_type,
        urn=r.urn,
        name=r.name,
        props=plain(r.props),
        provider_props=plain(r.provider.props) if r.provider is not None else {},
        parent=r.parent.urn if r.parent is not None else None,
        dependencies=tuple(d.urn for d in r.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
        protect=bool(r.opts.protect),
    )


def merge_messages(messages: Sequence[str]) -> str:
    """One violation per rule and resource: a fault found several ways is still one finding, its
    distinct messages (in the order found) on separate lines."""
    return "\n".join(dict.fromkeys(messages))


def _crash_message(name: str, exc: Exception) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(_PACKAGE_DIR)]
    where = (ours or frames)[-1]
    return (
        f"internal error in rule '{name}' ({type(exc).__name__}: {exc} at "
        f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno}); treated as a violation so that a "
        "broken rule cannot silently pass"
    )


@dataclass
class RuleSet:
    """Collects the policies of one rule module, in declaration order."""

    policies: list[Policy] = field(default_factory=list)

    def resource(
        self,
        name: str,
        *,
        types: Collection[str],
        description: str,
        remediation: str,
        level: EnforcementLevel = MANDATORY,
        settings: Sequence[Setting] = (),
    ) -> Callable[[ResourceCheck], ResourceCheck]:
        wanted = frozenset(types)

        def register(check: ResourceCheck) -> ResourceCheck:
            def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
                if args.resource_type not in wanted:
                    return
                try:
                    messages = list(check(_to_resource(args), _config(settings, args.get_config())))
                    if messages:
                        report(merge_messages(messages), None)
                except Exception as exc:  # noqa: BLE001 -- a crashing rule must not abort the preview
                    report(_crash_message(name, exc), None)

            self.policies.append(
                ResourceValidationPolicy(
                    name=name,
                    description=description,
                    validate=validate,
                    enforcement_level=level,
                    config_schema=_config_schema(settings),
                    remediation_steps=remediation,
                )
            )
            return check

        return register

    def stack(
        self,
        name: str,
        *,
        description: str,
        remediation: str,
        level: EnforcementLevel = MANDATORY,
        settings: Sequence[Setting] = (),
    ) -> Callable[[StackCheck], StackCheck]:
        def register(check: StackCheck) -> StackCheck:
            def validate(args: StackValidationArgs, report: ReportViolation) -> None:
                try:
                    stack = Stack([_stack_resource(r) for r in args.resources])
                    by_urn: dict[str, list[str]] = {}
                    for urn, message in check(stack, _config(settings, args.get_config())):
                        by_urn.setdefault(urn, []).append(message)
                    for urn, messages in by_urn.items():
                        report(merge_messages(messages), urn or None)
                except Exception as exc:  # noqa: BLE001 -- a crashing rule must not abort the preview
                    report(_crash_message(name, exc), None)

            self.policies.append(
                StackValidationPolicy(
                    name=name,
                    description=description,
                    validate=validate,
                    enforcement_level=level,
                    config_schema=_config_schema(settings),
                    remediation_steps=remediation,
                )
            )
            return check

        return register


def each(items: Iterable[Resource], check: Callable[[Resource], Iterable[str]]) -> Iterator[tuple[str, str]]:
    """Attach each message `check` yields for a resource to that resource's URN."""
    for item in items:
        for message in check(item):
            yield item.urn, message
