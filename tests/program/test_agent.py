"""The agent, its tools and the invoker, as the program wires them (values and wiring)."""

from __future__ import annotations

import re
import zipfile
from typing import Any

import pytest

from client.tools import CLIENT_ACTION_GROUP, CLIENT_TOOLS
from components.function_schema import function_schema, function_schema_for_resolver
from functions.action_group.tools import app as action_group_tools
from offline.engine import MOCK_ACCOUNT_ID, ProgramRun
from tests.program.conftest import RunProgram, policy_document

FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
AGENT = "aws:bedrock/agentAgent:AgentAgent"
ACTION_GROUP = "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"
ALIAS = "aws:bedrock/agentAgentAlias:AgentAgentAlias"
PERMISSION = "aws:lambda/permission:Permission"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def dev(program: RunProgram) -> ProgramRun:
    return program("dev")


def statements(run: ProgramRun, policy_name: str) -> list[dict[str, Any]]:
    return list(policy_document(run.one(ROLE_POLICY, policy_name).inputs["policy"])["Statement"])


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_action_group_permission_is_for_this_agent_only(dev: ProgramRun) -> None:
    agent = dev.one(AGENT)
    function = dev.one(FUNCTION, "action-group-function")
    permission = dev.one(PERMISSION, "agent-tools-invoke").inputs
    assert permission["sourceArn"] == agent.outputs["agentArn"]
    assert permission["sourceAccount"] == MOCK_ACCOUNT_ID
    assert permission["principal"] == "bedrock.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function"] == function.outputs["arn"]


def test_action_group_runs_the_lambda_with_the_schema_generated_from_its_code(dev: ProgramRun) -> None:
    group = dev.one(ACTION_GROUP, "agent-tools").inputs
    assert group["agentId"] == dev.one(AGENT).outputs["agentId"]
    assert group["agentVersion"] == "DRAFT"
    assert group["actionGroupExecutor"] == {
        "lambda": dev.one(FUNCTION, "action-group-function").outputs["arn"]
    }
    deployed = group["functionSchema"]["memberFunctions"]["functions"]
    generated = function_schema_for_resolver(action_group_tools)
    assert [f["name"] for f in deployed] == [f["name"] for f in generated]
    for function, definition in zip(deployed, generated, strict=True):
        assert function["description"] == definition["description"]
        assert {
            p["mapBlockKey"]: {"type": p["type"], "description": p["description"], "required": p["required"]}
            for p in function["parameters"]
        } == definition["parameters"]


def test_client_tools_are_returned_to_the_caller_with_their_generated_schema(dev: ProgramRun) -> None:
    group = dev.one(ACTION_GROUP, "agent-client-tools").inputs
    assert group["actionGroupName"] == CLIENT_ACTION_GROUP
    assert group["actionGroupExecutor"] == {"customControl": "RETURN_CONTROL"}
    deployed = group["functionSchema"]["memberFunctions"]["functions"]
    assert [f["name"] for f in deployed] == [d["name"] for d in function_schema(CLIENT_TOOLS)]
    # Only the Lambda action group gets an invoke permission.
    assert [p.name for p in dev.of_type(PERMISSION) if p.inputs["principal"] == "bedrock.amazonaws.com"] == [
        "agent-tools-invoke"
    ]
    assert dev.one(ACTION_GROUP, "agent-client-tools").urn in dev.one(ALIAS).dependencies


def this_agents_aliases(run: ProgramRun) -> list[dict[str, Any]]:
    """InvokeAgent on every alias of this agent (stable across alias moves), never the draft alias."""
    agent_id = run.one(AGENT).outputs["agentId"]
    aliases = f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:agent-alias/{agent_id}"
    return [
        {
            "Sid": "InvokeThisAgentsAliases",
            "Effect": "Allow",
            "Action": "bedrock:InvokeAgent",
            "Resource": f"{aliases}/*",
        },
        {
            "Sid": "NeverTheDraftAlias",
            "Effect": "Deny",
            "Action": "bedrock:InvokeAgent",
            "Resource": f"{aliases}/TSTALIASID",
        },
    ]


