"""Searching a knowledge base: who may Retrieve from which one, and, on AgentCore (whose harness has no
knowledge-base setting and searches through a gateway target's search tool), a complete retrieval path.

The path on AgentCore: the invoker names the search tool (RETRIEVAL_TOOL, "<target>___<tool>"), the
harness's gateway has that target, the target's Lambda names this stack's knowledge base
(KNOWLEDGE_BASE_ID) and its role may Retrieve from it. A broken link fails quietly at run time (the
tool answers "no knowledge base is configured", or its passages are never cited nor grounded), so the
pack names it before deployment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from . import tokens
from .documents import allow_statements, applies_to, role_statements
from .framework import ADVISORY, Config, Resource, RuleSet, Stack, as_list, each, is_unknown

rules = RuleSet()

KNOWLEDGE_BASE: Final = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
RETRIEVE_ACTIONS: Final = ("bedrock:Retrieve", "bedrock:RetrieveAndGenerate")
KNOWLEDGE_BASE_ID: Final = "KNOWLEDGE_BASE_ID"
RETRIEVAL_TOOL: Final = "RETRIEVAL_TOOL"
# How a gateway names a target's tools to the model ("Gateway tool naming", AgentCore developer guide).
TOOL_SEPARATOR: Final = "___"


def _knowledge_base_arns(stack: Stack) -> set[str]:
    return {arn for kb in stack.of_type(KNOWLEDGE_BASE) if isinstance(arn := kb.get("arn"), str)}


def _foreign_grants(res: Resource, own: set[str]) -> Iterator[str]:
    for label, statement in allow_statements(res):
        granted = [action for action in RETRIEVE_ACTIONS if statement.grants(action)]
        if not granted:
            continue
        # Resource "*" is iam-resource-level-scoping's finding (one fault, one violation).
        for arn in statement.resources:
            if arn != "*" and arn not in own:
                yield (
                    f"{res.label} {label} {statement.label} grants {', '.join(granted)} on {arn!r}, "
                    "not a knowledge base of this stack"
                )


@rules.stack(
    "bedrock-retrieve-own-knowledge-base",
    description=(
        "bedrock:Retrieve and bedrock:RetrieveAndGenerate may only be allowed on this stack's knowledge "
        "bases (their ARNs): a pattern or another knowledge base's ARN lets a role the model drives read "
        "documents that are not this agent's. (Resource '*' is iam-resource-level-scoping's finding.)"
    ),
    remediation=(
        "Use the knowledge base's `arn` output as the Resource "
        "(arn:aws:bedrock:<region>:<account>:knowledge-base/<id>)."
    ),
)
def bedrock_retrieve_own_knowledge_base(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    own = _knowledge_base_arns(stack)
    yield from each(stack.of_type(*tokens.IDENTITY_POLICY_HOLDERS), lambda res: _foreign_grants(res, own))


def _variables(function: Resource) -> Mapping[str, object]:
    variables = function.get("environment.variables")
    return variables if isinstance(variables, Mapping) else {}


def _searcher_problems(stack: Stack, function: Resource) -> Iterator[str]:
    """A function that names a knowledge base must name one of this stack's and may Retrieve from it."""
    refs = stack.refs(function, f"environment.variables.{KNOWLEDGE_BASE_ID}", (KNOWLEDGE_BASE,))
    for unresolved in refs.unresolved:
        yield f"{function.label} searches knowledge base {unresolved!r}, which this stack does not define"
    role = role_statements(stack, function)
    if role is None:
        return
    for kb in refs.found:
        arn = kb.get("arn")
        if not isinstance(arn, str):
            continue
        allowed = any(s.allow and applies_to(s, "bedrock:Retrieve", arn) for s in role)
        denied = any(
            not s.allow and not s.conditions and applies_to(s, "bedrock:Retrieve", arn) for s in role
        )
        if not allowed or denied:
            yield f"{function.label} names {kb.label} but its role may not Retrieve from it ({arn})"


def _gateway_targets(stack: Stack, harness: Resource) -> list[Resource]:
    targets: list[Resource] = []
    for tool in as_list(harness.get("tools")):
        if not isinstance(tool, Mapping) or tool.get("type") != "agentcore_gateway":
            continue
        config = tool.get("config")
        arn = config.get("agentcoreGateway", {}).get("gatewayArn") if isinstance(config, Mapping) else None
        gateways = stack.resolve(harness, "tools", arn, (tokens.AGENTCORE_GATEWAY,)).found
        for gateway in gateways:
            targets += stack.referrers(gateway, (tokens.AGENTCORE_GATEWAY_TARGET,), "gatewayIdentifier")
    return targets


