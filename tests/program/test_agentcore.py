"""The agentcore stack: the harness, its gateway and tools, roles, endpoint and invoker, as wired."""

from __future__ import annotations

import json
from typing import Any

import pytest

from client.tools import CLIENT_TOOLS
from components.agent.agentcore import physical_name
from components.function_schema import function_schema, function_schema_for_resolver, json_schema
from functions.action_group.tools import app as action_group_tools
from offline.engine import MOCK_ACCOUNT_ID, ProgramError, ProgramRun
from tests.program.conftest import RunProgram, policy_document

HARNESS = "aws:bedrock/agentcoreHarness:AgentcoreHarness"
GATEWAY = "aws:bedrock/agentcoreGateway:AgentcoreGateway"
TARGET = "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget"
RESOURCE_POLICY = "aws:bedrock/agentcoreResourcePolicy:AgentcoreResourcePolicy"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
PERMISSION = "aws:lambda/permission:Permission"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
PREFIX = f"arn:aws:bedrock-agentcore:us-east-1:{MOCK_ACCOUNT_ID}"


@pytest.fixture
def stack(program: RunProgram) -> ProgramRun:
    return program("agentcore")


def statements(run: ProgramRun, name: str) -> list[dict[str, Any]]:
    return list(policy_document(run.one(ROLE_POLICY, name).inputs["policy"])["Statement"])


def runtime_arn(run: ProgramRun) -> str:
    environments = run.one(HARNESS).outputs["environmentActuals"]
    return str(environments[0]["agentcoreRuntimeEnvironments"][0]["agentRuntimeArn"])


def test_no_classic_agent_and_only_the_endpoints_agentcore_uses(stack: ProgramRun) -> None:
    # No agent, alias, action group or knowledge-base association: the harness replaces them all.
    assert not [r for r in stack.resources if r.type.startswith("aws:bedrock/agentAgent")]
    services = sorted(e.inputs["serviceName"] for e in stack.of_type(ENDPOINT))
    # bedrock-runtime: the invoker applies the guardrail itself (ApplyGuardrail); bedrock-agent-runtime:
    # the knowledge base's search tool calls Retrieve (the stack file has knowledgeBaseEnabled).
    assert services == [
        "com.amazonaws.us-east-1.bedrock-agent-runtime",
        "com.amazonaws.us-east-1.bedrock-agentcore",
        "com.amazonaws.us-east-1.bedrock-runtime",
    ]
    assert len(stack.of_type("aws:ec2/subnet:Subnet")) == 1


def test_harness_runs_the_configured_model_instruction_and_limits(stack: ProgramRun) -> None:
    harness = stack.one(HARNESS).inputs
    assert harness["harnessName"] == "bedrock_vpc_agent_agentcore"
    assert harness["model"] == {"bedrockModelConfig": {"modelId": f"us.{HAIKU}"}}
    instruction = stack.config["bedrock-vpc-agent:agentInstruction"].strip()
    assert harness["systemPrompts"] == [{"text": instruction}]
    # The harness stops a turn at the API's deadline, which the invoker enforces too.
    deadline_ms = int(
        stack.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]["API_DEADLINE_MS"]
    )
    assert (harness["maxIterations"], harness["maxTokens"], harness["timeoutSeconds"]) == (
        10,
        4096,
        deadline_ms // 1000,
    )
    assert harness["memory"] == {"disabled": {}}
    (environment,) = harness["environments"][0]["agentcoreRuntimeEnvironments"]
    assert environment["lifecycleConfigurations"] == [
        {"idleRuntimeSessionTimeout": 600, "maxLifetime": 28800}
    ]
    assert harness["executionRoleArn"] == stack.one(ROLE, "agent-role").outputs["arn"]


def test_limits_follow_the_config(program: RunProgram) -> None:
    run = program("agentcore", agentMaxIterations=4, agentMaxTokens=1000, apiIntegrationTimeoutMs=15000)
    harness = run.one(HARNESS).inputs
    assert (harness["maxIterations"], harness["maxTokens"], harness["timeoutSeconds"]) == (4, 1000, 15)


def test_harness_tools_are_the_gateway_and_the_client_functions_only(stack: ProgramRun) -> None:
    harness = stack.one(HARNESS).inputs
    gateway = stack.one(GATEWAY).outputs
    tools = {tool["name"]: tool for tool in harness["tools"]}
    assert tools["tools"] == {
        "type": "agentcore_gateway",
        "name": "tools",
        "config": {
            "agentcoreGateway": {"gatewayArn": gateway["gatewayArn"], "outboundAuth": {"awsIam": True}}
        },
    }
    client = function_schema(CLIENT_TOOLS)
    for definition in client:
        tool = tools[definition["name"]]
        assert tool["type"] == "inline_function"
        assert tool["config"]["inlineFunction"]["description"] == definition["description"]
        assert json.loads(tool["config"]["inlineFunction"]["inputSchema"]) == json_schema(definition)
    assert set(tools) == {"tools", *(d["name"] for d in client)}
    # No wildcard and no built-in tool: the model cannot reach a shell or the session's files.
    assert harness["allowedTools"] == ["@tools", *(d["name"] for d in client)]


