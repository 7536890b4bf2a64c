"""The action-group Lambda behind an AgentCore Gateway: the same tools and validation, the gateway's
event and JSON in place of Bedrock's."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from functions.action_group import handler as handler_module
from functions.action_group.dispatch import Dispatch
from functions.action_group.gateway import function_event, gateway_response
from tests.functions.test_action_group_support import FakeLambdaContext, captured_logs


class GatewayContext(FakeLambdaContext):
    def __init__(self, tool: str) -> None:
        self.client_context = SimpleNamespace(custom={"bedrockAgentCoreToolName": tool})


def call(tool: str, arguments: Any) -> dict[str, Any]:
    return handler_module.handler(arguments, GatewayContext(tool))  # type: ignore[arg-type]


def test_a_gateway_call_runs_the_tool_named_after_the_target_prefix() -> None:
    # A structured result is the object itself: the gateway serializes the whole return value as the
    # tool result's text, so a nested JSON string would reach the model escaped a second time.
    response = call("tools___calculate", {"expression": "6 * 7"})
    assert response == {"result": {"result": "42", "interpreted_as": "6 * 7"}}
    assert json.dumps(response) == '{"result": {"result": "42", "interpreted_as": "6 * 7"}}'


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ('{"passages": [], "note": "caf\u00e9"}', {"passages": [], "note": "café"}),
        ("  [1, 2]", [1, 2]),
        ("Sunny in Paris", "Sunny in Paris"),
        ("42", "42"),  # a bare JSON number, word or string stays the text the tool gave
        ('"quoted"', '"quoted"'),
        ("{not json", "{not json"),
        ("[NaN]", "[NaN]"),  # not JSON: never turned into a float the runtime cannot serialize
        ("", ""),
    ],
)
def test_only_a_json_object_or_array_body_is_returned_as_structure(body: str, result: object) -> None:
    response = {"response": {"functionResponse": {"responseBody": {"TEXT": {"body": body}}}}}
    assert gateway_response(Dispatch(response, "success", "", "t", "f")) == {"result": result}


def test_an_error_body_stays_text_even_when_it_looks_like_json() -> None:
    response = {
        "response": {
            "functionResponse": {"responseState": "FAILURE", "responseBody": {"TEXT": {"body": "{}"}}}
        }
    }
    assert gateway_response(Dispatch(response, "failure", "", "t", "f")) == {
        "error": "{}",
        "retry": False,
    }


def test_typed_json_arguments_are_validated_like_bedrock_text() -> None:
    result = call(
        "tools___business_days_between",
        {"start_date": "2025-12-22", "end_date": "2025-12-26", "holidays": ["2025-12-25"], "inclusive": True},
    )
    assert result["result"]["business_days"] == 4
    wrong = call("tools___business_days_between", {"start_date": "2025-12-22", "end_date": 5})
    assert wrong["retry"] is True
    assert "end_date" in wrong["error"]


def test_unknown_tools_and_malformed_calls_fail_without_retry() -> None:
    unknown = call("tools___get_weather", {"city": "Paris"})
    assert unknown["retry"] is False
    assert "Known functions: calculate, convert_units, business_days_between." in unknown["error"]
    assert call("tools___calculate", ["6 * 7"])["retry"] is False


def test_gateway_calls_are_logged_without_values() -> None:
    with captured_logs() as records:
        call("tools___calculate", {"expression": "SECRET-7f3a"})
    (record,) = [r for r in records if r.get("message", "").startswith("tool invocation")]
    assert record["action_group"] == "tools"
    assert record["function"] == "calculate"
    assert "SECRET-7f3a" not in json.dumps(records)


def test_a_gateway_argument_named_agent_is_not_logged_as_the_agents_identity() -> None:
    # A gateway event is the model's arguments: an "agent" among them is a value, not Classic's identity.
    with captured_logs() as records:
        call("tools___calculate", {"expression": "6 * 7", "agent": {"id": "SECRET-PROMPT-TEXT"}})
    (record,) = [r for r in records if r.get("message", "").startswith("tool invocation")]
    assert record["parameter_names"] == ["expression", "agent"]
    assert not [key for key in record if key.startswith("agent_")]
    assert "SECRET-PROMPT-TEXT" not in json.dumps(records)


def test_function_event_keeps_text_and_encodes_the_rest_as_json() -> None:
    event = function_event("t___f", {"a": "x", "b": 2, "c": False, "d": [1, 2], "e": None})
    assert event["actionGroup"] == "t"
    assert event["function"] == "f"
    assert [(p["name"], p["value"]) for p in event["parameters"]] == [
        ("a", "x"),
        ("b", "2"),
        ("c", "false"),
        ("d", "[1, 2]"),
    ]
    assert function_event("bare", {})["function"] == "bare"