def test_invoker_may_invoke_this_agents_aliases_but_never_the_draft(dev: ProgramRun) -> None:
    alias_arn = dev.one(ALIAS).outputs["agentAliasArn"]
    bedrock = [
        s
        for s in statements(dev, "invoker-permissions")
        if any(action.startswith("bedrock:") for action in as_list(s["Action"]))
    ]
    assert bedrock == this_agents_aliases(dev)
    assert alias_arn.startswith(bedrock[0]["Resource"][:-1])  # the live alias is one of them
    assert "/TSTALIASID" not in alias_arn
    env = dev.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert env["AGENT_ID"] == dev.one(AGENT).outputs["agentId"]
    assert env["AGENT_ALIAS_ID"] == dev.one(ALIAS).outputs["agentAliasId"]
    assert dev.outputs["agentAliasArn"] == alias_arn


def test_only_vpc_and_tracing_actions_use_a_wildcard_resource(dev: ProgramRun) -> None:
    for policy in (
        "invoker-permissions",
        "action-group-permissions",
        "invoker-vpc-access",
        "action-group-vpc-access",
    ):
        for statement in statements(dev, policy):
            if statement["Resource"] == "*":
                assert all(a.startswith(("ec2:", "xray:")) for a in statement["Action"]), statement
            else:
                # Wildcards only for log streams and for the aliases of this one agent.
                assert all(
                    "*" not in r or r.endswith(":log-stream:*") or re.search(r":agent-alias/[^/*]+/\*$", r)
                    for r in as_list(statement["Resource"])
                ), statement


