"""A REAL ``bedrock-agentcore`` client (the function's own ``create_client``) whose HTTP layer replays
scripted responses, like ``invoker_fakes.FakeAgent`` does for Classic: botocore serialises InvokeHarness
and StopRuntimeSession and parses their event stream and errors from raw bytes."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from functions.invoker import handler as handler_module
from functions.invoker.agentcore import create_client
from functions.invoker.guardrail import create_client as create_guardrail_client
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import (
    BASE_ENV,
    BOTO_SESSION,
    GENERATED_SESSION,
    UPSTREAM_REQUEST_ID,
    FakeAgent,
    FakeClock,
    FakeContext,
    Harness,
    LogCapture,
    ScriptedRaw,
)

ACCOUNT = "123456789012"
HARNESS_ARN = f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:harness/bedrock_vpc_agent_test-abcdefghij"
RUNTIME_ARN = (
    f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:runtime/harness_bedrock_vpc_agent_test-klmnopqrst"
)
CLIENT_GROUP = "client_tools"
AGENTCORE_ENV = {
    "AGENT_BACKEND": "agentcore",
    "HARNESS_ARN": HARNESS_ARN,
    "HARNESS_RUNTIME_ARN": RUNTIME_ARN,
    "INLINE_TOOL_GROUPS": json.dumps(
        {"get_local_time": CLIENT_GROUP, "confirm_action": CLIENT_GROUP, "confirm_with_user": CLIENT_GROUP}
    ),
}
SESSION_HEADER = "x-amzn-bedrock-agentcore-runtime-session-id"


class FakeHarness(FakeAgent):
    """``FakeAgent``'s scripting over the AgentCore data plane."""

    @classmethod
    def create(cls) -> FakeHarness:
        fake = cls(client=create_client(read_timeout_s=28.0, session=BOTO_SESSION))
        for operation in ("InvokeHarness", "StopRuntimeSession"):
            fake.client.meta.events.register(f"before-send.bedrock-agentcore.{operation}", fake._send)
        return fake

    def _streaming(self, make_raw: Callable[[], ScriptedRaw], before: Callable[[], None] | None) -> Any:
        def respond(request: AWSPreparedRequest) -> AWSResponse:
            if before is not None:
                before()
            raw = make_raw()
            self.raws.append(raw)
            headers = {
                "x-amzn-requestid": UPSTREAM_REQUEST_ID,
                "content-type": "application/vnd.amazon.eventstream",
            }
            return AWSResponse(request.url, 200, headers, raw)

        return respond

    def stopped(self) -> None:
        """Answer the next StopRuntimeSession with 200 and an empty JSON body."""

        def respond(request: AWSPreparedRequest) -> AWSResponse:
            headers = {"x-amzn-requestid": UPSTREAM_REQUEST_ID, "content-type": "application/json"}
            return AWSResponse(request.url, 200, headers, ScriptedRaw([b"{}"]))

        self.script.append(respond)


# --- InvokeHarness stream members, as the service sends them ---------------------------------------


def text(*parts: str, index: int = 0) -> list[bytes]:
    return [
        es.event("messageStart", {"role": "assistant"}),
        *(es.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": p}}) for p in parts),
        es.event("contentBlockStop", {"contentBlockIndex": index}),
    ]


def stop(reason: str) -> bytes:
    return es.event("messageStop", {"stopReason": reason})


def usage(inp: int, out: int) -> bytes:
    return es.event(
        "metadata",
        {
            "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out},
            "metrics": {"latencyMs": 5},
        },
    )


def tool_use(tool_use_id: str, name: str, *inputs: str, index: int = 1, **start: Any) -> list[bytes]:
    return [
        es.event(
            "contentBlockStart",
            {
                "contentBlockIndex": index,
                "start": {"toolUse": {"toolUseId": tool_use_id, "name": name, **start}},
            },
        ),
        *(
            es.event(
                "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}
            )
            for piece in inputs
        ),
        es.event("contentBlockStop", {"contentBlockIndex": index}),
    ]


def tool_result(tool_use_id: str, body: str, index: int = 0) -> list[bytes]:
    return [
        es.event("messageStart", {"role": "user"}),
        es.event(
            "contentBlockStart",
            {
                "contentBlockIndex": index,
                "start": {"toolResult": {"toolUseId": tool_use_id, "status": "success"}},
            },
        ),
        es.event(
            "contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolResult": [{"text": body}]}}
        ),
        es.event("contentBlockStop", {"contentBlockIndex": index}),
    ]


