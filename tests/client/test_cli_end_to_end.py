"""``python -m client`` end to end: real HTTP to a loopback "API Gateway" in front of the REAL invoker
handler, whose agent is a real botocore client reading scripted event-stream bytes.

Every assertion on the agent side reads the InvokeAgent request botocore sent; every assertion on the
client side reads what the user sees (stdout, stderr, exit code).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from client.tools import NOT_ASKED
from tests.client.conftest import ScriptedStdin, run_cli
from tests.client.fake_api import API_KEY, Canned, FakeApiGateway, Received
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import AGENT_ID, ALIAS_ID, GENERATED_SESSION

SESSION = "sess-42"
LOCAL_TIME_BODY = json.dumps(
    {
        "iso": "2026-03-14T09:30:05+01:00",
        "date": "2026-03-14",
        "time": "09:30:05",
        "weekday": "Saturday",
        "utcOffset": "+01:00",
        "timeZone": "Europe/Berlin",
    }
)
CITATIONS = [
    {
        "generatedResponsePart": {
            "textResponsePart": {"text": "Refunds take 5 days.", "span": {"start": 0, "end": 19}}
        },
        "retrievedReferences": [
            {
                "content": {"text": "Refunds are processed within five business days."},
                "location": {"type": "S3", "s3Location": {"uri": "s3://kb-docs/policies/refunds.pdf"}},
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
                "content": {"text": "Write to support."},
                "location": {"type": "S3", "s3Location": {"uri": "s3://kb-docs/policies/refunds.pdf"}},
            },
        ],
    },
]


def agent_path(session: str) -> str:
    return f"/agents/{AGENT_ID}/agentAliases/{ALIAS_ID}/sessions/{session}/text"


def function_input(
    function: str, parameters: list[dict[str, str]] | None = None, group: str = "client_tools"
):
    return {
        "functionInvocationInput": {
            "actionGroup": group,
            "function": function,
            "actionInvocationType": "RESULT",
            "parameters": parameters or [],
        }
    }


def requests(gateway: FakeApiGateway, method: str) -> list[Received]:
    return [r for r in gateway.received if r.method == method]


# --- ask ------------------------------------------------------------------------------------------


def test_ask_prints_completion_with_citations_and_ends_the_session(gateway: FakeApiGateway) -> None:
    gateway.harness.agent.stream(es.chunk("Refunds take 5 days. "), es.chunk("Contact support.", CITATIONS))
    gateway.harness.agent.stream()  # the DELETE's endSession call: an empty stream

    run = run_cli(["ask", "How long do refunds take?", "--url", gateway.url])

    assert run.code == 0, run.stderr
    assert run.stdout == (
        "Refunds take 5 days.[1][2] Contact support.[1]\n"
        "\n"
        "Sources:\n"
        "  [1] s3://kb-docs/policies/refunds.pdf\n"
        "  [2] https://help.example.com/refunds\n"
    )
    post, delete = gateway.received
    assert (post.method, post.path, post.status) == ("POST", "/v1/chat", 200)
    assert post.json() == {"inputText": "How long do refunds take?"}
    assert post.headers["content-type"] == "application/json"
    assert post.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDCLIENTTEST/")
    assert "/us-east-1/execute-api/aws4_request" in post.headers["authorization"]
    assert (delete.method, delete.path, delete.status) == ("DELETE", f"/v1/chat/{GENERATED_SESSION}", 204)
    assert delete.auth_error is None
    invoke, end = gateway.harness.agent.requests
    assert invoke.body == {"inputText": "How long do refunds take?", "enableTrace": False}
    assert end.path == agent_path(GENERATED_SESSION)
    assert end.body == {"endSession": True}
    assert run.stderr_lines == [f"· session {GENERATED_SESSION} ended"]


def test_ask_json_prints_the_raw_response_and_region_comes_from_flag(gateway: FakeApiGateway) -> None:
    gateway.harness.agent.stream(es.chunk("Refunds take 5 days. "), es.chunk("Contact support.", CITATIONS))

    run = run_cli(
        [
            "ask",
            "refunds?",
            "--json",
            "--url",
            gateway.url,
            "--region",
            "us-east-1",
            "--keep-session",
            "--session-id",
            SESSION,
            "--trace",
        ],
        environ={},
    )

    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {
        "sessionId": SESSION,
        "completion": "Refunds take 5 days. Contact support.",
        "citations": [
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
                "references": [{"type": "S3", "uri": "s3://kb-docs/policies/refunds.pdf"}],
            },
        ],
        "guardrailInterventions": [],
    }
    assert [r.method for r in gateway.received] == ["POST"]  # --keep-session: no DELETE
    assert gateway.received[0].json() == {"inputText": "refunds?", "sessionId": SESSION, "enableTrace": True}
    (invoke,) = gateway.harness.agent.requests
    assert invoke.path == agent_path(SESSION)
    assert invoke.body["enableTrace"] is True


def test_api_key_auth_sends_x_api_key_and_no_signature(gateway: FakeApiGateway) -> None:
    gateway.auth = "api-key"
    gateway.harness.agent.stream(es.chunk("Hello."))
    gateway.harness.agent.stream()

    run = run_cli(["ask", "hi", "--url", gateway.url, "--auth", "api-key"], environ={"CHAT_API_KEY": API_KEY})

    assert (run.code, run.stdout) == (0, "Hello.\n")
    assert all(
        r.headers["x-api-key"] == API_KEY and "authorization" not in r.headers for r in gateway.received
    )
    assert [r.status for r in gateway.received] == [200, 204]


# --- chat -----------------------------------------------------------------------------------------


def test_chat_keeps_the_session_across_turns_and_ends_it_on_quit(gateway: FakeApiGateway) -> None:
    agent = gateway.harness.agent
    agent.stream(es.chunk("Hello! How can I help?"))
    agent.stream(es.chunk("Refunds take 5 days."))
    agent.stream()

    run = run_cli(["chat", "--url", gateway.url], ["hello", "", "/session", "and refunds?", "/quit", "never"])

    assert run.code == 0, run.stderr
    assert run.stdout == "Hello! How can I help?\nRefunds take 5 days.\n"
    first, second, delete = gateway.received
    assert first.json() == {"inputText": "hello"}
    assert second.json() == {"inputText": "and refunds?", "sessionId": GENERATED_SESSION}
    assert delete.path == f"/v1/chat/{GENERATED_SESSION}"
    assert [r.path for r in agent.requests] == [agent_path(GENERATED_SESSION)] * 3
    assert agent.requests[2].body == {"endSession": True}
    assert f"session: {GENERATED_SESSION}" in run.stderr_lines
    assert run.stderr_lines[-1] == f"· session {GENERATED_SESSION} ended"


def test_chat_ends_the_session_at_end_of_input(gateway: FakeApiGateway) -> None:
    gateway.harness.agent.stream(es.chunk("Hi."))
    gateway.harness.agent.stream()

    run = run_cli(["chat", "--url", gateway.url, "--session-id", SESSION], ["hello"])

    assert (run.code, run.stdout) == (0, "Hi.\n")
    assert [(r.method, r.path) for r in gateway.received] == [
        ("POST", "/v1/chat"),
        ("DELETE", f"/v1/chat/{SESSION}"),
    ]


def test_ctrl_c_at_the_prompt_ends_the_session_and_exits_130(gateway: FakeApiGateway) -> None:
    gateway.harness.agent.stream(es.chunk("Hi."))
    gateway.harness.agent.stream()

    run = run_cli(["chat", "--url", gateway.url], ["hello", KeyboardInterrupt()])

    assert run.code == 130
    assert run.stdout == "Hi.\n"
    assert [(r.method, r.status) for r in gateway.received] == [("POST", 200), ("DELETE", 204)]
    assert "Traceback" not in run.stderr
    assert run.stderr_lines[-1] == f"· session {GENERATED_SESSION} ended"


def test_chat_reports_an_api_error_and_carries_on(gateway: FakeApiGateway) -> None:
    agent = gateway.harness.agent
    agent.stream(es.chunk("Hi."))
    agent.error(409, "ConflictException")
    agent.stream(es.chunk("Done."))
    agent.stream()

    run = run_cli(["chat", "--url", gateway.url], ["hello", "busy?", "again"])

    assert run.code == 1  # a turn failed
    assert run.stdout == "Hi.\nDone.\n"
    (error,) = run.errors()
    assert error.startswith("error: 409 AGENT_CONFLICT — ")
    assert error.endswith("(request id apigw-req-0002)")
    assert [r.method for r in gateway.received] == ["POST", "POST", "POST", "DELETE"]  # 409: no retry


# --- return of control -----------------------------------------------------------------------------


def test_return_control_runs_the_local_tool_and_resumes_the_turn(gateway: FakeApiGateway) -> None:
    agent = gateway.harness.agent
    agent.stream(es.return_control("inv-1", [function_input("get_local_time")]))
    agent.stream(es.chunk("It is 09:30 on Saturday in Berlin."))
    agent.stream()

    run = run_cli(["ask", "What time is it for me?", "--url", gateway.url])

    assert run.code == 0, run.stderr
    assert run.stdout == "It is 09:30 on Saturday in Berlin.\n"
    assert "· running client tool client_tools.get_local_time" in run.stderr_lines
    _first, resume, _ = gateway.received
    assert resume.json() == {
        "sessionId": GENERATED_SESSION,
        "returnControlResults": {
            "invocationId": "inv-1",
            "results": [
                {"actionGroup": "client_tools", "function": "get_local_time", "body": LOCAL_TIME_BODY}
            ],
        },
    }
    resumed = agent.requests[1]
    assert resumed.path == agent_path(GENERATED_SESSION)
    assert resumed.body == {
        "enableTrace": False,
        "sessionState": {
            "invocationId": "inv-1",
            "returnControlInvocationResults": [
                {
                    "functionResult": {
                        "actionGroup": "client_tools",
                        "function": "get_local_time",
                        "responseBody": {"TEXT": {"body": LOCAL_TIME_BODY}},
                    }
                }
            ],
        },
    }
    assert "inputText" not in resumed.body


def test_return_control_answers_unknown_and_unaskable_calls_with_failure_and_reprompt(
    gateway: FakeApiGateway,
) -> None:
    agent = gateway.harness.agent
    question = [{"name": "question", "type": "string", "value": "Send the refund now?"}]
    agent.stream(
        es.return_control(
            "inv-7",
            [
                function_input("delete_everything"),
                function_input("confirm_with_user", question),
                function_input("issue_refund", group="billing"),
            ],
        )
    )
    agent.stream(es.chunk("I could not ask you; shall I send the refund?"))
    agent.stream()

    run = run_cli(["ask", "refund o-1", "--url", gateway.url])  # stdin is not a terminal

    assert run.code == 0, run.stderr
    results = agent.requests[1].body["sessionState"]["returnControlInvocationResults"]
    assert results == [
        {
            "functionResult": {
                "actionGroup": "client_tools",
                "function": "delete_everything",
                "responseBody": {
                    "TEXT": {
                        "body": "Function 'delete_everything' does not exist in action group 'client_tools'. "
                        "Known functions: get_local_time, confirm_with_user."
                    }
                },
                "responseState": "FAILURE",
            }
        },
        {
            "functionResult": {
                "actionGroup": "client_tools",
                "function": "confirm_with_user",
                "responseBody": {"TEXT": {"body": NOT_ASKED}},
                "responseState": "REPROMPT",
            }
        },
        {
            "functionResult": {
                "actionGroup": "billing",
                "function": "issue_refund",
                "responseBody": {
                    "TEXT": {
                        "body": "This client only runs the action group 'client_tools'; 'billing' is not "
                        "available here."
                    }
                },
                "responseState": "FAILURE",
            }
        },
    ]
    assert "· client tool client_tools.delete_everything answered FAILURE" in run.stderr_lines


def test_chat_confirm_with_user_reads_the_answer_from_the_terminal(gateway: FakeApiGateway) -> None:
    agent = gateway.harness.agent
    question = [{"name": "question", "type": "string", "value": "Send the refund now?"}]
    agent.stream(es.return_control("inv-2", [function_input("confirm_with_user", question)]))
    agent.stream(es.chunk("Refund sent."))
    agent.stream()

    run = run_cli(["chat", "--url", gateway.url], ["refund o-1", "maybe", "y", "/quit"])

    assert (run.code, run.stdout) == (0, "Refund sent.\n")
    assert run.stderr.count("The agent asks: Send the refund now? [y/n]") == 2  # "maybe" asked again
    (result,) = gateway.received[1].json()["returnControlResults"]["results"]
    assert result == {
        "actionGroup": "client_tools",
        "function": "confirm_with_user",
        "body": json.dumps({"question": "Send the refund now?", "answer": "yes"}),
    }


def test_return_control_loop_is_capped(gateway: FakeApiGateway) -> None:
    gateway.harness.agent.always(es.return_control("inv-loop", [function_input("get_local_time")]))

    run = run_cli(["ask", "loop", "--url", gateway.url])

    assert run.code == 1
    assert run.errors() == [
        "error: the agent returned control 6 times in one turn (the client stops after 5); "
        "ask again or start a new session"
    ]
    assert [r.method for r in gateway.received] == ["POST"] * 6 + ["DELETE"]


# --- failures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv_extra", "env", "code"),
    [
        (["--auth", "none"], {}, "MISSING_AUTHENTICATION"),
        ([], {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "INVALID_SIGNATURE"),
        (["--region", "eu-west-1"], {}, "INVALID_SIGNATURE"),
    ],
)
def test_auth_failure_is_one_clear_line_and_exit_1(
    gateway: FakeApiGateway,
    monkeypatch: pytest.MonkeyPatch,
    argv_extra: list[str],
    env: dict[str, str],
    code: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    run = run_cli(["chat", "--url", gateway.url, *argv_extra], ["hello", "hello again"])

    assert run.code == 1
    (line,) = run.errors()
    assert line.startswith(f"error: 403 {code} — ")
    assert line.endswith("(request id apigw-req-0001)")
    assert "Traceback" not in run.stderr
    assert [r.status for r in gateway.received] == [403]  # 403 stops the chat; no retry, nothing to end
    assert gateway.harness.agent.requests == []


def test_429_with_retry_after_is_retried_then_succeeds(gateway: FakeApiGateway) -> None:
    agent = gateway.harness.agent
    for _ in range(4):  # the invoker's own four attempts, then 429 AGENT_THROTTLED with Retry-After
        agent.error(429, "ThrottlingException")
    agent.stream(es.chunk("Finally."))
    agent.stream()

    run = run_cli(["ask", "hi", "--url", gateway.url, "--session-id", SESSION])

    assert (run.code, run.stdout) == (0, "Finally.\n"), run.stderr
    assert run.sleeps == [2.0]  # the invoker's Retry-After: 2
    first, second, _ = gateway.received
    assert first.status == 429
    assert second.status == 200
    assert first.body == second.body
    assert first.headers["x-amz-date"] <= second.headers["x-amz-date"]  # each attempt signed afresh
    assert second.auth_error is None


def test_gateway_throttling_without_retry_after_backs_off_then_gives_up(gateway: FakeApiGateway) -> None:
    throttled = Canned(429, {"error": {"code": "THROTTLED", "message": "Too Many Requests"}})
    gateway.canned.extend([throttled] * 4)

    run = run_cli(["ask", "hi", "--url", gateway.url])

    assert run.code == 1
    assert run.errors() == ["error: 429 THROTTLED — Too Many Requests (request id apigw-req-0004)"]
    assert len(run.sleeps) == 3
    assert all(0 < s <= 8 for s in run.sleeps)
    assert gateway.harness.agent.requests == []


def test_retry_after_longer_than_the_client_waits_is_reported(gateway: FakeApiGateway) -> None:
    gateway.canned.append(
        Canned(503, {"error": {"code": "AGENT_UNAVAILABLE", "message": "try later"}}, {"Retry-After": "3600"})
    )

    run = run_cli(["ask", "hi", "--url", gateway.url])

    assert run.code == 1
    assert run.errors() == ["error: 503 AGENT_UNAVAILABLE — try later (request id apigw-req-0001)"]
    assert run.sleeps == []


def test_connection_refused_is_one_line_and_exit_1() -> None:
    with socket.socket() as probe:  # a port that was just free and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    run = run_cli(["ask", "hi", "--url", f"http://127.0.0.1:{port}/v1/chat"])

    assert run.code == 1
    assert run.stderr_lines == [
        f"error: POST to 127.0.0.1:{port} failed: connection refused (after 4 attempts)"
    ]
    assert len(run.sleeps) == 3  # refused before sending: safe to retry
    assert run.stdout == ""


def test_post_timeout_is_never_resent(gateway: FakeApiGateway) -> None:
    release = threading.Event()
    gateway.before = lambda received: release.wait(2) if received.method == "POST" else None
    gateway.harness.agent.stream(es.chunk("too late"))
    try:
        run = run_cli(["ask", "hi", "--url", gateway.url, "--timeout", "0.2"])
    finally:
        release.set()

    assert run.code == 1
    (line,) = run.errors()
    assert line == (
        f"error: POST to {gateway.url.split('/')[2]} failed: no answer within 0.2 s; "
        "the agent may have received the turn, so it was not resent"
    )
    assert run.sleeps == []
    assert [r.method for r in gateway.received] == ["POST"]


def test_process_exit_codes_and_single_error_line(gateway: FakeApiGateway) -> None:
    root = Path(__file__).resolve().parents[2]

    def client(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "client", *argv],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    unsigned = client("ask", "hi", "--url", gateway.url, "--auth", "none")
    usage = client("ask")

    assert unsigned.returncode == 1
    assert unsigned.stdout == ""
    assert unsigned.stderr.splitlines() == [
        "error: 403 MISSING_AUTHENTICATION — the request is not signed with SigV4, or no such resource or "
        "method exists (request id apigw-req-0001)"
    ]
    assert usage.returncode == 2
    assert usage.stderr.splitlines()[0] == "error: the following arguments are required: text"


def test_scripted_stdin_helper_raises_interrupts() -> None:
    stdin = ScriptedStdin(["a", KeyboardInterrupt()])
    assert stdin.readline() == "a\n"
    with pytest.raises(KeyboardInterrupt):
        stdin.readline()
