"""Regression tests of the fault classes issue #10 found in the invoker (items 1-8).

Each test drives the real handler through a real botocore client; the agent's side is wire bytes.
The outcome of each class is documented in docs/api.md ("Agent faults").
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from tests.functions import eventstream as es
from tests.functions.invoker_fakes import (
    API_REQUEST_ID,
    Harness,
    ScriptedRaw,
    api_event,
    make_harness,
)

SESSION = "sess-7"
EVENT = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return make_harness(monkeypatch)


def outcome(response: Any) -> tuple[int, str]:
    body = response.json()
    assert body["error"]["requestId"] == API_REQUEST_ID
    return response.status, body["error"]["code"]


def header(name: str, type_byte: int, value: bytes) -> bytes:
    raw_name = name.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!B", type_byte) + value


def string_header(name: bytes, value: bytes) -> bytes:
    return struct.pack("!B", len(name)) + name + struct.pack("!BH", 7, len(value)) + value


EVENT_HEADERS = b"".join(string_header(k.encode(), v.encode()) for k, v in EVENT.items())


def http_error(h: Harness, status: int, body: bytes, error_type: str | None) -> None:
    def respond(request: AWSPreparedRequest) -> AWSResponse:
        headers = {"x-amzn-requestid": "upstream-1"}
        if error_type is not None:
            headers["x-amzn-errortype"] = f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        return AWSResponse(request.url, status, headers, ScriptedRaw([body]))

    h.agent.script.append(respond)


# --- 1. unparseable agent responses are agent-side faults (502), never 500 ----------------------

BAD_FRAMES = {
    "bytes not base64": es.encode_message(EVENT, b'{"bytes": "!!not base64!!"}'),
    "bytes with extra padding": es.encode_message(EVENT, b'{"bytes": "YQ===="}'),
    "payload not JSON": es.encode_message(EVENT, b'{"bytes":'),
    "payload not UTF-8": es.encode_message(EVENT, b'{"bytes": "\xff"}'),
    "payload a JSON array": es.encode_message(EVENT, b"[1]"),
    "bytes not a string": es.encode_message(EVENT, b'{"bytes": 5}'),
    "attribution not an object": es.encode_message(EVENT, b'{"bytes": "YQ==", "attribution": 5}'),
    "citations not a list": es.encode_message(EVENT, b'{"bytes": "YQ==", "attribution": {"citations": {}}}'),
    "unknown header value type": es.encode_raw(EVENT_HEADERS + header("x", 14, b""), b"{}"),
    "header name not UTF-8": es.encode_raw(EVENT_HEADERS + string_header(b"\xff\xfe", b"a"), b"{}"),
    "header value not UTF-8": es.encode_raw(string_header(b":message-type", b"\xff\xfe"), b"{}"),
    "header length beyond the headers": es.encode_raw(
        string_header(b":message-type", b"event")[:-5] + b"\x00\x09ev", b"{}"
    ),
    "unknown message type": es.encode_message({":message-type": "surprise"}, b"{}"),
    "error message without its code": es.encode_message({":message-type": "error"}, b""),
    "trace with an unparseable time": es.event(
        "trace", {"sessionId": "s", "trace": {"orchestrationTrace": {}}, "eventTime": "yesterday"}
    ),
    "trace with a time out of range": es.event(
        "trace", {"sessionId": "s", "trace": {"orchestrationTrace": {}}, "eventTime": 10**20}
    ),
    "trace usage of the wrong type": es.trace(
        {"orchestrationTrace": {"modelInvocationOutput": {"metadata": {"usage": {"inputTokens": "9"}}}}}
    ),
}


@pytest.mark.parametrize("where", ["first", "after an answer"])
@pytest.mark.parametrize("frame", list(BAD_FRAMES.values()), ids=list(BAD_FRAMES))
def test_a_well_framed_message_with_bad_content_is_a_bad_response(
    h: Harness, frame: bytes, where: str
) -> None:
    before = [es.chunk("partial")] if where != "first" else []
    raw = h.agent.stream(*before, frame)

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert outcome(response) == (502, "AGENT_BAD_RESPONSE")
    assert "partial" not in response.raw["body"]
    assert raw.closed is True
    assert len(h.agent.requests) == 1


ODD_BODIES = [b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"<html><body>oops</body></html>", b"", b"null"]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_an_error_body_that_is_not_a_json_object_keeps_the_error_type_of_its_header(
    h: Harness, body: bytes
) -> None:
    http_error(h, 400, body, "ValidationException")

    response = h.chat({"inputText": "hi"})

    assert outcome(response) == (400, "AGENT_VALIDATION_ERROR")
    assert response.json()["error"]["message"] == "the agent rejected the request"  # never the body


@pytest.mark.parametrize("body", ODD_BODIES)
def test_an_http_error_without_a_type_is_an_agent_error(h: Harness, body: bytes) -> None:
    http_error(h, 500, body, None)

    assert outcome(h.chat({"inputText": "hi"})) == (502, "AGENT_ERROR")


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize("error_type", [None, "ThrottlingException"])
def test_a_429_with_an_odd_body_is_still_throttling(h: Harness, body: bytes, error_type: str | None) -> None:
    for _ in range(4):
        http_error(h, 429, body, error_type)

    response = h.chat({"inputText": "hi"})

    assert outcome(response) == (429, "AGENT_THROTTLED")
    assert len(h.agent.requests) == 4  # retried like any throttling


# --- 2. a stream that did not end with a complete answer is never a success --------------------


@pytest.mark.parametrize("cut", [1, 4, 11, 12, 20, -5, -1])
def test_a_body_ending_inside_a_message_is_incomplete(h: Harness, cut: int) -> None:
    last = es.chunk("the rest of the answer")
    h.agent.stream(es.chunk("the first half, "), last[:cut])

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert outcome(response) == (502, "AGENT_INCOMPLETE_RESPONSE")
    assert "first half" not in response.raw["body"]


@pytest.mark.parametrize(
    "chunk",
    [
        es.event("chunk", {}),
        es.event("chunk", {"bytes": ""}),
        es.event("chunk", {"bytes": None}),
        es.event("chunk", {"attribution": {"citations": [], "guardrailInterventions": []}}),
    ],
    ids=["no bytes", "empty bytes", "null bytes", "citations only"],
)
def test_a_chunk_without_bytes_is_not_an_answer(h: Harness, chunk: bytes) -> None:
    h.agent.stream(chunk)

    assert outcome(h.chat({"inputText": "hi"})) == (502, "AGENT_INCOMPLETE_RESPONSE")


def test_a_chunk_without_bytes_beside_an_answer_is_harmless(h: Harness) -> None:
    h.agent.stream(es.event("chunk", {}), es.chunk("answer"))

    assert h.chat({"inputText": "hi"}).json()["completion"] == "answer"


# --- 3. an answer completed after the budget is not a success ------------------------------------


def test_a_stream_ending_after_the_budget_is_deadline_exceeded(h: Harness) -> None:
    # The whole answer arrived in time; the end of the body only after the budget (28 s) ran out.
    h.agent.stream(es.chunk("complete answer"), h.clock.advance(28.5))

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert outcome(response) == (504, "DEADLINE_EXCEEDED")
    assert "complete answer" not in response.raw["body"]
    assert "Retry-After" not in response.headers


def test_a_session_end_after_the_budget_is_deadline_exceeded(h: Harness) -> None:
    h.agent.stream(h.clock.advance(28.5))

    response = h.call(api_event("DELETE", f"/chat/{SESSION}", None, {}))

    assert outcome(response) == (504, "DEADLINE_EXCEEDED")


# --- 4. session ids are never dot segments -------------------------------------------------------


@pytest.mark.parametrize("session", ["..", "...", "." * 100])
def test_a_session_id_of_only_dots_is_rejected_in_the_body(h: Harness, session: str) -> None:
    response = h.chat({"inputText": "hi", "sessionId": session})

    assert outcome(response) == (400, "VALIDATION_ERROR")
    assert h.agent.requests == []


@pytest.mark.parametrize("session", [".", "..", "..."])
@pytest.mark.parametrize("routed", ["resource", "proxy"])
def test_a_session_id_of_only_dots_is_rejected_in_the_path(h: Harness, session: str, routed: str) -> None:
    if routed == "resource":
        event = api_event(
            "DELETE",
            f"/chat/{session}",
            None,
            {},
            resource="/chat/{sessionId}",
            path_parameters={"sessionId": session},
        )
    else:
        event = api_event("DELETE", f"/chat/{session}", None, {}, resource="/{proxy+}")

    assert outcome(h.call(event)) == (400, "VALIDATION_ERROR")
    assert h.agent.requests == []


def test_dots_inside_a_session_id_are_fine(h: Harness) -> None:
    h.agent.stream(es.chunk("ok"))

    assert h.chat({"inputText": "hi", "sessionId": "a..b"}).status == 200
    assert h.agent.requests[0].path.endswith("/sessions/a..b/text")


# --- 5. base64 bodies are decoded strictly --------------------------------------------------------

UNPADDED = base64.b64encode(b'{"inputText":"hi"}').decode()  # 18 bytes: no padding
PADDED = base64.b64encode(b'{"inputText":"hi!!"}').decode()  # 20 bytes: one "="


@pytest.mark.parametrize(
    "body",
    [
        UNPADDED + "=",  # padding after a complete encoding: b64decode(validate=True) accepts it
        UNPADDED + "==",
        PADDED + "=",
        PADDED.rstrip("="),  # missing padding
        UNPADDED[:12] + "\n" + UNPADDED[12:],  # whitespace
        "eyJpbnB1dFRleHQiOiJoaSJ9YR==",  # non-zero unused bits ("a" is YQ==)
    ],
)
def test_non_canonical_base64_is_invalid(h: Harness, body: str) -> None:
    response = h.call(api_event("POST", "/chat", body, {"Content-Type": "application/json"}, is_base64=True))

    assert outcome(response) == (400, "INVALID_BASE64")
    assert h.agent.requests == []


# --- 6. the error type of an empty or HTML 5xx is in x-amzn-errortype -----------------------------


@pytest.mark.parametrize("body", [b"", b"<html><body>Service Unavailable</body></html>"])
def test_a_503_throttling_with_an_empty_or_html_body_is_throttling(h: Harness, body: bytes) -> None:
    http_error(h, 503, body, "ThrottlingException")
    h.agent.stream(es.chunk("after a retry"))

    response = h.chat({"inputText": "hi"})

    assert response.status == 200
    assert response.json()["completion"] == "after a retry"
    assert len(h.agent.requests) == 2


@pytest.mark.parametrize(
    ("error_type", "expected"),
    [
        ("InternalServerException", (502, "AGENT_INTERNAL_ERROR")),
        ("ModelNotReadyException", (503, "AGENT_MODEL_NOT_READY")),
        ("DependencyFailedException", (502, "AGENT_DEPENDENCY_FAILED")),
    ],
)
def test_an_html_5xx_keeps_the_error_type_of_its_header(
    h: Harness, error_type: str, expected: tuple[int, str]
) -> None:
    http_error(h, 503, b"<html>gateway</html>", error_type)

    response = h.chat({"inputText": "hi"})

    assert outcome(response) == expected
    assert "gateway" not in response.raw["body"]
    assert h.logs.summary()["upstream_error"] == error_type


# --- 7. a failure after the turn may have acted is never offered for a replay -------------------

FILES = es.event("files", {"files": [{"name": "plot.png", "type": "image/png", "bytes": "iVBORw=="}]})
ACTION_TRACE = es.trace(
    {
        "orchestrationTrace": {
            "invocationInput": {
                "invocationType": "ACTION_GROUP",
                "actionGroupInvocationInput": {"actionGroupName": "billing", "function": "issue_refund"},
            }
        }
    }
)
COLLABORATOR_TRACE = es.trace(
    {"routingClassifierTrace": {"invocationInput": {"invocationType": "AGENT_COLLABORATOR"}}}
)
CUSTOM_TRACE = es.trace({"customOrchestrationTrace": {"event": {"text": "calling a tool"}}})
ACTED = {
    "files": FILES,
    "action group": ACTION_TRACE,
    "collaborator": COLLABORATOR_TRACE,
    "custom": CUSTOM_TRACE,
}


@pytest.mark.parametrize("before", list(ACTED.values()), ids=list(ACTED))
@pytest.mark.parametrize(
    "failure",
    [
        es.exception("throttlingException"),
        es.exception("serviceQuotaExceededException"),
        es.exception("modelNotReadyException"),
    ],
    ids=["throttling", "quota", "model not ready"],
)
def test_a_retryable_failure_after_the_turn_acted_is_interrupted(
    h: Harness, before: bytes, failure: bytes
) -> None:
    h.agent.stream(es.trace({"orchestrationTrace": {"rationale": {"text": "t"}}}), before, failure)

    response = h.chat({"inputText": "refund o-1"})

    assert outcome(response) == (502, "AGENT_INTERRUPTED")
    assert "Retry-After" not in response.headers
    assert len(h.agent.requests) == 1
    assert h.clock.sleeps == []


def test_throttling_after_reasoning_only_is_still_retried(h: Harness) -> None:
    knowledge = es.trace({"orchestrationTrace": {"modelInvocationInput": {"text": "prompt"}}})
    h.agent.stream(knowledge, es.exception("throttlingException"))
    h.agent.stream(es.chunk("done"))

    assert h.chat({"inputText": "hi"}).json()["completion"] == "done"
    assert len(h.agent.requests) == 2


# --- 8. no ARN or account id in a client-visible message ------------------------------------------


@pytest.mark.parametrize(
    "detail",
    [
        "Invalid alias arn:aws:bedrock:us-east-1:123456789012:agent-alias/AGENT12345/ALIAS12345",
        "Role arn:aws-us-gov:iam::123456789012:role/x is not authorized",
        "ARN:AWS:BEDROCK:EU-WEST-1:210987654321:AGENT/X rejected",
        "resource arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aagent%2FX",
        "account 123456789012 exceeded",
        "(arn:aws:bedrock:us-east-1:123456789012:agent/X)",
    ],
)
def test_validation_messages_carry_no_arn_or_account_id(h: Harness, detail: str) -> None:
    h.agent.error(400, "ValidationException", message=detail)

    response = h.chat({"inputText": "hi"})

    message = response.json()["error"]["message"]
    assert outcome(response) == (400, "AGENT_VALIDATION_ERROR")
    assert message.startswith("the agent rejected the request: ")
    assert "arn" not in message.lower()
    assert "123456789012" not in message
    assert "210987654321" not in message
