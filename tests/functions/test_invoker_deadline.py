"""Issue #9 item 9: every attempt and every socket read ends by the request's deadline.

A slow fake agent over loopback (a real HTTP/1.1 server on 127.0.0.1 sending chunked event-stream
bytes, then stalling) and the function's real client: botocore's read timeout applies per socket
read, so only the invoker's own bounds (a per-attempt client timeout, the reader's watchdog) make it
answer before API Gateway gives up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.invoker import classic
from functions.invoker import handler as handler_module
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import BASE_ENV, BOTO_SESSION, FakeContext, Response, api_event

# Seconds the fake agent stalls at most (then it hangs up): far beyond every budget below.
STALL_S = 6.0
Script = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class SlowAgent:
    """Serves InvokeAgent from ``script``; ``release`` ends every stall at the end of a test."""

    def __init__(self, script: Script) -> None:
        self.release = threading.Event()
        release = self.release

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                script(self, release)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SlowAgent:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def start_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.amazon.eventstream")
    handler.send_header("x-amzn-bedrock-agent-content-type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()


def send_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def stall_before_headers(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    release.wait(STALL_S)


def stall_after_a_trace(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    start_stream(handler)
    send_chunk(handler, es.trace({"orchestrationTrace": {"rationale": {"text": "thinking"}}}))
    release.wait(STALL_S)


def stall_inside_a_message(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    start_stream(handler)
    message = es.chunk("an answer that never finishes")
    send_chunk(handler, message[:20])
    release.wait(STALL_S)


def trickle(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    """A trace every 0.2 s: no single read is slow, the stream as a whole outlives the budget."""
    start_stream(handler)
    while not release.wait(0.2):
        send_chunk(handler, es.trace({"orchestrationTrace": {"rationale": {"text": "."}}}))


def stall_late(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    """Traces for 1.5 s, then silence: the stalled read starts with 0.5 s left and a 1 s timeout."""
    start_stream(handler)
    for _ in range(6):
        send_chunk(handler, es.trace({"orchestrationTrace": {"rationale": {"text": "."}}}))
        if release.wait(0.25):
            return
    release.wait(STALL_S)


def answer_then_end(handler: BaseHTTPRequestHandler, release: threading.Event) -> None:
    start_stream(handler)
    send_chunk(handler, es.chunk("a quick answer"))
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Script, int], tuple[Response, float]]]:
    """Run one POST /chat through the real handler against ``script`` with API_DEADLINE_MS ``ms``."""
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    agents: list[SlowAgent] = []
    timeouts: list[float] = []

    def run(script: Script, deadline_ms: int) -> tuple[Response, float]:
        agent = SlowAgent(script).__enter__()
        agents.append(agent)
        monkeypatch.setenv("API_DEADLINE_MS", str(deadline_ms))

        # Created before the clock starts (creating a client is slow on a loaded machine); the
        # handler asks for one per attempt, with the whole seconds of budget left.
        clients = {
            t: classic.create_client(t, session=BOTO_SESSION, endpoint_url=agent.url) for t in (1.0, 2.0)
        }

        def client(settings: Any, read_timeout_s: float) -> Any:
            timeouts.append(read_timeout_s)
            return clients[read_timeout_s]

        monkeypatch.setattr(handler_module, "RUNTIME", handler_module.Runtime(client=client))
        started = time.monotonic()
        raw = handler_module.handler(
            api_event("POST", "/chat", {"inputText": "hi"}), cast(LambdaContext, FakeContext())
        )
        return Response(raw), time.monotonic() - started

    yield run
    for agent in agents:
        agent.__exit__()
    assert all(t <= 2.0 for t in timeouts)  # every attempt's read timeout fit its budget


# API_DEADLINE_MS 3000: a budget of 2 s after the 1 s margin; API Gateway would give up at 3 s.
API_TIMEOUT_S = 3.0


@pytest.mark.parametrize(
    ("script", "code"),
    [
        (stall_before_headers, "AGENT_TIMEOUT"),
        (stall_after_a_trace, "AGENT_TIMEOUT"),  # the attempt's 1 s read timeout, < the 2 s left
        (stall_inside_a_message, "AGENT_TIMEOUT"),
        (stall_late, "DEADLINE_EXCEEDED"),  # the watchdog: the read would have ended at 2.5 s
        (trickle, "DEADLINE_EXCEEDED"),
    ],
    ids=["before the headers", "after a trace", "inside a message", "late in the budget", "a trickle"],
)
def test_a_slow_agent_is_answered_within_the_budget(invoke: Any, script: Script, code: str) -> None:
    response, elapsed = invoke(script, 3_000)

    assert (response.status, response.json()["error"]["code"]) == (504, code)
    # Before API Gateway's 3 s (the agent stalls for 6 s): a bound the invoker enforces, not the agent.
    assert elapsed < API_TIMEOUT_S


def test_a_quick_agent_over_loopback_answers(invoke: Any) -> None:
    response, elapsed = invoke(answer_then_end, 3_000)

    assert response.status == 200
    assert response.json()["completion"] == "a quick answer"
    assert elapsed < API_TIMEOUT_S


def test_a_retry_gets_a_read_timeout_that_fits_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.functions.invoker_fakes import make_harness

    h = make_harness(monkeypatch)
    h.agent.error(429, "ThrottlingException")
    h.agent.stream(h.clock.advance(0.0), es.chunk("ok"))
    h.agent.script[0] = _slow(h, h.agent.script[0], 10.6)  # the first attempt took 10.6 s to fail

    response = h.chat({"inputText": "hi"})

    assert response.status == 200
    assert h.agent.read_timeouts == [28.0, 17.0]  # floor(28 - 10.6 - 0.125 jitter sleep)


def _slow(h: Any, respond: Callable[[Any], Any], seconds: float) -> Callable[[Any], Any]:
    def slow(request: Any) -> Any:
        h.clock.now += seconds
        return respond(request)

    return slow
