"""Bedrock agent: model permissions, session lifetime, guardrails, encryption, versioned aliases."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Final

from . import tokens
from .documents import Statement, allow_statements
from .framework import (
    ADVISORY,
    Config,
    Resource,
    RuleSet,
    Setting,
    Stack,
    each,
    has_unknown,
    is_unknown,
    number,
)

rules = RuleSet()

INVOKE_MODEL: Final = "bedrock:InvokeModel*"
# A model resource: region may be '*' (cross-region inference profiles route to any region of the
# profile), the account is empty (foundation models) or 12 digits, the model id has no wildcard.
_MODEL_ARN: Final = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9*-]*:(\d{12})?:"
    r"(foundation-model|inference-profile|application-inference-profile|provisioned-model|custom-model|"
    r"imported-model)/[^*?]+$"
)
DRAFT_ALIAS: Final = "TSTALIASID"


@rules.resource(
    "bedrock-invoke-model-scoped",
    types=tokens.IDENTITY_POLICY_HOLDERS,
    description=(
        "bedrock:InvokeModel* may only be allowed on specific foundation-model / inference-profile ARNs: "
        "a wildcard lets the role call every model in the account, including expensive ones."
    ),
    remediation=(
        "Use Resource ['arn:aws:bedrock:<region>::foundation-model/<model-id>'] (plus the inference-"
        "profile ARN when invoking through a profile)."
    ),
)
def bedrock_invoke_model_scoped(res: Resource, _: Config) -> Iterator[str]:
    for label, statement in allow_statements(res):
        if not statement.grants(INVOKE_MODEL):
            continue
        if statement.not_resources:
            yield f"{res.label} {label} {statement.label} grants {INVOKE_MODEL} with NotResource"
        for arn in statement.resources:
            if not _MODEL_ARN.match(arn):
                yield f"{res.label} {label} {statement.label} grants {INVOKE_MODEL} on {arn!r}"


def _role_statements(stack: Stack, role: Resource) -> list[Statement]:
    found = [s for _, s in allow_statements(role)]
    for policy in stack.referrers(role, (tokens.ROLE_POLICY,), "role"):
        found += [s for _, s in allow_statements(policy)]
    for attachment in stack.referrers(role, (tokens.ROLE_POLICY_ATTACHMENT,), "role"):
        for managed in stack.refs(attachment, "policyArn", (tokens.MANAGED_POLICY,)).found:
            found += [s for _, s in allow_statements(managed)]
    return found


def _covers_model(resource: str, model: str) -> bool:
    if resource in ("*", model):
        return True
    kind, _, pattern = resource.rpartition("/")
    model_id = model.rsplit("/", 1)[-1]
    return kind.endswith(("foundation-model", "inference-profile")) and fnmatchcase(model_id, pattern)


def _model_permission_problems(stack: Stack, agent: Resource) -> Iterator[str]:
    model = agent.get("foundationModel")
    if not isinstance(model, str):
        return
    for role in stack.refs(agent, "agentResourceRoleArn", (tokens.ROLE,)).found:
        policies = [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]
        if any(has_unknown(p.get("policy")) or has_unknown(p.get("inlinePolicies")) for p in policies):
            continue  # a policy of the role is still unknown during preview
        grants = [s for s in _role_statements(stack, role) if s.grants("bedrock:InvokeModel")]
        if not any(_covers_model(r, model) for s in grants for r in s.resources):
            yield f"{role.label} (the role of {agent.label}) cannot bedrock:InvokeModel on {model}"


@rules.stack(
    "bedrock-agent-role-can-invoke-model",
    description=(
        "The agent's service role must allow bedrock:InvokeModel on the agent's foundation model: "
        "without it the agent is created but fails every invocation."
    ),
    remediation=(
        "Add a RolePolicy on the agent role allowing bedrock:InvokeModel (and InvokeModelWithResponseStream) "
        "on arn:aws:bedrock:<region>::foundation-model/<foundation_model>."
    ),
)
def bedrock_agent_role_can_invoke_model(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.AGENT), lambda agent: _model_permission_problems(stack, agent))


TTL_MIN = Setting("minimumSeconds", {"type": "integer", "minimum": 60}, 60, "Shortest acceptable idle TTL.")
TTL_MAX = Setting(
    "maximumSeconds", {"type": "integer", "maximum": 86400}, 3600, "Longest acceptable idle session TTL."
)


@rules.resource(
    "bedrock-agent-idle-session-ttl",
    types=(tokens.AGENT,),
    level=ADVISORY,
    settings=[TTL_MIN, TTL_MAX],
    description=(
        "The agent's idle session TTL should stay within bounds: sessions keep the conversation (possibly "
        "personal data) in memory, so they should expire soon after a user leaves (unset = AWS default 600s)."
    ),
    remediation="Set idle_session_ttl_in_seconds between the configured minimum and maximum.",
)
def bedrock_agent_idle_session_ttl(res: Resource, config: Config) -> Iterator[str]:
    ttl = res.get("idleSessionTtlInSeconds")
    if ttl is None or is_unknown(ttl):
        return
    low, high = number(config["minimumSeconds"]) or 60, number(config["maximumSeconds"]) or 86400
    value = number(ttl)
    if value is None or not low <= value <= high:
        yield f"{res.label} idleSessionTtlInSeconds={ttl} is outside [{low:g}, {high:g}]"


@rules.resource(
    "bedrock-agent-guardrail",
    types=(tokens.AGENT,),
    level=ADVISORY,
    description=(
        "Agents should have a Bedrock guardrail (identifier and version) to filter harmful content and "
        "prompt attacks before they reach the model or the action-group Lambdas."
    ),
    remediation=(
        "Set guardrail_configurations=[AgentAgentGuardrailConfigurationArgs(guardrail_identifier=..., "
        "guardrail_version=...)]."
    ),
)
def bedrock_agent_guardrail(res: Resource, _: Config) -> Iterator[str]:
    configs = res.get("guardrailConfigurations")
    if is_unknown(configs):
        return
    entries = [c for c in configs if isinstance(c, Mapping)] if isinstance(configs, list) else []
    if not entries:
        yield f"{res.label} has no guardrail"
    for entry in entries:
        for key in ("guardrailIdentifier", "guardrailVersion"):
            if entry.get(key) in (None, ""):
                yield f"{res.label} guardrail configuration has no {key}"


@rules.resource(
    "bedrock-agent-customer-kms-key",
    types=(tokens.AGENT,),
    level=ADVISORY,
    description=(
        "Agents should encrypt their resources with a customer-managed KMS key, so access to session data "
        "can be audited and revoked."
    ),
    remediation="Set customer_encryption_key_arn to a rotating aws.kms.Key the agent role may use.",
)
def bedrock_agent_customer_kms_key(res: Resource, _: Config) -> Iterator[str]:
    if res.get("customerEncryptionKeyArn") in (None, ""):
        yield f"{res.label} uses an AWS-owned key, not a customer-managed KMS key"


@rules.resource(
    "bedrock-no-draft-alias",
    types=(tokens.FUNCTION, *tokens.IDENTITY_POLICY_HOLDERS),
    description=(
        f"Nothing may target the test alias {DRAFT_ALIAS}: it always points at the mutable DRAFT version, "
        "so production traffic would run whatever was last edited in the console."
    ),
    remediation=(
        "Create an aws.bedrock.AgentAgentAlias and pass its agent_alias_id (env AGENT_ALIAS_ID) and ARN "
        "(IAM resources) instead."
    ),
)
def bedrock_no_draft_alias(res: Resource, _: Config) -> Iterator[str]:
    variables = res.get("environment.variables")
    if isinstance(variables, Mapping):
        for name, value in variables.items():
            if value == DRAFT_ALIAS:
                yield f"{res.label} environment variable {name} targets the test alias {DRAFT_ALIAS}"
    for label, statement in allow_statements(res):
        for arn in statement.resources:
            if f"/{DRAFT_ALIAS}" in arn:
                yield f"{res.label} {label} {statement.label} grants access to the test alias ({arn})"
