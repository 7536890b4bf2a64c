"""The CrossGuard rules guarding the Bedrock-agent-in-a-private-VPC program.

Modules group rules by concern; each exposes a `RuleSet` named `rules`. Inside this package every
import is relative, so the same files load as `crossguard.*` in the pack process (the pack directory
is on sys.path) and as `policies.crossguard.*` from the repository root (tests, tools).
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    agent,
    agentcore,
    api,
    compute,
    iam,
    kms,
    knowledge,
    lifecycle,
    logs,
    network,
    ops,
    streaming,
    tags,
    web,
)

PACK_NAME = "bedrock-vpc-agent-guardrails"
PACK_DESCRIPTION = (
    "Guards a Bedrock agent running in a private VPC: no internet path, complete endpoint path, "
    "least-privilege IAM, authenticated and throttled API, bounded logs, versioned agent alias, "
    "a private chat page behind CloudFront OAC with CORS pinned to it."
)
_MODULES = (
    network,
    compute,
    iam,
    api,
    streaming,
    logs,
    agent,
    agentcore,
    knowledge,
    kms,
    tags,
    lifecycle,
    web,
    ops,
)


def all_policies() -> list[Policy]:
    policies = [policy for module in _MODULES for policy in module.rules.policies]
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate policy names: {duplicates}")
    return policies
