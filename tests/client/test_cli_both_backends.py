"""``python -m client`` with the same commands against the real invoker on both backends: Classic
(InvokeAgent) and AgentCore (InvokeHarness), each a real botocore client reading scripted bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from functions.invoker.agentcore import runtime_session_id
from tests.client.conftest import run_cli
from tests.client.fake_api import FakeApiGateway
from tests.client.test_cli_end_to_end import LOCAL_TIME_BODY, agent_path, function_input
from tests.functions import eventstream as es
from tests.functions.harness_fakes import (
    RUNTIME_ARN,
    SESSION_HEADER,
    FakeHarness,
    make_agentcore_harness,
    stop,
    text,
    tool_use,
)
from tests.functions.invoker_fakes import GENERATED_SESSION, Harness, make_harness


@dataclass
class Backend:
    """Scripts one backend's agent and reads back what the invoker sent it."""

    name: str
    harness: Harness

    def answer(self, words: str) -> None:
        if self.name == "classic":
            self.harness.agent.stream(es.chunk(words))
        else:
            self.harness.agent.stream(*text(words), stop("end_turn"))

    def ask_for_local_time(self) -> None:
        if self.name == "classic":
            self.harness.agent.stream(es.return_control("inv-1", [function_input("get_local_time")]))
        else:
            self.harness.agent.stream(*tool_use("tooluse_t1", "get_local_time", "{}"), stop("tool_use"))

    def ask_for_local_time_and_a_confirmation(self) -> None:
        question = [{"name": "question", "type": "string", "value": "Send it now?"}]
        if self.name == "classic":
            inputs = [function_input("get_local_time"), function_input("confirm_with_user", question)]
            self.harness.agent.stream(es.return_control("inv-1", inputs))
        else:
            self.harness.agent.stream(
                *tool_use("tooluse_t1", "get_local_time", "{}"),
                *tool_use("tooluse_t2", "confirm_with_user", '{"question": "Send it now?"}', index=2),
                stop("tool_use"),
            )
            # The harness hands the second call off next, without streaming its toolUse again.
            self.harness.agent.stream(stop("tool_use"))

    def end(self) -> None:
        if self.name == "classic":
            self.harness.agent.stream()
        else:
            agent = self.harness.agent
            assert isinstance(agent, FakeHarness)
            agent.stopped()

    def session_of(self, index: int) -> str:
        sent = self.harness.agent.requests[index]
        if self.name == "classic":
            return sent.path.split("/")[6]
        return sent.headers[SESSION_HEADER]

    def expected_session(self, api_session: str) -> str:
        return api_session if self.name == "classic" else runtime_session_id(api_session)

    def tool_result_text(self, index: int) -> Any:
        body = self.harness.agent.requests[index].body
        if self.name == "classic":
            (result,) = body["sessionState"]["returnControlInvocationResults"]
            return result["functionResult"]["responseBody"]["TEXT"]["body"]
        echo, (block,) = (m["content"] for m in body["messages"])
        assert echo == [{"toolUse": {"toolUseId": "tooluse_t1", "name": "get_local_time", "input": {}}}]
        assert block["toolResult"]["toolUseId"] == "tooluse_t1"
        return block["toolResult"]["content"][0]["text"]

    def resumed_calls(self) -> list[tuple[str, str]]:
        """Each resume's (tool, result text), in the order the agent got them."""
        sent = []
        for request in self.harness.agent.requests[1:]:
            if self.name == "classic":
                for result in request.body.get("sessionState", {}).get("returnControlInvocationResults", []):
                    function = result["functionResult"]
                    sent.append((function["function"], function["responseBody"]["TEXT"]["body"]))
            elif "messages" in request.body and len(request.body["messages"]) == 2:
                echo, answer = request.body["messages"]
                (use,) = echo["content"]
                (result,) = answer["content"]
                assert use["toolUse"]["toolUseId"] == result["toolResult"]["toolUseId"]
                sent.append((use["toolUse"]["name"], result["toolResult"]["content"][0]["text"]))
        return sent

    def ended(self, index: int) -> bool:
        sent = self.harness.agent.requests[index]
        if self.name == "classic":
            return sent.body == {"endSession": True}
        return sent.path == f"/runtimes/{RUNTIME_ARN}/stopruntimesession"


