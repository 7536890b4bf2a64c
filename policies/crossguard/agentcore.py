"""Bedrock AgentCore: gateway authorizer, scoped roles, restricted endpoint, nothing public, limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any, Final

from . import tokens
from .documents import Statement, allow_statements, is_wildcard_action, statements
from .framework import (
    ADVISORY,
    Config,
    Resource,
    RuleSet,
    Stack,
    as_list,
    each,
    has_unknown,
    is_unknown,
    strings,
)

rules = RuleSet()

SERVICE_PRINCIPAL: Final = "bedrock-agentcore.amazonaws.com"
ENDPOINT_SUFFIX: Final = ".bedrock-agentcore"
# Built-in harness tools ("Connect to tools", AgentCore developer guide, harness-tools.html): a
# pattern that matches one of them hands the model a shell or the session's files.
BUILTIN_TOOLS: Final = ("shell", "file_operations")


@rules.resource(
    "agentcore-gateway-authorizer",
    types=(tokens.AGENTCORE_GATEWAY,),
    description=(
        "An AgentCore gateway must authenticate its callers (AWS_IAM or CUSTOM_JWT): with NONE anyone who "
        "reaches its URL can call every tool behind it."
    ),
    remediation="Set authorizer_type='AWS_IAM' and let only the harness's role call it (a resource policy).",
)
def agentcore_gateway_authorizer(res: Resource, _: Config) -> Iterator[str]:
    kind = res.get("authorizerType")
    if not is_unknown(kind) and kind not in ("AWS_IAM", "CUSTOM_JWT"):
        yield f"{res.label} authorizerType={kind!r} lets unauthenticated callers use its tools"


def _trust_problems(role: Resource) -> Iterator[str]:
    parsed = statements(role.get("assumeRolePolicy"))
    if parsed is None:
        return
    for statement in parsed:
        if not statement.allow or SERVICE_PRINCIPAL not in statement.service_principals():
            continue
        keys = statement.condition_values()
        for key in ("aws:sourceaccount", "aws:sourcearn"):
            if key not in keys:
                yield (
                    f"{role.label} trusts {SERVICE_PRINCIPAL} without an {key} condition: any AgentCore "
                    "resource, in any account, could act with it"
                )


def _grant_problems(label: str, statement: Statement) -> Iterator[str]:
    wild = [a for a in statement.actions if is_wildcard_action(a)]
    if wild or statement.not_actions:
        yield f"{label} {statement.label} allows {', '.join(wild) or 'NotAction'}"
    if "*" in statement.resources or statement.not_resources:
        yield f"{label} {statement.label} applies to every resource"


def _role_scope_problems(stack: Stack, owner: Resource, path: str) -> Iterator[str]:
    for role in stack.refs(owner, path, (tokens.ROLE,)).found:
        yield from _trust_problems(role)
        documents = [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]
        for document in documents:
            for label, statement in allow_statements(document):
                yield from _grant_problems(f"{document.label} (the role of {owner.label}) {label}", statement)
        if stack.referrers(role, (tokens.ROLE_POLICY_ATTACHMENT,), "role"):
            yield f"{role.label} (the role of {owner.label}) has managed policies attached"


@rules.stack(
    "agentcore-execution-role-scoped",
    description=(
        "The roles AgentCore assumes (harness execution role, gateway role) must trust only this account's "
        "AgentCore resources (aws:SourceAccount and aws:SourceArn) and grant specific actions on specific "
        "resources: the harness acts on whatever its role allows, driven by model output."
    ),
    remediation=(
        "Trust bedrock-agentcore.amazonaws.com with StringEquals aws:SourceAccount and ArnLike aws:SourceArn "
        "arn:aws:bedrock-agentcore:<region>:<account>:harness/*; grant the model ARNs and InvokeGateway on "
        "the gateway ARN only."
    ),
)
def agentcore_execution_role_scoped(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(
        stack.of_type(tokens.AGENTCORE_HARNESS),
        lambda harness: _role_scope_problems(stack, harness, "executionRoleArn"),
    )
    yield from each(
        stack.of_type(tokens.AGENTCORE_GATEWAY),
        lambda gateway: _role_scope_problems(stack, gateway, "roleArn"),
    )


@rules.resource(
    "agentcore-endpoint-policy-restricted",
    types=(tokens.VPC_ENDPOINT,),
    description=(
        "The bedrock-agentcore interface endpoint must carry a policy naming the calling role, the actions "
        "and this stack's harness: its default policy lets any principal in the VPC call any AgentCore "
        "resource of any account through it."
    ),
    remediation=(
        "Set `policy` to Allow the invoker role bedrock-agentcore:InvokeHarness on the harness ARN (and "
        "InvokeAgentRuntime / StopRuntimeSession on its runtime ARN)."
    ),
)
def agentcore_endpoint_policy_restricted(res: Resource, _: Config) -> Iterator[str]:
    service = res.get("serviceName")
    if not isinstance(service, str) or not service.endswith(ENDPOINT_SUFFIX):
        return
    raw = res.get("policy")
    if is_unknown(raw):
        return
    parsed = statements(raw)
    if parsed is None:
        yield f"{res.label} has no (readable) endpoint policy: any principal may call any AgentCore resource"
        return
    for statement in parsed:
        if not statement.allow:
            continue
        if statement.public_principal or statement.has_not_principal or not statement.principals:
            yield f"{res.label} endpoint policy {statement.label} allows any principal"
        yield from _grant_problems(f"{res.label} endpoint policy", statement)
        for arn in statement.resources:
            if "*" in arn.split(":", 5)[-1].split("/", 1)[-1]:
                yield f"{res.label} endpoint policy {statement.label} covers {arn!r}, not one resource"


def _network_modes(harness: Resource) -> list[Any]:
    modes: list[Any] = []
    for environment in as_list(harness.get("environments")):
        if not isinstance(environment, Mapping):
            continue
        for runtime in as_list(environment.get("agentcoreRuntimeEnvironments")):
            if not isinstance(runtime, Mapping):
                continue
            for network in as_list(runtime.get("networkConfigurations")):
                if isinstance(network, Mapping):
                    modes.append(network.get("networkMode"))
    return modes


def _builtin_reach(allowed: Any) -> list[str]:
    """The allowedTools patterns that reach a built-in tool ([] when allowedTools lists only others)."""
    if allowed is None:
        return ["(allowedTools unset: every tool)"]

    def reaches(pattern: str) -> bool:
        if pattern in ("*", "@builtin") or pattern.startswith("@builtin/"):
            return True
        return not pattern.startswith("@") and any(fnmatchcase(tool, pattern) for tool in BUILTIN_TOOLS)

    return [pattern for pattern in strings(allowed) if reaches(pattern)]


@rules.resource(
    "agentcore-nothing-public",
    types=(tokens.AGENTCORE_RUNTIME, tokens.AGENTCORE_HARNESS, tokens.AGENTCORE_RESOURCE_POLICY),
    description=(
        "Nothing of the agent may be reachable from, or reach, the internet: an AgentCore Runtime in PUBLIC "
        "network mode, a harness outside a VPC whose model may use the built-in shell or file tools, or a "
        "resource policy that admits any principal."
    ),
    remediation=(
        "Run runtimes in VPC mode in the private subnets; give a harness allowedTools listing only its "
        "gateway ('@<name>') and inline functions; name the one role a resource policy admits."
    ),
)
def agentcore_nothing_public(res: Resource, _: Config) -> Iterator[str]:
    if res.type == tokens.AGENTCORE_RUNTIME:
        mode = res.get("networkConfiguration.networkMode")
        if not is_unknown(mode) and mode != "VPC":
            yield f"{res.label} runs in networkMode={mode!r}, with a path to the internet"
    elif res.type == tokens.AGENTCORE_HARNESS:
        allowed = res.get("allowedTools")
        if has_unknown(allowed):
            return
        outside_vpc = [mode for mode in _network_modes(res) if mode != "VPC"] or not _network_modes(res)
        reach = _builtin_reach(allowed)
        if outside_vpc and reach:
            yield (
                f"{res.label} runs outside a VPC and lets the model use built-in tools "
                f"({', '.join(reach)}): a shell with a path to the internet"
            )
    else:
        parsed = statements(res.get("policy"))
        for statement in parsed or []:
            public = statement.public_principal or statement.has_not_principal
            if statement.allow and public and not statement.conditions:
                yield f"{res.label} {statement.label} admits any principal without a condition"


@rules.resource(
    "agentcore-harness-limits",
    types=(tokens.AGENTCORE_HARNESS,),
    level=ADVISORY,
    description=(
        "A harness should bound every turn (maxIterations, maxTokens, timeoutSeconds): the service defaults "
        "let one prompt loop through many model and tool calls, billed per token and per second."
    ),
    remediation="Set max_iterations, max_tokens and timeout_seconds (agentMaxIterations, agentMaxTokens).",
)
def agentcore_harness_limits(res: Resource, _: Config) -> Iterator[str]:
    for key in ("maxIterations", "maxTokens", "timeoutSeconds"):
        value = res.get(key)
        if value is None:
            yield f"{res.label} has no {key}"


def _harness_targets(stack: Stack, function: Resource) -> Iterator[str]:
    variables = function.get("environment.variables")
    if not isinstance(variables, Mapping) or "HARNESS_ARN" not in variables:
        return
    refs = stack.refs(function, "environment.variables.HARNESS_ARN", (tokens.AGENTCORE_HARNESS,))
    if refs.unresolved or (not refs.found and not refs.unknown):
        shown = ", ".join(refs.unresolved) or str(variables.get("HARNESS_ARN"))
        yield f"{function.label} targets a harness this stack does not define ({shown})"
    harness_arns = {str(h.get("arn")) for h in stack.of_type(tokens.AGENTCORE_HARNESS)}
    for role in stack.refs(function, "role", (tokens.ROLE,)).found:
        for policy in [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]:
            for _, statement in allow_statements(policy):
                if not statement.grants("bedrock-agentcore:InvokeHarness"):
                    continue
                for arn in statement.resources:
                    if arn not in harness_arns:
                        yield f"{policy.label} lets {function.label} invoke {arn!r}, not this stack's harness"


@rules.stack(
    "agentcore-invoker-own-harness",
    description=(
        "A function that calls a harness (HARNESS_ARN) must target this stack's harness, and its role may "
        "invoke only that harness: a copied ARN would send this stack's users to another stack's agent."
    ),
    remediation="Pass the harness's `arn` output as HARNESS_ARN and as the IAM statement's Resource.",
)
def agentcore_invoker_own_harness(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.FUNCTION), lambda fn: _harness_targets(stack, fn))
