"""Every configuration a user can get wrong stops the program with an actionable message and
registers nothing."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError
from offline.engine import ProgramError, resolve_stack_config
from tests.program.conftest import RunProgram


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
    ],
)
def test_bad_config_fails_with_what_to_change(
    program: RunProgram, overrides: dict[str, Any], expected: str
) -> None:
    message = failure(program, **overrides)
    assert expected in message
    assert "nothing was created" in message


def test_more_azs_than_the_region_offers(program: RunProgram) -> None:
    message = failure(program, **{"aws:region": "ap-northeast-1", "azCount": 4})
    assert "4 AZs requested but ap-northeast-1 offers 3" in message
    assert "set azCount to 3 or less" in message


def test_every_problem_is_reported_at_once(program: RunProgram) -> None:
    message = failure(program, vpcCidr="8.8.0.0/16", logRetentionDays=31, azCount=9)
    assert "(3 problem(s))" in message


def test_stack_file_overrides_project_defaults_like_the_cli() -> None:
    dev = resolve_stack_config("dev")
    assert dev["bedrock-vpc-agent:vpcCidr"] == "10.4.0.0/16"  # Pulumi.yaml default
    assert dev["bedrock-vpc-agent:logRetentionDays"] == "14"  # Pulumi.dev.yaml
    assert dev["bedrock-vpc-agent:interfaceEndpoints"] == '["bedrock-agent-runtime", "logs"]'
    assert dev["aws:region"] == "us-east-1"
    prod = resolve_stack_config("prod", {"azCount": 2})
    assert prod["bedrock-vpc-agent:vpcCidr"] == "10.20.0.0/16"
    assert prod["bedrock-vpc-agent:azCount"] == "2"
    assert prod["bedrock-vpc-agent:protectStatefulResources"] == "true"


def test_unknown_stack_file_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match=r"No stack file Pulumi\.staging\.yaml"):
        resolve_stack_config("staging")
