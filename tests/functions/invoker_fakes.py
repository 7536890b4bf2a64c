"""Test doubles for the invoker: a REAL botocore client whose HTTP layer replays scripted responses.

``FakeAgent`` registers a ``before-send`` handler on a real ``bedrock-agent-runtime`` client built by
the function's own ``create_client`` (so the botocore ``Config`` under test is the production one).
Responses are raw HTTP: event-stream bytes (``tests.functions.eventstream``) or error bodies with
``x-amzn-errortype``; botocore's rest-json and event-stream parsers turn them into what the handler
sees. Requests are recorded as botocore would have sent them (URL, headers, JSON body).
"""

from __future__ import annotations

import io
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from functions.invoker import handler as handler_module
from functions.invoker.classic import create_client

AGENT_ID = "AGENT12345"
ALIAS_ID = "ALIAS12345"
ORIGIN = "https://app.example.com"
OTHER_ORIGIN = "https://evil.example.net"
API_REQUEST_ID = "api-req-0001"
UPSTREAM_REQUEST_ID = "upstream-req-0001"
GENERATED_SESSION = "generated-session-0001"
BASE_ENV = {
    "AGENT_ID": AGENT_ID,
    "AGENT_ALIAS_ID": ALIAS_ID,
    "ALLOWED_ORIGINS": json.dumps([ORIGIN, "http://localhost:5173"]),
    "API_DEADLINE_MS": "29000",
    "AWS_REGION": "us-east-1",
}
# One botocore session for the whole run: it caches the loaded service model, so creating a fresh
# client per test costs a few milliseconds instead of re-reading the JSON model.
BOTO_SESSION = boto3.session.Session(
    aws_access_key_id="AKIDEXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    region_name="us-east-1",
)


