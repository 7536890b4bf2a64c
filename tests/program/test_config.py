"""Every configuration a user can get wrong stops the program with an actionable message and
registers nothing."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError
from offline.engine import ProgramError, resolve_stack_config
from tests.program.conftest import RunProgram

TOKYO_LAYER = (
    "arn:aws:lambda:ap-northeast-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
)


def failure(program: RunProgram, **overrides: Any) -> str:
    with pytest.raises(ProgramError) as caught:
        program("dev", **overrides)
    assert isinstance(caught.value.cause, ConfigError), caught.value.cause
    assert caught.value.resources == [], "a bad config must not register anything"
    return str(caught.value.cause)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"vpcCidr": "8.8.0.0/16"}, "8.8.0.0/16 is not a private (RFC 1918) range"),
        ({"vpcCidr": "10.4.0.0/33"}, "'10.4.0.0/33' is not a valid IPv4 CIDR block"),
        ({"vpcCidr": "10.4.0.1/16"}, "is not a valid IPv4 CIDR block"),
        ({"vpcCidr": "10.4.0.0/26"}, "use a prefix between /16 and /25"),
        ({"vpcCidr": "10.0.0.0/8"}, "use a prefix between /16 and /25"),
        ({"interfaceEndpoints": ["bedrock-agent-runtim"]}, "Did you mean 'bedrock-agent-runtime'?"),
        ({"interfaceEndpoints": ["logs", "logs"]}, "'logs' is listed twice"),
        ({"interfaceEndpoints": "logs"}, "must be a list of service names"),
        ({"aws:region": "us-east-7"}, "'us-east-7' does not offer Amazon Bedrock Agents. Did you mean"),
        ({"aws:region": "eu-north-1"}, "'eu-north-1' does not offer Amazon Bedrock Agents"),
        ({"aws:region": None}, "aws:region"),
        ({"azCount": 7}, "7 is out of range; use 1 to 6"),
        ({"azCount": 0}, "0 is out of range; use 1 to 6"),
        ({"azCount": "two"}, "azCount"),
        ({"logRetentionDays": 31}, "nearest: 30"),
        ({"logRetentionDays": 0}, "is not a retention CloudWatch Logs accepts"),
        ({"flowLogTrafficType": "all"}, "'all' is not one of ALL, ACCEPT, REJECT"),
        ({"vpcCider": "10.4.0.0/16"}, "Did you mean 'vpcCidr'?"),
        ({"agentRuntime": "agents"}, "agentRuntime: 'agents' is not one of classic"),
        ({"agentFoundationModel": "claude haiku"}, "is not a Bedrock model id"),
        ({"agentFoundationModel": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"}, "'eu.' inference profile"),
        ({"agentInstruction": "Be helpful."}, "11 characters is out of range; use 40 to 20000 characters"),
        ({"agentInstruction": "x" * 20001}, "20001 characters is out of range; use 40 to 20000 characters"),
        ({"agentIdleSessionTtlSeconds": 30}, "30 is out of range; use 60 to 5400"),
        ({"agentGuardrailId": "abc123"}, "set agentGuardrailId and agentGuardrailVersion together"),
        (
            {"agentGuardrailId": "abc123", "agentGuardrailVersion": "latest"},
            "must be a version number or DRAFT",
        ),
        ({"agentKmsKeyArn": "alias/my-key"}, "is not a KMS key ARN"),
        ({"powertoolsLayerArn": "AWSLambdaPowertoolsPythonV3"}, "is not a Lambda layer version ARN"),
        (
            {"powertoolsLayerArn": TOKYO_LAYER},
            "the layer is in ap-northeast-1 but the stack deploys to us-east-1",
        ),
        (
            {
                "powertoolsLayerArn": TOKYO_LAYER.replace("ap-northeast-1", "us-east-1").replace(
                    "arm64", "x86_64"
                )
            },
            "use the AWSLambdaPowertoolsPythonV3-python313-arm64 layer",
        ),
        ({"invokerReservedConcurrency": 0}, "0 means the invoker can never run"),
        ({"invokerReservedConcurrency": -1}, "-1 is out of range; use 1 to 1000"),
        ({"functionLogLevel": "TRACE"}, "'TRACE' is not one of DEBUG, INFO, WARNING, ERROR"),
        ({"apiAuth": "cognito"}, "'cognito' is not one of iam, api-key, none"),
        ({"apiCorsAllowedOrigins": ["*"]}, "'*' is not allowed"),
        ({"apiCorsAllowedOrigins": ["https://app.example.com/"]}, "is not an origin"),
        ({"apiCorsAllowedOrigins": ["http://app.example.com"]}, "https unless the host is localhost"),
        ({"apiCorsAllowedOrigins": "https://app.example.com"}, "must be a list of origins"),
        ({"apiStageName": "v 1"}, "must be 1-128 letters"),
        ({"apiThrottleRateLimit": 0}, "is out of range"),
        ({"apiIntegrationTimeoutMs": 900000}, "900000 ms is out of range; use 1000 to 899000 ms"),
        (
            {"apiStreaming": False, "apiIntegrationTimeoutMs": 60000},
            "60000 ms is out of range for a buffered API (apiStreaming false)",
        ),
        (
            {"apiStreaming": False, "apiIntegrationTimeoutMs": 999},
            "999 ms is out of range; use 1000 to 29000",
        ),
    ],
)
def test_bad_config_fails_with_what_to_change(
    program: RunProgram, overrides: dict[str, Any], expected: str
) -> None:
    message = failure(program, **overrides)
    assert expected in message
    assert "nothing was created" in message


def agentcore_failure(program: RunProgram, **overrides: Any) -> str:
    with pytest.raises(ProgramError) as caught:
        program("agentcore", **overrides)
    assert isinstance(caught.value.cause, ConfigError), caught.value.cause
    assert caught.value.resources == [], "a bad config must not register anything"
    return str(caught.value.cause)


def test_a_knowledge_base_on_agentcore_needs_the_retrieve_endpoint_naming_both_settings(
    program: RunProgram,
) -> None:
    message = agentcore_failure(
        program, knowledgeBaseEnabled=True, interfaceEndpoints=["bedrock-agentcore", "bedrock-runtime"]
    )
    assert (
        "interfaceEndpoints: agentRuntime agentcore with knowledgeBaseEnabled needs 'bedrock-agent-runtime': "
        "the agent searches the knowledge base through its search tool, whose Lambda calls Retrieve from "
        "the VPC and has no other way out; add 'bedrock-agent-runtime' to the list, or set "
        "knowledgeBaseAttached false (the agent stops searching it, the knowledge base is kept) or "
        "knowledgeBaseEnabled false (removes it)."
    ) in message
    assert "(1 problem(s))" in message


def test_a_detached_knowledge_base_on_agentcore_needs_no_endpoint_but_may_keep_it(
    program: RunProgram,
) -> None:
    # Nothing searches a detached knowledge base, so the endpoint may go with the first deployment of its
    # removal or stay until the second (knowledgeBaseEnabled false), which then refuses it.
    without = program(
        "agentcore", knowledgeBaseAttached=False, interfaceEndpoints=["bedrock-agentcore", "bedrock-runtime"]
    )
    assert without.of_type("aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase")
    kept = program("agentcore", knowledgeBaseAttached=False)
    assert kept.one("aws:ec2/vpcEndpoint:VpcEndpoint", "endpoints-bedrock-agent-runtime")
    message = agentcore_failure(program, knowledgeBaseEnabled=False)
    assert (
        "interfaceEndpoints: 'bedrock-agent-runtime' is the classic agent's endpoint but agentRuntime is "
        "agentcore: remove it (without knowledgeBaseEnabled it would bill hourly and carry nothing: on "
        "agentcore it only carries the knowledge base's searches)."
    ) in message
    assert "replace it with" not in message  # bedrock-agentcore is listed already


def test_classic_needs_no_second_endpoint_for_its_knowledge_base(program: RunProgram) -> None:
    # The Classic agent searches its knowledge base itself: bedrock-agent-runtime is its own endpoint.
    assert program("dev").config["bedrock-vpc-agent:knowledgeBaseEnabled"] == "true"
    message = failure(program, interfaceEndpoints=["bedrock-agent-runtime", "bedrock-agentcore"])
    assert (
        "'bedrock-agentcore' is the agentcore agent's endpoint but agentRuntime is classic: remove it "
        "(it would bill hourly and carry nothing)."
    ) in message
    # Without its own endpoint listed, the fix is the swap.
    swapped = failure(program, interfaceEndpoints=["bedrock-agentcore"])
    assert "agentRuntime is classic: replace it with 'bedrock-agent-runtime' (it would bill" in swapped


def test_more_azs_than_the_region_offers(program: RunProgram) -> None:
    message = failure(
        program,
        **{
            "aws:region": "ap-northeast-1",
            "azCount": 4,
            "powertoolsLayerArn": TOKYO_LAYER,
            "agentFoundationModel": "apac.anthropic.claude-haiku-4-5-20251001-v1:0",
            "webUi": False,
        },
    )
    assert "4 AZs requested but ap-northeast-1 offers 3" in message
    assert "set azCount to 3 or less" in message


def test_every_problem_is_reported_at_once(program: RunProgram) -> None:
    message = failure(program, vpcCidr="8.8.0.0/16", logRetentionDays=31, azCount=9)
    assert "(3 problem(s))" in message


def test_stack_file_overrides_project_defaults_like_the_cli() -> None:
    dev = resolve_stack_config("dev")
    assert dev["bedrock-vpc-agent:vpcCidr"] == "10.4.0.0/16"  # Pulumi.yaml default
    assert dev["bedrock-vpc-agent:azCount"] == "1"  # Pulumi.dev.yaml
    assert dev["bedrock-vpc-agent:interfaceEndpoints"] == '["bedrock-agent-runtime"]'
    assert dev["aws:region"] == "us-east-1"
    prod = resolve_stack_config("prod", {"azCount": 2})
    assert prod["bedrock-vpc-agent:vpcCidr"] == "10.20.0.0/16"
    assert prod["bedrock-vpc-agent:azCount"] == "2"
    assert prod["bedrock-vpc-agent:protectStatefulResources"] == "true"


def test_unknown_stack_file_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match=r"No stack file Pulumi\.staging\.yaml"):
        resolve_stack_config("staging")


PYTHON313_LAYER = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"


@pytest.mark.parametrize("layer", [PYTHON313_LAYER, None])
@pytest.mark.parametrize("runtime", ["python3.9", "python3.11", "python3.8"])
def test_a_deprecated_runtime_is_reported_as_such_not_as_a_layer_mismatch(
    program: RunProgram, monkeypatch: pytest.MonkeyPatch, runtime: str, layer: str | None
) -> None:
    import components.config

    monkeypatch.setattr(components.config, "LAMBDA_RUNTIME", runtime)
    # With the python3.13 layer pinned, or looked up: the runtime is the fault, the layer follows it.
    message = failure(program, powertoolsLayerArn=layer)
    assert f"LAMBDA_RUNTIME (components/config.py): {runtime} is a deprecated Lambda runtime" in message
    assert "(1 problem(s))" in message
    assert "powertoolsLayerArn" not in message
    assert f"PythonV3-{runtime.replace('.', '')}" not in message  # no layer that does not exist


def test_an_unknown_runtime_is_named(program: RunProgram, monkeypatch: pytest.MonkeyPatch) -> None:
    import components.config

    monkeypatch.setattr(components.config, "LAMBDA_RUNTIME", "python3.99")
    message = failure(program, powertoolsLayerArn=None)
    assert "'python3.99' is not a Lambda runtime" in message
    assert "powertoolsLayerArn" not in message


def test_the_program_and_the_pack_know_the_same_deprecated_runtimes() -> None:
    from components.config import DEPRECATED_LAMBDA_RUNTIMES
    from policies.crossguard.compute import ALLOWED_RUNTIMES, DEPRECATED_RUNTIMES

    assert DEPRECATED_LAMBDA_RUNTIMES == DEPRECATED_RUNTIMES
    assert not set(ALLOWED_RUNTIMES.default) & set(DEPRECATED_RUNTIMES)


@pytest.mark.parametrize("region", ["eu-north-1", "[1]", "us-east-7"])
def test_a_wrong_region_is_one_problem_not_a_cascade(program: RunProgram, region: str) -> None:
    # The model's geography and a pinned layer's region would otherwise be judged against it too.
    message = failure(program, **{"aws:region": region, "powertoolsLayerArn": PYTHON313_LAYER})
    assert "(1 problem(s))" in message, message
    assert f"aws:region: '{region}' does not offer" in message
