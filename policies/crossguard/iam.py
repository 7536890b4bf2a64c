"""IAM least privilege: identity policies, role trust policies, managed-policy attachments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from . import tokens
from .documents import (
    CONFUSED_DEPUTY_KEYS,
    RESOURCE_SCOPED_ACTIONS,
    Statement,
    allow_statements,
    is_wildcard_action,
    statements,
)
from .framework import Config, Resource, RuleSet, Setting, as_list, is_unknown, strings

rules = RuleSet()


@rules.resource(
    "iam-no-wildcard-actions",
    types=tokens.IDENTITY_POLICY_HOLDERS,
    description=(
        "IAM Allow statements must not grant '*' or 'service:*' actions (or use NotAction): they grant "
        "today's and every future action of the service, including destructive and admin ones."
    ),
    remediation="List the exact actions the code calls (e.g. bedrock:InvokeAgent).",
)
def iam_no_wildcard_actions(res: Resource, _: Config) -> Iterator[str]:
    for label, statement in allow_statements(res):
        wild = [a for a in statement.actions if is_wildcard_action(a)]
        if wild:
            yield f"{res.label} {label} {statement.label} allows {', '.join(wild)}"
        if statement.not_actions:
            yield f"{res.label} {label} {statement.label} uses NotAction in an Allow (grants everything else)"


EXTRA_SCOPED = Setting(
    "extraScopedActions",
    {"type": "array", "items": {"type": "string"}},
    [],
    "More action patterns (beyond the pack's built-in list) that must not be granted on Resource '*'.",
)


def _unscoped(statement: Statement, actions: list[str]) -> list[str]:
    if not (statement.not_resources or "*" in statement.resources):
        return []
    return [a for a in actions if statement.grants(a)]


@rules.resource(
    "iam-resource-level-scoping",
    types=tokens.IDENTITY_POLICY_HOLDERS,
    settings=[EXTRA_SCOPED],
    description=(
        "Actions that support resource-level permissions (bedrock:InvokeAgent, bedrock:InvokeModel*, "
        "lambda:InvokeFunction, logs:PutLogEvents, kms:Decrypt, iam:PassRole, ...) must name their "
        "resources, not Resource '*': a wildcard lets the role use every such resource in the account."
    ),
    remediation=(
        "Scope Resource to the exact ARNs (agent alias, function, log group, key). Actions that AWS only "
        "authorizes on '*' (e.g. ec2:CreateNetworkInterface) are not affected."
    ),
)
def iam_resource_level_scoping(res: Resource, config: Config) -> Iterator[str]:
    actions = [*RESOURCE_SCOPED_ACTIONS, *(str(a) for a in as_list(config["extraScopedActions"]))]
    for label, statement in allow_statements(res):
        hits = _unscoped(statement, actions)
        if hits:
            yield f"{res.label} {label} {statement.label} grants {', '.join(hits)} on Resource '*'"


SERVICE_PRINCIPALS = Setting(
    "servicePrincipals",
    {"type": "array", "items": {"type": "string"}},
    ["bedrock.amazonaws.com", "vpc-flow-logs.amazonaws.com"],
    "Service principals whose trust statements must carry aws:SourceAccount/aws:SourceArn conditions.",
)


def _pins_source(statement: Statement) -> bool:
    values = statement.condition_values()
    return any(key in values and any(v.strip("*") for v in values[key]) for key in CONFUSED_DEPUTY_KEYS)


def _trust(res: Resource) -> list[Statement]:
    raw = res.get("assumeRolePolicy")
    return [s for s in statements(raw) or [] if s.allow] if not is_unknown(raw) else []


@rules.resource(
    "iam-trust-confused-deputy",
    types=(tokens.ROLE,),
    settings=[SERVICE_PRINCIPALS],
    description=(
        "Trust policies that let an AWS service assume a role must pin aws:SourceAccount or aws:SourceArn "
        "for services that support it (Bedrock, VPC flow logs): otherwise another account can make the "
        "service act with this role (confused deputy). lambda.amazonaws.com is not in the default list: "
        "AWS does not support those keys in Lambda execution-role trust policies."
    ),
    remediation=(
        'Add "Condition": {"StringEquals": {"aws:SourceAccount": "<account>"}, "ArnLike": '
        '{"aws:SourceArn": "arn:aws:bedrock:<region>:<account>:agent/*"}} to the trust statement.'
    ),
)
def iam_trust_confused_deputy(res: Resource, config: Config) -> Iterator[str]:
    guarded = {str(p) for p in as_list(config["servicePrincipals"])}
    for statement in _trust(res):
        for service in statement.service_principals():
            if service in guarded and not _pins_source(statement):
                yield f"{res.label} trusts {service} without aws:SourceAccount/aws:SourceArn conditions"


@rules.resource(
    "iam-trust-no-public-principal",
    types=(tokens.ROLE,),
    description=(
        "A role's trust policy must not allow Principal '*' without conditions: anyone in any AWS account "
        "could assume it."
    ),
    remediation="Name the exact service or account principal allowed to assume the role.",
)
def iam_trust_no_public_principal(res: Resource, _: Config) -> Iterator[str]:
    for statement in _trust(res):
        if (statement.public_principal or statement.has_not_principal) and not statement.conditions:
            yield f"{res.label} trust policy {statement.label} allows any principal"


FORBIDDEN_POLICIES = Setting(
    "forbiddenPolicies",
    {"type": "array", "items": {"type": "string"}},
    [
        "AdministratorAccess",
        "PowerUserAccess",
        "IAMFullAccess",
        "AmazonBedrockFullAccess",
        "AWSLambda_FullAccess",
        "AmazonEC2FullAccess",
        "AmazonVPCFullAccess",
        "AmazonS3FullAccess",
        "CloudWatchLogsFullAccess",
        "AWSKeyManagementServicePowerUser",
    ],
    "AWS-managed policy names (arn:<partition>:iam::aws:policy/[path/]<name>) that must not be attached.",
)
_ATTACHMENT_PROPS: Final = {
    tokens.ROLE: "managedPolicyArns",
    tokens.ROLE_POLICY_ATTACHMENT: "policyArn",
    tokens.USER_POLICY_ATTACHMENT: "policyArn",
    tokens.GROUP_POLICY_ATTACHMENT: "policyArn",
    tokens.POLICY_ATTACHMENT: "policyArn",
    tokens.ROLE_POLICY_ATTACHMENTS_EXCLUSIVE: "policyArns",
}


def _aws_managed_name(arn: str) -> str | None:
    prefix, sep, rest = arn.partition(":iam::aws:policy/")
    return rest.rsplit("/", 1)[-1] if sep and prefix.startswith("arn:") else None


@rules.resource(
    "iam-no-admin-managed-policies",
    types=_ATTACHMENT_PROPS,
    settings=[FORBIDDEN_POLICIES],
    description=(
        "AWS-managed admin/full-access policies (AdministratorAccess, PowerUserAccess, IAMFullAccess, "
        "...) must not be attached: they grant far more than any workload role needs."
    ),
    remediation="Replace the attachment with an inline aws.iam.RolePolicy listing exact actions and ARNs.",
)
def iam_no_admin_managed_policies(res: Resource, config: Config) -> Iterator[str]:
    forbidden = {str(p) for p in as_list(config["forbiddenPolicies"])}
    for arn in strings(res.get(_ATTACHMENT_PROPS[res.type])):
        name = _aws_managed_name(arn)
        if name in forbidden:
            yield f"{res.label} attaches the AWS-managed policy {name}"
