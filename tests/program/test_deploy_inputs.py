"""Inputs AWS checks synchronously on a real deploy: log level spelling, the zones each endpoint service
is offered in, the Powertools layer release, the instruction length."""

from __future__ import annotations

import importlib.metadata

import pytest

from components.config import ConfigError
from offline.engine import ProgramError
from tests.program.conftest import RunProgram

FUNCTION = "aws:lambda/function:Function"
SUBNET = "aws:ec2/subnet:Subnet"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"


def config_error(program: RunProgram, **overrides: object) -> str:
    with pytest.raises(ProgramError) as caught:
        program("dev", **overrides)
    assert isinstance(caught.value.cause, ConfigError), caught.value.cause
    assert caught.value.resources == []
    return str(caught.value.cause)


@pytest.mark.parametrize(
    ("level", "lambda_level"), [("WARNING", "WARN"), ("DEBUG", "DEBUG"), ("ERROR", "ERROR")]
)
def test_lambda_gets_its_own_spelling_of_the_log_level(
    program: RunProgram, level: str, lambda_level: str
) -> None:
    run = program("dev", functionLogLevel=level)
    for role in ("invoker", "action-group"):
        inputs = run.one(FUNCTION, f"{role}-function").inputs
        # Lambda's ApplicationLogLevel enum: TRACE, DEBUG, INFO, WARN, ERROR, FATAL (botocore lambda model).
        assert inputs["loggingConfig"]["applicationLogLevel"] == lambda_level
        assert inputs["environment"]["variables"]["POWERTOOLS_LOG_LEVEL"] == level


def test_zones_are_those_every_endpoint_service_offers(program: RunProgram) -> None:
    # The mocked account's us-east-1e (use1-az3) does not offer the Bedrock runtime endpoints.
    run = program("dev", azCount=5)
    zones = sorted(subnet.inputs["availabilityZone"] for subnet in run.of_type(SUBNET))
    assert zones == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"]
    # Subnets keep their slice of the VPC block by position, as before.
    cidrs = {s.inputs["availabilityZone"]: s.inputs["cidrBlock"] for s in run.of_type(SUBNET)}
    assert cidrs["us-east-1a"] == "10.4.0.0/19"
    assert cidrs["us-east-1f"] == "10.4.128.0/19"


def test_fewer_offering_zones_than_az_count_is_a_config_error(program: RunProgram) -> None:
    message = config_error(program, azCount=6, interfaceEndpoints=["bedrock-agent-runtime", "sts"])
    assert "6 AZs requested but only 5 of us-east-1's zones offer every interface endpoint service" in message
    assert "bedrock-agent-runtime is not offered in us-east-1e" in message
    assert "sts" not in message.split("(", 2)[2]  # sts is offered everywhere: not named as a gap
    assert "set azCount to 5 or less" in message


def test_zones_without_gaps_are_unchanged(program: RunProgram) -> None:
    run = program("dev", azCount=6, interfaceEndpoints=["sts"])
    assert len(run.of_type(SUBNET)) == 6


def test_functions_run_the_powertools_release_the_tests_run(program: RunProgram) -> None:
    tested = importlib.metadata.version("aws-lambda-powertools")
    assert tested == "3.37.0"  # requirements.txt; the mocks know this release's layer
    run = program("prod")
    for role in ("invoker", "action-group"):
        (layer,) = run.one(FUNCTION, f"{role}-function").inputs["layers"]
        # /aws/service/powertools/python/arm64/python3.13/3.37.0 in the stack's region.
        assert (
            layer
            == "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:41"
        )


def test_an_explicit_layer_overrides_the_lookup(program: RunProgram) -> None:
    layer = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:40"
    run = program("dev", powertoolsLayerArn=layer)
    assert run.one(FUNCTION, "invoker-function").inputs["layers"] == [layer]


def test_an_instruction_of_20000_characters_is_accepted(program: RunProgram) -> None:
    instruction = ("Answer engineers' questions with the tools. " * 500)[:20000]
    run = program("dev", agentInstruction=instruction)
    assert run.one("aws:bedrock/agentAgent:AgentAgent").inputs["instruction"] == instruction.strip()