def test_each_function_writes_only_its_own_log_group(dev: ProgramRun) -> None:
    for role in ("invoker", "action-group"):
        group = dev.one("aws:cloudwatch/logGroup:LogGroup", f"{role}-logs")
        (logs,) = [s for s in statements(dev, f"{role}-permissions") if s["Sid"] == "WriteOwnLogs"]
        assert logs["Resource"] == [f"{group.outputs['arn']}:log-stream:*"]
        assert sorted(logs["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]


@pytest.mark.parametrize("role", ["invoker", "action-group"])
def test_functions_sit_in_the_private_subnets_with_the_shared_group(dev: ProgramRun, role: str) -> None:
    function = dev.one(FUNCTION, f"{role}-function")
    vpc = function.inputs["vpcConfig"]
    assert sorted(vpc["subnetIds"]) == sorted(s.outputs["id"] for s in dev.of_type("aws:ec2/subnet:Subnet"))
    assert vpc["securityGroupIds"] == [dev.one("aws:ec2/securityGroup:SecurityGroup").outputs["id"]]
    inputs = function.inputs
    assert inputs["name"] == f"bedrock-vpc-agent-dev-{role}"
    assert inputs["handler"] == f"functions.{role.replace('-', '_')}.handler.handler"
    assert (inputs["runtime"], inputs["architectures"]) == ("python3.13", ["arm64"])
    assert inputs["tracingConfig"] == {"mode": "Active"}
    # The layer of the Powertools release the tests run (requirements.txt), from its SSM parameter.
    assert inputs["layers"] == [
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:41"
    ]
    assert inputs["role"] == dev.one(ROLE, f"{role}-role").outputs["arn"]
    # Logs go to the explicit group, which exists before the function.
    group = dev.one("aws:cloudwatch/logGroup:LogGroup", f"{role}-logs")
    assert group.inputs["name"] == f"/aws/lambda/bedrock-vpc-agent-dev-{role}"
    assert group.inputs["retentionInDays"] == 30
    assert inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
    assert inputs["loggingConfig"]["logFormat"] == "JSON"
    assert group.urn in function.dependencies
    assert dev.one(ROLE_POLICY, f"{role}-permissions").urn in function.dependencies


def _archive_names(code: dict[str, Any]) -> dict[str, int]:
    """Entry name -> POSIX mode, whether the program built the zip (FileArchive) or Pulumi will."""
    if "assets" in code:
        return dict.fromkeys(code["assets"], 0o100644)
    assert str(code["path"]).endswith(".zip")
    with zipfile.ZipFile(code["path"]) as zipped:
        return {info.filename: info.external_attr >> 16 for info in zipped.infolist()}


def test_function_archives_hold_their_package_only(dev: ProgramRun) -> None:
    for role, package in (("invoker", "invoker"), ("action-group", "action_group")):
        assets = _archive_names(dev.one(FUNCTION, f"{role}-function").inputs["code"])
        assert "functions/__init__.py" in assets
        assert f"functions/{package}/handler.py" in assets
        assert all(name.startswith(("functions/__init__.py", f"functions/{package}/")) for name in assets)
        assert not [name for name in assets if "__pycache__" in name or name.endswith(".pyc")]


@pytest.mark.parametrize(
    ("overrides", "deadline_ms", "timeout_s"),
    [
        ({"apiIntegrationTimeoutMs": 15000}, 15000, 16),
        ({}, 120000, 121),  # streaming default
        ({"apiIntegrationTimeoutMs": 899000}, 899000, 900),  # Lambda's maximum
        ({"apiStreaming": False}, 29000, 30),
    ],
)
def test_invoker_timeout_sits_just_above_the_api_deadline(
    program: RunProgram, overrides: dict[str, Any], deadline_ms: int, timeout_s: int
) -> None:
    run = program("dev", **overrides, webUi=False, apiCorsAllowedOrigins=["https://app.example.com"])
    invoker = run.one(FUNCTION, "invoker-function").inputs
    assert invoker["timeout"] == timeout_s
    assert invoker["environment"]["variables"]["API_DEADLINE_MS"] == str(deadline_ms)
    assert invoker["environment"]["variables"]["ALLOWED_ORIGINS"] == '["https://app.example.com"]'
    assert "reservedConcurrentExecutions" not in invoker
    prod = program("prod").one(FUNCTION, "invoker-function").inputs
    assert prod["reservedConcurrentExecutions"] == 50


def test_agent_role_trusts_only_bedrock_agents_of_this_account(dev: ProgramRun) -> None:
    role = dev.one(ROLE, "agent-role")
    assert dev.one(AGENT).inputs["agentResourceRoleArn"] == role.outputs["arn"]
    (trust,) = policy_document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:agent/*"},
    }


@pytest.mark.parametrize("geography", ["us", "global"])
def test_inference_profile_permission_uses_the_documented_cross_region_forms(
    program: RunProgram, geography: str
) -> None:
    # "Prerequisites for inference profiles" / "Geographic|Global cross-Region inference" (Bedrock user
    # guide): the profile, and the model in any destination region, only through that profile. No
    # region list is frozen in, so a destination region AWS adds later is covered.
    run = program(
        "dev", agentFoundationModel=f"{geography}.{HAIKU}", guardrailEnabled=False, knowledgeBaseEnabled=False
    )
    by_sid = {s["Sid"]: s for s in statements(run, "agent-model-access")}
    profile_arn = f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:inference-profile/{geography}.{HAIKU}"
    assert set(by_sid) == {
        "InvokeTheInferenceProfile",
        "InvokeItsModelInAnyDestinationRegion",
        "ReadTheInferenceProfile",
    }
    actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert by_sid["InvokeTheInferenceProfile"] == {
        "Sid": "InvokeTheInferenceProfile",
        "Effect": "Allow",
        "Action": actions,
        "Resource": profile_arn,
    }
    assert by_sid["InvokeItsModelInAnyDestinationRegion"] == {
        "Sid": "InvokeItsModelInAnyDestinationRegion",
        "Effect": "Allow",
        "Action": actions,
        # "*" matches every region, and the empty region of the global profile's model ARN.
        "Resource": [f"arn:aws:bedrock:*::foundation-model/{HAIKU}"],
        "Condition": {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}},
    }
    assert by_sid["ReadTheInferenceProfile"]["Resource"] == profile_arn
    assert by_sid["ReadTheInferenceProfile"]["Action"] == "bedrock:GetInferenceProfile"


def test_foundation_model_permission_is_that_model_in_this_region(program: RunProgram) -> None:
    run = program("dev", agentFoundationModel="anthropic.claude-3-5-haiku-20241022-v1:0")
    (invoke,) = [s for s in statements(run, "agent-model-access") if s["Sid"] == "InvokeTheConfiguredModel"]
    assert invoke["Resource"] == [
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"
    ]
    assert run.one(AGENT).inputs["foundationModel"] == "anthropic.claude-3-5-haiku-20241022-v1:0"


def test_guardrail_and_customer_key_are_applied_and_permitted(program: RunProgram) -> None:
    key = f"arn:aws:kms:us-east-1:{MOCK_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
    run = program(
        "dev",
        guardrailEnabled=False,
        agentGuardrailId="gr0abc",
        agentGuardrailVersion="3",
        agentKmsKeyArn=key,
    )
    agent = run.one(AGENT).inputs
    assert agent["guardrailConfigurations"] == [{"guardrailIdentifier": "gr0abc", "guardrailVersion": "3"}]
    assert agent["customerEncryptionKeyArn"] == key
    by_sid = {s["Sid"]: s for s in statements(run, "agent-model-access")}
    assert (
        by_sid["ApplyTheGuardrail"]["Resource"]
        == f"arn:aws:bedrock:us-east-1:{MOCK_ACCOUNT_ID}:guardrail/gr0abc"
    )
    assert by_sid["UseTheAgentKey"]["Resource"] == key


def alias_target(run: ProgramRun) -> tuple[str, Any, str]:
    alias = run.one(ALIAS)
    env = run.one(FUNCTION, "invoker-function").inputs["environment"]["variables"]
    assert env["AGENT_ALIAS_ID"] == alias.outputs["agentAliasId"]
    return alias.inputs["agentAliasName"], alias.replacement_trigger, alias.outputs["agentAliasId"]


@pytest.mark.parametrize(
    "change",
    [
        {"agentInstruction": "You answer questions about unit conversions and nothing else, briefly."},
        {"agentFoundationModel": "anthropic.claude-3-5-haiku-20241022-v1:0"},
        {"agentIdleSessionTtlSeconds": 900},
        {"guardrailEnabled": False, "agentGuardrailId": "gr0abc", "agentGuardrailVersion": "1"},
        {"guardrailEnabled": False},
        {"guardrailPiiEntities": {"EMAIL": "BLOCK"}},
        {"guardrailBlockedWords": ["confidential"]},
        {"knowledgeBaseEnabled": False},
        {"knowledgeBaseDescription": "Search these documents for deployment questions only."},
        {"agentKmsKey": True},
    ],
)
def test_changing_what_a_version_freezes_moves_the_alias(program: RunProgram, change: dict[str, Any]) -> None:
    before, after = alias_target(program("dev")), alias_target(program("dev", **change))
    assert after[0] != before[0]
    assert after[1] != before[1]
    assert after[0] == f"live-{after[1]}"
    assert after[2] != before[2], "the invoker must follow the new alias"


def test_unrelated_changes_keep_the_alias(program: RunProgram) -> None:
    assert alias_target(program("dev")) == alias_target(program("dev", logRetentionDays=90, azCount=3))


def test_alias_is_created_after_the_agent_and_its_action_group(dev: ProgramRun) -> None:
    alias = dev.one(ALIAS)
    assert dev.one(AGENT).urn in alias.dependencies
    assert dev.one(ACTION_GROUP, "agent-tools").urn in alias.dependencies
    assert alias.inputs["agentId"] == dev.one(AGENT).outputs["agentId"]
    assert dev.one(AGENT).inputs["prepareAgent"] is True
    assert dev.one(ACTION_GROUP, "agent-tools").inputs["prepareAgent"] is True


def test_agent_endpoint_admits_only_the_invoker_calling_the_alias(dev: ProgramRun) -> None:
    endpoint = next(
        e for e in dev.of_type(ENDPOINT) if e.inputs["serviceName"].endswith("bedrock-agent-runtime")
    )
    allow, deny = policy_document(endpoint.inputs["policy"])["Statement"]
    expected_allow, expected_deny = this_agents_aliases(dev)
    assert allow == {**expected_allow, "Principal": {"AWS": dev.one(ROLE, "invoker-role").outputs["arn"]}}
    assert deny == {**expected_deny, "Principal": "*"}


def test_logs_endpoint_admits_only_writes_to_this_stacks_log_groups(program: RunProgram) -> None:
    dev = program("dev", interfaceEndpoints=["bedrock-agent-runtime", "logs"])
    endpoint = next(e for e in dev.of_type(ENDPOINT) if e.inputs["serviceName"].endswith(".logs"))
    (statement,) = policy_document(endpoint.inputs["policy"])["Statement"]
    prefix = f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:log-group:"
    assert statement["Resource"] == [
        f"{prefix}/bedrock-vpc-agent-dev/*:log-stream:*",
        f"{prefix}/aws/lambda/bedrock-vpc-agent-dev-*:log-stream:*",
    ]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": MOCK_ACCOUNT_ID}}
    assert "*" not in statement["Action"]
