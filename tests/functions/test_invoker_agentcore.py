"""The invoker on AgentCore: InvokeHarness through botocore's real serializer and event-stream parser,
every modeled error and stream member, the returnControl round trip, deadline and DELETE."""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
import string
import zlib
from pathlib import Path
from typing import Any

import botocore
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.invoker import agentcore
from functions.invoker.agentcore import (
    INVOCATION_PREFIX,
    STOP_REASONS,
    UPSTREAM_ERRORS,
    Handoff,
    InlineCall,
    decode_invocation_id,
    encode_invocation_id,
    runtime_session_id,
    session_tag,
)
from functions.invoker.classic import THROTTLING_ERRORS
from functions.invoker.errors import ApiError
from functions.invoker.validation import MAX_INVOCATION_ID
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


TOOL_A = InlineCall("tooluse_a", "get_local_time", {"timezone": "UTC"})
TOOL_B = InlineCall("tooluse_b", "confirm_action", {"question": "Go?", "urgent": True})
GROUPS = {"get_local_time": CLIENT_GROUP, "confirm_action": CLIENT_GROUP}
LOCAL_TIME_INPUT = {
    "actionGroup": CLIENT_GROUP,
    "function": "get_local_time",
    "parameters": [{"name": "timezone", "type": "string", "value": "UTC"}],
}
CONFIRM_INPUT = {
    "actionGroup": CLIENT_GROUP,
    "function": "confirm_action",
    "parameters": [
        {"name": "question", "type": "string", "value": "Go?"},
        {"name": "urgent", "type": "boolean", "value": "true"},
    ],
}


def decoded(invocation_id: str, session: str = SESSION) -> Handoff:
    return decode_invocation_id(invocation_id, runtime_session_id(session), GROUPS)


def invocation_id(call: InlineCall, *queue: InlineCall, session: str = SESSION) -> str:
    return encode_invocation_id(runtime_session_id(session), Handoff(call, queue))


def answer(control: dict[str, Any], **result: str) -> dict[str, Any]:
    """The returnControlResults that answer ``control``'s one input with ``result``."""
    (item,) = control["invocationInputs"]
    return {
        "sessionId": SESSION,
        "returnControlResults": {
            "invocationId": control["invocationId"],
            "results": [{"actionGroup": item["actionGroup"], "function": item["function"], **result}],
        },
    }


def resume_messages(call: InlineCall, text: str, status: str) -> list[dict[str, Any]]:
    """What the invoker must send to resume ``call``: its toolUse echoed, then the client's result."""
    return [
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": call.tool_use_id, "name": call.name, "input": call.input}}],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": call.tool_use_id, "content": [{"text": text}], "status": status}}
            ],
        },
    ]


RESTREAMED = {
    "queued call not streamed again": [],
    "queued call streamed again": ["tooluse_b"],
    "answered and queued calls streamed again": ["tooluse_a", "tooluse_b"],
}


