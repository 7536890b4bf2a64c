"""The client's pieces in isolation: tools and their schema, rendering, URL discovery, auth, retry rules."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from client.api import ApiError, ChatClient, NetworkError, ProtocolError, RetryPolicy
from client.auth import CredentialsError, SigV4Signer, host_header, load_credentials, region_from_url
from client.cli import Dependencies
from client.discovery import DiscoveryError, check_url, pulumi_api_url
from client.render import render_answer
from client.tools import (
    CLIENT_ACTION_GROUP,
    CLIENT_TOOLS,
    NOT_ASKED,
    ToolContext,
    confirm_with_user,
    get_local_time,
    local_zone_name,
    tool_context,
)
from client.tools_runner import TOOL_ERROR
from client.transport import HttpRequest, HttpResponse, TransportError, _failure
from components.function_schema import function_schema
from functions.action_group.toolspec import ToolInputError
from tests.client.conftest import LOCAL_NOW, run_cli
from tests.client.fake_api import ACCESS_KEY, REGION, SECRET_KEY, Received, verify_sigv4

URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/chat"


# --- tools and their schema ------------------------------------------------------------------------


def test_client_tools_schema_is_what_the_action_group_declares() -> None:
    assert CLIENT_ACTION_GROUP == "client_tools"
    schema = function_schema(CLIENT_TOOLS)

    assert [d["name"] for d in schema] == ["get_local_time", "confirm_with_user"]
    local_time, confirm = schema
    assert local_time["parameters"] == {}
    assert local_time["description"].startswith("Returns the user's current local date and time")
    assert confirm["parameters"] == {
        "question": {
            "type": "string",
            "description": "The yes/no question to show the user, in their language, self-contained and "
            "specific, e.g. 'Send the refund of 42.50 EUR for order o-123 now?'. At most 500 characters.",
            "required": True,
        }
    }
    assert all(d["requireConfirmation"] == "DISABLED" for d in schema)
    assert all(len(d["description"]) <= 1200 for d in schema)


def test_importing_the_tools_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, client.tools; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'pulumi', 'pulumi_aws', 'aws_lambda_powertools', 'urllib3')))"
    )
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=30, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_get_local_time_reports_the_users_clock_and_zone() -> None:
    with tool_context(ToolContext(now=lambda: LOCAL_NOW, zone=lambda: "Europe/Berlin")):
        result = json.loads(get_local_time())
    assert result == {
        "iso": "2026-03-14T09:30:05+01:00",
        "date": "2026-03-14",
        "time": "09:30:05",
        "weekday": "Saturday",
        "utcOffset": "+01:00",
        "timeZone": "Europe/Berlin",
    }


def test_get_local_time_falls_back_to_the_abbreviation_and_handles_negative_offsets() -> None:
    now = datetime(2026, 7, 1, 23, 5, tzinfo=timezone(-timedelta(hours=3, minutes=30), "NDT"))
    with tool_context(ToolContext(now=lambda: now, zone=lambda: None)):
        result = json.loads(get_local_time())
    assert (result["utcOffset"], result["timeZone"], result["weekday"]) == ("-03:30", "NDT", "Wednesday")


def test_get_local_time_on_the_real_clock_is_aware() -> None:
    result = json.loads(get_local_time())
    assert datetime.fromisoformat(result["iso"]).utcoffset() is not None


def test_local_zone_name_prefers_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/St_Johns")
    assert local_zone_name() == "America/St_Johns"
    monkeypatch.setenv("TZ", ":Asia/Tokyo")
    assert local_zone_name() == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("replies", "answer"),
    [(["y"], "yes"), (["  YES "], "yes"), (["no"], "no"), (["what?", "n"], "no")],
)
def test_confirm_with_user_returns_the_answer(replies: list[str], answer: str) -> None:
    prompts: list[str] = []
    queue = deque(replies)

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return queue.popleft()

    with tool_context(ToolContext(ask=ask)):
        result = json.loads(confirm_with_user("  Send the\nrefund now? "))
    assert result == {"question": "Send the refund now?", "answer": answer}
    assert prompts == ["The agent asks: Send the refund now? [y/n] "] * len(replies)


def test_confirm_with_user_treats_no_clear_answer_as_no() -> None:
    with tool_context(ToolContext(ask=lambda prompt: "perhaps")):
        assert json.loads(confirm_with_user("Go?"))["answer"] == "no"


@pytest.mark.parametrize(
    ("ask", "question", "message"),
    [
        (None, "Go?", NOT_ASKED),
        ("eof", "Go?", NOT_ASKED),
        (lambda prompt: "y", "   ", "The question is empty"),
        (lambda prompt: "y", "x" * 501, "The question has 501 characters"),
    ],
)
def test_confirm_with_user_refuses_what_it_cannot_ask(ask: Any, question: str, message: str) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    with tool_context(ToolContext(ask=eof if ask == "eof" else ask)), pytest.raises(ToolInputError) as error:
        confirm_with_user(question)
    assert str(error.value).startswith(message)


# --- rendering -------------------------------------------------------------------------------------


def test_render_answer_without_citations_is_the_completion() -> None:
    assert render_answer("Just text.", []) == "Just text."


def test_render_answer_lists_unplaceable_and_addressless_references() -> None:
    citations: list[dict[str, Any]] = [
        {
            "text": "not in the answer",
            "span": {"start": 0, "end": 3},
            "references": [{"type": "SQL", "uri": None}],
        },
        {"text": "Answer", "span": None, "references": [{"type": "WEB", "uri": "https://a.example/x"}]},
        {
            "text": "Answer",
            "span": {"start": 0, "end": 6},
            "references": [{"type": "WEB", "uri": "https://a.example/x"}],
        },
    ]
    assert render_answer("Answer.", citations) == (
        "Answer[2].\n\nSources:\n  [1] (SQL source, no address)\n  [2] https://a.example/x"
    )


# --- URL discovery ---------------------------------------------------------------------------------


def test_check_url_accepts_the_chat_url_and_completes_a_stage_url() -> None:
    assert check_url(URL) == URL
    assert check_url("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/") == URL
    for bad in ("ftp://x/chat", "abc123.execute-api.eu-west-1.amazonaws.com/v1/chat", f"{URL}?a=1"):
        with pytest.raises(DiscoveryError):
            check_url(bad)


def completed(code: int, stdout: str = "", stderr: str = "") -> Callable[..., Any]:
    calls: list[Any] = []

    def run(command: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
        calls.append((command, timeout, cwd))
        return subprocess.CompletedProcess(command, code, stdout, stderr)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_pulumi_api_url_reads_the_stack_output() -> None:
    run = completed(0, stdout=URL + "\n")
    url = pulumi_api_url("prod", which=lambda name: "/usr/bin/pulumi", run=run, cwd=Path("/proj"))
    assert url == URL
    assert run.calls == [  # type: ignore[attr-defined]
        (
            ["/usr/bin/pulumi", "stack", "output", "apiUrl", "--non-interactive", "--stack", "prod"],
            60.0,
            Path("/proj"),
        )
    ]


def test_pulumi_api_url_failures_say_what_to_do() -> None:
    def timeout(command: list[str], seconds: float, cwd: Path) -> Any:
        raise subprocess.TimeoutExpired(command, seconds)

    cases: list[tuple[Callable[[str], str | None], Any, str]] = [
        (
            lambda name: None,
            None,
            "no API URL: the Pulumi CLI is not on PATH; pass --url or install the Pulumi CLI",
        ),
        (
            lambda name: "pulumi",
            completed(255, stderr="error: no stack named 'nope' found\n"),
            "`pulumi stack output apiUrl` for stack 'nope' failed: error: no stack named 'nope' found; "
            "pass --url or --stack",
        ),
        (
            lambda name: "pulumi",
            completed(0, stdout="\n"),
            "the stack has no apiUrl output (is it deployed?); pass --url",
        ),
        (
            lambda name: "pulumi",
            timeout,
            "`pulumi stack output apiUrl` did not finish within 60 s; pass --url or install the Pulumi CLI",
        ),
    ]
    for which, run, message in cases:
        with pytest.raises(DiscoveryError) as error:
            pulumi_api_url("nope", which=which, run=run)
        assert str(error.value) == message


def test_cli_without_url_uses_the_stack_from_the_environment_and_exits_2_on_failure() -> None:
    stacks: list[str | None] = []

    def discover(stack: str | None) -> str:
        stacks.append(stack)
        raise DiscoveryError(
            "no API URL: the Pulumi CLI is not on PATH; pass --url or install the Pulumi CLI"
        )

    run = run_cli(["ask", "hi"], deps=Dependencies(discover_url=discover, environ={"PULUMI_STACK": "dev"}))
    assert (run.code, stacks) == (2, ["dev"])
    assert run.stderr_lines == [
        "error: no API URL: the Pulumi CLI is not on PATH; pass --url or install the Pulumi CLI"
    ]


# --- auth ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "region"),
    [
        (URL, "eu-west-1"),
        ("https://a1.execute-api.us-gov-west-1.amazonaws.com/prod/chat", "us-gov-west-1"),
        ("https://a1.execute-api.cn-north-1.amazonaws.com.cn/prod/chat", "cn-north-1"),
        ("https://a1-vpce-0123abcd.execute-api.ap-southeast-2.vpce.amazonaws.com/v1/chat", "ap-southeast-2"),
        ("https://chat.example.com/v1/chat", None),
        ("http://127.0.0.1:8080/v1/chat", None),
    ],
)
def test_region_from_url(url: str, region: str | None) -> None:
    assert region_from_url(url) == region


def test_host_header_omits_default_ports() -> None:
    assert host_header("https://A.example.com:443/x") == "a.example.com"
    assert host_header("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert host_header("http://[::1]:9/x") == "[::1]:9"


def test_sigv4_signer_produces_a_signature_the_gateway_accepts() -> None:
    from botocore.credentials import Credentials

    body = b'{"inputText": "hi"}'
    signed = SigV4Signer(Credentials(ACCESS_KEY, SECRET_KEY, "session-token"), REGION)(
        HttpRequest(
            "POST",
            "https://abc123.execute-api.us-east-1.amazonaws.com/v1/chat",
            {"Content-Type": "application/json"},
            body,
        )
    )
    headers = {k.lower(): v for k, v in signed.headers.items()}
    assert headers["host"] == "abc123.execute-api.us-east-1.amazonaws.com"
    assert headers["x-amz-security-token"] == "session-token"
    assert "x-amz-security-token" in headers["authorization"]
    # The fake gateway verifies over http:// URLs; the signature covers the body either way.
    received = Received("POST", "/v1/chat", headers, body)
    assert verify_sigv4(received, REGION)
    assert not verify_sigv4(Received("POST", "/v1/chat", headers, body + b" "), REGION)


def test_no_credentials_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CredentialsError):
        load_credentials()

    run = run_cli(["ask", "hi", "--url", URL])

    assert run.code == 2
    assert run.stderr_lines == [
        "error: no AWS credentials found for --auth iam: set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY (or run aws sso login / aws configure)"
    ]


def test_unknown_profile_is_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nope")
    run = run_cli(["ask", "hi", "--url", URL])
    assert run.code == 2
    assert run.stderr_lines == [
        "error: cannot load AWS credentials: The config profile (nope) could not be found"
    ]


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (
            ["ask", "hi", "--url", URL, "--auth", "api-key"],
            {},
            "--auth api-key needs --api-key or the CHAT_API_KEY",
        ),
        (["ask", "hi", "--url", "https://chat.example.com/v1/chat"], {}, "cannot tell the API's region"),
        (["ask", "hi", "--url", URL, "--timeout", "0"], {}, "argument --timeout: must be between 0 and 900"),
        (["ask", "hi", "--url", URL, "--auth", "basic"], {}, "argument --auth: invalid choice"),
        (["talk"], {}, "argument {chat,ask,ingest}: invalid choice"),
        (["ask", "hi", "--url", "chat.example.com"], {}, "--url must be an https:// URL"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], environ: dict[str, str], message: str) -> None:
    run = run_cli(argv, environ=environ)
    assert run.code == 2
    assert run.stderr_lines[0].startswith(f"error: {message}")


# --- HTTP exchanges and retry rules (scripted transport) ------------------------------------------


class ScriptedTransport:
    def __init__(self, *steps: HttpResponse | TransportError | BaseException) -> None:
        self.steps = deque(steps)
        self.requests: list[tuple[HttpRequest, float]] = []

    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse:
        self.requests.append((request, timeout))
        step = self.steps.popleft()
        if isinstance(step, BaseException):
            raise step
        return step


def ok(body: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    payload = {"sessionId": "s-1", "completion": "ok", "citations": []} if body is None else body
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


def error(status: int, code: str, headers: dict[str, str] | None = None) -> HttpResponse:
    body = {"error": {"code": code, "message": "m", "requestId": "r-1"}}
    return HttpResponse(status, headers or {}, json.dumps(body).encode())


def broken(kind: Any, sent: bool) -> TransportError:
    return TransportError(kind, f"{kind} happened", host="api.example", sent=sent, timeout=7.0)


def make(transport: ScriptedTransport, sleeps: list[float], **kwargs: Any) -> ChatClient:
    return ChatClient(
        "https://api.example/v1/chat/",
        signer=lambda request: request,
        transport=transport,
        sleep=sleeps.append,
        rand=lambda: 1.0,
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        **kwargs,
    )


def test_post_is_retried_only_when_the_request_was_not_accepted() -> None:
    sleeps: list[float] = []
    transport = ScriptedTransport(
        broken("refused", sent=False),
        error(503, "AGENT_MODEL_NOT_READY", {"retry-after": "Thu, 01 Jan 2026 00:00:03 GMT"}),
        error(429, "AGENT_THROTTLED", {"retry-after": "1"}),
        ok(),
    )
    reply = make(transport, sleeps).ask("hi")
    assert reply.completion == "ok"
    assert sleeps == [0.5, 3.0, 1.0]
    assert [r.url for r, _ in transport.requests] == ["https://api.example/v1/chat"] * 4


@pytest.mark.parametrize(
    "failure",
    [
        broken("timeout", sent=True),
        broken("reset", sent=True),
        broken("dns", sent=False),
        broken("tls", sent=False),
        error(502, "AGENT_DEPENDENCY_FAILED"),
        error(504, "DEADLINE_EXCEEDED"),
        error(429, "QUOTA_EXCEEDED"),
        error(400, "VALIDATION_ERROR"),
    ],
)
def test_post_is_not_retried_after_it_may_have_reached_the_agent(failure: Any) -> None:
    sleeps: list[float] = []
    transport = ScriptedTransport(failure)
    with pytest.raises((ApiError, NetworkError)):
        make(transport, sleeps).ask("hi")
    assert (len(transport.requests), sleeps) == (1, [])


def test_delete_is_retried_after_timeouts_and_bad_gateways() -> None:
    sleeps: list[float] = []
    transport = ScriptedTransport(
        broken("timeout", sent=True), error(502, "AGENT_BAD_GATEWAY"), HttpResponse(204, {}, b"")
    )
    client = make(transport, sleeps, session_id="a:b")
    assert client.end_session(timeout=3.0) is True
    assert client.session_id is None
    assert [(r.method, r.url, t) for r, t in transport.requests] == [
        ("DELETE", "https://api.example/v1/chat/a%3Ab", 3.0)
    ] * 3
    assert transport.requests[0][0].body is None
    assert "Content-Type" not in transport.requests[0][0].headers
    assert sleeps == [0.5, 1.0]
    assert client.end_session() is False  # nothing left to end


def test_retries_stop_after_max_attempts() -> None:
    sleeps: list[float] = []
    transport = ScriptedTransport(*[error(503, "AGENT_UNAVAILABLE")] * 2)
    with pytest.raises(ApiError) as failure:
        make(transport, sleeps, policy=RetryPolicy(max_attempts=2)).ask("hi")
    assert str(failure.value) == "503 AGENT_UNAVAILABLE — m (request id r-1)"
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("response", "line"),
    [
        (
            HttpResponse(403, {"x-amzn-requestid": "gw-1"}, b'{"message": "Missing Authentication Token"}'),
            "403 — Missing Authentication Token (request id gw-1)",
        ),
        (
            HttpResponse(502, {}, b"<html>\n<h1>Bad   Gateway</h1></html>"),
            "502 — <html> <h1>Bad Gateway</h1></html>",
        ),
        (HttpResponse(500, {}, b""), "500"),
    ],
)
def test_errors_without_the_envelope_still_make_one_line(response: HttpResponse, line: str) -> None:
    with pytest.raises(ApiError) as failure:
        make(ScriptedTransport(response), []).ask("hi")
    assert str(failure.value) == line


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (HttpResponse(200, {}, b"not json"), "the API answered 200 with a body that is not JSON"),
        (ok({"completion": "x", "citations": []}), "the API's response has no sessionId"),
        (ok({"sessionId": "s", "citations": []}), "the API's response has no completion text"),
        (
            ok({"sessionId": "s", "completion": "", "citations": [], "returnControl": {}}),
            "the API returned a returnControl",
        ),
    ],
)
def test_responses_off_contract_are_protocol_errors(response: HttpResponse, message: str) -> None:
    with pytest.raises(ProtocolError) as failure:
        make(ScriptedTransport(response), []).ask("hi")
    assert str(failure.value).startswith(message)


def test_return_control_with_an_api_input_answers_501_failure() -> None:
    control = {
        "sessionId": "s-1",
        "completion": "",
        "citations": [],
        "returnControl": {
            "invocationId": "inv-1",
            "invocationInputs": [
                {
                    "actionGroup": "crm",
                    "apiPath": "/c/{id}",
                    "httpMethod": "PATCH",
                    "parameters": [],
                    "agentId": "COLLAB1",
                }
            ],
        },
    }
    transport = ScriptedTransport(ok(control), ok())
    reply = make(transport, []).ask("hi")
    sent = json.loads(transport.requests[1][0].body or b"")
    assert sent["sessionId"] == "s-1"
    (result,) = sent["returnControlResults"]["results"]
    assert result == {
        "actionGroup": "crm",
        "apiPath": "/c/{id}",
        "httpMethod": "PATCH",
        "httpStatusCode": 501,
        "body": json.dumps({"error": "this client implements no API operations (action group 'crm')"}),
        "responseState": "FAILURE",
        "agentId": "COLLAB1",
    }
    assert [run.state for run in reply.tool_runs] == ["FAILURE"]


def test_tool_arguments_are_coerced_and_checked_like_the_lambda_does() -> None:
    seen: list[Any] = []

    def plan(days: Any, note: Any = None) -> str:
        seen.append((days, note))
        return "planned"

    import typing

    plan.__annotations__ = {
        "days": typing.Annotated[int, "How many days."],
        "note": typing.Annotated[str | None, "A note."],
        "return": str,
    }
    plan.__doc__ = "Plans."

    def control(parameters: list[dict[str, str]]) -> HttpResponse:
        inputs = [{"actionGroup": "client_tools", "function": "plan", "parameters": parameters}]
        return ok(
            {
                "sessionId": "s",
                "completion": "",
                "citations": [],
                "returnControl": {"invocationId": "i", "invocationInputs": inputs},
            }
        )

    transport = ScriptedTransport(
        control([{"name": "days", "type": "integer", "value": "3"}]),
        control([{"name": "days", "type": "integer", "value": "three"}]),
        control([{"name": "weeks", "type": "integer", "value": "1"}]),
        control([]),
        ok(),
    )
    reply = make(transport, [], tools={"plan": plan}).ask("plan")
    results = [
        json.loads(r.body or b"")["returnControlResults"]["results"][0] for r, _ in transport.requests[1:]
    ]
    assert seen == [(3, None)]
    assert results[0] == {"actionGroup": "client_tools", "function": "plan", "body": "planned"}
    assert [r.get("responseState") for r in results] == [None, "REPROMPT", "REPROMPT", "REPROMPT"]
    assert results[1]["body"].startswith("Parameter 'days' must be a whole number")
    assert results[2]["body"] == "plan has no parameter(s) 'weeks'. It takes: days (integer), note (string)."
    assert (
        results[3]["body"]
        == "plan is missing required parameter(s) days. It takes: days (integer), note (string)."
    )
    assert reply.round_trips == 4


def test_a_crashing_tool_is_a_failure_shown_to_the_user() -> None:
    def explode() -> str:
        """Explodes."""
        raise RuntimeError("boom")

    inputs = [{"actionGroup": "client_tools", "function": "explode", "parameters": []}]
    control = ok(
        {
            "sessionId": "s",
            "completion": "",
            "citations": [],
            "returnControl": {"invocationId": "i", "invocationInputs": inputs},
        }
    )
    transport = ScriptedTransport(control, ok())
    reply = make(transport, [], tools={"explode": explode}).ask("go")
    (result,) = json.loads(transport.requests[1][0].body or b"")["returnControlResults"]["results"]
    assert (result["responseState"], result["body"]) == ("FAILURE", TOOL_ERROR)
    assert isinstance(reply.tool_runs[0].error, RuntimeError)


def test_ctrl_c_during_a_request_exits_130_and_still_ends_the_session() -> None:
    transport = ScriptedTransport(KeyboardInterrupt(), HttpResponse(204, {}, b""))
    run = run_cli(
        ["ask", "hi", "--url", URL, "--session-id", "s-9", "--auth", "none"],
        deps=Dependencies(transport=transport, sleep=lambda s: None),
    )
    assert run.code == 130
    assert [(r.method, r.url) for r, _ in transport.requests] == [("POST", URL), ("DELETE", f"{URL}/s-9")]
    assert run.stderr_lines == ["", "· session s-9 ended"]


def test_a_failed_end_of_session_is_only_a_warning() -> None:
    transport = ScriptedTransport(ok(), *[broken("refused", sent=False)] * 4)
    run = run_cli(
        ["ask", "hi", "--url", URL, "--auth", "none"],
        deps=Dependencies(transport=transport, sleep=lambda s: None),
    )
    assert (run.code, run.stdout) == (0, "ok\n")
    assert run.stderr_lines == [
        "warning: could not end session s-1: DELETE to api.example failed: refused happened "
        "(after 4 attempts)"
    ]


# --- transport failure classification --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind", "detail"),
    [
        (
            socket.gaierror(-2, "Name or service not known"),
            "dns",
            "cannot resolve host name (Name or service not known)",
        ),
        (ConnectionRefusedError(111, "Connection refused"), "refused", "connection refused"),
        (ssl.SSLError(1, "[SSL] wrong version number"), "tls", "TLS handshake failed"),
        (TimeoutError("timed out"), "timeout", "no answer within 7 s"),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "reset",
            "the connection was closed unexpectedly",
        ),
        (OSError(101, "Network is unreachable"), "network", "network is unreachable"),
    ],
)
def test_transport_failures_are_classified(error: OSError, kind: str, detail: str) -> None:
    failure = _failure(error, "h", sent=False, timeout=7.0)
    assert failure.kind == kind
    assert failure.detail.startswith(detail)
