"""Bedrock agent: model permissions, session lifetime, guardrails, encryption, versioned aliases."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Final

from . import tokens
from .documents import Statement, allow_statements, applies_to, identity_documents, statements
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
from .lifecycle import ENVIRONMENT_TAG, PRODUCTION
from .ops import guardrail_problems, is_production

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
INVOKE_AGENT: Final = "bedrock:InvokeAgent"
# CreateAgent's idleSessionTTLInSeconds (shape SessionTTL) and CreateAgentActionGroup's actionGroupName
# (shape Name) in botocore's bedrock-agent 2023-06-05 model: AWS rejects anything else at deploy time.
SESSION_TTL_ACCEPTED: Final = (60, 5400)
ACTION_GROUP_NAME: Final = re.compile(r"([0-9a-zA-Z][_-]?){1,100}")


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
    if value is not None and not SESSION_TTL_ACCEPTED[0] <= value <= SESSION_TTL_ACCEPTED[1]:
        return  # AWS rejects it: bedrock-agent-settings-accepted reports it (one fault, one violation)
    if value is None or not low <= value <= high:
        yield f"{res.label} idleSessionTtlInSeconds={ttl} is outside [{low:g}, {high:g}]"


@rules.resource(
    "bedrock-agent-guardrail",
    types=(tokens.AGENT,),
    level=ADVISORY,
    settings=[ENVIRONMENT_TAG, PRODUCTION],
    description=(
        "Agents should have a Bedrock guardrail (identifier and version) to filter harmful content and "
        "prompt attacks before they reach the model or the action-group Lambdas."
    ),
    remediation=(
        "Set guardrail_configurations=[AgentAgentGuardrailConfigurationArgs(guardrail_identifier=..., "
        "guardrail_version=...)]."
    ),
)
def bedrock_agent_guardrail(res: Resource, config: Config) -> Iterator[str]:
    if is_production(res, config) is False:  # production stacks: the mandatory twin in ops.py
        yield from guardrail_problems(res)


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
    "bedrock-agent-settings-accepted",
    types=(tokens.AGENT, tokens.AGENT_ACTION_GROUP),
    description=(
        "Agent settings must be values Bedrock accepts, or `pulumi up` fails half-way: an idle session "
        f"TTL of {SESSION_TTL_ACCEPTED[0]} to {SESSION_TTL_ACCEPTED[1]} seconds, and action-group names "
        "of 1-100 letters or digits, each optionally followed by one '_' or '-' (Bedrock's pattern "
        "([0-9a-zA-Z][_-]?){1,100})."
    ),
    remediation=(
        f"Set idle_session_ttl_in_seconds between {SESSION_TTL_ACCEPTED[0]} and {SESSION_TTL_ACCEPTED[1]}; "
        "rename the action group, e.g. 'client-tools' or 'client_tools'."
    ),
)
def bedrock_agent_settings_accepted(res: Resource, _: Config) -> Iterator[str]:
    if res.type == tokens.AGENT:
        ttl = res.get("idleSessionTtlInSeconds")
        value = number(ttl)
        low, high = SESSION_TTL_ACCEPTED
        if ttl is not None and not is_unknown(ttl) and (value is None or not low <= value <= high):
            yield f"{res.label} idleSessionTtlInSeconds={ttl} is outside what Bedrock accepts ({low}-{high})"
        return
    name = res.get("actionGroupName")
    if isinstance(name, str) and not ACTION_GROUP_NAME.fullmatch(name):
        yield f"{res.label} actionGroupName {name!r} does not match {ACTION_GROUP_NAME.pattern}"


def _agent_ids(agent: Resource) -> set[str]:
    values = (agent.get("agentId"), agent.get("agentArn"), agent.get("id"))
    return {v for v in values if isinstance(v, str) and v}


def _agent_arn_grants(res: Resource) -> Iterator[str]:
    documents = identity_documents(res)
    if res.type in (tokens.VPC_ENDPOINT, tokens.VPC_ENDPOINT_POLICY):
        documents = [("endpoint policy", res.get("policy"))]
    for label, raw in documents:
        for statement in statements(raw) or []:
            if not statement.grants(INVOKE_AGENT):
                continue
            for arn in statement.resources:
                if re.search(r":agent/[^/]*$", arn):
                    yield (
                        f"{res.label} {label} {statement.label} grants {INVOKE_AGENT} on the agent ARN "
                        f"{arn}; InvokeAgent is authorised against the alias ARN "
                        "(agent-alias/<agentId>/<aliasId>)"
                    )


def _alias_setting_problems(stack: Stack, function: Resource) -> Iterator[str]:
    variables = function.get("environment.variables")
    if not isinstance(variables, Mapping):
        return
    agents = stack.of_type(tokens.AGENT)
    for name, value in variables.items():
        if "ALIAS" not in str(name).upper() or not isinstance(value, str):
            continue
        owner = next((agent for agent in agents if value in _agent_ids(agent)), None)
        if owner is not None or re.search(r":agent/[^/]*$", value):
            what = f"an identifier of {owner.label}" if owner is not None else "an agent ARN"
            yield f"{function.label} environment variable {name} is {what}, not an alias"


@rules.stack(
    "bedrock-invoker-targets-alias",
    description=(
        "Whoever invokes the agent must be granted and configured with an agent *alias*: InvokeAgent "
        "authorises against arn:…:agent-alias/<agentId>/<aliasId>, so a grant on the agent ARN "
        "(arn:…:agent/<agentId>) allows nothing, and an alias setting holding the agent's id or ARN "
        "makes every call fail."
    ),
    remediation=(
        "Grant bedrock:InvokeAgent on the alias's agent_alias_arn and pass its agent_alias_id "
        "(AGENT_ALIAS_ID) to the function."
    ),
)
def bedrock_invoker_targets_alias(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    holders = stack.of_type(*tokens.IDENTITY_POLICY_HOLDERS, tokens.VPC_ENDPOINT, tokens.VPC_ENDPOINT_POLICY)
    yield from each(holders, _agent_arn_grants)
    yield from each(stack.of_type(tokens.FUNCTION), lambda fn: _alias_setting_problems(stack, fn))


# --- the test alias, evaluated the way IAM evaluates a request -----------------------------------

_BEDROCK_ARN: Final = re.compile(r"^arn:([^:*?]+):bedrock:([^:*?]*):([^:*?]*):")
_AGENT_IN_ARN: Final = re.compile(r":agent(?:-alias)?/([0-9A-Za-z]+)(?:/|$)")
# A region, an account and an agent that are not this stack's: a grant that covers them covers any.
_FOREIGN: Final = ("aws", "eu-west-3", "111122223333", "OTHERAGENT")


@dataclass(frozen=True)
class _Grant:
    holder: Resource  # the resource whose document holds the statement
    label: str
    statement: Statement


def _principal_grants(stack: Stack) -> list[list[_Grant]]:
    """Statements grouped by principal: IAM evaluates a request against every policy of the principal,
    so a Deny in one of a role's policies excludes what an Allow in another grants."""
    groups: list[list[_Grant]] = []
    grouped: set[str] = set()
    for role in stack.of_type(tokens.ROLE):
        holders = [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]
        for attachment in stack.referrers(role, (tokens.ROLE_POLICY_ATTACHMENT,), "role"):
            holders += stack.refs(attachment, "policyArn", (tokens.MANAGED_POLICY,)).found
        grouped.update(h.urn for h in holders)
        groups.append([_Grant(h, label, s) for h in holders for label, s in _identity_statements(h)])
    for holder in stack.of_type(*tokens.INLINE_IDENTITY_POLICIES):
        if holder.urn not in grouped:
            groups.append([_Grant(holder, label, s) for label, s in _identity_statements(holder)])
    return groups