def _target_functions(stack: Stack, target: Resource) -> list[Resource]:
    path = "targetConfiguration.mcp.lambda.lambdaArn"
    return list(stack.refs(target, path, (tokens.FUNCTION,)).found)


def _invoker_problems(stack: Stack, invoker: Resource) -> Iterator[str]:
    """The search tool the invoker reads must exist behind its harness, run by a function that searches."""
    variables = _variables(invoker)
    tool = variables.get(RETRIEVAL_TOOL)
    harnesses = stack.refs(invoker, "environment.variables.HARNESS_ARN", (tokens.AGENTCORE_HARNESS,)).found
    targets = [target for harness in harnesses for target in _gateway_targets(stack, harness)]
    if any(is_unknown(t.get("name")) for t in targets):
        return
    searching = [
        t for t in targets if any(KNOWLEDGE_BASE_ID in _variables(f) for f in _target_functions(stack, t))
    ]
    if tool is None:
        for target in searching:
            yield (
                f"{invoker.label} has no {RETRIEVAL_TOOL} but {target.label} searches a knowledge base: its "
                "passages are never cited, and the guardrail's grounding check never sees them"
            )
        return
    if is_unknown(tool) or not harnesses:
        return
    name, separator, _ = str(tool).rpartition(TOOL_SEPARATOR)
    named = [t for t in targets if t.get("name") == name] if separator else []
    if not named:
        yield (
            f"{invoker.label} reads the search tool {tool!r} but its harness's gateway has no target "
            f"{name or tool!r}: the agent cannot search the knowledge base"
        )
    for target in named:
        if target not in searching:
            yield (
                f"{target.label} (the search tool {tool!r}) runs no function with {KNOWLEDGE_BASE_ID}: "
                "every search answers that no knowledge base is configured"
            )


@rules.stack(
    "agentcore-retrieval-path-complete",
    description=(
        "On AgentCore the agent searches its knowledge base through a gateway target's search tool: the "
        "invoker that reads the tool's passages (RETRIEVAL_TOOL) must find that target behind its harness, "
        "the target's function must name this stack's knowledge base (KNOWLEDGE_BASE_ID) and its role may "
        "Retrieve from it; a target that searches needs an invoker that reads it (citations, grounding)."
    ),
    remediation=(
        "Keep knowledgeBaseAttached true with bedrock-agent-runtime in interfaceEndpoints: the program adds "
        "the `knowledge` target, KNOWLEDGE_BASE_ID, the Retrieve grant on the knowledge base's ARN and "
        "RETRIEVAL_TOOL together (or set knowledgeBaseAttached false to take them all away)."
    ),
)
def agentcore_retrieval_path_complete(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    functions = stack.of_type(tokens.FUNCTION)
    yield from each(
        [f for f in functions if KNOWLEDGE_BASE_ID in _variables(f)], lambda f: _searcher_problems(stack, f)
    )
    yield from each(
        [f for f in functions if "HARNESS_ARN" in _variables(f)], lambda f: _invoker_problems(stack, f)
    )


def _unsearched(stack: Stack, kb: Resource) -> Iterator[str]:
    searchers = stack.referrers(kb, (tokens.FUNCTION,), f"environment.variables.{KNOWLEDGE_BASE_ID}")
    if not searchers:
        yield (
            f"{kb.label} is searched by nothing on this AgentCore stack (no function names it in "
            f"{KNOWLEDGE_BASE_ID}): expected only between the two deployments of its removal"
        )


@rules.stack(
    "agentcore-knowledge-base-searched",
    level=ADVISORY,
    description=(
        "A knowledge base on an AgentCore stack should be searched (by the search tool's function): the "
        "harness has no knowledge-base setting, so one no function names serves no answer. Expected for "
        "one deployment while it is detached (knowledgeBaseAttached false) before its removal."
    ),
    remediation="Set knowledgeBaseAttached true, or finish its removal with knowledgeBaseEnabled false.",
)
def agentcore_knowledge_base_searched(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    if not stack.of_type(*tokens.AGENTCORE_AGENTS) or stack.of_type(tokens.AGENT):
        return  # a Classic agent searches its associated knowledge base itself
    yield from each(stack.of_type(KNOWLEDGE_BASE), lambda kb: _unsearched(stack, kb))