@pytest.fixture(params=["classic", "agentcore"])
def backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Backend, FakeApiGateway]]:
    name = str(request.param)
    harness = make_harness(monkeypatch) if name == "classic" else make_agentcore_harness(monkeypatch)
    server = FakeApiGateway(harness).start()
    try:
        yield Backend(name, harness), server
    finally:
        server.stop()


def test_chat_keeps_the_session_and_ends_it_on_quit(backend: tuple[Backend, FakeApiGateway]) -> None:
    agent, gateway = backend
    agent.answer("Hello! How can I help?")
    agent.answer("Refunds take 5 days.")
    agent.end()

    run = run_cli(["chat", "--url", gateway.url], ["hello", "and refunds?", "/quit"])

    assert run.code == 0, run.stderr
    assert run.stdout == "Hello! How can I help?\nRefunds take 5 days.\n"
    first, second, delete = gateway.received
    assert first.json() == {"inputText": "hello"}
    assert second.json() == {"inputText": "and refunds?", "sessionId": GENERATED_SESSION}
    assert (delete.method, delete.path, delete.status) == ("DELETE", f"/v1/chat/{GENERATED_SESSION}", 204)
    expected = agent.expected_session(GENERATED_SESSION)
    assert [agent.session_of(i) for i in range(3)] == [expected] * 3
    assert agent.ended(2)
    assert run.stderr_lines[-1] == f"· session {GENERATED_SESSION} ended"


def test_a_client_tool_runs_locally_and_the_turn_resumes(backend: tuple[Backend, FakeApiGateway]) -> None:
    agent, gateway = backend
    agent.ask_for_local_time()
    agent.answer("It is 09:30 on Saturday in Berlin.")
    agent.end()

    run = run_cli(["ask", "What time is it for me?", "--url", gateway.url])

    assert run.code == 0, run.stderr
    assert run.stdout == "It is 09:30 on Saturday in Berlin.\n"
    assert "· running client tool client_tools.get_local_time" in run.stderr_lines
    _first, resume, _delete = gateway.received
    results = resume.json()["returnControlResults"]["results"]
    assert results == [{"actionGroup": "client_tools", "function": "get_local_time", "body": LOCAL_TIME_BODY}]
    assert json.loads(agent.tool_result_text(1)) == json.loads(LOCAL_TIME_BODY)
    assert agent.session_of(1) == agent.session_of(0)
    assert agent.ended(2)


def test_a_turn_with_two_client_tools_completes(backend: tuple[Backend, FakeApiGateway]) -> None:
    agent, gateway = backend
    agent.ask_for_local_time_and_a_confirmation()
    agent.answer("Sent at 09:30.")
    agent.end()

    run = run_cli(["chat", "--url", gateway.url], ["send the report", "y", "/quit"])

    assert run.code == 0, run.stderr
    assert run.stdout == "Sent at 09:30.\n"
    confirmed = json.dumps({"question": "Send it now?", "answer": "yes"})
    calls = agent.resumed_calls()
    assert [name for name, _ in calls] == ["get_local_time", "confirm_with_user"]
    assert json.loads(calls[0][1]) == json.loads(LOCAL_TIME_BODY)
    assert calls[1][1] == confirmed
    posts = [r.json() for r in gateway.received if r.method == "POST"]
    # Classic hands both calls over at once; AgentCore one per returnControl.
    rounds = [len(p["returnControlResults"]["results"]) for p in posts if "returnControlResults" in p]
    assert rounds == ([2] if agent.name == "classic" else [1, 1])
    assert "· running client tool client_tools.confirm_with_user" in run.stderr_lines


def test_agent_errors_reach_the_user_the_same_way(backend: tuple[Backend, FakeApiGateway]) -> None:
    agent, gateway = backend
    agent.harness.agent.error(403, "AccessDeniedException")
    agent.end()

    run = run_cli(["ask", "hi", "--url", gateway.url])

    assert run.code == 1
    assert any("AGENT_ACCESS_DENIED" in line for line in run.errors()), run.stderr


def test_classic_paths_still_name_the_alias(backend: tuple[Backend, FakeApiGateway]) -> None:
    agent, gateway = backend
    agent.answer("ok")
    agent.end()
    assert run_cli(["ask", "hi", "--url", gateway.url]).code == 0
    path = agent.harness.agent.requests[0].path
    expected = agent_path(GENERATED_SESSION) if agent.name == "classic" else "/harnesses/invoke"
    assert path == expected