def test_gateway_is_iam_authorized_and_only_the_harness_role_may_call_it(stack: ProgramRun) -> None:
    gateway = stack.one(GATEWAY)
    assert gateway.inputs["authorizerType"] == "AWS_IAM"
    assert gateway.inputs["protocolType"] == "MCP"
    assert gateway.inputs["roleArn"] == stack.one(ROLE, "agent-gateway-role").outputs["arn"]
    resource_policy = stack.one(RESOURCE_POLICY).inputs
    assert resource_policy["resourceArn"] == gateway.outputs["gatewayArn"]
    allow, deny = policy_document(resource_policy["policy"])["Statement"]
    harness_role = stack.one(ROLE, "agent-role").outputs["arn"]
    assert allow["Principal"] == {"AWS": harness_role}
    assert allow["Resource"] == gateway.outputs["gatewayArn"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": harness_role}}


def test_lambda_target_serves_the_schema_generated_from_the_tool_code(stack: ProgramRun) -> None:
    target = stack.one(TARGET, "agent-tools").inputs
    function = stack.one(FUNCTION, "action-group-function").outputs
    assert target["gatewayIdentifier"] == stack.one(GATEWAY).outputs["gatewayId"]
    assert target["credentialProviderConfiguration"] == {"gatewayIamRole": {}}
    lam = target["targetConfiguration"]["mcp"]["lambda"]
    assert lam["lambdaArn"] == function["arn"]
    generated = function_schema_for_resolver(action_group_tools)
    deployed = lam["toolSchema"]["inlinePayloads"]
    assert [tool["name"] for tool in deployed] == [d["name"] for d in generated]
    for tool, definition in zip(deployed, generated, strict=True):
        assert tool["description"] == definition["description"]
        assert tool["inputSchema"]["type"] == "object"
        assert {
            p["name"]: {"type": p["type"], "description": p["description"], "required": p["required"]}
            for p in tool["inputSchema"]["properties"]
        } == definition["parameters"]


def test_tool_lambda_admits_only_the_gateway_role(stack: ProgramRun) -> None:
    gateway_role = stack.one(ROLE, "agent-gateway-role").outputs["arn"]
    function = stack.one(FUNCTION, "action-group-function").outputs["arn"]
    # One grant per target (tools, knowledge), both to the gateway's role only; their statement ids
    # are generated, so the two never collide.
    invoke_grants = {p.name: p.inputs for p in stack.of_type(PERMISSION) if p.inputs["function"] == function}
    grant = {"action": "lambda:InvokeFunction", "function": function, "principal": gateway_role}
    assert invoke_grants == {"agent-tools-invoke": grant, "agent-knowledge-invoke": grant}
    # The gateway role's policy names the shared function once.
    (invoke,) = statements(stack, "agent-gateway-invoke-tools")
    assert invoke == {
        "Sid": "InvokeTheToolFunctions",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [function],
    }
    # Each target is created after (and, on removal, deleted before) its own grant.
    for target in ("tools", "knowledge"):
        permission = stack.one(PERMISSION, f"agent-{target}-invoke").urn
        assert permission in stack.one(TARGET, f"agent-{target}").dependencies


@pytest.mark.parametrize(("role", "kind"), [("agent-role", "harness"), ("agent-gateway-role", "gateway")])
def test_agentcore_roles_trust_only_this_accounts_resources(stack: ProgramRun, role: str, kind: str) -> None:
    (trust,) = policy_document(stack.one(ROLE, role).inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"{PREFIX}:{kind}/*"},
    }


def test_execution_role_invokes_its_model_and_gateway_only(stack: ProgramRun) -> None:
    by_sid = {s["Sid"]: s for s in statements(stack, "agent-model-access")}
    profile = f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:inference-profile/us.{HAIKU}"
    assert set(by_sid) == {
        "InvokeTheInferenceProfile",
        "InvokeItsModelInAnyDestinationRegion",
        "CallThisStacksGateway",
        "ReadTheInferenceProfile",
    }
    # The documented cross-Region inference forms, as for the Classic agent's role.
    assert by_sid["InvokeTheInferenceProfile"]["Resource"] == profile
    assert by_sid["InvokeItsModelInAnyDestinationRegion"]["Resource"] == [
        f"arn:aws:bedrock:*::foundation-model/{HAIKU}"
    ]
    assert by_sid["InvokeItsModelInAnyDestinationRegion"]["Condition"] == {
        "StringEquals": {"bedrock:InferenceProfileArn": profile}
    }
    assert by_sid["CallThisStacksGateway"] == {
        "Sid": "CallThisStacksGateway",
        "Effect": "Allow",
        "Action": "bedrock-agentcore:InvokeGateway",
        "Resource": stack.one(GATEWAY).outputs["gatewayArn"],
    }


