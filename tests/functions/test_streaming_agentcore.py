"""The same streaming renderer on the AgentCore backend: InvokeHarness's stream, parsed by botocore,
rendered as NDJSON as it arrives; errors in the middle of it are in-band with the buffered codes."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.invoker import streaming
from functions.invoker.agentcore import (
    STOP_REASONS,
    Handoff,
    InlineCall,
    decode_invocation_id,
    runtime_session_id,
)
from functions.invoker.runtime import StreamedResponse
from tests.functions import eventstream as es
from tests.functions.harness_fakes import CLIENT_GROUP, make_agentcore_harness, stop, text, tool_use, usage
from tests.functions.invoker_fakes import API_REQUEST_ID, Harness, api_event

NDJSON = {"Content-Type": "application/json", "Accept": "application/x-ndjson"}
SESSION = "sess-core"


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = make_agentcore_harness(monkeypatch)
    harness.set_env(API_STREAMING="true")
    return harness


def stream(h: Harness, body: object) -> StreamedResponse:
    return streaming.handler(api_event("POST", "/chat", body, NDJSON), cast(LambdaContext, h.context))


def lines(response: StreamedResponse) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(response.body).decode().splitlines()]


def test_agentcore_text_streams_as_chunks_then_done_with_usage(h: Harness) -> None:
    h.agent.stream(*text("It is ", "42."), stop("end_turn"), usage(120, 7))

    response = stream(h, {"inputText": "6*7?", "sessionId": SESSION})

    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    events = lines(response)
    assert [e for e in events if e["type"] == "chunk"] == [
        {"type": "chunk", "text": "It is "},
        {"type": "chunk", "text": "42."},
    ]
    assert events[-1] == {
        "type": "done",
        "sessionId": SESSION,
        "usage": {"inputTokens": 120, "outputTokens": 7},
    }


def test_agentcore_return_of_control_streams(h: Harness) -> None:
    h.agent.stream(
        *text("Let me check."),
        *tool_use("tooluse_a", "get_local_time", '{"timezone": "UTC"}'),
        stop("tool_use"),
    )

    events = lines(stream(h, {"inputText": "time?", "sessionId": SESSION}))

    assert events[0] == {"type": "chunk", "text": "Let me check."}
    (control,) = [e for e in events if e["type"] == "returnControl"]
    assert control["returnControl"]["invocationInputs"] == [
        {
            "actionGroup": CLIENT_GROUP,
            "function": "get_local_time",
            "parameters": [{"name": "timezone", "type": "string", "value": "UTC"}],
        }
    ]
    handoff = decode_invocation_id(
        control["returnControl"]["invocationId"],
        runtime_session_id(SESSION),
        {"get_local_time": CLIENT_GROUP},
    )
    assert handoff == Handoff(InlineCall("tooluse_a", "get_local_time", {"timezone": "UTC"}))
    assert events[-1]["type"] == "done"


def test_agentcore_streams_two_inline_calls_as_two_returns_of_control(h: Harness) -> None:
    h.agent.stream(
        *tool_use("tooluse_a", "get_local_time", '{"timezone": "UTC"}'),
        *tool_use("tooluse_b", "get_local_time", '{"timezone": "Asia/Tokyo"}', index=2),
        stop("tool_use"),
    )
    h.agent.stream(stop("tool_use"))  # the harness hands the second off without streaming it again
    h.agent.stream(*text("Noon in UTC, nine in Tokyo."), stop("end_turn"))
    groups = {"get_local_time": CLIENT_GROUP}

    body: dict[str, Any] = {"inputText": "times?", "sessionId": SESSION}
    handed: list[Handoff] = []
    for _ in range(3):
        events = lines(stream(h, body))
        controls = [e["returnControl"] for e in events if e["type"] == "returnControl"]
        if not controls:
            break
        (control,) = controls
        (item,) = control["invocationInputs"]
        handed.append(decode_invocation_id(control["invocationId"], runtime_session_id(SESSION), groups))
        result = {"actionGroup": item["actionGroup"], "function": item["function"], "body": "12:00"}
        body = {
            "sessionId": SESSION,
            "returnControlResults": {"invocationId": control["invocationId"], "results": [result]},
        }

    tokyo = InlineCall("tooluse_b", "get_local_time", {"timezone": "Asia/Tokyo"})
    assert handed == [
        Handoff(InlineCall("tooluse_a", "get_local_time", {"timezone": "UTC"}), (tokyo,)),
        Handoff(tokyo),
    ]
    assert [e for e in events if e["type"] == "chunk"] == [
        {"type": "chunk", "text": "Noon in UTC, nine in Tokyo."}
    ]
    echoed = [
        request.body["messages"][0]["content"][0]["toolUse"]["toolUseId"] for request in h.agent.requests[1:]
    ]
    assert echoed == ["tooluse_a", "tooluse_b"]
    assert events[-1]["type"] == "done"


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param(
            lambda: [es.exception("internalServerException", "failed")], id="internalServerException"
        ),
        pytest.param(lambda: [es.exception("runtimeClientError", "failed")], id="runtimeClientError"),
        pytest.param(lambda: [es.exception("throttlingException")], id="unmodeled throttling"),
        *[pytest.param(lambda r=reason: [stop(r)], id=f"stop {reason}") for reason in sorted(STOP_REASONS)],
    ],
)
def test_agentcore_failures_mid_stream_are_in_band_with_the_buffered_code(h: Harness, ending: Any) -> None:
    h.agent.stream(*text("partial"), *ending())
    buffered = h.chat({"inputText": "hi", "sessionId": SESSION})
    expected = buffered.json()["error"]

    h.agent.stream(*text("partial"), *ending())
    events = lines(stream(h, {"inputText": "hi", "sessionId": SESSION}))

    assert events[0] == {"type": "chunk", "text": "partial"}
    assert events[-1] == {
        "type": "error",
        "status": buffered.status,
        "error": {"code": expected["code"], "message": expected["message"], "requestId": API_REQUEST_ID},
        "sessionId": SESSION,
    }
