"""The invoker on AgentCore: InvokeHarness through botocore's real serializer and event-stream parser,
every modeled error and stream member, the returnControl round trip, deadline and DELETE."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import botocore
import pytest

from functions.invoker import agentcore
from functions.invoker.agentcore import STOP_REASONS, UPSTREAM_ERRORS, runtime_session_id
from functions.invoker.classic import THROTTLING_ERRORS
from tests.functions import eventstream as es
from tests.functions.harness_fakes import (
    CLIENT_GROUP,
    HARNESS_ARN,
    RUNTIME_ARN,
    SESSION_HEADER,
    FakeHarness,
    make_agentcore_harness,
    stop,
    text,
    tool_result,
    tool_use,
    usage,
)
from tests.functions.invoker_fakes import ORIGIN, Harness, api_event

SESSION = "sess-42"
MODEL = json.loads(
    gzip.decompress(
        (Path(botocore.__file__).parent / "data/bedrock-agentcore/2024-02-28/service-2.json.gz").read_bytes()
    )
)


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return make_agentcore_harness(monkeypatch)


def error_of(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def test_session_ids_are_derived_deterministically_within_agentcores_constraints() -> None:
    pattern = re.compile(MODEL["shapes"]["InvokeHarnessRequestRuntimeSessionIdString"]["pattern"])
    for api_session in ("ab", "sess-42", "a.b:c-d_e", "x" * 100):
        derived = runtime_session_id(api_session)
        assert 33 <= len(derived) <= 100
        assert pattern.fullmatch(derived)
        assert derived == runtime_session_id(api_session)
    assert runtime_session_id("a.b") != runtime_session_id("a_b")


def test_chat_sends_the_text_and_joins_the_answer(h: Harness) -> None:
    h.agent.stream(*text("It is ", "SECRET-ANSWER."), stop("end_turn"), usage(120, 7))
    response = h.chat({"inputText": "6*7?", "sessionId": SESSION})
    assert response.status == 200
    assert response.json() == {
        "sessionId": SESSION,
        "completion": "It is SECRET-ANSWER.",
        "citations": [],
        "guardrailInterventions": [],
    }
    (sent,) = h.agent.requests
    assert sent.path == "/harnesses/invoke"
    assert f"harnessArn={HARNESS_ARN.replace(':', '%3A').replace('/', '%2F')}" in sent.url
    assert sent.headers[SESSION_HEADER] == runtime_session_id(SESSION)
    assert sent.body == {"messages": [{"role": "user", "content": [{"text": "6*7?"}]}]}
    summary = h.logs.summary()
    assert (summary["input_tokens"], summary["output_tokens"]) == (120, 7)
    assert "SECRET-ANSWER" not in h.logs.text
    assert "6*7" not in h.logs.text


def test_gateway_tools_run_inside_the_harness(h: Harness) -> None:
    h.agent.stream(
        *tool_use("tooluse_1", "tools___calculate", '{"expression": ', '"6*7"}', type="mcp_tool_use"),
        stop("tool_use"),
        *tool_result("tooluse_1", '{"result": "42"}'),
        *text("42"),
        stop("end_turn"),
    )
    response = h.chat({"inputText": "6*7?", "sessionId": SESSION})
    assert response.status == 200
    assert response.json() == {
        "sessionId": SESSION,
        "completion": "42",
        "citations": [],
        "guardrailInterventions": [],
    }


def test_inline_functions_return_control_and_resume_with_tool_results(h: Harness) -> None:
    h.agent.stream(
        *text("Let me check."),
        *tool_use("tooluse_a", "get_local_time", '{"time', 'zone": "UTC"}'),
        *tool_use("tooluse_b", "confirm_action", '{"question": "Go?", "urgent": true}', index=2),
        stop("tool_use"),
    )
    first = h.chat({"inputText": "time?", "sessionId": SESSION})
    assert first.status == 200
    control = first.json()["returnControl"]
    assert control == {
        "invocationId": "tooluse:tooluse_a,tooluse_b",
        "invocationInputs": [
            {
                "actionGroup": CLIENT_GROUP,
                "function": "get_local_time",
                "parameters": [{"name": "timezone", "type": "string", "value": "UTC"}],
            },
            {
                "actionGroup": CLIENT_GROUP,
                "function": "confirm_action",
                "parameters": [
                    {"name": "question", "type": "string", "value": "Go?"},
                    {"name": "urgent", "type": "boolean", "value": "true"},
                ],
            },
        ],
    }
    h.agent.stream(*text("It is noon."), stop("end_turn"))
    second = h.chat(
        {
            "sessionId": SESSION,
            "returnControlResults": {
                "invocationId": control["invocationId"],
                "results": [
                    {"actionGroup": CLIENT_GROUP, "function": "get_local_time", "body": "12:00"},
                    {"actionGroup": CLIENT_GROUP, "function": "confirm_action", "confirmationState": "DENY"},
                ],
            },
        }
    )
    assert second.status == 200
    assert second.json()["completion"] == "It is noon."
    resumed = h.agent.requests[1]
    assert resumed.headers[SESSION_HEADER] == runtime_session_id(SESSION)
    assert resumed.body["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "tooluse_a",
                        "content": [{"text": "12:00"}],
                        "status": "success",
                    }
                },
                {
                    "toolResult": {
                        "toolUseId": "tooluse_b",
                        "content": [{"text": "The user declined this action."}],
                        "status": "error",
                    }
                },
            ],
        }
    ]


def test_results_that_do_not_answer_the_returned_calls_are_rejected(h: Harness) -> None:
    response = h.chat(
        {
            "sessionId": SESSION,
            "returnControlResults": {
                "invocationId": "tooluse:a,b",
                "results": [{"actionGroup": CLIENT_GROUP, "function": "get_local_time", "body": "x"}],
            },
        }
    )
    assert response.status == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert h.agent.requests == []


@pytest.mark.parametrize(
    ("status", "error_type", "expected_status", "code"),
    [
        (400, "ValidationException", 400, "AGENT_VALIDATION_ERROR"),
        (403, "AccessDeniedException", 502, "AGENT_ACCESS_DENIED"),
        (404, "ResourceNotFoundException", 502, "AGENT_NOT_FOUND"),
        (424, "RuntimeClientError", 502, "AGENT_DEPENDENCY_FAILED"),
        (500, "InternalServerException", 502, "AGENT_INTERNAL_ERROR"),
        (429, "ThrottlingException", 429, "AGENT_THROTTLED"),
        (402, "ServiceQuotaExceededException", 429, "AGENT_QUOTA_EXCEEDED"),
    ],
)
def test_every_modeled_error_of_the_call_maps_to_a_stable_code(
    h: Harness, status: int, error_type: str, expected_status: int, code: str
) -> None:
    for _ in range(4):
        h.agent.error(status, error_type)
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert response.status == expected_status
    assert error_of(response)["code"] == code
    assert len(h.agent.requests) == (4 if expected_status == 429 else 1)
    if expected_status == 429:
        assert "Retry-After" in response.headers


def test_throttling_is_retried_then_answered(h: Harness) -> None:
    h.agent.error(429, "ThrottlingException")
    h.agent.stream(*text("ok"), stop("end_turn"))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert response.status == 200
    assert response.json()["completion"] == "ok"
    assert h.logs.summary()["throttled"] == 1


@pytest.mark.parametrize(
    ("member", "status", "code"),
    [
        ("internalServerException", 502, "AGENT_INTERNAL_ERROR"),
        ("validationException", 400, "AGENT_VALIDATION_ERROR"),
        ("runtimeClientError", 502, "AGENT_DEPENDENCY_FAILED"),
    ],
)
@pytest.mark.parametrize("after_text", [False, True])
def test_mid_stream_errors_map_to_the_same_codes(
    h: Harness, member: str, status: int, code: str, after_text: bool
) -> None:
    prefix = text("partial") if after_text else []
    h.agent.stream(*prefix, es.exception(member, "failed"))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert (response.status, error_of(response)["code"]) == (status, code)
    assert "partial" not in response.raw["body"]


def test_an_exception_this_stream_does_not_model_is_a_502_never_retried(h: Harness) -> None:
    # InvokeHarness's stream models no throttlingException (only the call can be throttled).
    h.agent.stream(*text("partial"), es.exception("throttlingException"))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert response.status == 502
    assert "Retry-After" not in response.headers
    assert len(h.agent.requests) == 1


@pytest.mark.parametrize("reason", sorted(STOP_REASONS))
def test_every_stop_reason_short_of_an_answer_is_an_error(h: Harness, reason: str) -> None:
    h.agent.stream(*text("half an answer"), stop(reason))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    spec = STOP_REASONS[reason]
    assert (response.status, error_of(response)["code"]) == (spec.status, spec.code)
    assert "half an answer" not in response.raw["body"]


def test_a_stream_without_an_end_or_an_answer_is_incomplete(h: Harness) -> None:
    h.agent.stream(*text("cut"))
    assert error_of(h.chat({"inputText": "hi", "sessionId": SESSION}))["code"] == "AGENT_INCOMPLETE_RESPONSE"
    h.agent.stream(stop("end_turn"))
    assert error_of(h.chat({"inputText": "hi", "sessionId": SESSION}))["code"] == "AGENT_INCOMPLETE_RESPONSE"


def test_tool_input_that_is_not_json_is_the_agents_fault(h: Harness) -> None:
    h.agent.stream(*tool_use("tooluse_a", "get_local_time", "{not json"), stop("tool_use"))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert (response.status, error_of(response)["code"]) == (502, "AGENT_BAD_RESPONSE")


def test_an_event_after_the_deadline_is_a_504(h: Harness) -> None:
    h.agent.stream(*text("slow"), h.clock.advance(30.0), *text(" answer"), stop("end_turn"))
    response = h.chat({"inputText": "hi", "sessionId": SESSION})
    assert (response.status, error_of(response)["code"]) == (504, "DEADLINE_EXCEEDED")
    assert h.agent.raws[0].closed


def _delete(h: Harness) -> Any:
    return h.call(
        api_event(
            "DELETE",
            f"/chat/{SESSION}",
            None,
            {"Origin": ORIGIN},
            resource="/chat/{sessionId}",
            path_parameters={"sessionId": SESSION},
        )
    )


def test_delete_stops_the_runtime_session(h: Harness) -> None:
    assert isinstance(h.agent, FakeHarness)
    h.agent.stopped()
    response = _delete(h)
    assert response.status == 204
    (sent,) = h.agent.requests
    assert sent.path == f"/runtimes/{RUNTIME_ARN}/stopruntimesession"
    assert sent.headers[SESSION_HEADER] == runtime_session_id(SESSION)


@pytest.mark.parametrize(
    ("status", "error_type", "expected", "code"),
    [
        (404, "ResourceNotFoundException", 204, None),
        (403, "AccessDeniedException", 502, "AGENT_ACCESS_DENIED"),
        (401, "UnauthorizedException", 502, "AGENT_ACCESS_DENIED"),
        (409, "ConflictException", 409, "AGENT_CONFLICT"),
        (409, "RetryableConflictException", 409, "AGENT_CONFLICT"),
        (424, "RuntimeClientError", 502, "AGENT_DEPENDENCY_FAILED"),
        (500, "InternalServerException", 502, "AGENT_INTERNAL_ERROR"),
        (400, "ValidationException", 400, "AGENT_VALIDATION_ERROR"),
    ],
)
def test_delete_maps_every_modeled_error(
    h: Harness, status: int, error_type: str, expected: int, code: str | None
) -> None:
    h.agent.error(status, error_type)
    response = _delete(h)
    assert response.status == expected
    if code is not None:
        assert error_of(response)["code"] == code


def test_the_tables_cover_the_service_model() -> None:
    """Every error and stream member botocore models for the two operations has a mapping."""
    shapes, operations = MODEL["shapes"], MODEL["operations"]
    for operation in ("InvokeHarness", "StopRuntimeSession"):
        for error in operations[operation]["errors"]:
            assert error["shape"] in UPSTREAM_ERRORS or error["shape"] in THROTTLING_ERRORS, error
    stream = shapes["InvokeHarnessStreamOutput"]["members"]
    exceptions = {name for name, member in stream.items() if shapes[member["shape"]].get("exception")}
    assert {name[:1].upper() + name[1:] for name in exceptions} <= set(UPSTREAM_ERRORS)
    handled = {"messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop"}
    assert set(stream) - exceptions == handled | {"metadata", "hookEvent"}
    reasons = set(shapes["HarnessStopReason"]["enum"])
    assert reasons == set(STOP_REASONS) | agentcore.COMPLETE_STOPS | {"tool_use"}
