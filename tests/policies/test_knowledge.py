"""Knowledge-base search rules (policies/crossguard/knowledge.py): Retrieve only on this stack's knowledge
bases, and on AgentCore a complete retrieval path (invoker -> gateway target -> function -> knowledge
base, with the grant); each with the case that fires and the compliant one next to it."""

from __future__ import annotations

from typing import Any

from policies.crossguard import knowledge
from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, REGION, Graph, Node, allow, policy, trust
from tests.policies.conftest import Judge

KB_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/KBSTACK001"
OTHER_KB_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/KBOTHER002"
ALL_KBS = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/*"
SEARCH_TOOL = "knowledge___search_documents"
PATH = "agentcore-retrieval-path-complete"
SCOPE = "bedrock-retrieve-own-knowledge-base"
SEARCHED = "agentcore-knowledge-base-searched"


def _kb(g: Graph) -> Node:
    return g.add(knowledge.KNOWLEDGE_BASE, "kb", outputs={"id": "KBSTACK001", "arn": KB_ARN})


def _function(g: Graph, name: str, variables: dict[str, Any], *granted: dict[str, Any]) -> Node:
    role = g.add(t.ROLE, f"{name}-role", assumeRolePolicy=trust("lambda.amazonaws.com"))
    g.add(t.ROLE_POLICY, f"{name}-permissions", role=role.id, policy=policy(*granted))
    return g.add(t.FUNCTION, name, role=role.arn, environment={"variables": variables})


def _agentcore(
    g: Graph,
    *,
    kb_id: Any,
    retrieve_on: Any,
    target_name: str = "knowledge",
    retrieval_tool: str | None = SEARCH_TOOL,
) -> tuple[Node, Node, Node]:
    """A harness whose gateway has a `tools` target and (searching) a `target_name` target, both run by
    one action-group function; and its invoker. Returns (action group, target, invoker)."""
    variables = {} if kb_id is None else {"KNOWLEDGE_BASE_ID": kb_id}
    grants = [allow("bedrock:Retrieve", retrieve_on)] if retrieve_on is not None else []
    action_group = _function(g, "action-group", variables, allow("xray:PutTraceSegments", "*"), *grants)
    gateway = g.add(t.AGENTCORE_GATEWAY, "gateway", authorizerType="AWS_IAM")
    for name in ("tools", target_name):
        target = g.add(
            t.AGENTCORE_GATEWAY_TARGET,
            f"target-{name}",
            name=name,
            gatewayIdentifier=gateway.id,
            targetConfiguration={"mcp": {"lambda": {"lambdaArn": action_group.arn}}},
        )
    harness_role = g.add(t.ROLE, "harness-role", assumeRolePolicy="{}")
    harness = g.add(
        t.AGENTCORE_HARNESS,
        "harness",
        executionRoleArn=harness_role.arn,
        tools=[
            {
                "type": "agentcore_gateway",
                "name": "tools",
                "config": {"agentcoreGateway": {"gatewayArn": gateway.arn}},
            }
        ],
    )
    invoker_variables: dict[str, Any] = {"HARNESS_ARN": harness.arn}
    if retrieval_tool is not None:
        invoker_variables["RETRIEVAL_TOOL"] = retrieval_tool
    invoker = _function(
        g, "invoker", invoker_variables, allow("bedrock-agentcore:InvokeHarness", harness.arn)
    )
    return action_group, target, invoker


def test_the_complete_path_passes(judge: Judge) -> None:
    g = Graph()
    kb = _kb(g)
    _agentcore(g, kb_id=kb.id, retrieve_on=kb.arn)
    outcome = judge(g)
    assert outcome.fired("agentcore-retrieval-path-complete") == set()
    assert outcome.fired("bedrock-retrieve-own-knowledge-base") == set()
    assert outcome.fired("agentcore-knowledge-base-searched") == set()
    assert outcome.fired("iam-resource-level-scoping") == set()
    # A fresh stack's preview: the ids and ARNs are unknown, the references still resolve; nothing fires.
    previewed = judge(g, preview=True)
    assert (
        previewed.fired("agentcore-retrieval-path-complete")
        == previewed.fired("bedrock-retrieve-own-knowledge-base")
        == set()
    )


def test_a_search_tool_without_its_grant_or_on_another_knowledge_base_is_broken(judge: Judge) -> None:
    g = Graph()
    kb = _kb(g)
    action_group, _, _ = _agentcore(g, kb_id=kb.id, retrieve_on=None)
    outcome = judge(g)
    assert outcome.fired("agentcore-retrieval-path-complete") == {action_group.urn}
    assert outcome.messages(PATH, action_group.urn) == [
        f"Function 'action-group' names AgentKnowledgeBase 'kb' but its role may not Retrieve from it "
        f"({KB_ARN})"
    ]

    foreign = Graph()
    kb = _kb(foreign)
    action_group, _, _ = _agentcore(foreign, kb_id="KBOTHER002", retrieve_on=OTHER_KB_ARN)
    outcome = judge(foreign)
    assert outcome.messages(PATH, action_group.urn) == [
        "Function 'action-group' searches knowledge base 'KBOTHER002', which this stack does not define"
    ]
    policy_urn = next(n.urn for n in foreign.nodes if n.name == "action-group-permissions")
    assert outcome.fired("bedrock-retrieve-own-knowledge-base") == {policy_urn}
    assert outcome.messages(SCOPE, policy_urn) == [
        "RolePolicy 'action-group-permissions' policy a statement grants bedrock:Retrieve on "
        f"{OTHER_KB_ARN!r}, not a knowledge base of this stack"
    ]
    # This stack's knowledge base, unsearched, is told (advisory).
    assert outcome.fired("agentcore-knowledge-base-searched") == {kb.urn}


def test_the_invoker_and_the_gateway_must_agree_on_the_search_tool(judge: Judge) -> None:
    renamed = Graph()
    kb = _kb(renamed)
    _, _, invoker = _agentcore(renamed, kb_id=kb.id, retrieve_on=kb.arn, target_name="docs")
    assert judge(renamed).messages(PATH, invoker.urn) == [
        f"Function 'invoker' reads the search tool '{SEARCH_TOOL}' but its harness's gateway has no target "
        "'knowledge': the agent cannot search the knowledge base"
    ]

    unread = Graph()
    kb = _kb(unread)
    _, target, invoker = _agentcore(unread, kb_id=kb.id, retrieve_on=kb.arn, retrieval_tool=None)
    messages = judge(unread).messages(PATH, invoker.urn)
    assert (
        f"Function 'invoker' has no RETRIEVAL_TOOL but AgentcoreGatewayTarget '{target.name}' searches a "
        "knowledge base: its passages are never cited, and the guardrail's grounding check never sees them"
    ) in messages

    empty = Graph()
    kb = _kb(empty)
    _, target, _ = _agentcore(empty, kb_id=None, retrieve_on=None)
    outcome = judge(empty)
    assert any(
        f"AgentcoreGatewayTarget '{target.name}' (the search tool '{SEARCH_TOOL}') runs no function with "
        "KNOWLEDGE_BASE_ID" in message
        for message in outcome.messages(PATH)
    )


def test_retrieve_may_name_only_this_stacks_knowledge_bases(judge: Judge) -> None:
    g = Graph()
    kb = _kb(g)
    role = g.add(t.ROLE, "agent-role", assumeRolePolicy="{}")
    own = g.add(
        t.ROLE_POLICY,
        "own",
        role=role.id,
        policy=policy(allow(["bedrock:Retrieve", "bedrock:RetrieveAndGenerate"], kb.arn)),
    )
    pattern = g.add(t.ROLE_POLICY, "pattern", role=role.id, policy=policy(allow("bedrock:Retrieve", ALL_KBS)))
    everything = g.add(
        t.ROLE_POLICY, "everything", role=role.id, policy=policy(allow("bedrock:Retrieve", "*"))
    )
    outcome = judge(g)
    assert outcome.fired("bedrock-retrieve-own-knowledge-base") == {pattern.urn}
    assert own.urn not in outcome.fired("bedrock-retrieve-own-knowledge-base")
    # "*" is one fault, reported once, by the IAM rule.
    assert everything.urn not in outcome.fired("bedrock-retrieve-own-knowledge-base")
    assert everything.urn in outcome.fired("iam-resource-level-scoping")


def test_an_unsearched_knowledge_base_on_agentcore_is_advisory(judge: Judge) -> None:
    g = Graph()
    kb = _kb(g)
    _agentcore(g, kb_id=None, retrieve_on=None, target_name="other", retrieval_tool=None)
    outcome = judge(g)
    assert outcome.fired("agentcore-knowledge-base-searched") == {kb.urn}
    assert (
        outcome.fired("agentcore-retrieval-path-complete") == set()
    )  # detached: nothing claims a search tool
    (violation,) = [v for v in outcome.report.violations if v.policy_name == SEARCHED]
    assert not violation.mandatory


def test_agentcore_with_a_search_tool_needs_the_retrieve_endpoint(judge: Judge) -> None:
    def stack(searching: bool) -> tuple[Graph, Node]:
        g = Graph()
        vpc = g.add(t.VPC, "vpc", cidrBlock="10.0.0.0/16")
        subnet = g.add(t.SUBNET, "a", vpcId=vpc.id, cidrBlock="10.0.0.0/24")
        for service in ("bedrock-agentcore", "bedrock-runtime"):
            g.add(
                t.VPC_ENDPOINT,
                service,
                vpcId=vpc.id,
                vpcEndpointType="Interface",
                serviceName=f"com.amazonaws.{REGION}.{service}",
                subnetIds=[subnet.id],
            )
        g.add(t.AGENTCORE_HARNESS, "harness", executionRoleArn="arn:aws:iam::1:role/x")
        g.add(
            t.FUNCTION,
            "action-group",
            environment={"variables": {"KNOWLEDGE_BASE_ID": "KBSTACK001"} if searching else {}},
            vpcConfig={"subnetIds": [subnet.id]},
        )
        return g, vpc

    g, vpc = stack(searching=True)
    assert judge(g).messages("vpc-required-endpoints", vpc.urn) == [
        "Vpc 'vpc' hosts Lambdas but has no interface endpoint for 'bedrock-agent-runtime'"
    ]
    g, _ = stack(searching=False)
    assert judge(g).fired("vpc-required-endpoints") == set()
