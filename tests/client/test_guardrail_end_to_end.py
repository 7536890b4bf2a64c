"""The client shows a guardrail intervention clearly, buffered and streamed: the guardrail's message
as the answer, and a line saying what the guardrail did (never what it matched)."""

from __future__ import annotations

from client.render import render_interventions
from tests.client.conftest import run_cli
from tests.client.fake_api import FakeApiGateway
from tests.functions import eventstream as es
from tests.functions.harness_fakes import GUARDRAIL_ENV
from tests.functions.test_invoker_guardrail import BLOCKED_INPUT, CONTENT_BLOCKED, MATCHED


def blocked_input(gateway: FakeApiGateway) -> None:
    gateway.harness.set_env(**GUARDRAIL_ENV)
    trace = {"guardrailTrace": {"action": "INTERVENED", "inputAssessments": [CONTENT_BLOCKED]}}
    gateway.harness.agent.stream(es.trace(trace), es.chunk(BLOCKED_INPUT))


def test_ask_shows_the_guardrails_message_and_says_it_blocked_the_message(gateway: FakeApiGateway) -> None:
    blocked_input(gateway)

    run = run_cli(["ask", "something violent", "--url", gateway.url, "--keep-session"])

    assert run.code == 0, run.stderr
    assert run.stdout == f"{BLOCKED_INPUT}\n"
    assert run.stderr_lines == ["· guardrail: blocked your message (content, word)"]
    assert MATCHED not in run.stdout + run.stderr


def test_chat_over_a_stream_says_so_too(streaming_gateway: FakeApiGateway) -> None:
    blocked_input(streaming_gateway)

    run = run_cli(["chat", "--url", streaming_gateway.url, "--keep-session"], ["something violent", "/quit"])

    assert run.code == 0, run.stderr
    assert f"{BLOCKED_INPUT}\n" in run.stdout
    assert "· guardrail: blocked your message (content, word)" in run.stderr_lines


def test_every_action_and_side_reads_as_a_sentence() -> None:
    masked = {"source": "OUTPUT", "action": "ANONYMIZED", "policies": ["sensitiveInformation"]}
    unknown = {"source": "OUTPUT", "action": "INTERVENED", "policies": []}
    assert render_interventions([masked, unknown]) == (
        "guardrail: masked sensitive information in the answer (sensitiveInformation)\n"
        "guardrail: intervened in the answer"
    )
    assert render_interventions([]) == ""
