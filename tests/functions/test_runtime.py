"""The streaming runtime loop against a local Runtime API over real HTTP: protocol, format, errors."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from functions.invoker import streaming
from functions.invoker.runtime import (
    PRELUDE_DELIMITER,
    STREAMING_CONTENT_TYPE,
    InvocationContext,
    RuntimeApi,
    StreamedResponse,
    serve,
)
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import API_REQUEST_ID, Harness, api_event, make_harness
from tests.functions.runtime_api import FakeRuntimeApi


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    return make_harness(monkeypatch)


def run_one(api: FakeRuntimeApi, handle: Any, event: dict[str, Any], request_id: str = "req-1") -> None:
    api.invoke(request_id, event)
    serve(RuntimeApi(api.address), handle, invocations=1)


def test_streams_in_the_proxy_format_with_the_documented_headers(h: Harness) -> None:
    h.agent.stream(es.chunk("Hello"), es.chunk(", world"))
    with FakeRuntimeApi() as api:
        run_one(api, streaming.handler, api_event("POST", "/chat", {"inputText": "hi"}))
        answer = api.answers["req-1"]
    assert answer.headers["Lambda-Runtime-Function-Response-Mode"] == "streaming"
    assert answer.headers["Transfer-Encoding"] == "chunked"
    assert answer.headers["Content-Type"] == STREAMING_CONTENT_TYPE
    assert answer.headers["Trailer"] == (
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    )
    assert answer.trailers == {}
    prelude, payload = answer.split()
    assert prelude["statusCode"] == 200
    assert prelude["headers"]["Content-Type"].startswith("application/json")
    # Without Accept: application/x-ndjson, the buffered contract, byte for byte.
    assert json.loads(payload)["completion"] == "Hello, world"
    # The prelude is its own chunk: API Gateway can send the status before the body exists.
    assert answer.chunks[0][1].endswith(b"\x00" * 8)


def test_errors_before_the_first_byte_keep_their_status(h: Harness) -> None:
    h.agent.error(403, "AccessDeniedException")
    with FakeRuntimeApi() as api:
        run_one(api, streaming.handler, api_event("POST", "/chat", {"inputText": "hi"}))
        prelude, payload = api.answers["req-1"].split()
    assert prelude["statusCode"] == 502
    assert json.loads(payload)["error"] == {
        "code": "AGENT_ACCESS_DENIED",
        "message": "the API is not allowed to invoke the agent",
        "requestId": API_REQUEST_ID,
    }


def test_each_piece_is_sent_when_it_is_produced() -> None:
    # Causal, not timing-based (the suite runs on busy machines): the body produces piece k+1 only
    # after the Runtime API has received piece k. A runtime that buffered would time out here.
    received = threading.Semaphore(0)
    waited: list[bool] = []

    def body() -> Iterator[bytes]:
        for index in range(5):
            yield f"{index}\n".encode()
            waited.append(received.acquire(timeout=10))

    def handle(event: Any, context: InvocationContext) -> StreamedResponse:
        return StreamedResponse(200, {"Content-Type": "text/plain"}, body())

    with FakeRuntimeApi() as api:
        # Released for each body piece (the prelude, its own chunk, ends with the delimiter).
        api.on_chunk = lambda request_id, data: (
            None if data.endswith(PRELUDE_DELIMITER) else received.release()
        )
        run_one(api, handle, {})
        pieces = [data for _, data in api.answers["req-1"].chunks]
    assert waited == [True] * 5
    assert pieces[1:] == [b"0\n", b"1\n", b"2\n", b"3\n", b"4\n"]  # one HTTP chunk per piece


def test_a_body_that_fails_midway_reports_the_error_in_the_trailers() -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("renderer bug")

    with FakeRuntimeApi() as api:
        run_one(api, lambda event, context: StreamedResponse(200, {}, broken()), {})
        answer = api.answers["req-1"]
    assert answer.split()[1] == b"partial"
    assert answer.trailers["Lambda-Runtime-Function-Error-Type"] == "RuntimeError"
    body = json.loads(base64.b64decode(answer.trailers["Lambda-Runtime-Function-Error-Body"]))
    assert body["errorMessage"] == "renderer bug"


def test_a_handler_that_raises_posts_an_invocation_error_and_the_loop_goes_on() -> None:
    calls: list[str] = []

    def handle(event: Any, context: InvocationContext) -> StreamedResponse:
        calls.append(context.aws_request_id)
        if event.get("fail"):
            raise ValueError("bad event")
        assert 0 < context.get_remaining_time_in_millis() <= 30_000
        return StreamedResponse(204, {}, ())

    with FakeRuntimeApi() as api:
        api.invoke("bad", {"fail": True})
        api.invoke("good", {})
        worker = threading.Thread(target=serve, args=(RuntimeApi(api.address), handle, 2))
        worker.start()
        worker.join(10)
        assert calls == ["bad", "good"]
        (posted,) = api.errors
        assert posted.path.endswith("/invocation/bad/error")
        assert json.loads(posted.body)["errorType"] == "ValueError"
        assert api.answers["good"].split() == ({"statusCode": 204, "headers": {}}, b"")