def test_invoker_calls_this_harness_through_the_endpoint(stack: ProgramRun) -> None:
    harness = stack.one(HARNESS).outputs["arn"]
    runtime = runtime_arn(stack)
    env = stack.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert (env["AGENT_BACKEND"], env["HARNESS_ARN"], env["HARNESS_RUNTIME_ARN"]) == (
        "agentcore",
        harness,
        runtime,
    )
    assert "AGENT_ID" not in env
    assert json.loads(env["INLINE_TOOL_GROUPS"]) == dict.fromkeys(CLIENT_TOOLS, "client_tools")
    expected = [
        {
            "Sid": "InvokeThisStacksHarness",
            "Effect": "Allow",
            "Action": ["bedrock-agentcore:InvokeHarness"],
            "Resource": harness,
        },
        {
            "Sid": "UseAndStopItsRuntimeSessions",
            "Effect": "Allow",
            "Action": ["bedrock-agentcore:InvokeAgentRuntime", "bedrock-agentcore:StopRuntimeSession"],
            "Resource": [runtime, f"{runtime}/runtime-endpoint/DEFAULT"],
        },
    ]
    agentcore = [
        s for s in statements(stack, "invoker-permissions") if s["Sid"] in {e["Sid"] for e in expected}
    ]
    assert agentcore == expected
    endpoint = next(
        e for e in stack.of_type(ENDPOINT) if e.inputs["serviceName"].endswith("bedrock-agentcore")
    )
    invoker_role = stack.one(ROLE, "invoker-role").outputs["arn"]
    assert policy_document(endpoint.inputs["policy"])["Statement"] == [
        {**statement, "Principal": {"AWS": invoker_role}} for statement in expected
    ]
    assert endpoint.inputs["privateDnsEnabled"] is True
    assert stack.outputs["agentHarnessArn"] == harness
    assert stack.outputs["agentRuntimeArn"] == runtime


GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
KEY = "aws:kms/key:Key"


def endpoint_of(run: ProgramRun, service: str) -> Any:
    (endpoint,) = [
        e for e in run.of_type(ENDPOINT) if e.inputs["serviceName"] == f"com.amazonaws.us-east-1.{service}"
    ]
    return endpoint


def test_invoker_applies_exactly_the_stacks_guardrail_through_the_bedrock_runtime_endpoint(
    stack: ProgramRun,
) -> None:
    guardrail = stack.one(GUARDRAIL).outputs
    version = stack.one(GUARDRAIL_VERSION).outputs["version"]
    env = stack.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert (env["GUARDRAIL_ID"], env["GUARDRAIL_VERSION"]) == (guardrail["guardrailId"], version)
    apply = {
        "Sid": "ApplyTheGuardrail",
        "Effect": "Allow",
        "Action": "bedrock:ApplyGuardrail",
        "Resource": guardrail["guardrailArn"],
    }
    granted = [
        s for s in statements(stack, "invoker-permissions") if "bedrock:ApplyGuardrail" in json.dumps(s)
    ]
    assert granted == [apply]
    assert ":guardrail/" in apply["Resource"]
    # Not under a customer-managed key here: no kms:Decrypt for it.
    assert not [
        s for s in statements(stack, "invoker-permissions") if s["Sid"] == "DecryptTheGuardrailThroughBedrock"
    ]
    endpoint = endpoint_of(stack, "bedrock-runtime")
    invoker_role = stack.one(ROLE, "invoker-role").outputs["arn"]
    assert policy_document(endpoint.inputs["policy"])["Statement"] == [
        {**apply, "Principal": {"AWS": invoker_role}}
    ]
    assert endpoint.inputs["privateDnsEnabled"] is True
    # The harness itself carries no guardrail (it has no such setting); the invoker is the only user.
    assert "guardrail" not in json.dumps(stack.one(HARNESS).inputs).lower()