def _identity_statements(res: Resource) -> list[tuple[str, Statement]]:
    return [(label, s) for label, raw in identity_documents(res) for s in statements(raw) or []]


def _draft_probes(stack: Stack, grants: list[_Grant]) -> list[str]:
    """Concrete test-alias ARNs to evaluate: those of the stack's agents, and of any agent in the
    partitions/regions/accounts the statements name, plus a foreign one."""
    probes = [
        arn.replace(":agent/", ":agent-alias/") + f"/{DRAFT_ALIAS}"
        for agent in stack.of_type(tokens.AGENT)
        if isinstance(arn := agent.get("agentArn"), str) and ":agent/" in arn
    ]
    partitions, regions, accounts, agents = {_FOREIGN[0]}, {_FOREIGN[1]}, {_FOREIGN[2]}, {_FOREIGN[3]}
    for agent in stack.of_type(tokens.AGENT):
        agents.update(v for v in (agent.get("agentId"),) if isinstance(v, str) and v)
    for grant in grants:
        for arn in (*grant.statement.resources, *grant.statement.not_resources):
            if match := _BEDROCK_ARN.match(arn):
                partitions.add(match[1])
                regions.update(r for r in (match[2],) if r)
                accounts.update(a for a in (match[3],) if a)
            agents.update(_AGENT_IN_ARN.findall(arn))
    probes += [
        f"arn:{p}:bedrock:{r}:{a}:agent-alias/{agent}/{DRAFT_ALIAS}"
        for p in sorted(partitions)
        for r in sorted(regions)
        for a in sorted(accounts)
        for agent in sorted(agents)
    ]
    return list(dict.fromkeys(probes))


