"""The knowledge base on AgentCore: the search tool as a gateway target, its Lambda's environment and
grant, the Retrieve endpoint's policy, the invoker's RETRIEVAL_TOOL, and knowledgeBaseAttached.

The harness has no knowledge-base setting, so the agent searches through the `knowledge` target, run
by the action-group Lambda; a Classic agent searches its associated knowledge base itself and never
gets the tool.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from client.tools import CLIENT_TOOLS
from components.agent import searches_knowledge_bases
from components.config import KNOWLEDGE_TOOL_RUNTIMES
from components.function_schema import function_schema_for_resolver
from functions.action_group.knowledge import KNOWLEDGE_TARGET, SEARCH_TOOL, knowledge_app
from functions.action_group.tools import app as action_group_tools
from offline.engine import MOCK_ACCOUNT_ID, ProgramError, ProgramRun
from tests.program.conftest import RunProgram, policy_document

HARNESS = "aws:bedrock/agentcoreHarness:AgentcoreHarness"
GATEWAY = "aws:bedrock/agentcoreGateway:AgentcoreGateway"
TARGET = "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PERMISSION = "aws:lambda/permission:Permission"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
KNOWLEDGE_BASE = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
ASSOCIATION = "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation"
ACTION_GROUP = "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
KB_ARN_PREFIX = f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:knowledge-base/"


@pytest.fixture
def stack(program: RunProgram) -> ProgramRun:
    return program("agentcore")


@pytest.fixture
def detached(program: RunProgram) -> ProgramRun:
    return program("agentcore", knowledgeBaseAttached=False)


def variables(run: ProgramRun, function: str) -> dict[str, Any]:
    return dict(run.one(FUNCTION, f"{function}-function").inputs["environment"]["variables"])


def statements(run: ProgramRun, policy: str) -> list[dict[str, Any]]:
    return list(policy_document(run.one(ROLE_POLICY, policy).inputs["policy"])["Statement"])


def kb_arn(run: ProgramRun) -> str:
    arn = str(run.one(KNOWLEDGE_BASE).outputs["arn"])
    assert arn == KB_ARN_PREFIX + str(run.one(KNOWLEDGE_BASE).outputs["id"])
    return arn


def test_the_capability_query_follows_the_config_runtimes() -> None:
    assert searches_knowledge_bases("classic") is True
    assert searches_knowledge_bases("agentcore") is False
    assert {runtime for runtime in ("classic", "agentcore") if not searches_knowledge_bases(runtime)} == set(
        KNOWLEDGE_TOOL_RUNTIMES
    )
    with pytest.raises(ValueError, match="unknown agent runtime 'agents'"):
        searches_knowledge_bases("agents")


def test_the_search_tool_is_a_gateway_target_run_by_the_action_group_lambda(stack: ProgramRun) -> None:
    target = stack.one(TARGET, "agent-knowledge")
    function = stack.one(FUNCTION, "action-group-function")
    assert target.inputs["name"] == KNOWLEDGE_TARGET == "knowledge"
    assert target.inputs["gatewayIdentifier"] == stack.one(GATEWAY).outputs["gatewayId"]
    assert target.inputs["credentialProviderConfiguration"] == {"gatewayIamRole": {}}
    lam = target.inputs["targetConfiguration"]["mcp"]["lambda"]
    assert lam["lambdaArn"] == function.outputs["arn"]
    # Exactly the search tool's schema, generated from the code that implements it.
    (definition,) = function_schema_for_resolver(knowledge_app)
    (tool,) = lam["toolSchema"]["inlinePayloads"]
    assert (tool["name"], tool["description"]) == (SEARCH_TOOL, definition["description"])
    assert tool["inputSchema"]["type"] == "object"
    assert {
        p["name"]: {"type": p["type"], "description": p["description"], "required": p["required"]}
        for p in tool["inputSchema"]["properties"]
    } == definition["parameters"]
    assert {p["name"]: p["required"] for p in tool["inputSchema"]["properties"]} == {
        "query": True,
        "max_results": False,
    }
    # The `tools` target keeps only the Lambda's own tools: the search tool is not among them.
    tools = stack.one(TARGET, "agent-tools").inputs["targetConfiguration"]["mcp"]["lambda"]
    assert SEARCH_TOOL not in [tool["name"] for tool in tools["toolSchema"]["inlinePayloads"]]
    # Created after the function it calls (its environment and grant are in place first) and before
    # the harness; the harness reaches it through its one gateway tool, which "@tools" admits.
    assert function.urn in target.dependencies
    assert stack.one(PERMISSION, "agent-knowledge-invoke").urn in target.dependencies
    harness = stack.one(HARNESS)
    assert target.urn in harness.dependencies
    gateways = [tool for tool in harness.inputs["tools"] if tool["type"] == "agentcore_gateway"]
    assert [tool["name"] for tool in gateways] == ["tools"]
    assert "@tools" in harness.inputs["allowedTools"]


def test_the_action_group_lambda_may_retrieve_from_exactly_this_knowledge_base(stack: ProgramRun) -> None:
    kb = stack.one(KNOWLEDGE_BASE)
    env = variables(stack, "action-group")
    assert env == {
        "POWERTOOLS_SERVICE_NAME": "action_group",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "KNOWLEDGE_BASE_ID": kb.outputs["id"],
    }
    log_group = stack.one("aws:cloudwatch/logGroup:LogGroup", "action-group-logs").outputs["arn"]
    assert statements(stack, "action-group-permissions") == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{log_group}:log-stream:*"],
        },
        {
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        {
            "Sid": "RetrieveFromThisStacksKnowledgeBase",
            "Effect": "Allow",
            "Action": "bedrock:Retrieve",
            "Resource": kb_arn(stack),
        },
    ]
    # The function is (re)deployed after the policy that grants it, and after the knowledge base.
    function = stack.one(FUNCTION, "action-group-function")
    assert stack.one(ROLE_POLICY, "action-group-permissions").urn in function.dependencies
    assert kb.urn in function.dependencies


def test_no_key_grant_for_retrieve_even_when_the_agent_key_encrypts_the_store(program: RunProgram) -> None:
    run = program("agentcore", agentKmsKey=True)
    key = run.one("aws:kms/key:Key", "agent-key-key").outputs["arn"]
    # The store is under the agent key...
    index = run.one("aws:s3/vectorsIndex:VectorsIndex").inputs
    assert index["encryptionConfigurations"] == [{"sseType": "aws:kms", "kmsKeyArn": key}]
    # ...which the knowledge base's role uses; Retrieve's caller needs none (__main__.py says why).
    assert [s["Sid"] for s in statements(run, "action-group-permissions")] == [
        "WriteOwnLogs",
        "Tracing",
        "RetrieveFromThisStacksKnowledgeBase",
    ]
    assert "UseTheAgentKey" in [s["Sid"] for s in statements(run, "knowledge-access")]


def test_the_retrieve_endpoint_admits_only_the_search_tool_on_this_knowledge_base(stack: ProgramRun) -> None:
    endpoint = stack.one(ENDPOINT, "endpoints-bedrock-agent-runtime")
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.bedrock-agent-runtime"
    assert policy_document(endpoint.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheSearchToolRetrievingFromThisStacksKnowledgeBase",
                "Effect": "Allow",
                "Principal": {"AWS": stack.one(ROLE, "action-group-role").outputs["arn"]},
                "Action": "bedrock:Retrieve",
                "Resource": kb_arn(stack),
            }
        ],
    }


def test_the_invoker_is_told_the_search_tool_and_the_guardrail_grounds_answers(stack: ProgramRun) -> None:
    env = variables(stack, "invoker")
    assert env["RETRIEVAL_TOOL"] == f"{KNOWLEDGE_TARGET}___{SEARCH_TOOL}" == "knowledge___search_documents"
    # The invoker applies the guardrail, now with the contextual grounding check.
    guardrail = stack.one(GUARDRAIL).inputs
    assert guardrail["contextualGroundingPolicyConfig"]["filtersConfigs"] == [
        {"type": "GROUNDING", "threshold": 0.75},
        {"type": "RELEVANCE", "threshold": 0.5},
    ]
    # The harness gets no knowledge base of its own (it has no such setting).
    assert not stack.of_type(ASSOCIATION)


def test_detached_the_target_the_environment_and_the_grant_go_the_knowledge_base_stays(
    detached: ProgramRun, stack: ProgramRun
) -> None:
    assert [t.name for t in detached.of_type(TARGET)] == ["agent-tools"]
    assert "agent-knowledge-invoke" not in [p.name for p in detached.of_type(PERMISSION)]
    assert "KNOWLEDGE_BASE_ID" not in variables(detached, "action-group")
    assert "bedrock:Retrieve" not in json.dumps(statements(detached, "action-group-permissions"))
    assert "RETRIEVAL_TOOL" not in variables(detached, "invoker")
    assert "contextualGroundingPolicyConfig" not in detached.one(GUARDRAIL).inputs
    # The knowledge base, its documents and index are kept, unchanged.
    for kind in (KNOWLEDGE_BASE, "aws:s3/vectorsIndex:VectorsIndex", "aws:s3/bucket:Bucket"):
        assert {r.name: r.inputs for r in detached.of_type(kind)} == {
            r.name: r.inputs for r in stack.of_type(kind)
        }
    # The endpoint stays with the same policy: nothing holds the grant, so it admits nothing more.
    endpoint = "endpoints-bedrock-agent-runtime"
    assert detached.one(ENDPOINT, endpoint).inputs["policy"] == stack.one(ENDPOINT, endpoint).inputs["policy"]
    # The gateway role's policy is unchanged: the remaining target runs the same function.
    assert statements(detached, "agent-gateway-invoke-tools") == statements(
        stack, "agent-gateway-invoke-tools"
    )


def test_classic_gets_no_search_tool_it_searches_its_associated_knowledge_base(program: RunProgram) -> None:
    dev = program("dev")
    association = dev.one(ASSOCIATION).inputs
    assert association["knowledgeBaseId"] == dev.one(KNOWLEDGE_BASE).outputs["id"]
    assert association["knowledgeBaseState"] == "ENABLED"
    assert not dev.of_type(TARGET)
    groups = [group.inputs for group in dev.of_type(ACTION_GROUP)]
    assert SEARCH_TOOL not in json.dumps(groups)
    assert "KNOWLEDGE_BASE_ID" not in variables(dev, "action-group")
    assert "RETRIEVAL_TOOL" not in variables(dev, "invoker")
    assert "bedrock:Retrieve" not in json.dumps(statements(dev, "action-group-permissions"))
    # bedrock-agent-runtime is the Classic agent's own endpoint: only the invoker's InvokeAgent.
    policy = policy_document(dev.one(ENDPOINT, "endpoints-bedrock-agent-runtime").inputs["policy"])
    assert "bedrock:Retrieve" not in json.dumps(policy)


def test_without_a_knowledge_base_agentcore_has_no_search_tool(program: RunProgram) -> None:
    run = program(
        "agentcore", knowledgeBaseEnabled=False, interfaceEndpoints=["bedrock-agentcore", "bedrock-runtime"]
    )
    assert not run.of_type(KNOWLEDGE_BASE)
    assert [t.name for t in run.of_type(TARGET)] == ["agent-tools"]
    assert "KNOWLEDGE_BASE_ID" not in variables(run, "action-group")
    assert "RETRIEVAL_TOOL" not in variables(run, "invoker")


def test_the_search_tool_counts_against_the_agents_function_budget(
    program: RunProgram, monkeypatch: pytest.MonkeyPatch
) -> None:
    import components.function_schema

    # Exactly room for the Lambda's tools and the client's: no room left for the search tool.
    lambda_tools = len(function_schema_for_resolver(action_group_tools))
    monkeypatch.setattr(components.function_schema, "DEFAULT_MAX_FUNCTIONS", lambda_tools + len(CLIENT_TOOLS))
    assert program("dev").of_type(KNOWLEDGE_BASE)  # Classic: no search tool, within the budget
    with pytest.raises(ProgramError) as caught:
        program("agentcore")
    assert caught.value.resources == [], "checked before anything is registered"
    assert f"{lambda_tools} tools are registered but an agent allows {lambda_tools - 1} functions" in str(
        caught.value.cause
    )