class FakeClock:
    """Monotonic seconds that only move when a test (or the handler's ``sleep``) moves them."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> Callable[[], None]:
        """A stream step that moves time forward (the agent took ``seconds`` to send the next part)."""

        def step() -> None:
            self.now += seconds

        return step


@dataclass
class FakeContext:
    remaining_ms: int = 60_000
    function_name: str = "invoker"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:invoker"
    aws_request_id: str = "lambda-req-0001"
    log_group_name: str = "/aws/lambda/invoker"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


Step = bytes | Callable[[], None] | BaseException


class ScriptedRaw:
    """Stands in for urllib3's ``HTTPResponse``: ``stream()`` yields the scripted byte pieces.

    Callables run between pieces (to move the fake clock); exceptions are raised where they appear,
    the way urllib3 raises a read timeout or a reset connection in the middle of a body.
    """

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps = list(steps)
        self.closed = False

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        for step in self.steps:
            if isinstance(step, BaseException):
                raise step
            if callable(step):
                step()
                continue
            yield step

    def close(self) -> None:
        self.closed = True


@dataclass
class SentRequest:
    method: str
    url: str
    path: str  # URL-decoded
    headers: dict[str, str]
    body: dict[str, Any]


Responder = Callable[[AWSPreparedRequest], AWSResponse]


def _pieces(steps: Iterable[Step], split: int | None) -> list[Step]:
    pieces: list[Step] = []
    for step in steps:
        if isinstance(step, bytes) and split:
            pieces.extend(step[i : i + split] for i in range(0, len(step), split))
        else:
            pieces.append(step)
    return pieces


@dataclass
class FakeAgent:
    client: Any
    script: deque[Responder] = field(default_factory=deque)
    requests: list[SentRequest] = field(default_factory=list)
    raws: list[ScriptedRaw] = field(default_factory=list)
    fallback: Responder | None = None
    read_timeouts: list[float] = field(default_factory=list)  # asked for by each attempt

    @classmethod
    def create(cls) -> FakeAgent:
        fake = cls(client=create_client(read_timeout_s=28.0, session=BOTO_SESSION))
        fake.client.meta.events.register("before-send.bedrock-agent-runtime.InvokeAgent", fake._send)
        return fake

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body or b"{}"
        self.requests.append(
            SentRequest(
                method=request.method,
                url=request.url,
                path=unquote(urlsplit(request.url).path),
                headers={
                    k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
                },
                body=json.loads(body),
            )
        )
        if self.script:
            return self.script.popleft()(request)
        if self.fallback is not None:
            return self.fallback(request)
        raise AssertionError("the fake agent received an unscripted request")

    # -- scripting --------------------------------------------------------------------------------

    def stream(
        self, *steps: Step, split: int | None = None, before: Callable[[], None] | None = None
    ) -> ScriptedRaw:
        """Answer the next call with HTTP 200 and an event stream; ``split`` cuts messages into reads."""
        raw = ScriptedRaw(_pieces(steps, split))
        self.script.append(self._streaming(lambda: raw, before))
        return raw

    def always(self, *steps: Step) -> None:
        """Answer every unscripted call with a fresh copy of this event stream."""
        self.fallback = self._streaming(lambda: ScriptedRaw(steps), None)

    def _streaming(self, make_raw: Callable[[], ScriptedRaw], before: Callable[[], None] | None) -> Responder:
        def respond(request: AWSPreparedRequest) -> AWSResponse:
            if before is not None:
                before()
            raw = make_raw()
            self.raws.append(raw)
            session = unquote(urlsplit(request.url).path).split("/")[6]
            headers = {
                "x-amzn-requestid": UPSTREAM_REQUEST_ID,
                "content-type": "application/vnd.amazon.eventstream",
                "x-amzn-bedrock-agent-content-type": "application/json",
                "x-amz-bedrock-agent-session-id": session,
            }
            return AWSResponse(request.url, 200, headers, raw)

        return respond

    def error(self, status: int, error_type: str, message: str = "simulated failure") -> None:
        """Answer the next call with an HTTP error the way the service does (``x-amzn-errortype``)."""

        def respond(request: AWSPreparedRequest) -> AWSResponse:
            headers = {
                "x-amzn-requestid": UPSTREAM_REQUEST_ID,
                "x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                "content-type": "application/json",
            }
            raw = ScriptedRaw([json.dumps({"message": message}).encode()])
            return AWSResponse(request.url, status, headers, raw)

        self.script.append(respond)

    def fail(self, exc: BaseException) -> None:
        """Make the next HTTP send raise ``exc`` (connection errors, timeouts)."""

        def respond(request: AWSPreparedRequest) -> AWSResponse:
            raise exc

        self.script.append(respond)


def api_event(
    method: str = "POST",
    path: str = "/chat",
    body: object = None,
    headers: dict[str, str] | None = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    is_base64: bool = False,
    multi_value_headers: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event. ``body`` objects are JSON-encoded, strings kept verbatim."""
    if headers is None:
        headers = {"Content-Type": "application/json"}
    text = body if body is None or isinstance(body, str) else json.dumps(body)
    return {
        "resource": resource if resource is not None else path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_value_headers
        if multi_value_headers is not None
        else {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "requestId": API_REQUEST_ID,
            "resourcePath": resource if resource is not None else path,
            "httpMethod": method,
            "stage": "prod",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass
class Response:
    raw: dict[str, Any]

    @property
    def status(self) -> int:
        return int(self.raw["statusCode"])

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw["headers"])

    def json(self) -> Any:
        return json.loads(self.raw["body"])


class LogCapture(logging.Handler):
    """Collects the function's structured log lines exactly as Powertools renders them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(self.format(record) + "\n")

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line]

    def summary(self) -> dict[str, Any]:
        (line,) = [line for line in self.lines() if line.get("message") == "request completed"]
        return line


@dataclass
class Harness:
    agent: FakeAgent
    clock: FakeClock
    context: FakeContext
    logs: LogCapture
    monkeypatch: pytest.MonkeyPatch

    def call(self, event: dict[str, Any]) -> Response:
        return Response(handler_module.handler(event, cast(LambdaContext, self.context)))

    def chat(self, body: object, headers: dict[str, str] | None = None) -> Response:
        return self.call(api_event("POST", "/chat", body, headers))

    def set_env(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)


def make_harness(monkeypatch: pytest.MonkeyPatch, rand: float = 0.5) -> Harness:
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    clock = FakeClock()
    fake = FakeAgent.create()

    def client(settings: Any, read_timeout_s: float) -> Any:
        fake.read_timeouts.append(read_timeout_s)
        return fake.client

    monkeypatch.setattr(
        handler_module,
        "RUNTIME",
        handler_module.Runtime(
            client=client,
            clock=clock,
            sleep=clock.sleep,
            rand=lambda: rand,
            new_session_id=lambda: GENERATED_SESSION,
        ),
    )
    capture = LogCapture()
    capture.setFormatter(handler_module.logger.registered_formatter)
    std_logger = logging.getLogger(handler_module.logger.service)
    monkeypatch.setattr(std_logger, "handlers", [*std_logger.handlers, capture])
    return Harness(agent=fake, clock=clock, context=FakeContext(), logs=capture, monkeypatch=monkeypatch)