@pytest.mark.parametrize("restreamed", sorted(RESTREAMED))
def test_inline_functions_are_handed_off_one_at_a_time_and_resumed_with_the_tool_use_echoed(
    h: Harness, restreamed: str
) -> None:
    h.agent.stream(
        *text("Let me check."),
        *tool_use("tooluse_a", "get_local_time", '{"time', 'zone": "UTC"}'),
        *tool_use("tooluse_b", "confirm_action", '{"question": "Go?", "urgent": true}', index=2),
        stop("tool_use"),
    )
    first = h.chat({"inputText": "time?", "sessionId": SESSION})
    assert first.status == 200
    assert first.json()["completion"] == "Let me check."
    control = first.json()["returnControl"]
    assert control["invocationInputs"] == [LOCAL_TIME_INPUT]
    assert control["invocationId"].startswith("tooluse:v2:")
    assert decoded(control["invocationId"]) == Handoff(TOOL_A, (TOOL_B,))
    assert h.logs.summary()["invocation_inputs"] == 1

    # The harness hands the queued call off next; it may or may not stream its toolUse again.
    calls = {"tooluse_a": TOOL_A, "tooluse_b": TOOL_B}
    again = [
        piece
        for index, tool_use_id in enumerate(RESTREAMED[restreamed], start=1)
        for piece in tool_use(
            tool_use_id, calls[tool_use_id].name, json.dumps(calls[tool_use_id].input), index=index
        )
    ]
    h.agent.stream(*again, stop("tool_use"), usage(30, 2))
    second = h.chat(answer(control, body="12:00"))
    assert second.status == 200
    assert h.agent.requests[1].headers[SESSION_HEADER] == runtime_session_id(SESSION)
    assert h.agent.requests[1].body == {"messages": resume_messages(TOOL_A, "12:00", "success")}
    control = second.json()["returnControl"]
    assert control["invocationInputs"] == [CONFIRM_INPUT]
    assert decoded(control["invocationId"]) == Handoff(TOOL_B)

    h.agent.stream(*text("Understood, not going."), stop("end_turn"))
    third = h.chat(answer(control, confirmationState="DENY"))
    assert third.status == 200
    assert third.json()["completion"] == "Understood, not going."
    assert "returnControl" not in third.json()
    assert h.agent.requests[2].body == {
        "messages": resume_messages(TOOL_B, "The user declined this action.", "error")
    }
    assert len(h.agent.requests) == 3
    # The calls' inputs are the model's output, and the ids carry them: never logged.
    assert "Go?" not in h.logs.text
    assert "tooluse:v2:" not in h.logs.text


def test_a_new_model_response_after_the_resume_supersedes_the_queue(h: Harness) -> None:
    # The old contract kept no inline turn: the model saw only the answered call and asked anew.
    h.agent.stream(*tool_use("tooluse_c", "confirm_action", '{"question": "Sure?"}'), stop("tool_use"))
    response = h.chat(
        answer(
            {"invocationId": invocation_id(TOOL_A, TOOL_B), "invocationInputs": [LOCAL_TIME_INPUT]},
            body="12:00",
        )
    )
    control = response.json()["returnControl"]
    assert decoded(control["invocationId"]) == Handoff(
        InlineCall("tooluse_c", "confirm_action", {"question": "Sure?"})
    )


def test_only_the_last_stop_decides_and_only_inline_tools_are_handed_off(h: Harness) -> None:
    # A gateway tool's use the harness answered, then an inline call left pending: only the latter.
    h.agent.stream(
        *tool_use("tooluse_1", "tools___calculate", '{"expression": "6*7"}', type="mcp_tool_use"),
        stop("tool_use"),
        *tool_result("tooluse_1", '{"result": "42"}'),
        *tool_use("tooluse_2", "get_local_time", '{"timezone": "UTC"}', index=2),
        stop("tool_use"),
    )
    control = h.chat({"inputText": "6*7 and the time?", "sessionId": SESSION}).json()["returnControl"]
    assert control["invocationInputs"] == [LOCAL_TIME_INPUT]
    assert decoded(control["invocationId"]) == Handoff(
        InlineCall("tooluse_2", "get_local_time", {"timezone": "UTC"})
    )
    # A pending use of a tool that is not the client's is never handed to it; nor one a later stop ended.
    for steps in (
        [*tool_use("tooluse_3", "tools___unknown", "{}"), stop("tool_use")],
        [*tool_use("tooluse_4", "get_local_time", "{}"), stop("tool_use"), *text("done"), stop("max_tokens")],
    ):
        h.agent.stream(*steps)
        response = h.chat({"inputText": "hi", "sessionId": SESSION})
        assert response.status == 502
        assert "returnControl" not in response.raw["body"]


