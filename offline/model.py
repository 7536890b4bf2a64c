"""Plain data shared by the offline engine, the policy analyzer client and the preview report.

A `ResourceSnapshot` is what the Pulumi engine knows about one resource when it asks a policy pack
to judge it: its URN, type, name, input properties, parent, dependencies and options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProviderSnapshot:
    """The provider a resource is registered with (its inputs carry region and default tags)."""

    urn: str
    type: str
    name: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class ResourceSnapshot:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool = True
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    aliases: tuple[str, ...] = ()
    provider: ProviderSnapshot | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    replacement_trigger: Any = None  # the `replacement_trigger` resource option, if any
    # Resource options the engine's step plan reads (offline/plan.py).
    delete_before_replace: bool = False
    replace_on_changes: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    retain_on_delete: bool = False
    deleted_with: str = ""


@dataclass(frozen=True)
class PolicyViolation:
    policy_name: str
    description: str
    message: str
    enforcement_level: str  # "advisory" | "mandatory" | "disabled" | "remediate"
    urn: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level in ("mandatory", "remediate")


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    remediation_steps: str = ""
    config_schema: dict[str, Any] = field(default_factory=dict)
    policy_type: str = "resource"  # "resource" | "stack"


@dataclass(frozen=True)
class PolicyReport:
    pack_name: str
    pack_version: str
    policies: tuple[PolicyInfo, ...]
    violations: tuple[PolicyViolation, ...]

    @property
    def mandatory_violations(self) -> tuple[PolicyViolation, ...]:
        return tuple(v for v in self.violations if v.mandatory)

    @property
    def passed(self) -> bool:
        return not self.mandatory_violations
