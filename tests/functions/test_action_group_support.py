"""Shared test support for the action-group Lambda: Bedrock-shaped events, a fake context, a
response-shape check, plus the tests that keep those helpers honest."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import BedrockAgentFunctionEvent

from functions.action_group import handler as handler_module

ACTION_GROUP = "offline-tools"


class FakeLambdaContext:
    function_name = "bedrock-vpc-agent-action-group"
    function_version = "$LATEST"
    aws_request_id = "5f2b9d7e-0c1a-4a57-9a3e-3f1f2f0c9a11"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bedrock-vpc-agent-action-group"
    log_group_name = "/aws/lambda/bedrock-vpc-agent-action-group"
    log_stream_name = "2025/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def param(name: str, value: Any, type_: str = "string") -> dict[str, Any]:
    return {"name": name, "type": type_, "value": value}


def bedrock_event(
    function: str,
    parameters: list[dict[str, Any]] | None = None,
    *,
    action_group: str = ACTION_GROUP,
    session_attributes: dict[str, str] | None = None,
    prompt_session_attributes: dict[str, str] | None = None,
    input_text: str = "What is 2 + 2?",
) -> dict[str, Any]:
    """An action-group invocation exactly as Bedrock sends it for function-details action groups.

    https://docs.aws.amazon.com/bedrock/latest/userguide/agents-lambda.html#agents-lambda-input
    """
    return {
        "messageVersion": "1.0",
        "agent": {"name": "bedrock-vpc-agent", "id": "AGENT12345", "alias": "TSTALIASID", "version": "DRAFT"},
        "inputText": input_text,
        "sessionId": "123456789012345",
        "actionGroup": action_group,
        "function": function,
        "parameters": parameters if parameters is not None else [],
        "sessionAttributes": session_attributes if session_attributes is not None else {},
        "promptSessionAttributes": prompt_session_attributes if prompt_session_attributes is not None else {},
    }


def invoke(event: Any) -> dict[str, Any]:
    return handler_module.handler(event, FakeLambdaContext())  # type: ignore[arg-type]


def assert_bedrock_response(response: Any) -> dict[str, Any]:
    """Assert the exact function-details response shape Bedrock accepts; return functionResponse."""
    assert isinstance(response, dict)
    assert set(response) == {"messageVersion", "response", "sessionAttributes", "promptSessionAttributes"}
    assert response["messageVersion"] == "1.0"
    inner = response["response"]
    assert set(inner) == {"actionGroup", "function", "functionResponse"}
    assert isinstance(inner["actionGroup"], str)
    assert isinstance(inner["function"], str)
    function_response = inner["functionResponse"]
    assert set(function_response) in ({"responseBody"}, {"responseBody", "responseState"})
    if "responseState" in function_response:
        assert function_response["responseState"] in ("FAILURE", "REPROMPT")
    body = function_response["responseBody"]
    assert set(body) == {"TEXT"}
    assert set(body["TEXT"]) == {"body"}
    assert isinstance(body["TEXT"]["body"], str)
    for attributes in (response["sessionAttributes"], response["promptSessionAttributes"]):
        assert isinstance(attributes, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items())
    # Bedrock rejects Lambda responses over 25 KB.
    assert len(json.dumps(response).encode()) < 25_000
    return function_response


def body_of(response: dict[str, Any]) -> str:
    return str(response["response"]["functionResponse"]["responseBody"]["TEXT"]["body"])


def state_of(response: dict[str, Any]) -> str | None:
    return response["response"]["functionResponse"].get("responseState")


@contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """The handler's structured log records, parsed; the Powertools handler writes JSON lines."""
    stream = io.StringIO()
    log_handler = handler_module.logger.registered_handler
    previous = log_handler.setStream(stream)  # type: ignore[attr-defined]
    records: list[dict[str, Any]] = []
    try:
        yield records
    finally:
        log_handler.setStream(previous)  # type: ignore[attr-defined]
        # split("\n"), not splitlines(): a logged function name may contain U+0085 or U+2028.
        records.extend(json.loads(line) for line in stream.getvalue().split("\n") if line.strip())


def test_event_factory_matches_the_powertools_data_class() -> None:
    event = bedrock_event(
        "convert_units",
        [param("value", "5", "number"), param("from_unit", "km"), param("to_unit", "mi")],
        session_attributes={"user": "u-1"},
    )
    parsed = BedrockAgentFunctionEvent(event)

    assert parsed.message_version == "1.0"
    assert (parsed.agent.name, parsed.agent.id, parsed.agent.alias, parsed.agent.version) == (
        "bedrock-vpc-agent",
        "AGENT12345",
        "TSTALIASID",
        "DRAFT",
    )
    assert parsed.input_text == "What is 2 + 2?"
    assert parsed.session_id == "123456789012345"
    assert parsed.action_group == ACTION_GROUP
    assert parsed.function == "convert_units"
    assert [(p.name, p.type, p.value) for p in parsed.parameters] == [
        ("value", "number", "5"),
        ("from_unit", "string", "km"),
        ("to_unit", "string", "mi"),
    ]
    assert parsed.session_attributes == {"user": "u-1"}
    assert parsed.prompt_session_attributes == {}


def test_response_check_rejects_a_body_without_the_text_wrapper() -> None:
    broken = {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": "a",
            "function": "f",
            "functionResponse": {"responseBody": {"body": "x"}},
        },
        "sessionAttributes": {},
        "promptSessionAttributes": {},
    }
    with pytest.raises(AssertionError):
        assert_bedrock_response(broken)