def test_a_resume_whose_stream_ends_with_nothing_pending_is_an_error(h: Harness) -> None:
    h.agent.stream(stop("tool_use"))
    response = h.chat(
        answer({"invocationId": invocation_id(TOOL_A), "invocationInputs": [LOCAL_TIME_INPUT]}, body="12:00")
    )
    assert (response.status, error_of(response)["code"]) == (502, "AGENT_INCOMPLETE_RESPONSE")


def _tampered_ids() -> dict[str, str]:
    valid = invocation_id(TOOL_A, TOOL_B)
    payload = valid.removeprefix(INVOCATION_PREFIX)

    def packed(document: object, raw: bytes | None = None) -> str:
        data = raw if raw is not None else json.dumps(document).encode()
        return INVOCATION_PREFIX + base64.urlsafe_b64encode(zlib.compress(data)).rstrip(b"=").decode()

    tag = session_tag(runtime_session_id(SESSION))
    a = ["tooluse_a", "get_local_time", {}]
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    return {
        "the v1 form": "tooluse:tooluse_a,tooluse_b",
        "a Classic id": "inv-1",
        "not base64url": INVOCATION_PREFIX + "abc+/def",
        "padded": valid + "==",
        "truncated": valid[:-3],
        "a character changed": INVOCATION_PREFIX + flipped,
        "not zlib": INVOCATION_PREFIX + base64.urlsafe_b64encode(b"{}").rstrip(b"=").decode(),
        "data after the stream": valid + base64.urlsafe_b64encode(b"").decode() + "AAAA",
        "another session": invocation_id(TOOL_A, session="sess-other"),
        "not an object": packed([tag, a, []]),
        "a missing key": packed({"s": tag, "u": a}),
        "an extra key": packed({"s": tag, "u": a, "q": [], "x": 1}),
        "a queue that is not a list": packed({"s": tag, "u": a, "q": {}}),
        "a tool that is not the client's": packed(
            {"s": tag, "u": ["tooluse_a", "tools___calculate", {}], "q": []}
        ),
        "a queued tool that is not the client's": packed({"s": tag, "u": a, "q": [["t2", "shell", {}]]}),
        "an input that is not an object": packed(
            {"s": tag, "u": ["tooluse_a", "get_local_time", "{}"], "q": []}
        ),
        "a bad tool use id": packed({"s": tag, "u": ["tool use", "get_local_time", {}], "q": []}),
        "a tool use id too long": packed({"s": tag, "u": ["t" * 65, "get_local_time", {}], "q": []}),
        "a call of two fields": packed({"s": tag, "u": ["tooluse_a", "get_local_time"], "q": []}),
        "a duplicate call": packed({"s": tag, "u": a, "q": [a]}),
        "NaN": packed(
            None, raw=b'{"s": "%s", "u": ["tooluse_a", "get_local_time", {"x": NaN}], "q": []}' % tag.encode()
        ),
        "a decompression bomb": packed(None, raw=b'{"s": "' + b"0" * 2_000_000 + b'"}'),
    }


TAMPERED = _tampered_ids()


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_a_malformed_or_altered_invocation_id_is_refused_before_the_harness_is_called(
    h: Harness, name: str
) -> None:
    tampered = TAMPERED[name]
    assert len(tampered) <= MAX_INVOCATION_ID
    response = h.chat(
        {
            "sessionId": SESSION,
            "returnControlResults": {
                "invocationId": tampered,
                "results": [{"actionGroup": CLIENT_GROUP, "function": "get_local_time", "body": "x"}],
            },
        }
    )
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("returnControlResults.invocationId ")
    assert "latest returnControl" in error["message"]
    reason = "does not hand to clients" if "not the client's" in name else "altered"
    if name in ("the v1 form", "a Classic id"):
        reason = "is not an invocationId this API returned on AgentCore"
    elif name == "another session":
        reason = "belongs to another session"
    assert reason in error["message"]
    assert h.agent.requests == []


