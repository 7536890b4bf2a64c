"""IAM-style policy documents: parsing, statement normalisation, action matching.

Every JSON policy the pack inspects (identity policies, trust policies, key policies, endpoint
policies) goes through `statements()`, so "Action may be a string or a list", "Statement may be an
object or a list" and "Principal may be '*' or a map of lists" are handled once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

from . import tokens
from .framework import UNKNOWN, Resource, Stack, as_list, is_unknown

# Actions that support resource-level permissions and that this kind of stack grants: an Allow on
# `Resource: "*"` for any of them is over-broad. Patterns are IAM globs. EC2 ENI actions
# (ec2:CreateNetworkInterface, ...) and X-Ray writes legitimately need "*" and are not listed.
RESOURCE_SCOPED_ACTIONS: Final = (
    "bedrock:InvokeAgent",
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:ApplyGuardrail",
    "bedrock:Retrieve",
    "bedrock:RetrieveAndGenerate",
    "lambda:InvokeFunction",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
    "iam:PassRole",
    "sts:AssumeRole",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter*",
    "s3:GetObject",
    "s3:PutObject",
    "sqs:SendMessage",
    "sns:Publish",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "execute-api:Invoke",
)

# Condition keys that bind a service principal to the calling account/resource (confused deputy).
CONFUSED_DEPUTY_KEYS: Final = frozenset(
    {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}
)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principals: Mapping[str, tuple[str, ...]]  # {"*": ("*",)} for `Principal: "*"`
    has_not_principal: bool
    conditions: Mapping[str, Any]
    sid: str = ""

    @property
    def allow(self) -> bool:
        return self.effect.lower() == "allow"

    @property
    def label(self) -> str:
        return f"statement '{self.sid}'" if self.sid else "a statement"

    @property
    def public_principal(self) -> bool:
        return any("*" in values for kind, values in self.principals.items() if kind in ("*", "AWS"))

    def service_principals(self) -> tuple[str, ...]:
        return self.principals.get("Service", ())

    def condition_values(self) -> dict[str, list[str]]:
        """Condition key (lower-case) -> every value bound to it, across all operators."""
        out: dict[str, list[str]] = {}
        for block in self.conditions.values():
            if isinstance(block, Mapping):
                for key, value in block.items():
                    out.setdefault(str(key).lower(), []).extend(str(v) for v in as_list(value))
        return out

    def grants(self, action: str) -> bool:
        """True if this Allow statement's actions overlap the action pattern `action`."""
        if not self.allow:
            return False
        if self.not_actions:
            return not any(actions_overlap(a, action) for a in self.not_actions)
        return any(actions_overlap(a, action) for a in self.actions)


def arn_matches(pattern: str, arn: str) -> bool:
    """IAM's Resource matching: `*` is any run of characters and `?` any one character, across ARN
    segments (`:` and `/` included), everything else literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn, re.DOTALL) is not None


def applies_to(statement: Statement, action: str, arn: str) -> bool:
    """Does the statement (Allow or Deny) cover `action` on the resource `arn`, as IAM evaluates it?
    Conditions are not evaluated: callers decide what a conditional statement means."""
    if statement.not_actions:
        action_hit = not any(action_matches(a, action) for a in statement.not_actions)
    else:
        action_hit = any(action_matches(a, action) for a in statement.actions)
    if statement.not_resources:
        return action_hit and not any(arn_matches(r, arn) for r in statement.not_resources)
    return action_hit and any(arn_matches(r, arn) for r in statement.resources)


def action_matches(pattern: str, action: str) -> bool:
    return fnmatchcase(action.lower(), pattern.lower())


def actions_overlap(a: str, b: str) -> bool:
    """Approximate overlap of two IAM action globs (exact for the patterns used in practice)."""
    return action_matches(a, b) or action_matches(b, a)


def is_wildcard_action(action: str) -> bool:
    """`*` or `service:*` -- every action of a service (or of AWS)."""
    return action == "*" or (action.endswith(":*") and action.count(":") == 1)


def parse(raw: Any) -> Any:
    """A policy document as a dict, UNKNOWN during preview, or None when absent or not JSON."""
    if is_unknown(raw):
        return UNKNOWN
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, Mapping) else None
    return None


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in as_list(value) if v is not None and not is_unknown(v))


def _principals(value: Any) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(kind): _strs(v) for kind, v in value.items()}
    return {"*": _strs(value)}


def statements(raw: Any) -> list[Statement] | None:
    """Normalised statements of a policy; None when the document is unknown or unreadable."""
    doc = parse(raw)
    if doc is None or is_unknown(doc):
        return None
    out = []
    for item in as_list(doc.get("Statement")):
        if not isinstance(item, Mapping):
            continue
        conditions = item.get("Condition")
        out.append(
            Statement(
                effect=str(item.get("Effect", "")),
                actions=_strs(item.get("Action")),
                not_actions=_strs(item.get("NotAction")),
                resources=_strs(item.get("Resource")),
                not_resources=_strs(item.get("NotResource")),
                principals=_principals(item.get("Principal")),
                has_not_principal="NotPrincipal" in item,
                conditions=conditions if isinstance(conditions, Mapping) else {},
                sid=str(item.get("Sid", "")),
            )
        )
    return out


def identity_documents(res: Resource) -> list[tuple[str, Any]]:
    """(label, raw document) for every identity policy a resource carries."""
    if res.type in tokens.INLINE_IDENTITY_POLICIES:
        return [("policy", res.get("policy"))]
    if res.type == tokens.ROLE:
        inline = res.get("inlinePolicies")
        if not isinstance(inline, list):
            return []
        return [
            (f"inlinePolicies[{i}]", p.get("policy")) for i, p in enumerate(inline) if isinstance(p, Mapping)
        ]
    return []


def allow_statements(res: Resource) -> list[tuple[str, Statement]]:
    """(document label, statement) for every Allow statement in a resource's identity policies."""
    return [
        (label, statement)
        for label, raw in identity_documents(res)
        for statement in statements(raw) or []
        if statement.allow
    ]


def identity_statements(res: Resource) -> list[tuple[str, Statement]]:
    """(document label, statement) for every statement, Allow and Deny, of a resource's identity policies."""
    return [
        (label, statement) for label, raw in identity_documents(res) for statement in statements(raw) or []
    ]


def role_statements(stack: Stack, function: Resource) -> list[Statement] | None:
    """Every statement of the identity policies of `function`'s role (inline on the role and its
    RolePolicy resources); None while one of them is still unknown (preview)."""
    found: list[Statement] = []
    for role in stack.refs(function, "role", (tokens.ROLE,)).found:
        for holder in [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]:
            for _, raw in identity_documents(holder):
                parsed = statements(raw)
                if parsed is None:
                    return None
                found += parsed
    return found