def make_agentcore_harness(monkeypatch: pytest.MonkeyPatch, rand: float = 0.5) -> Harness:
    for name, value in {**BASE_ENV, **AGENTCORE_ENV}.items():
        monkeypatch.setenv(name, value)
    for classic_only in ("AGENT_ID", "AGENT_ALIAS_ID"):
        monkeypatch.delenv(classic_only)
    clock = FakeClock()
    fake = FakeHarness.create()

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


# --- ApplyGuardrail (bedrock-runtime), for the AgentCore backend's guardrail -----------------------

GUARDRAIL_ID = "gr0abc123def"
GUARDRAIL_VERSION = "3"
GUARDRAIL_ENV = {"GUARDRAIL_ID": GUARDRAIL_ID, "GUARDRAIL_VERSION": GUARDRAIL_VERSION}


class FakeGuardrail:
    """A REAL ``bedrock-runtime`` client (the function's own ``guardrail.create_client``) whose HTTP
    layer answers each ApplyGuardrail with the next scripted JSON body (``NONE`` when none is left)."""

    def __init__(self) -> None:
        self.client: Any = cast(Any, create_guardrail_client(read_timeout_s=28.0, session=BOTO_SESSION))
        self.client.meta.events.register("before-send.bedrock-runtime.ApplyGuardrail", self._send)
        self.script: list[Callable[[AWSPreparedRequest], AWSResponse]] = []
        self.requests: list[dict[str, Any]] = []  # {"path", "body"}

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(
            {"path": unquote(urlsplit(request.url).path), "body": json.loads(request.body or b"{}")}
        )
        if self.script:
            return self.script.pop(0)(request)
        return self._json(request, 200, passed())

    @staticmethod
    def _json(
        request: AWSPreparedRequest, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> AWSResponse:
        raw = ScriptedRaw([json.dumps(body).encode()])
        return AWSResponse(request.url, status, {"content-type": "application/json", **(headers or {})}, raw)

    def answer(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            self.script.append(functools.partial(self._json, status=200, body=body))

    def error(self, status: int, error_type: str) -> None:
        headers = {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
        self.script.append(lambda request: self._json(request, status, {"message": "simulated"}, headers))

    def sources(self) -> list[str]:
        return [request["body"]["source"] for request in self.requests]

    def texts(self) -> list[str]:
        return [request["body"]["content"][0]["text"]["text"] for request in self.requests]


def passed() -> dict[str, Any]:
    return {"usage": {"contentPolicyUnits": 1}, "action": "NONE", "outputs": [], "assessments": [{}]}


def intervened(message: str, **assessment: Any) -> dict[str, Any]:
    """An intervention as ApplyGuardrail answers it: ``outputs`` is the text to use instead."""
    return {
        "usage": {"contentPolicyUnits": 1},
        "action": "GUARDRAIL_INTERVENED",
        "actionReason": "Guardrail blocked.",
        "outputs": [{"text": message}],
        "assessments": [assessment],
    }


def make_guarded_agentcore_harness(monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, FakeGuardrail]:
    harness = make_agentcore_harness(monkeypatch)
    harness.set_env(**GUARDRAIL_ENV)
    fake = FakeGuardrail()
    runtime = dataclasses.replace(handler_module.RUNTIME, guardrail_client=lambda read_timeout_s: fake.client)
    monkeypatch.setattr(handler_module, "RUNTIME", runtime)
    return harness, fake