@pytest.mark.parametrize(
    "results",
    [
        pytest.param(
            [
                {"actionGroup": CLIENT_GROUP, "function": "get_local_time", "body": "12:00"},
                {"actionGroup": CLIENT_GROUP, "function": "confirm_action", "confirmationState": "DENY"},
            ],
            id="two results for one call",
        ),
        pytest.param(
            [{"actionGroup": CLIENT_GROUP, "function": "confirm_action", "body": "x"}], id="another function"
        ),
        pytest.param(
            [{"actionGroup": "billing", "function": "get_local_time", "body": "x"}], id="another group"
        ),
        pytest.param(
            [{"actionGroup": CLIENT_GROUP, "apiPath": "/time", "httpMethod": "GET", "body": "x"}],
            id="an API result",
        ),
    ],
)
def test_results_that_do_not_answer_the_returned_call_are_rejected(h: Harness, results: list[Any]) -> None:
    response = h.chat(
        {
            "sessionId": SESSION,
            "returnControlResults": {"invocationId": invocation_id(TOOL_A, TOOL_B), "results": results},
        }
    )
    assert response.status == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("returnControlResults.results must be exactly one function result")
    assert h.agent.requests == []


def test_the_invocation_id_limit_is_the_apis(h: Harness) -> None:
    for length, expected in (
        (MAX_INVOCATION_ID, "returnControlResults.invocationId is not"),
        (MAX_INVOCATION_ID + 1, f"1..{MAX_INVOCATION_ID} characters"),
    ):
        response = h.chat(
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "x" * length,
                    "results": [{"actionGroup": CLIENT_GROUP, "function": "get_local_time"}],
                },
            }
        )
        assert response.status == 400
        assert expected in error_of(response)["message"]


def test_pending_calls_too_large_for_an_invocation_id_are_a_502_not_truncated(h: Harness) -> None:
    noise = random.Random(7)
    uses = [
        piece
        for number in range(5)
        for piece in tool_use(
            f"tooluse_{number}",
            "get_local_time",
            json.dumps({"timezone": "".join(noise.choices(string.ascii_letters, k=4_000))}),
            index=number,
        )
    ]
    h.agent.stream(*uses, stop("tool_use"))
    response = h.chat({"inputText": "time?", "sessionId": SESSION})
    assert response.status == 502
    error = error_of(response)
    assert error["code"] == "AGENT_BAD_RESPONSE"
    assert f"over {MAX_INVOCATION_ID} characters" in error["message"]
    assert "returnControl" not in response.raw["body"]
    # One call less fits: the bound is what the encoding needs, not a guess.
    h.agent.stream(*uses[: 4 * 3], stop("tool_use"))
    control = h.chat({"inputText": "time?", "sessionId": SESSION}).json()["returnControl"]
    assert len(decoded(control["invocationId"]).queue) == 3


tool_ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
calls = st.builds(
    InlineCall,
    tool_ids,
    st.sampled_from(sorted(GROUPS)),
    st.dictionaries(st.text(max_size=8), json_values, max_size=4),
)


@settings(max_examples=50)
@given(
    call=calls,
    queue=st.lists(calls, max_size=4),
    session=st.sampled_from([SESSION, "ab", "x" * 100]),
    cut=st.integers(min_value=0),
)
def test_an_invocation_id_round_trips_and_no_prefix_of_it_decodes(
    call: InlineCall, queue: list[InlineCall], session: str, cut: int
) -> None:
    unique = tuple({c.tool_use_id: c for c in queue if c.tool_use_id != call.tool_use_id}.values())
    handoff = Handoff(call, unique)
    encoded = encode_invocation_id(runtime_session_id(session), handoff)
    assert re.fullmatch(r"tooluse:v2:[A-Za-z0-9_-]+", encoded)
    assert decoded(encoded, session) == handoff
    prefix = encoded[: len(INVOCATION_PREFIX) + cut % (len(encoded) - len(INVOCATION_PREFIX))]
    with pytest.raises(ApiError) as refused:
        decoded(prefix, session)
    assert refused.value.status == 400


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
