"""The invoker end to end: API Gateway event -> handler -> REAL botocore client -> scripted HTTP bytes.

Every agent response below is wire format (event-stream messages or HTTP error bodies) decoded by
botocore's own parsers; every assertion on the agent side reads the request botocore would send.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from functions.invoker import handler as handler_module
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import (
    AGENT_ID,
    ALIAS_ID,
    API_REQUEST_ID,
    GENERATED_SESSION,
    ORIGIN,
    OTHER_ORIGIN,
    UPSTREAM_REQUEST_ID,
    Harness,
    api_event,
    make_harness,
)

JSON = {"Content-Type": "application/json"}
SESSION = "sess-42"
AGENT_PATH = f"/agents/{AGENT_ID}/agentAliases/{ALIAS_ID}/sessions/{SESSION}/text"


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return make_harness(monkeypatch)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "requestId"}
    assert body["error"]["requestId"] == API_REQUEST_ID
    return dict(body["error"])


CITATIONS = [
    {
        "generatedResponsePart": {
            "textResponsePart": {"text": "Refunds take 5 days.", "span": {"start": 0, "end": 19}}
        },
        "retrievedReferences": [
            {
                "content": {"text": "Refunds are processed within five business days."},
                "location": {"type": "S3", "s3Location": {"uri": "s3://kb-docs/policies/refunds.pdf"}},
                "metadata": {"x-amz-bedrock-kb-source-uri": "s3://kb-docs/policies/refunds.pdf"},
            },
            {
                "content": {"text": "See the help center."},
                "location": {"type": "WEB", "webLocation": {"url": "https://help.example.com/refunds"}},
            },
        ],
    },
    {
        "generatedResponsePart": {
            "textResponsePart": {"text": "Contact support.", "span": {"start": 21, "end": 36}}
        },
        "retrievedReferences": [
            {
                "content": {"text": "SELECT 1"},
                "location": {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}},
            },
        ],
    },
]
CLEAN_CITATIONS = [
    {
        "text": "Refunds take 5 days.",
        "span": {"start": 0, "end": 19},
        "references": [
            {"type": "S3", "uri": "s3://kb-docs/policies/refunds.pdf"},
            {"type": "WEB", "uri": "https://help.example.com/refunds"},
        ],
    },
    {
        "text": "Contact support.",
        "span": {"start": 21, "end": 36},
        "references": [{"type": "SQL", "uri": None}],
    },
]


# --- success ------------------------------------------------------------------------------------


def test_chat_joins_chunks_and_returns_clean_citations(h: Harness) -> None:
    answer = "Refunds take 5 days. Contact support. Café ☕".encode()
    cut = answer.index("é".encode()) + 1  # split inside the two-byte "é": decoding must happen once
    h.agent.stream(es.chunk(answer[:cut]), es.chunk(answer[cut:], CITATIONS), split=9)

    response = h.chat({"inputText": "How long do refunds take?", "sessionId": SESSION})

    assert response.status == 200
    assert response.json() == {
        "sessionId": SESSION,
        "completion": "Refunds take 5 days. Contact support. Café ☕",
        "citations": CLEAN_CITATIONS,
        "guardrailInterventions": [],
    }
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    (sent,) = h.agent.requests
    assert sent.method == "POST"
    assert sent.url == f"https://bedrock-agent-runtime.us-east-1.amazonaws.com{AGENT_PATH}"
    assert sent.body == {"inputText": "How long do refunds take?", "enableTrace": False}
    assert sent.headers["amz-sdk-request"] == "attempt=1; max=1"  # botocore retries are off


def test_a_new_session_id_is_generated_when_absent(h: Harness) -> None:
    h.agent.stream(es.chunk("Hello"))

    response = h.chat({"inputText": "hi"})

    assert response.json() == {
        "sessionId": GENERATED_SESSION,
        "completion": "Hello",
        "citations": [],
        "guardrailInterventions": [],
    }
    assert (
        h.agent.requests[0].path
        == f"/agents/{AGENT_ID}/agentAliases/{ALIAS_ID}/sessions/{GENERATED_SESSION}/text"
    )
    assert h.logs.summary()["session_id"] == GENERATED_SESSION


def test_base64_encoded_body_is_decoded(h: Harness) -> None:
    h.agent.stream(es.chunk("ok"))
    body = base64.b64encode(json.dumps({"inputText": "größe?", "sessionId": SESSION}).encode()).decode()

    response = h.call(api_event("POST", "/chat", body, JSON, is_base64=True))

    assert response.status == 200
    assert h.agent.requests[0].body == {"inputText": "größe?", "enableTrace": False}


def test_summary_log_has_sizes_counts_and_latency(h: Harness) -> None:
    h.agent.stream(h.clock.advance(1.25), es.chunk("ab"), es.chunk("cd", CITATIONS))

    response = h.chat({"inputText": "hello", "sessionId": SESSION})

    summary = h.logs.summary()
    assert summary["level"] == "INFO"
    assert summary["correlation_id"] == API_REQUEST_ID
    assert summary["function_request_id"] == "lambda-req-0001"
    assert summary["session_id"] == SESSION
    assert summary["status"] == 200
    assert summary["route"] == "/chat"
    assert summary["method"] == "POST"
    assert summary["latency_ms"] == 1250
    assert summary["request_bytes"] == len(json.dumps({"inputText": "hello", "sessionId": SESSION}).encode())
    assert summary["response_bytes"] == len(response.raw["body"].encode())
    assert summary["chunks"] == 2
    assert summary["completion_bytes"] == 4
    assert summary["citations"] == 2
    assert summary["attempts"] == 1
    assert summary["upstream_request_id"] == UPSTREAM_REQUEST_ID
    assert "error_code" not in summary  # Powertools omits None-valued keys


TRACE_SECRET = "RATIONALE-SECRET-8c1f"
RATIONALE = {"orchestrationTrace": {"rationale": {"text": "thinking", "traceId": "t-0"}}}


def test_trace_token_usage_is_summed_and_logged_without_text(h: Harness) -> None:
    def usage(inp: int, out: int) -> dict[str, Any]:
        return {
            "metadata": {"usage": {"inputTokens": inp, "outputTokens": out}},
            "rawResponse": {"content": TRACE_SECRET},
        }

    h.agent.stream(
        es.trace({"preProcessingTrace": {"modelInvocationOutput": usage(11, 3)}}),
        es.trace({"orchestrationTrace": {"rationale": {"text": TRACE_SECRET, "traceId": "t-1"}}}),
        es.trace({"orchestrationTrace": {"modelInvocationOutput": usage(120, 30)}}),
        es.trace({"orchestrationTrace": {"modelInvocationOutput": usage(200, 45)}}),
        es.trace({"postProcessingTrace": {"modelInvocationOutput": usage(7, 2)}}),
        es.chunk("done"),
    )

    response = h.chat({"inputText": "q", "sessionId": SESSION, "enableTrace": True})

    assert response.status == 200
    assert response.json() == {
        "sessionId": SESSION,
        "completion": "done",
        "citations": [],
        "guardrailInterventions": [],
    }
    assert h.agent.requests[0].body == {"inputText": "q", "enableTrace": True}
    summary = h.logs.summary()
    assert (summary["trace_events"], summary["input_tokens"], summary["output_tokens"]) == (5, 338, 80)
    assert summary["trace_enabled"] is True
    assert TRACE_SECRET not in h.logs.text
    assert TRACE_SECRET not in response.raw["body"]


PROMPT_SECRET = "PROMPT-SECRET-5d2a my card is 4111"
COMPLETION_SECRET = "COMPLETION-SECRET-77b0"
CITATION_SECRET = "CITATION-SECRET-e91c"
URI_SECRET = "s3://private-bucket/SECRET-URI-0c3d.pdf"


def _secret_stream(h: Harness) -> None:
    citation = {
        "generatedResponsePart": {"textResponsePart": {"text": CITATION_SECRET}},
        "retrievedReferences": [
            {
                "content": {"text": CITATION_SECRET},
                "location": {"type": "S3", "s3Location": {"uri": URI_SECRET}},
            }
        ],
    }
    h.agent.stream(
        es.trace(
            {"orchestrationTrace": {"modelInvocationInput": {"text": PROMPT_SECRET, "type": "ORCHESTRATION"}}}
        ),
        es.chunk(COMPLETION_SECRET, [citation]),
    )


def test_logs_never_contain_prompt_completion_or_citations(
    h: Harness, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # root at DEBUG, as with AWS_LAMBDA_LOG_LEVEL=DEBUG
    service_logger = logging.getLogger(handler_module.logger.service)
    h.monkeypatch.setattr(service_logger, "level", logging.DEBUG)
    _secret_stream(h)

    response = h.chat({"inputText": PROMPT_SECRET, "sessionId": SESSION, "enableTrace": True})

    assert response.status == 200
    assert COMPLETION_SECRET in response.json()["completion"]  # the secrets did flow through
    assert h.agent.requests[0].body["inputText"] == PROMPT_SECRET
    everything = h.logs.text + caplog.text + "".join(capsys.readouterr())
    assert '"message":"request completed"' in h.logs.text
    for secret in (PROMPT_SECRET, COMPLETION_SECRET, CITATION_SECRET, URI_SECRET, "4111"):
        assert secret not in everything


def test_botocore_debug_logs_would_leak_the_prompt_without_the_level_pin(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # Why the handler pins botocore's loggers to INFO: at DEBUG, botocore logs the request body.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="botocore")
    _secret_stream(h)

    h.chat({"inputText": PROMPT_SECRET, "sessionId": SESSION})

    assert PROMPT_SECRET in caplog.text


# --- return of control --------------------------------------------------------------------------

FUNCTION_INPUT = {
    "functionInvocationInput": {
        "actionGroup": "billing",
        "function": "issue_refund",
        "actionInvocationType": "RESULT",
        "parameters": [
            {"name": "orderId", "type": "string", "value": "o-123"},
            {"name": "amount", "type": "number", "value": "19.99"},
        ],
    }
}
API_INPUT = {
    "apiInvocationInput": {
        "actionGroup": "crm",
        "apiPath": "/customers/{id}",
        "httpMethod": "PATCH",
        "parameters": [{"name": "id", "type": "string", "value": "c-9"}],
        "requestBody": {
            "content": {
                "application/json": {"properties": [{"name": "tier", "type": "string", "value": "gold"}]}
            }
        },
    }
}


def test_return_control_round_trip(h: Harness) -> None:
    h.agent.stream(es.return_control("inv-1", [FUNCTION_INPUT, API_INPUT]))

    first = h.chat({"inputText": "refund order o-123", "sessionId": SESSION})

    assert first.status == 200
    assert first.json() == {
        "sessionId": SESSION,
        "completion": "",
        "citations": [],
        "guardrailInterventions": [],
        "returnControl": {
            "invocationId": "inv-1",
            "invocationInputs": [
                {
                    "actionGroup": "billing",
                    "function": "issue_refund",
                    "parameters": [
                        {"name": "orderId", "type": "string", "value": "o-123"},
                        {"name": "amount", "type": "number", "value": "19.99"},
                    ],
                    "actionInvocationType": "RESULT",
                },
                {
                    "actionGroup": "crm",
                    "apiPath": "/customers/{id}",
                    "httpMethod": "PATCH",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "properties": [{"name": "tier", "type": "string", "value": "gold"}]
                            }
                        }
                    },
                    "parameters": [{"name": "id", "type": "string", "value": "c-9"}],
                },
            ],
        },
    }
    summary = h.logs.summary()
    assert (summary["return_control"], summary["invocation_inputs"]) == (True, 2)
    assert "o-123" not in h.logs.text

    h.agent.stream(es.chunk("Refund issued."))
    second = h.chat(
        {
            "sessionId": SESSION,
            "returnControlResults": {
                "invocationId": "inv-1",
                "results": [
                    {"actionGroup": "billing", "function": "issue_refund", "body": '{"refundId":"r-1"}'},
                    {
                        "actionGroup": "crm",
                        "apiPath": "/customers/{id}",
                        "httpMethod": "PATCH",
                        "httpStatusCode": 200,
                        "body": "{}",
                        "responseState": "REPROMPT",
                    },
                ],
            },
        }
    )

    assert second.status == 200
    assert second.json() == {
        "sessionId": SESSION,
        "completion": "Refund issued.",
        "citations": [],
        "guardrailInterventions": [],
    }
    resumed = h.agent.requests[1]
    assert resumed.path == AGENT_PATH
    assert resumed.body == {
        "enableTrace": False,
        "sessionState": {
            "invocationId": "inv-1",
            "returnControlInvocationResults": [
                {
                    "functionResult": {
                        "actionGroup": "billing",
                        "function": "issue_refund",
                        "responseBody": {"TEXT": {"body": '{"refundId":"r-1"}'}},
                    }
                },
                {
                    "apiResult": {
                        "actionGroup": "crm",
                        "apiPath": "/customers/{id}",
                        "httpMethod": "PATCH",
                        "httpStatusCode": 200,
                        "responseBody": {"application/json": {"body": "{}"}},
                        "responseState": "REPROMPT",
                    }
                },
            ],
        },
    }
    assert "inputText" not in resumed.body


def test_return_control_results_carry_optional_states_and_empty_input_text(h: Harness) -> None:
    h.agent.stream(es.chunk("Cancelled."))

    response = h.chat(
        {
            "inputText": "",
            "sessionId": SESSION,
            "returnControlResults": {
                "invocationId": "inv-2",
                "results": [
                    {
                        "actionGroup": "billing",
                        "function": "issue_refund",
                        "confirmationState": "DENY",
                        "responseState": "FAILURE",
                        "agentId": "COLLAB0001",
                    }
                ],
            },
        }
    )

    assert response.status == 200
    assert h.agent.requests[0].body["sessionState"]["returnControlInvocationResults"] == [
        {
            "functionResult": {
                "actionGroup": "billing",
                "function": "issue_refund",
                "confirmationState": "DENY",
                "responseState": "FAILURE",
                "agentId": "COLLAB0001",
            }
        }
    ]
    assert "inputText" not in h.agent.requests[0].body


# --- DELETE /chat/{sessionId} -------------------------------------------------------------------


def test_delete_ends_the_session(h: Harness) -> None:
    h.agent.stream(es.chunk("bye"))

    response = h.call(
        api_event(
            "DELETE",
            f"/chat/{SESSION}",
            None,
            {"Origin": ORIGIN},
            resource="/chat/{sessionId}",
            path_parameters={"sessionId": SESSION},
        )
    )

    assert response.status == 204
    assert response.raw["body"] == ""
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    (sent,) = h.agent.requests
    assert sent.path == AGENT_PATH
    assert sent.body == {"endSession": True}
    assert h.logs.summary()["session_id"] == SESSION


def test_delete_routes_by_path_when_resource_is_a_proxy(h: Harness) -> None:
    h.agent.stream()

    response = h.call(api_event("DELETE", "/chat/a.b:c-d_e", None, {}, resource="/{proxy+}"))

    assert response.status == 204
    assert h.agent.requests[0].path == f"/agents/{AGENT_ID}/agentAliases/{ALIAS_ID}/sessions/a.b:c-d_e/text"


@pytest.mark.parametrize("session", ["x", "bad%20id", "a" * 101, "semi;colon"])
def test_delete_rejects_an_invalid_session_id_without_calling_the_agent(h: Harness, session: str) -> None:
    response = h.call(api_event("DELETE", f"/chat/{session}", None, {}))

    assert response.status == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert h.agent.requests == []


def test_delete_maps_agent_errors_too(h: Harness) -> None:
    h.agent.error(404, "ResourceNotFoundException")

    response = h.call(api_event("DELETE", f"/chat/{SESSION}", None, {}))

    assert response.status == 502
    assert error_of(response)["code"] == "AGENT_NOT_FOUND"


# --- agent errors -------------------------------------------------------------------------------

# (Bedrock error type, its HTTP status, our status, our code)
UPSTREAM = [
    ("ValidationException", 400, 400, "AGENT_VALIDATION_ERROR"),
    ("ConflictException", 409, 409, "AGENT_CONFLICT"),
    ("AccessDeniedException", 403, 502, "AGENT_ACCESS_DENIED"),
    ("ResourceNotFoundException", 404, 502, "AGENT_NOT_FOUND"),
    ("DependencyFailedException", 424, 502, "AGENT_DEPENDENCY_FAILED"),
    ("BadGatewayException", 502, 502, "AGENT_BAD_GATEWAY"),
    ("InternalServerException", 500, 502, "AGENT_INTERNAL_ERROR"),
    ("ModelNotReadyException", 424, 503, "AGENT_MODEL_NOT_READY"),
    ("BrandNewFutureException", 500, 502, "AGENT_ERROR"),
]


@pytest.mark.parametrize(("error_type", "http_status", "status", "code"), UPSTREAM)
def test_errors_raised_by_the_call_map_to_stable_codes(
    h: Harness, error_type: str, http_status: int, status: int, code: str
) -> None:
    h.agent.error(http_status, error_type, message="internal detail arn:aws:bedrock:xyz")

    response = h.call(api_event("POST", "/chat", {"inputText": "hi"}, {**JSON, "Origin": ORIGIN}))

    assert response.status == status
    error = error_of(response)
    assert error["code"] == code
    assert len(h.agent.requests) == 1  # only throttling is retried
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Retry-After" not in response.headers
    if error_type == "ValidationException":
        assert error["message"] == "the agent rejected the request: internal detail <resource>"
    else:
        assert "arn:aws" not in error["message"]
    summary = h.logs.summary()
    assert (summary["status"], summary["error_code"], summary["upstream_error"]) == (status, code, error_type)
    assert summary["level"] == ("ERROR" if status >= 500 else "INFO")
    assert "internal detail" not in h.logs.text


@pytest.mark.parametrize(("error_type", "http_status", "status", "code"), UPSTREAM[:-1])
def test_error_events_mid_stream_map_to_the_same_codes(
    h: Harness, error_type: str, http_status: int, status: int, code: str
) -> None:
    member = error_type[0].lower() + error_type[1:]  # ResponseStream member name, as Bedrock sends it
    raw = h.agent.stream(es.trace(RATIONALE), es.chunk("partial answer"), es.exception(member))

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    if status == 503:  # retryable, but the turn had started: never offered for a replay
        status, code = 502, "AGENT_INTERRUPTED"
    assert response.status == status
    assert error_of(response)["code"] == code
    assert "partial answer" not in response.raw["body"]
    assert raw.closed is True
    assert len(h.agent.requests) == 1
    assert h.logs.summary()["chunks"] == 1


def test_unmodeled_stream_messages_are_agent_errors(h: Harness) -> None:
    h.agent.stream(es.exception("brandNewException"))
    h.agent.stream(es.error("InternalFailure", "boom"))

    first = h.chat({"inputText": "hi"})
    second = h.chat({"inputText": "hi"})

    assert (first.status, error_of(first)["code"]) == (502, "AGENT_ERROR")
    assert (second.status, error_of(second)["code"]) == (502, "AGENT_ERROR")
    assert len(h.agent.requests) == 2


def test_corrupted_event_stream_is_a_bad_response(h: Harness) -> None:
    message = bytearray(es.chunk("hello"))
    message[-1] ^= 0xFF  # break the message CRC
    raw = h.agent.stream(bytes(message))

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (502, "AGENT_BAD_RESPONSE")
    assert raw.closed is True


def test_stream_without_an_answer_is_incomplete(h: Harness) -> None:
    h.agent.stream(es.trace(RATIONALE))

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (502, "AGENT_INCOMPLETE_RESPONSE")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ReadTimeoutError(endpoint_url="https://bedrock-agent-runtime"), 504, "AGENT_TIMEOUT"),
        (ConnectTimeoutError(endpoint_url="https://bedrock-agent-runtime"), 503, "AGENT_UNAVAILABLE"),
        (EndpointConnectionError(endpoint_url="https://bedrock-agent-runtime"), 503, "AGENT_UNAVAILABLE"),
    ],
)
def test_transport_errors_of_the_call(h: Harness, exc: Exception, status: int, code: str) -> None:
    h.agent.fail(exc)

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (status, code)
    assert len(h.agent.requests) == 1


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Urllib3ReadTimeoutError(None, "/text", "Read timed out."), 504, "AGENT_TIMEOUT"),  # type: ignore[arg-type]
        # Retryable before the answer began; after a chunk, a replay could repeat the turn's actions.
        (ProtocolError("Connection broken: IncompleteRead"), 502, "AGENT_INTERRUPTED"),
    ],
)
def test_transport_errors_mid_stream(h: Harness, exc: Exception, status: int, code: str) -> None:
    raw = h.agent.stream(es.chunk("partial"), exc)

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (status, code)
    assert raw.closed is True


# --- throttling ---------------------------------------------------------------------------------


def test_throttling_is_retried_with_full_jitter_then_succeeds(h: Harness) -> None:
    h.agent.error(429, "ThrottlingException")
    h.agent.stream(es.trace(RATIONALE), es.exception("throttlingException"))  # before any answer
    h.agent.stream(es.chunk("finally"))

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert response.status == 200
    assert response.json()["completion"] == "finally"
    assert [r.path for r in h.agent.requests] == [AGENT_PATH] * 3
    assert h.clock.sleeps == [0.125, 0.25]  # rand=0.5 x ceilings 0.25 s, 0.5 s
    summary = h.logs.summary()
    assert (summary["attempts"], summary["throttled"]) == (3, 2)
    retries = [line for line in h.logs.lines() if line["message"] == "agent throttled, retrying"]
    assert [(r["retry"], r["delay_ms"], r["upstream"]) for r in retries] == [
        (1, 125, "ThrottlingException"),
        (2, 250, "ThrottlingException"),
    ]


def test_quota_errors_exhaust_the_attempts_then_429_with_retry_after(h: Harness) -> None:
    for _ in range(4):
        h.agent.error(400, "ServiceQuotaExceededException")

    response = h.call(api_event("POST", "/chat", {"inputText": "hi"}, {**JSON, "Origin": ORIGIN}))

    assert response.status == 429
    assert error_of(response)["code"] == "AGENT_QUOTA_EXCEEDED"
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert len(h.agent.requests) == 4
    assert h.clock.sleeps == [0.125, 0.25, 0.5]
    assert h.logs.summary()["level"] == "WARNING"


def test_throttling_stops_when_the_budget_cannot_fit_another_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = make_harness(monkeypatch, rand=1.0)
    h.set_env(API_DEADLINE_MS="3000")  # 2 s of budget after the 1 s safety margin
    for _ in range(3):
        h.agent.error(429, "ThrottlingException")

    response = h.chat({"inputText": "hi"})

    assert response.status == 429
    assert error_of(response)["code"] == "AGENT_THROTTLED"
    assert response.headers["Retry-After"] == "1"
    assert h.clock.sleeps == [0.25, 0.5]  # a 1 s sleep would leave 0.25 s < 1 s for the attempt
    assert len(h.agent.requests) == 3


def test_throttling_after_part_of_the_answer_is_not_replayed(h: Harness) -> None:
    h.agent.stream(es.chunk("half"), es.exception("throttlingException"))

    response = h.chat({"inputText": "hi"})

    # Not 429: a client would retry that and replay a turn that may already have run actions.
    assert response.status == 502
    assert error_of(response)["code"] == "AGENT_INTERRUPTED"
    assert "Retry-After" not in response.headers
    assert len(h.agent.requests) == 1
    assert h.clock.sleeps == []


# --- deadlines ----------------------------------------------------------------------------------


def test_no_call_when_the_lambda_has_too_little_time_left(h: Harness) -> None:
    h.context.remaining_ms = 1_900  # 0.9 s after the safety margin, below the 1 s minimum attempt

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (504, "DEADLINE_EXCEEDED")
    assert h.agent.requests == []


def test_stream_outliving_the_api_deadline_is_cut_off(h: Harness) -> None:
    raw = h.agent.stream(
        es.chunk("one"), h.clock.advance(27.9), es.chunk("two"), h.clock.advance(0.2), es.chunk("3")
    )

    response = h.call(api_event("POST", "/chat", {"inputText": "hi"}, {**JSON, "Origin": ORIGIN}))

    assert (response.status, error_of(response)["code"]) == (504, "DEADLINE_EXCEEDED")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert raw.closed is True
    assert h.logs.summary()["chunks"] == 2  # the third chunk arrived after 28.1 s > 28 s


def test_the_lambda_deadline_wins_when_it_is_earlier(h: Harness) -> None:
    h.context.remaining_ms = 10_000  # budget 9 s, API budget 28 s
    h.agent.stream(es.chunk("one"), h.clock.advance(9.5), es.chunk("two"))

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (504, "DEADLINE_EXCEEDED")


def test_slow_response_headers_count_against_the_deadline(h: Harness) -> None:
    h.set_env(API_DEADLINE_MS="5000")
    h.agent.stream(es.chunk("late"), before=h.clock.advance(4.5))

    response = h.chat({"inputText": "hi"})

    assert (response.status, error_of(response)["code"]) == (504, "DEADLINE_EXCEEDED")


def test_an_answer_inside_the_budget_is_not_cut(h: Harness) -> None:
    h.agent.stream(es.chunk("one"), h.clock.advance(27.9), es.chunk("two"))

    response = h.chat({"inputText": "hi"})

    assert response.status == 200
    assert response.json()["completion"] == "onetwo"


# --- CORS ---------------------------------------------------------------------------------------


def test_cors_echoes_only_an_allowed_origin(h: Harness) -> None:
    h.agent.stream(es.chunk("a"))
    h.agent.stream(es.chunk("b"))

    allowed = h.chat({"inputText": "hi"}, {**JSON, "origin": ORIGIN})
    denied = h.chat({"inputText": "hi"}, {**JSON, "Origin": OTHER_ORIGIN})

    assert allowed.status == denied.status == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert denied.headers["Vary"] == "Origin"
    assert "*" not in json.dumps([allowed.headers, denied.headers])


def test_cors_on_error_responses(h: Harness) -> None:
    allowed = h.chat("{not json", {**JSON, "ORIGIN": ORIGIN})
    denied = h.chat("{not json", {**JSON, "Origin": OTHER_ORIGIN})
    not_found = h.call(api_event("GET", "/nope", None, {"Origin": ORIGIN}))

    assert (allowed.status, error_of(allowed)["code"]) == (400, "INVALID_JSON")
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert not_found.status == 404
    assert not_found.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_ambiguous_origin_is_never_echoed(h: Harness) -> None:
    h.agent.stream(es.chunk("a"))
    event = api_event("POST", "/chat", {"inputText": "hi"}, {**JSON, "Origin": ORIGIN})
    event["multiValueHeaders"]["Origin"] = [OTHER_ORIGIN, ORIGIN]

    response = h.call(event)

    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    ("path", "resource", "methods"),
    [("/chat", "/chat", "POST, OPTIONS"), (f"/chat/{SESSION}", "/chat/{sessionId}", "DELETE, OPTIONS")],
)
def test_preflight(h: Harness, path: str, resource: str, methods: str) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": methods.split(",")[0]}
    allowed = h.call(api_event("OPTIONS", path, None, headers, resource=resource))
    denied = h.call(api_event("OPTIONS", path, None, {"Origin": OTHER_ORIGIN}, resource=resource))

    assert allowed.status == 204
    assert allowed.raw["body"] == ""
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert allowed.headers["Access-Control-Allow-Methods"] == methods
    assert allowed.headers["Access-Control-Allow-Headers"].startswith("Content-Type")
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    assert denied.status == 204
    assert not any(name.startswith("Access-Control-") for name in denied.headers)
    assert h.agent.requests == []


# --- request validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        'Application/JSON;Charset="UTF-8"',
        "application/json;charset=utf8",
    ],
)
def test_json_content_types_are_accepted(h: Harness, content_type: str) -> None:
    h.agent.stream(es.chunk("ok"))

    response = h.chat({"inputText": "hi"}, {"content-TYPE": content_type})

    assert response.status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": "application/json-patch+json"},
        {"Content-Type": "application/json; boundary=x"},
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ],
)
def test_other_content_types_are_415(h: Harness, headers: dict[str, str]) -> None:
    response = h.chat({"inputText": "hi"}, headers)

    assert (response.status, error_of(response)["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert h.agent.requests == []


@pytest.mark.parametrize(
    ("body", "is_base64", "code"),
    [
        ("{not json", False, "INVALID_JSON"),
        ("", False, "INVALID_JSON"),
        (None, False, "INVALID_JSON"),
        ('["inputText"]', False, "INVALID_JSON"),
        ('{"inputText": "a", "inputText": "b"}', False, "INVALID_JSON"),
        ('{"inputText": NaN}', False, "INVALID_JSON"),
        ("[" * 100_000, False, "INVALID_JSON"),
        ("not base64!", True, "INVALID_BASE64"),
        (base64.b64encode(b'{"inputText": "\xff"}').decode(), True, "INVALID_JSON"),
    ],
)
def test_malformed_bodies_are_400(h: Harness, body: str | None, is_base64: bool, code: str) -> None:
    response = h.call(api_event("POST", "/chat", body, JSON, is_base64=is_base64))

    assert (response.status, error_of(response)["code"]) == (400, code)
    assert h.agent.requests == []


@pytest.mark.parametrize("is_base64", [False, True])
def test_bodies_over_one_mebibyte_are_413(h: Harness, is_base64: bool) -> None:
    text = json.dumps({"inputText": "x" * 1_048_576})
    body = base64.b64encode(text.encode()).decode() if is_base64 else text

    response = h.call(api_event("POST", "/chat", body, JSON, is_base64=is_base64))

    assert (response.status, error_of(response)["code"]) == (413, "PAYLOAD_TOO_LARGE")


def test_input_text_limit_is_25000_characters(h: Harness) -> None:
    h.agent.stream(es.chunk("ok"))
    longest = "é" * 25_000

    accepted = h.chat({"inputText": longest})
    rejected = h.chat({"inputText": longest + "é"})

    assert accepted.status == 200
    assert h.agent.requests[0].body["inputText"] == longest
    assert (rejected.status, error_of(rejected)["code"]) == (400, "VALIDATION_ERROR")
    assert error_of(rejected)["message"] == "inputText must be 0..25000 characters"
    assert len(h.agent.requests) == 1


RC: dict[str, Any] = {"invocationId": "inv-1", "results": [{"actionGroup": "g", "function": "f"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "inputText is required and must be 1..25000 characters"),
        ({"inputText": ""}, "inputText is required and must be 1..25000 characters"),
        ({"inputText": 7}, "inputText must be a string"),
        ({"inputText": "\ud800"}, "inputText must be valid Unicode text"),
        ({"inputText": "hi", "extra": 1}, 'unknown field "extra"'),
        ({"inputText": "hi", "enableTrace": "true"}, "enableTrace must be a boolean"),
        (
            {"inputText": "hi", "sessionId": "a"},
            "sessionId must match ^[0-9a-zA-Z._:-]{2,100}$ and not be only dots",
        ),
        (
            {"inputText": "hi", "sessionId": "has space"},
            "sessionId must match ^[0-9a-zA-Z._:-]{2,100}$ and not be only dots",
        ),
        ({"returnControlResults": RC}, "sessionId is required when returnControlResults is present"),
        (
            {"inputText": "hi", "sessionId": SESSION, "returnControlResults": RC},
            "inputText must be empty or absent when returnControlResults is present",
        ),
        ({"sessionId": SESSION, "returnControlResults": []}, "returnControlResults must be an object"),
        (
            {"sessionId": SESSION, "returnControlResults": {"results": RC["results"]}},
            "returnControlResults.invocationId is required",
        ),
        (
            {"sessionId": SESSION, "returnControlResults": {"invocationId": "i", "results": []}},
            "returnControlResults.results must be an array of 1..5 results",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {"invocationId": "i", "results": RC["results"] * 6},
            },
            "returnControlResults.results must be an array of 1..5 results",
        ),
        (
            {"sessionId": SESSION, "returnControlResults": {**RC, "extra": True}},
            'unknown field "extra" in returnControlResults',
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [{"actionGroup": "g", "function": "f", "apiPath": "/p", "httpMethod": "GET"}],
                },
            },
            "returnControlResults.results[0] must have exactly one of function or apiPath",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [{"actionGroup": "g", "apiPath": "/p"}],
                },
            },
            "returnControlResults.results[0].httpMethod is required",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [{"actionGroup": "g", "function": "f", "responseState": "OK"}],
                },
            },
            "returnControlResults.results[0].responseState must be one of FAILURE, REPROMPT",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [{"actionGroup": "g", "function": "f", "body": "x" * 25_001}],
                },
            },
            "returnControlResults.results[0].body must be 0..25000 characters",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [
                        {"actionGroup": "g", "apiPath": "/p", "httpMethod": "GET", "httpStatusCode": True}
                    ],
                },
            },
            "returnControlResults.results[0].httpStatusCode must be an integer 100..599",
        ),
        (
            {
                "sessionId": SESSION,
                "returnControlResults": {
                    "invocationId": "i",
                    "results": [{"actionGroup": "g", "function": "f", "function_name": "x"}],
                },
            },
            'unknown field "function_name" in returnControlResults.results[0]',
        ),
    ],
)
def test_schema_violations_are_400_with_a_precise_message(
    h: Harness, body: dict[str, Any], message: str
) -> None:
    response = h.chat(body)

    assert response.status == 400
    assert error_of(response) == {"code": "VALIDATION_ERROR", "message": message, "requestId": API_REQUEST_ID}
    assert h.agent.requests == []


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/chat", 405, "POST, OPTIONS"),
        ("PUT", "/chat", 405, "POST, OPTIONS"),
        ("POST", f"/chat/{SESSION}", 405, "DELETE, OPTIONS"),
        ("GET", f"/chat/{SESSION}", 405, "DELETE, OPTIONS"),
        ("POST", "/chats", 404, None),
        ("POST", "/chat/a/b", 404, None),
        ("DELETE", "/chat/", 404, None),
        ("GET", "/", 404, None),
    ],
)
def test_unknown_routes_and_methods(
    h: Harness, method: str, path: str, status: int, allow: str | None
) -> None:
    response = h.call(api_event(method, path, None, {}))

    assert response.status == status
    assert error_of(response)["code"] == ("METHOD_NOT_ALLOWED" if status == 405 else "NOT_FOUND")
    assert response.headers.get("Allow") == allow


# --- configuration and unexpected failures ------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "detail"),
    [
        ({"AGENT_ID": None}, "AGENT_ID is not set"),
        ({"AGENT_ALIAS_ID": ""}, "AGENT_ALIAS_ID is not set"),
        ({"AGENT_ID": "not-an-id!"}, "AGENT_ID must match ^[0-9a-zA-Z]{1,10}$"),
        (
            {"ALLOWED_ORIGINS": '["*"]'},
            "ALLOWED_ORIGINS entries must be exact origins like https://app.example.com",
        ),
        (
            {"ALLOWED_ORIGINS": "https://app.example.com"},
            "ALLOWED_ORIGINS must be a JSON array of origin strings",
        ),
        ({"API_DEADLINE_MS": "29s"}, "API_DEADLINE_MS must be an integer number of milliseconds"),
        ({"API_DEADLINE_MS": "1000"}, "API_DEADLINE_MS must be between 2000 and 900000"),
    ],
)
def test_configuration_errors_are_logged_500s(h: Harness, env: dict[str, str | None], detail: str) -> None:
    h.set_env(**env)

    response = h.chat({"inputText": "hi"}, {**JSON, "Origin": ORIGIN})

    assert response.status == 500
    assert error_of(response) == {
        "code": "CONFIG_ERROR",
        "message": "the service is misconfigured",
        "requestId": API_REQUEST_ID,
    }
    (config_line,) = [line for line in h.logs.lines() if line["message"] == "invalid configuration"]
    assert config_line["detail"] == detail
    assert config_line["level"] == "ERROR"
    assert h.agent.requests == []


def test_unexpected_failures_are_500_without_a_stack_trace(h: Harness) -> None:
    def broken_client(settings: Any, read_timeout_s: float) -> Any:
        raise RuntimeError("kaboom in /opt/python/secret_path.py")

    h.monkeypatch.setattr(handler_module.RUNTIME, "client", broken_client)

    response = h.chat({"inputText": "hi"})

    assert response.status == 500
    assert error_of(response) == {
        "code": "INTERNAL_ERROR",
        "message": "internal error",
        "requestId": API_REQUEST_ID,
    }
    assert "kaboom" not in response.raw["body"]
    assert "Traceback" not in response.raw["body"]
    (line,) = [line for line in h.logs.lines() if line["message"] == "unhandled error"]
    assert "RuntimeError" in line["exception_name"]


def test_request_id_falls_back_to_the_lambda_request_id(h: Harness) -> None:
    event = api_event("GET", "/nope", None, {})
    del event["requestContext"]

    response = h.call(event)

    assert response.json()["error"]["requestId"] == "lambda-req-0001"