def test_a_guardrail_under_the_agent_key_is_decrypted_by_the_invoker_through_bedrock_only(
    program: RunProgram,
) -> None:
    run = program("agentcore", agentKmsKey=True)
    key_arn = run.one(GUARDRAIL).inputs["kmsKeyArn"]
    assert key_arn in {key.outputs["arn"] for key in run.of_type(KEY)}
    (decrypt,) = [
        s for s in statements(run, "invoker-permissions") if s["Sid"] == "DecryptTheGuardrailThroughBedrock"
    ]
    assert decrypt == {
        "Sid": "DecryptTheGuardrailThroughBedrock",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": key_arn,
        "Condition": {"StringEquals": {"kms:ViaService": "bedrock.us-east-1.amazonaws.com"}},
    }


def test_without_a_guardrail_the_invoker_applies_none(program: RunProgram) -> None:
    run = program(
        "agentcore",
        guardrailEnabled=False,
        knowledgeBaseEnabled=False,
        interfaceEndpoints=["bedrock-agentcore"],
    )
    env = run.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert "GUARDRAIL_ID" not in env
    assert "GUARDRAIL_VERSION" not in env
    assert "bedrock:ApplyGuardrail" not in json.dumps(statements(run, "invoker-permissions"))
    assert not run.of_type(GUARDRAIL)


def test_an_existing_guardrail_is_applied_by_its_arn(program: RunProgram) -> None:
    run = program(
        "agentcore", guardrailEnabled=False, agentGuardrailId="abc123xyz", agentGuardrailVersion="4"
    )
    env = run.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert (env["GUARDRAIL_ID"], env["GUARDRAIL_VERSION"]) == ("abc123xyz", "4")
    arn = f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:guardrail/abc123xyz"
    granted = [s for s in statements(run, "invoker-permissions") if s["Sid"] == "ApplyTheGuardrail"]
    assert granted == [
        {"Sid": "ApplyTheGuardrail", "Effect": "Allow", "Action": "bedrock:ApplyGuardrail", "Resource": arn}
    ]


def test_a_guardrail_without_the_bedrock_runtime_endpoint_stops_the_program(program: RunProgram) -> None:
    with pytest.raises(ProgramError) as caught:
        program("agentcore", interfaceEndpoints=["bedrock-agentcore"])
    assert caught.value.resources == []
    assert "agentRuntime agentcore with a guardrail needs 'bedrock-runtime'" in str(caught.value.cause)


def test_harness_is_created_after_its_role_policy_and_tools(stack: ProgramRun) -> None:
    harness = stack.one(HARNESS)
    assert stack.one(ROLE_POLICY, "agent-model-access").urn in harness.dependencies
    assert stack.one(TARGET, "agent-tools").urn in harness.dependencies
    assert stack.one(ROLE_POLICY, "agent-gateway-invoke-tools").urn in stack.one(GATEWAY).dependencies


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"interfaceEndpoints": ["bedrock-agent-runtime", "logs"], "knowledgeBaseEnabled": False},
            "'bedrock-agent-runtime' is the classic agent's endpoint but agentRuntime is agentcore: "
            "replace it with 'bedrock-agentcore' (without knowledgeBaseEnabled it would bill hourly and "
            "carry nothing: on agentcore it only carries the knowledge base's searches).",
        ),
        ({"aws:region": "eu-west-1"}, "'eu-west-1' does not offer Amazon Bedrock AgentCore"),
        ({"agentMaxIterations": 0}, "agentMaxIterations: 0 is out of range; use 1 to 50"),
        ({"agentMaxTokens": 100}, "agentMaxTokens: 100 is out of range; use 256 to 100000"),
        ({"agentRuntime": "AgentCore"}, "'AgentCore' is not one of classic, agentcore"),
    ],
)
def test_wrong_agentcore_settings_stop_the_program(
    program: RunProgram, overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ProgramError) as caught:
        program("agentcore", **overrides)
    assert caught.value.resources == []
    assert expected in str(caught.value.cause)


def test_classic_stack_rejects_the_agentcore_endpoint(program: RunProgram) -> None:
    with pytest.raises(ProgramError) as caught:
        program("dev", interfaceEndpoints=["bedrock-agent-runtime", "bedrock-agentcore", "logs"])
    assert "'bedrock-agentcore' is the agentcore agent's endpoint but agentRuntime is classic" in str(
        caught.value.cause
    )


def test_physical_names_fit_the_service_patterns() -> None:
    assert physical_name("bedrock-vpc-agent-dev", separator="_", limit=40) == "bedrock_vpc_agent_dev"
    long = physical_name("bedrock-vpc-agent-" + "x" * 60, separator="_", limit=40)
    assert len(long) == 40
    assert long[0].isalpha()
    assert long.replace("_", "").isalnum()
    assert long != physical_name("bedrock-vpc-agent-" + "x" * 61, separator="_", limit=40)
    assert physical_name("9lives", separator="-", limit=48) == "a-9lives"