def _draft_grant_problems(stack: Stack, grants: list[_Grant]) -> Iterator[tuple[str, str]]:
    # A conditional Deny may not apply to a given request, so only an unconditional one excludes.
    denies = [g.statement for g in grants if not g.statement.allow and not g.statement.conditions]
    allows = [g for g in grants if g.statement.allow]
    if not allows:
        return
    probes = _draft_probes(stack, grants)
    for grant in allows:
        for probe in probes:
            if applies_to(grant.statement, INVOKE_AGENT, probe) and not any(
                applies_to(deny, INVOKE_AGENT, probe) for deny in denies
            ):
                patterns = ", ".join(grant.statement.resources) or "NotResource"
                yield (
                    grant.holder.urn,
                    f"{grant.holder.label} {grant.label} {grant.statement.label} allows {INVOKE_AGENT} on "
                    f"{patterns}, which covers the test alias ({probe}), and no Deny excludes it",
                )
                break


@rules.stack(
    "bedrock-no-draft-alias",
    description=(
        f"Nothing may target the test alias {DRAFT_ALIAS}: it always points at the mutable DRAFT version, "
        "so production traffic would run whatever was last edited in the console. Resource patterns are "
        "evaluated as IAM does (`*` and `?` match across ARN segments): a grant on agent-alias/<agentId>/* "
        f"covers {DRAFT_ALIAS} too, unless an unconditional Deny of the principal excludes it."
    ),
    remediation=(
        "Grant bedrock:InvokeAgent on the live alias's ARN, or on agent-alias/<agentId>/* together with "
        '{"Effect": "Deny", "Action": "bedrock:InvokeAgent", '
        f'"Resource": "…:agent-alias/<agentId>/{DRAFT_ALIAS}"}}; '
        "pass the alias's agent_alias_id (env AGENT_ALIAS_ID), never TSTALIASID."
    ),
)
def bedrock_no_draft_alias(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    for function in stack.of_type(tokens.FUNCTION):
        variables = function.get("environment.variables")
        if isinstance(variables, Mapping):
            for name, value in variables.items():
                if value == DRAFT_ALIAS:
                    yield (
                        function.urn,
                        f"{function.label} environment variable {name} targets the test alias {DRAFT_ALIAS}",
                    )
    for grants in _principal_grants(stack):
        yield from _draft_grant_problems(stack, grants)
