"""Streaming end to end over loopback: client -> local streaming API Gateway -> Runtime API -> the REAL
runtime loop and handler -> a REAL botocore client reading the fake agent's event-stream bytes.

Every hop is real HTTP on 127.0.0.1 (chunked both ways); nothing is buffered by the test harness, so
arrival order and timing at the client are what the deployed chain would show.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from typing import Any

import pytest

from client.api import ChatClient, StreamCutError, StreamFailedError
from client.auth import SigV4Signer, load_credentials
from client.transport import HttpClientTransport
from functions.invoker import streaming
from tests.client.conftest import run_cli
from tests.client.fake_api import Canned, FakeApiGateway
from tests.client.test_cli_end_to_end import function_input
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import GENERATED_SESSION
from tests.functions.test_invoker_handler import CITATIONS

CHUNKS = 20


def client_for(gateway: FakeApiGateway) -> ChatClient:
    transport = HttpClientTransport()
    return ChatClient(
        gateway.url,
        signer=SigV4Signer(load_credentials(), "us-east-1"),
        transport=transport,
        streaming=transport,
        timeout=10,
    )


def test_a_20_chunk_answer_arrives_at_the_client_chunk_by_chunk(streaming_gateway: FakeApiGateway) -> None:
    """The agent writes chunk k+1 only once the client holds chunk k (a handshake, robust on a busy
    machine), then pauses 20 ms: the client sees 20 separate arrivals spread over the answer."""
    received = threading.Semaphore(0)
    handshakes: list[bool] = []
    produced: list[float] = []

    def after_chunk() -> None:
        produced.append(time.monotonic())
        handshakes.append(received.acquire(timeout=2))
        time.sleep(0.02)

    steps: list[Any] = []
    for index in range(CHUNKS):
        steps += [es.chunk(f"word{index} "), after_chunk]
    streaming_gateway.harness.agent.stream(*steps)
    arrivals: list[tuple[float, str]] = []

    def on_text(text: str) -> None:
        arrivals.append((time.monotonic(), text))
        received.release()

    reply = client_for(streaming_gateway).ask("twenty words please", on_text=on_text)

    assert handshakes == [True] * CHUNKS  # chunk k reached the client before chunk k+1 existed
    assert [text for _, text in arrivals] == [f"word{index} " for index in range(CHUNKS)]
    times = [at for at, _ in arrivals]
    assert all(earlier < later for earlier, later in itertools.pairwise(times))
    assert times[-1] - times[0] >= (CHUNKS - 1) * 0.02  # spread over the answer, not at its end
    assert times[0] < produced[-1]  # the first word was shown before the agent wrote the last
    assert reply.streamed is True
    assert reply.completion == "".join(f"word{index} " for index in range(CHUNKS))
    assert reply.session_id == GENERATED_SESSION
    (post,) = [r for r in streaming_gateway.received if r.method == "POST"]
    assert post.headers["accept"].startswith("application/x-ndjson")


def test_cli_chat_prints_tokens_as_they_arrive(streaming_gateway: FakeApiGateway) -> None:
    agent = streaming_gateway.harness.agent
    agent.stream(es.chunk("Refunds take "), es.chunk("5 days.", CITATIONS[:1]))
    agent.stream()  # endSession

    class Recording(io.StringIO):
        pieces: list[str] = []

        def write(self, text: str) -> int:
            self.pieces.append(text)
            return super().write(text)

    from client.cli import Console, Dependencies, main
    from client.tools import ToolContext
    from tests.client.conftest import ScriptedStdin

    out, err = Recording(), io.StringIO()
    console = Console(ScriptedStdin(["refunds?", "/quit"]), out, err, interactive=False)
    deps = Dependencies(
        transport=HttpClientTransport(),
        sleep=lambda s: None,
        environ={"AWS_REGION": "us-east-1"},
        tool_context=ToolContext(),
    )
    code = main(["chat", "--url", streaming_gateway.url], console, deps)

    assert code == 0, err.getvalue()
    assert out.pieces[:2] == ["Refunds take ", "5 days."]  # written one by one, as they came
    assert out.getvalue() == (
        "Refunds take 5 days.\n\nSources:\n"
        "  [1] s3://kb-docs/policies/refunds.pdf\n"
        "  [2] https://help.example.com/refunds\n"
    )


def test_return_of_control_over_a_stream(streaming_gateway: FakeApiGateway) -> None:
    agent = streaming_gateway.harness.agent
    agent.stream(es.return_control("inv-1", [function_input("get_local_time")]))
    agent.stream(es.chunk("It is 09:30 "), es.chunk("in Berlin."))
    agent.stream()

    run = run_cli(["ask", "What time is it for me?", "--url", streaming_gateway.url])

    assert run.code == 0, run.stderr
    assert run.stdout == "It is 09:30 in Berlin.\n"
    assert "· running client tool client_tools.get_local_time" in run.stderr_lines
    posts = [r for r in streaming_gateway.received if r.method == "POST"]
    assert posts[1].json()["returnControlResults"]["invocationId"] == "inv-1"
    assert posts[1].json()["sessionId"] == GENERATED_SESSION


def test_an_error_mid_stream_is_shown_after_the_partial_text_and_never_resent(
    streaming_gateway: FakeApiGateway,
) -> None:
    agent = streaming_gateway.harness.agent
    agent.stream(es.chunk("Half an ans"), es.exception("throttlingException"))
    agent.stream()  # endSession: the session of the failed turn exists and is ended

    run = run_cli(["ask", "hi", "--url", streaming_gateway.url])

    assert run.code == 1
    assert run.stdout == "Half an ans\n"
    (error,) = run.errors()
    assert error.startswith("error: 502 AGENT_INTERRUPTED")
    assert len([r for r in streaming_gateway.received if r.method == "POST"]) == 1

    agent.stream(es.chunk("again "), es.exception("internalServerException"))
    with pytest.raises(StreamFailedError) as failed:
        client_for(streaming_gateway).ask("hi", on_text=lambda text: None)
    assert (failed.value.status, failed.value.code, failed.value.received) == (
        502,
        "AGENT_INTERNAL_ERROR",
        "again ",
    )


def test_a_cut_stream_is_reported_as_incomplete_and_never_resent(
    streaming_gateway: FakeApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = streaming.ndjson_lines

    def cut_after_the_first_line(turn: Any, events: Any) -> Any:
        lines = real(turn, events)
        yield next(lines)
        lines.close()  # type: ignore[attr-defined]  # a generator: the connection drops, no terminal line

    monkeypatch.setattr(streaming, "ndjson_lines", cut_after_the_first_line)
    streaming_gateway.harness.agent.stream(es.chunk("The beginning"), es.chunk(" and the end"))

    with pytest.raises(StreamCutError) as cut:
        client_for(streaming_gateway).ask("hi", on_text=lambda text: None)

    assert cut.value.received == "The beginning"
    assert "not resent" in str(cut.value)
    assert len([r for r in streaming_gateway.received if r.method == "POST"]) == 1


def test_a_turn_is_retried_only_while_nothing_was_received(streaming_gateway: FakeApiGateway) -> None:
    streaming_gateway.canned.append(
        Canned(503, {"error": {"code": "AGENT_UNAVAILABLE", "message": "x"}}, {"Retry-After": "0"})
    )
    streaming_gateway.harness.agent.stream(es.chunk("fine"))
    texts: list[str] = []

    reply = client_for(streaming_gateway).ask("hi", on_text=texts.append)

    assert texts == ["fine"]
    assert reply.completion == "fine"
    assert len([r for r in streaming_gateway.received if r.method == "POST"]) == 2


def test_ctrl_c_while_an_answer_streams_stops_it_and_returns_to_the_prompt(
    streaming_gateway: FakeApiGateway,
) -> None:
    agent = streaming_gateway.harness.agent
    agent.stream(es.chunk("Interrupt "), es.chunk("me"))
    agent.stream()  # endSession

    from client.cli import Console, Dependencies, main
    from client.tools import ToolContext
    from tests.client.conftest import ScriptedStdin

    class CtrlC(io.StringIO):
        def write(self, text: str) -> int:
            if text == "Interrupt ":
                raise KeyboardInterrupt
            return super().write(text)

    err = io.StringIO()
    console = Console(ScriptedStdin(["go", "/quit"]), CtrlC(), err, interactive=False)
    deps = Dependencies(
        transport=HttpClientTransport(), environ={"AWS_REGION": "us-east-1"}, tool_context=ToolContext()
    )
    code = main(["chat", "--url", streaming_gateway.url], console, deps)

    assert code == 1
    assert "error: the answer was cut off (interrupted)" in err.getvalue()
    assert "session" in err.getvalue()  # the loop went on to /quit and ended the session


def test_no_stream_keeps_the_buffered_exchange(streaming_gateway: FakeApiGateway) -> None:
    agent = streaming_gateway.harness.agent
    agent.stream(es.chunk("Refunds take 5 days. "), es.chunk("Contact support.", CITATIONS))
    agent.stream()

    run = run_cli(["ask", "refunds?", "--no-stream", "--url", streaming_gateway.url])

    assert run.code == 0, run.stderr
    assert run.stdout.startswith("Refunds take 5 days.[1][2] Contact support.")  # inline markers
    (post,) = [r for r in streaming_gateway.received if r.method == "POST"]
    assert post.headers["accept"] == "application/json"
