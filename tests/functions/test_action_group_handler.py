"""The action-group handler: Bedrock's event in, Bedrock's response shape and responseState out."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver, BedrockFunctionResponse

from functions.action_group import handler as handler_module
from functions.action_group.dispatch import UNEXPECTED_ERROR, dispatch
from functions.action_group.tools import app
from functions.action_group.toolspec import resolver_tool_specs
from tests.functions.test_action_group_support import (
    ACTION_GROUP,
    assert_bedrock_response,
    bedrock_event,
    body_of,
    captured_logs,
    invoke,
    param,
    state_of,
)

SECRET = "SECRET-PROMPT-7f3a"
KNOWN = "Known functions: calculate, convert_units, business_days_between."


def test_success_has_the_exact_bedrock_shape_and_echoes_identity_and_session_state() -> None:
    event = bedrock_event(
        "calculate",
        [param("expression", "6 * 7")],
        session_attributes={"tenant": "t-1"},
        prompt_session_attributes={"today": "2025-03-14"},
    )

    response = invoke(event)

    assert response == {
        "messageVersion": "1.0",
        "response": {
            "actionGroup": ACTION_GROUP,
            "function": "calculate",
            "functionResponse": {
                "responseBody": {"TEXT": {"body": '{"result": "42", "interpreted_as": "6 * 7"}'}}
            },
        },
        "sessionAttributes": {"tenant": "t-1"},
        "promptSessionAttributes": {"today": "2025-03-14"},
    }
    assert "responseState" not in assert_bedrock_response(response)


def test_unknown_function_fails_and_lists_the_known_functions() -> None:
    response = invoke(bedrock_event("get_weather", [param("city", "Paris")]))

    assert_bedrock_response(response)
    assert state_of(response) == "FAILURE"
    assert response["response"]["function"] == "get_weather"
    assert body_of(response) == (
        f"Function 'get_weather' does not exist in action group '{ACTION_GROUP}'. {KNOWN}"
    )


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (None, "not a JSON object"),
        ([], "not a JSON object"),
        ("calculate", "not a JSON object"),
        ({}, "missing actionGroup or function"),
        ({"actionGroup": ACTION_GROUP}, "missing actionGroup or function"),
        ({"function": "calculate"}, "missing actionGroup or function"),
        ({"actionGroup": 7, "function": "calculate"}, "missing actionGroup or function"),
        ({**bedrock_event("calculate"), "parameters": "expression=1"}, "parameters is not a list"),
        ({**bedrock_event("calculate"), "parameters": [{"value": "1"}]}, "a parameter has no name"),
        ({**bedrock_event("calculate"), "parameters": ["expression"]}, "a parameter has no name"),
    ],
)
def test_malformed_events_get_a_well_formed_failure(event: Any, detail: str) -> None:
    response = invoke(event)

    assert_bedrock_response(response)
    assert state_of(response) == "FAILURE"
    assert (
        body_of(response)
        == f"The action group received a malformed request from Bedrock ({detail}); it was not run."
    )


def test_malformed_event_still_echoes_what_identity_it_has() -> None:
    response = invoke({"actionGroup": ACTION_GROUP, "sessionAttributes": "not-a-map"})

    assert response["response"]["actionGroup"] == ACTION_GROUP
    assert response["response"]["function"] == ""
    assert response["sessionAttributes"] == {}


def test_absent_parameters_key_is_treated_as_no_parameters() -> None:
    event = bedrock_event("calculate")
    del event["parameters"]

    response = invoke(event)

    assert state_of(response) == "REPROMPT"
    assert body_of(response).startswith("calculate is missing required parameter(s): expression (")


def test_missing_required_parameter_reprompts_with_its_description() -> None:
    response = invoke(
        bedrock_event("convert_units", [param("value", "5", "number"), param("from_unit", "km")])
    )

    assert state_of(response) == "REPROMPT"
    assert body_of(response) == (
        "convert_units is missing required parameter(s): to_unit (Unit to convert to; must measure the same "
        "thing as from_unit). Ask the user for them if they are not in the conversation, then call it again."
    )


def test_unknown_parameter_reprompts_with_the_real_signature() -> None:
    response = invoke(bedrock_event("calculate", [param("expression", "1"), param("precision", "2")]))

    assert state_of(response) == "REPROMPT"
    assert body_of(response) == (
        "calculate has no parameter(s) 'precision'. "
        "It takes: expression (string, required), decimal_places (integer)."
    )


def test_duplicated_parameter_reprompts() -> None:
    response = invoke(bedrock_event("calculate", [param("expression", "1"), param("expression", "2")]))

    assert state_of(response) == "REPROMPT"
    assert body_of(response).startswith("Parameter(s) 'expression' were given more than once;")


@pytest.mark.parametrize(
    ("function", "parameters", "message"),
    [
        (
            "calculate",
            [param("expression", "1/3"), param("decimal_places", "abc", "integer")],
            "Parameter 'decimal_places' must be a whole number such as 2; got 'abc'.",
        ),
        (
            "calculate",
            [param("expression", "1/3"), param("decimal_places", "2.5", "integer")],
            "Parameter 'decimal_places' must be a whole number such as 2; got '2.5'.",
        ),
        (
            "convert_units",
            [param("value", "five", "number"), param("from_unit", "km"), param("to_unit", "mi")],
            "Parameter 'value' must be a finite number such as 3.5; got 'five'.",
        ),
        (
            "convert_units",
            [param("value", "NaN", "number"), param("from_unit", "km"), param("to_unit", "mi")],
            "Parameter 'value' must be a finite number such as 3.5; got 'NaN'.",
        ),
        (
            "business_days_between",
            [
                param("start_date", "2025-01-01"),
                param("end_date", "2025-01-31"),
                param("inclusive", "maybe", "boolean"),
            ],
            "Parameter 'inclusive' must be true or false; got 'maybe'.",
        ),
        (
            "business_days_between",
            [
                param("start_date", "2025-01-01"),
                param("end_date", "2025-01-31"),
                param("holidays", '{"x": 1}', "array"),
            ],
            "Parameter 'holidays' must be a JSON array such as "
            '["2025-12-25", "2025-12-26"]; got \'{"x": 1}\'.',
        ),
    ],
)
def test_values_that_do_not_match_the_declared_type_reprompt(
    function: str, parameters: list[dict[str, Any]], message: str
) -> None:
    response = invoke(bedrock_event(function, parameters))

    assert_bedrock_response(response)
    assert state_of(response) == "REPROMPT"
    assert body_of(response) == f"{message} Call {function} again with a corrected value."


@pytest.mark.parametrize("blank", [None, "", "  "])
def test_blank_optional_parameter_means_its_default(blank: Any) -> None:
    response = invoke(
        bedrock_event("calculate", [param("expression", "2/3"), param("decimal_places", blank, "integer")])
    )

    assert json.loads(body_of(response))["result"] == "0.6666666666666666666666666667"


def test_declared_type_wins_over_the_type_bedrock_reports() -> None:
    # The code is the source of truth: a "string"-typed 3 still becomes the integer the tool declares.
    response = invoke(
        bedrock_event("calculate", [param("expression", "2/3"), param("decimal_places", "3", "string")])
    )

    assert json.loads(body_of(response))["result"] == "0.667"


def _fresh_tools() -> dict[str, Any]:
    resolver = BedrockAgentFunctionResolver()

    @resolver.tool(description="Always breaks.")
    def explode(note: Annotated[str, "Anything."]) -> str:
        raise RuntimeError(f"bug while handling {note}")

    @resolver.tool(description="Asks the model to try again and remembers a session attribute.")
    def defer() -> BedrockFunctionResponse:
        return BedrockFunctionResponse(
            body="Try again later.", session_attributes={"deferred": "yes"}, response_state="REPROMPT"
        )

    @resolver.tool(description="Returns something JSON cannot encode.")
    def opaque() -> object:
        return object()

    return resolver_tool_specs(resolver)


def test_a_tool_bug_is_a_generic_failure_and_its_message_is_not_leaked() -> None:
    tools = _fresh_tools()

    result = dispatch(bedrock_event("explode", [param("note", SECRET)]), tools, json.dumps)

    assert_bedrock_response(result.response)
    assert state_of(result.response) == "FAILURE"
    assert body_of(result.response) == json.dumps(UNEXPECTED_ERROR)
    assert SECRET not in json.dumps(result.response)
    assert (result.outcome, result.reason) == ("failure", "tool_error")
    assert isinstance(result.error, RuntimeError)


def test_a_tool_may_return_its_own_response_state_and_session_attributes() -> None:
    result = dispatch(bedrock_event("defer", session_attributes={"a": "1"}), _fresh_tools(), json.dumps)

    assert state_of(result.response) == "REPROMPT"
    assert result.response["sessionAttributes"] == {"deferred": "yes"}
    assert (result.outcome, result.reason) == ("reprompt", "tool_response")


def test_an_unserializable_result_is_a_failure_not_an_exception() -> None:
    result = dispatch(bedrock_event("opaque"), _fresh_tools(), json.dumps)

    assert_bedrock_response(result.response)
    assert state_of(result.response) == "FAILURE"
    assert (result.outcome, result.reason) == ("failure", "unserializable_result")
    assert isinstance(result.error, TypeError)


def test_one_log_record_per_call_with_names_outcome_and_latency_but_no_values() -> None:
    event = bedrock_event(
        "calculate", [param("expression", f"1 + {SECRET}")], input_text=f"please compute {SECRET}"
    )

    with captured_logs() as records:
        response = invoke(event)

    assert state_of(response) == "REPROMPT"  # the secret is not a number
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "INFO"
    assert record["message"] == "tool invocation"
    assert {k: record[k] for k in ("action_group", "function", "parameter_names", "outcome", "reason")} == {
        "action_group": ACTION_GROUP,
        "function": "calculate",
        "parameter_names": ["expression"],
        "outcome": "reprompt",
        "reason": "tool_input",
    }
    assert (record["agent_id"], record["agent_alias"], record["agent_version"]) == (
        "AGENT12345",
        "TSTALIASID",
        "DRAFT",
    )
    assert isinstance(record["latency_ms"], float)
    assert record["function_request_id"] == "5f2b9d7e-0c1a-4a57-9a3e-3f1f2f0c9a11"
    assert SECRET not in json.dumps(records)


def test_a_tool_bug_is_logged_as_an_error_with_frames_but_without_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(handler_module.TOOLS, "explode", _fresh_tools()["explode"])

    with captured_logs() as records:
        response = invoke(bedrock_event("explode", [param("note", SECRET)]))

    assert state_of(response) == "FAILURE"
    assert body_of(response) == UNEXPECTED_ERROR
    (record,) = records
    assert (record["level"], record["message"], record["error_type"]) == (
        "ERROR",
        "tool invocation failed",
        "RuntimeError",
    )
    assert any("explode" in frame for frame in record["stack"])
    assert SECRET not in json.dumps(records)


def test_rejected_calls_log_a_warning() -> None:
    with captured_logs() as records:
        invoke(bedrock_event("get_weather"))

    assert [(r["level"], r["outcome"], r["reason"]) for r in records] == [
        ("WARNING", "failure", "unknown_function")
    ]


def test_the_handler_runs_exactly_the_tools_registered_on_the_resolver() -> None:
    assert list(handler_module.TOOLS) == ["calculate", "convert_units", "business_days_between"]
    assert resolver_tool_specs(app) == handler_module.TOOLS
