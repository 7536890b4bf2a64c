"""The policy report as a user reads it in the text preview.

- Root cause first: mandatory findings, then in the pack's declaration order, which puts a rule about a
  resource's own setting (a route to a NAT gateway, an ingress open to the world) before the rules that
  see its consequences (a Lambda in a subnet that is not private, an endpoint no Lambda can reach).
- One fault, one entry: the pack reports each resource once per rule; findings that differ only by the
  resource's name (one CORS edit on every gateway response) are listed once with every resource.
- Every entry says how to fix it (the rule's remediation) and, when a stack setting of this program
  caused it, which config key to change, its value and where that value comes from.

`--json` keeps every violation as the engine reports it; this module only shapes the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from offline.model import PolicyReport, PolicyViolation, ResourceSnapshot

INDENT: Final = "          "


@dataclass(frozen=True)
class SettingCause:
    """A program setting that decides what a rule checks. `applies(value)` says whether the stack's
    current value is the cause (a violation the code caused does not name a setting)."""

    key: str  # without the project namespace
    applies: Callable[[Any], bool]
    fix: str


def _unset(value: Any) -> bool:
    return value in (None, "")


def _missing_service(value: Any, violation: PolicyViolation) -> bool:
    """The violation names services (…endpoint for 'x') that the setting does not list."""
    listed = value if isinstance(value, list) else []
    missing = [part.split("'")[0] for part in violation.message.split("endpoint for '")[1:]]
    return bool(missing) and any(service not in listed for service in missing)


# Rule -> the setting of this program that feeds it. Only settings a user can turn into the violation.
SETTING_CAUSES: Final[Mapping[str, SettingCause]] = {
    "api-method-authorization": SettingCause("apiAuth", lambda v: v == "none", "set it to iam or api-key"),
    "flow-log-captures-all-traffic": SettingCause(
        "flowLogTrafficType", lambda v: v != "ALL", "set it to ALL"
    ),
    "log-group-retention": SettingCause(
        "logRetentionDays", lambda v: True, "raise it to at least the rule's minimum (30 days by default)"
    ),
    "bedrock-agent-guardrail": SettingCause(
        "agentGuardrailId", _unset, "set agentGuardrailId and agentGuardrailVersion"
    ),
    "bedrock-agent-customer-kms-key": SettingCause(
        "agentKmsKeyArn", _unset, "set it to a customer-managed KMS key ARN"
    ),
    "bedrock-agent-idle-session-ttl": SettingCause(
        "agentIdleSessionTtlSeconds", lambda v: True, "bring it within the rule's bounds (60-3600 by default)"
    ),
    "stateful-resources-protected": SettingCause(
        "protectStatefulResources", lambda v: v is not True, "set it to true for a production stack"
    ),
    "lambda-reserved-concurrency-not-zero": SettingCause(
        "invokerReservedConcurrency", lambda v: v == 0, "use a positive cap or remove it"
    ),
    "cors-no-wildcard-origin": SettingCause(
        "apiCorsAllowedOrigins",
        lambda v: isinstance(v, list) and any("*" in str(o) or o == "null" for o in v),
        "list the exact origins",
    ),
}
# Causes that depend on the violation as well as on the value.
_VIOLATION_CAUSES: Final[Mapping[str, tuple[str, Callable[[Any, PolicyViolation], bool], str]]] = {
    "vpc-required-endpoints": ("interfaceEndpoints", _missing_service, "add the missing service to it"),
}


def _value(config: Mapping[str, str], full_key: str) -> Any:
    raw = config.get(full_key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def setting_hint(
    violation: PolicyViolation, config: Mapping[str, str], project: str, defaults: Mapping[str, Any]
) -> str | None:
    """`stack setting <project>:<key> = <value> (<origin>): <fix>` (or `… is unset: <fix>`) when a setting
    of this program caused the violation; None when the code did."""
    cause = SETTING_CAUSES.get(violation.policy_name)
    if cause is not None:
        key, fix = cause.key, cause.fix
        value = _value(config, f"{project}:{key}")
        if not cause.applies(value):
            return None
    elif violation.policy_name in _VIOLATION_CAUSES:
        key, applies, fix = _VIOLATION_CAUSES[violation.policy_name]
        value = _value(config, f"{project}:{key}")
        if not applies(value, violation):
            return None
    else:
        return None
    if value is None:
        return f"stack setting {project}:{key} is unset: {fix}"
    origin = "the default in Pulumi.yaml" if defaults.get(key) == value else "set for this stack"
    return f"stack setting {project}:{key} = {json.dumps(value)} ({origin}): {fix}"


@dataclass(frozen=True)
class Entry:
    """One line of the report: a rule's finding on one or more resources that share it."""

    violation: PolicyViolation  # the first of the group
    urns: tuple[str, ...]


def _shape(violation: PolicyViolation, names: Mapping[str, str]) -> str:
    name = names.get(violation.urn)
    return violation.message.replace(f"'{name}'", "'…'") if name else violation.message


def entries(report: PolicyReport, resources: Sequence[ResourceSnapshot]) -> list[Entry]:
    """The violations grouped (same rule, same finding but for the resource name), root cause first."""
    names = {r.urn: r.name for r in resources}
    rank = {policy.name: index for index, policy in enumerate(report.policies)}
    ordered = sorted(
        report.violations,
        key=lambda v: (not v.mandatory, rank.get(v.policy_name, len(rank)), v.policy_name, v.urn, v.message),
    )
    groups: dict[tuple[str, str, str], list[PolicyViolation]] = {}
    for violation in ordered:
        key = (violation.policy_name, violation.enforcement_level, _shape(violation, names))
        groups.setdefault(key, []).append(violation)
    return [Entry(members[0], tuple(v.urn for v in members)) for members in groups.values()]


def render_violations(
    report: PolicyReport,
    resources: Sequence[ResourceSnapshot],
    *,
    config: Mapping[str, str],
    project: str,
    defaults: Mapping[str, Any],
    display_type: Callable[[str], str],
) -> list[str]:
    by_urn = {r.urn: r for r in resources}
    remediation = {policy.name: policy.remediation_steps for policy in report.policies}
    lines: list[str] = []
    for entry in entries(report, resources):
        violation = entry.violation
        where = _where(entry, by_urn, display_type)
        lines.append(f"        - [{violation.enforcement_level}]  {violation.policy_name}  {where}")
        lines += [f"{INDENT}{text}" for text in violation.message.strip().splitlines()]
        if len(entry.urns) > 1:
            lines.append(f"{INDENT}(and the same on the other {len(entry.urns) - 1})")
        if remediation.get(violation.policy_name):
            lines.append(f"{INDENT}fix: {remediation[violation.policy_name]}")
        hint = setting_hint(violation, config, project, defaults)
        if hint:
            lines.append(f"{INDENT}{hint}")
    return lines


def _where(entry: Entry, by_urn: Mapping[str, ResourceSnapshot], display_type: Callable[[str], str]) -> str:
    named = [by_urn[urn] for urn in entry.urns if urn in by_urn]
    if not named:
        return "stack"
    by_type: dict[str, list[str]] = {}
    for resource in named:
        by_type.setdefault(display_type(resource.type), []).append(resource.name)
    shown = "; ".join(f"{type_} ({', '.join(names)})" for type_, names in by_type.items())
    return shown if len(named) == 1 else f"{len(named)} resources: {shown}"
