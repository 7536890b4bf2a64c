"""The streaming renderer (functions/invoker/streaming.py) over the real handler and a REAL botocore client.

The agent's side is event-stream wire bytes parsed by botocore; the answer is read line by line from
the ``StreamedResponse`` body the runtime loop would send, lazily, the way it sends it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from functions.invoker import streaming
from functions.invoker.runtime import StreamedResponse
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import (
    API_REQUEST_ID,
    GENERATED_SESSION,
    ORIGIN,
    Harness,
    api_event,
    make_harness,
)
from tests.functions.test_invoker_faults import BAD_FRAMES
from tests.functions.test_invoker_handler import CITATIONS, RATIONALE, UPSTREAM

NDJSON = {"Content-Type": "application/json", "Accept": "application/x-ndjson"}
SESSION = "sess-stream"
USAGE = {
    "orchestrationTrace": {
        "modelInvocationOutput": {"metadata": {"usage": {"inputTokens": 11, "outputTokens": 7}}}
    }
}


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = make_harness(monkeypatch)
    harness.set_env(API_STREAMING="true")
    return harness


def stream(h: Harness, body: object, headers: dict[str, str] | None = None) -> StreamedResponse:
    event = api_event("POST", "/chat", body, headers or NDJSON)
    return streaming.handler(event, cast(LambdaContext, h.context))


def lines(response: StreamedResponse) -> list[dict[str, Any]]:
    raw = b"".join(response.body)
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_a_turn_streams_as_ndjson_events_ending_with_done(h: Harness) -> None:
    h.agent.stream(
        es.trace(USAGE), es.chunk("Refunds take "), es.chunk("5 days.", CITATIONS[:1]), es.trace(USAGE)
    )

    response = stream(h, {"inputText": "refunds?", "sessionId": SESSION}, {**NDJSON, "Origin": ORIGIN})

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response.headers["Vary"] == "Origin, Accept"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Cache-Control"] == "no-store"
    events = lines(response)
    assert events[:2] == [{"type": "chunk", "text": "Refunds take "}, {"type": "chunk", "text": "5 days."}]
    assert events[2]["type"] == "citation"
    assert len(events[2]["citations"]) == 1
    assert events[2]["citations"][0]["text"] == "Refunds take 5 days."
    assert events[3] == {
        "type": "done",
        "sessionId": SESSION,
        "usage": {"inputTokens": 22, "outputTokens": 14},
    }
    assert len(events) == 4
    # The agent was asked to stream its final answer.
    assert h.agent.requests[0].body["streamingConfigurations"] == {"streamFinalResponse": True}


def test_the_summary_is_logged_when_the_stream_ends(h: Harness) -> None:
    h.agent.stream(es.chunk("hello"))
    response = stream(h, {"inputText": "hi"})
    assert "request completed" not in h.logs.text  # nothing streamed yet
    raw = b"".join(response.body)
    summary = h.logs.summary()
    assert (summary["status"], summary["streamed"], summary["response_bytes"]) == (200, True, len(raw))
    assert summary["session_id"] == GENERATED_SESSION
    assert summary["first_byte_ms"] is not None
    assert "hello" not in h.logs.text


def test_return_of_control_streams_its_payload(h: Harness) -> None:
    inputs = [
        {"functionInvocationInput": {"actionGroup": "client", "function": "local_time", "parameters": []}}
    ]
    h.agent.stream(es.return_control("inv-1", inputs))

    events = lines(stream(h, {"inputText": "what time is it?", "sessionId": SESSION}))

    assert events[0]["type"] == "returnControl"
    assert events[0]["returnControl"]["invocationId"] == "inv-1"
    assert events[-1]["type"] == "done"


@pytest.mark.parametrize(
    "accept", [None, "application/json", "*/*", "application/x-ndjson;q=0", "text/event-stream"]
)
def test_without_ndjson_in_accept_the_buffered_contract_is_kept(h: Harness, accept: str | None) -> None:
    h.agent.stream(es.chunk("Hello"), es.chunk(", world"))
    headers = {"Content-Type": "application/json", **({"Accept": accept} if accept else {})}

    response = stream(h, {"inputText": "hi", "sessionId": SESSION}, headers)

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Vary"] == "Origin, Accept"
    assert json.loads(b"".join(response.body)) == {
        "sessionId": SESSION,
        "completion": "Hello, world",
        "citations": [],
        "guardrailInterventions": [],
    }


def test_accept_with_several_ranges_and_a_quality_streams(h: Harness) -> None:
    h.agent.stream(es.chunk("x"))
    accept = "application/json;q=0.5, Application/X-NDJSON ; q=0.9"
    response = stream(h, {"inputText": "hi"}, {"Content-Type": "application/json", "Accept": accept})
    assert response.headers["Content-Type"].startswith("application/x-ndjson")


def test_buffered_deployments_do_not_ask_the_agent_to_stream(h: Harness) -> None:
    h.set_env(API_STREAMING=None)
    h.agent.stream(es.chunk("x"))
    lines(stream(h, {"inputText": "hi"}))
    assert "streamingConfigurations" not in h.agent.requests[0].body


# --- failures before the first byte keep their HTTP status ----------------------------------------


def test_failures_before_the_first_event_are_http_errors(h: Harness) -> None:
    for _ in range(4):
        h.agent.error(429, "ThrottlingException")
    throttled = stream(h, {"inputText": "hi"})
    assert throttled.status == 429
    assert "Retry-After" in throttled.headers
    assert throttled.headers["Content-Type"].startswith("application/json")
    assert json.loads(b"".join(throttled.body))["error"]["code"] == "AGENT_THROTTLED"

    invalid = stream(h, {"inputText": 5})
    assert invalid.status == 400
    assert json.loads(b"".join(invalid.body))["error"]["code"] == "VALIDATION_ERROR"


# --- every error class, also in the middle of the stream ------------------------------------------

Steps = Callable[[Harness], list[Any]]


def _frames(*frames: Any) -> Steps:
    return lambda h: list(frames)


MID_STREAM: dict[str, Steps] = {
    **{
        f"{error_type} event": _frames(es.exception(error_type[0].lower() + error_type[1:]))
        for error_type, *_ in UPSTREAM[:-1]
    },
    "throttlingException event": lambda h: [es.exception("throttlingException")],
    "serviceQuotaExceededException event": lambda h: [es.exception("serviceQuotaExceededException")],
    "unmodeled exception": lambda h: [es.exception("brandNewException")],
    "unmodeled error message": lambda h: [es.error("InternalFailure", "boom")],
    **{f"bad frame: {name}": _frames(frame) for name, frame in BAD_FRAMES.items()},
    "read timeout": lambda h: [Urllib3ReadTimeoutError(None, "/text", "Read timed out.")],  # type: ignore[arg-type]
    "connection broken": lambda h: [ProtocolError("Connection broken: IncompleteRead")],
    "deadline": lambda h: [h.clock.advance(120), es.chunk("too late")],
    "ends without an answer": lambda h: [],
}


def _buffered_outcome(h: Harness, steps: list[Any], before: list[Any]) -> dict[str, Any]:
    h.agent.stream(*before, *steps)
    response = h.call(api_event("POST", "/chat", {"inputText": "hi", "sessionId": SESSION}))
    body = json.loads(response.raw["body"])
    return {"status": response.status, **body["error"]}


@pytest.mark.parametrize("name", list(MID_STREAM))
def test_every_error_class_mid_stream_is_one_in_band_error_line(h: Harness, name: str) -> None:
    # What starts the stream: an answer part, or (for "ends without an answer") only token usage.
    before = (
        [es.trace(USAGE)] if name == "ends without an answer" else [es.trace(RATIONALE), es.chunk("partial ")]
    )
    expected = _buffered_outcome(h, MID_STREAM[name](h), before)

    h.agent.stream(*before, *MID_STREAM[name](h))
    response = stream(h, {"inputText": "hi", "sessionId": SESSION})

    assert response.status == 200  # fixed once the first event went out
    events = lines(response)
    *answer, last = events
    assert [e["type"] for e in answer] in ([], ["chunk"])
    assert last == {
        "type": "error",
        "status": expected["status"],
        "error": {"code": expected["code"], "message": expected["message"], "requestId": API_REQUEST_ID},
        "sessionId": SESSION,
    }
    summary = [line for line in h.logs.lines() if line.get("message") == "request completed"][-1]
    assert summary["streamed"] is True
    assert (summary["status"], summary["error_code"]) == (expected["status"], expected["code"])


def test_a_renderer_bug_mid_stream_is_an_internal_error_line(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h.agent.stream(es.chunk("one"), es.chunk("two"))
    real = streaming.event_line
    calls = iter(range(10))

    def flaky(event: Any) -> bytes:
        if next(calls) == 1:
            raise RuntimeError("bug")
        return real(event)

    monkeypatch.setattr(streaming, "event_line", flaky)
    events = lines(stream(h, {"inputText": "hi", "sessionId": SESSION}))
    assert events[0] == {"type": "chunk", "text": "one"}
    assert events[1]["error"]["code"] == "INTERNAL_ERROR"
    assert events[1]["status"] == 500
    assert len(events) == 2
    assert "bug" not in json.dumps(events)


# --- text is forwarded as it arrives --------------------------------------------------------------


def test_each_chunk_is_rendered_before_the_agent_sends_the_next(h: Harness) -> None:
    """A fake agent yields 20 chunks at intervals through botocore's real event-stream parser; the
    renderer must hand out chunk k before chunk k+1 exists (causal: the agent waits for it)."""
    rendered = threading.Semaphore(0)
    waited: list[bool] = []
    produced: list[float] = []

    def after_chunk() -> None:
        produced.append(time.monotonic())
        waited.append(rendered.acquire(timeout=2))  # the consumer saw the previous chunk

    steps: list[Any] = []
    for index in range(20):
        steps += [es.chunk(f"w{index} "), after_chunk, lambda: time.sleep(0.005)]
    h.agent.stream(*steps)

    response = stream(h, {"inputText": "hi", "sessionId": SESSION})
    seen: list[tuple[float, bytes]] = []
    for line in response.body:
        seen.append((time.monotonic(), line))
        rendered.release()

    assert waited == [True] * 20
    texts = [json.loads(line)["text"] for _, line in seen[:-1]]
    assert texts == [f"w{index} " for index in range(20)]
    # Every chunk left the renderer before the agent produced the last one.
    assert all(at < produced[-1] for at, _ in seen[:19])
