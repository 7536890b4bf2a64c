"""Lambda entry point ``functions.invoker.handler.handler``: API Gateway (REST proxy) -> InvokeAgent.

Routes: ``POST /chat``, ``DELETE /chat/{sessionId}``, ``OPTIONS`` on both (see docs/api.md).
The handler is thin: ``process`` parses, validates, runs the turn through the configured
``AgentBackend`` (``backend.backend_from_settings``), collects its events and always answers with a
JSON envelope; one structured log line per request carries sizes, counts, latency and token usage,
never prompt, completion or citation text. ``answer`` is the same pipeline with the rendering of a
chat turn left to the caller: ``functions.invoker.streaming`` renders the same events as NDJSON.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.invoker import apigw, backend, guardrail
from functions.invoker.budget import Retrying, RetryPolicy, request_deadline
from functions.invoker.config import Settings, load_settings
from functions.invoker.errors import ApiError, ConfigError
from functions.invoker.events import Event, StreamStats, collect
from functions.invoker.runtime import StreamedResponse
from functions.invoker.validation import parse_chat_request, parse_json_object, validate_session_id

logger = Logger()

# botocore logs request bodies and every event-stream payload at DEBUG: keep prompts and completions
# out of the logs even when the function's log level is lowered to DEBUG.
for _name in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_name).setLevel(logging.INFO)


@dataclass
class Runtime:
    """Everything the handler needs from the outside world, injectable for tests."""

    client: Callable[[Settings, float], Any]  # (settings, read timeout s) -> the backend's boto3 client
    # (read timeout s) -> a bedrock-runtime client, for ApplyGuardrail (AgentCore with a guardrail)
    guardrail_client: Callable[[float], Any] = lambda read_timeout_s: _shared_guardrail_client(read_timeout_s)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    new_session_id: Callable[[], str] = lambda: str(uuid.uuid4())
    policy: RetryPolicy = field(default_factory=RetryPolicy)


# Clients by (backend, read timeout): a client's timeouts are fixed, and each attempt's socket reads
# must end before its deadline. The first attempt of every request asks for the same timeout, and
# ApplyGuardrail always for the same one (agentcore.guardrail_read_timeout).
_clients: dict[tuple[str, float], Any] = {}
MAX_CLIENTS = 4


def _cached(key: tuple[str, float], create: Callable[[], Any]) -> Any:
    """One client per service, read timeout and execution environment, created on first use; the
    least recently used goes when the cache is full (a retry's timeout, rarely needed again)."""
    client = _clients.pop(key, None)
    if client is None:
        if len(_clients) >= MAX_CLIENTS:
            del _clients[next(iter(_clients))]
        client = create()
    _clients[key] = client  # the most recently used is last
    return client


def _shared_client(settings: Settings, read_timeout_s: float) -> Any:
    return _cached(
        (settings.backend, read_timeout_s),
        lambda: backend.create_client(settings, read_timeout_s=read_timeout_s),
    )


def _shared_guardrail_client(read_timeout_s: float) -> Any:
    """``bedrock-runtime`` clients for ``ApplyGuardrail``: the one of the usual timeout is kept; one
    of the last seconds of a budget (a shorter timeout each second) is used once, so it never
    pushes the backend's client out of the cache."""
    if read_timeout_s < guardrail.GUARDRAIL_READ_TIMEOUT_S:
        return guardrail.create_client(read_timeout_s)
    return _cached(("guardrail", read_timeout_s), lambda: guardrail.create_client(read_timeout_s))


RUNTIME = Runtime(client=_shared_client)


@dataclass
class RequestLog:
    """The fields of the per-request summary line."""

    method: str = ""
    route: str | None = None
    status: int = 0
    error_code: str | None = None
    upstream_error: str | None = None
    session_id: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    latency_ms: int = 0
    trace_enabled: bool = False
    streamed: bool = False  # answered as NDJSON; status is then the in-band error's, if any
    first_byte_ms: int | None = None
    stats: StreamStats = field(default_factory=StreamStats)


@dataclass
class Turn:
    """A chat turn under way, handed to a renderer, which reads ``events`` (lazily, once)."""

    session_id: str
    request_id: str
    accept: str | None  # the request's Accept header (None when absent or ambiguous)
    cors: dict[str, str]
    events: Iterator[Event]
    log: RequestLog
    clock: Callable[[], float]
    started: float

    def first_byte(self) -> None:
        """The status and first event are about to be sent."""
        self.log.streamed = True
        self.log.first_byte_ms = round((self.clock() - self.started) * 1000)

    def finish(self, error: ApiError | None, response_bytes: int) -> None:
        """A streamed answer ended (``error``: the in-band error it ended with): log its summary."""
        log = self.log
        log.status = 200 if error is None else error.status
        if error is not None:
            log.error_code, log.upstream_error = error.code, error.upstream
        log.response_bytes = response_bytes
        log.latency_ms = round((self.clock() - self.started) * 1000)
        _log_summary(log)


Rendered = dict[str, Any] | StreamedResponse


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process(event, context, RUNTIME)


def process(event: object, context: Any, runtime: Runtime) -> dict[str, Any]:
    """The buffered answer (a proxy response dict) to one API Gateway event."""
    response = answer(event, context, runtime, answer_json)
    assert isinstance(response, dict)  # answer_json renders dicts only
    return response


def answer(event: object, context: Any, runtime: Runtime, render: Callable[[Turn], Rendered]) -> Rendered:
    """Every route answered as ``process`` does, a chat turn rendered by ``render``: errors raised
    by ``render`` (before it returns) become error responses. A ``StreamedResponse`` logs its summary
    when its body ends (``Turn.finish``); anything else is logged here."""
    started = runtime.clock()
    request_id = apigw.request_id_of(event, str(getattr(context, "aws_request_id", "")))
    log = RequestLog()
    cors: dict[str, str] = {"Vary": "Origin"}
    try:
        settings = load_settings(os.environ)
        request = apigw.parse_event(event)
        log.method, log.route = request.method, request.route
        cors = apigw.cors_headers(request.headers.get("origin"), settings.allowed_origins)
        response = _route(request, context, settings, runtime, started, log, cors, render, request_id)
    except ApiError as error:
        response = apigw.error_response(error, request_id, cors)
        log.error_code, log.upstream_error = error.code, error.upstream
    except ConfigError as error:
        logger.error("invalid configuration", extra={"detail": str(error)})
        response = apigw.error_response(
            ApiError(500, "CONFIG_ERROR", "the service is misconfigured"), request_id, cors
        )
        log.error_code = "CONFIG_ERROR"
    except Exception:
        logger.exception("unhandled error")
        response = apigw.error_response(ApiError(500, "INTERNAL_ERROR", "internal error"), request_id, cors)
        log.error_code = "INTERNAL_ERROR"
    if isinstance(response, StreamedResponse):
        return response
    log.status = response["statusCode"]
    log.response_bytes = len(response["body"].encode("utf-8"))
    log.latency_ms = round((runtime.clock() - started) * 1000)
    _log_summary(log)
    return response


def _route(
    request: apigw.HttpRequest,
    context: Any,
    settings: Settings,
    runtime: Runtime,
    started: float,
    log: RequestLog,
    cors: dict[str, str],
    render: Callable[[Turn], Rendered],
    request_id: str,
) -> Rendered:
    if request.route is None:
        raise ApiError(404, "NOT_FOUND", "no such resource")
    allowed = apigw.ROUTE_METHODS[request.route]
    if request.method not in allowed:
        raise ApiError(
            405, "METHOD_NOT_ALLOWED", f"use {' or '.join(allowed)}", headers={"Allow": ", ".join(allowed)}
        )
    if request.method == "OPTIONS":
        return apigw.empty_response(204, apigw.preflight_headers(request.route, cors))
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = request_deadline(
        runtime.clock, started, remaining() if callable(remaining) else None, settings.api_deadline_ms
    )

    def on_retry(retry: int, delay: float, upstream: str) -> None:
        logger.warning(
            "agent throttled, retrying",
            extra={"retry": retry, "delay_ms": round(delay * 1000), "upstream": upstream},
        )

    def agent() -> backend.AgentBackend:
        """Built once the request is valid: the first one creates the environment's client."""
        retrying = Retrying(runtime.policy, runtime.sleep, runtime.rand, on_retry)
        return backend.backend_from_settings(
            settings,
            lambda read_timeout_s: runtime.client(settings, read_timeout_s),
            retrying,
            runtime.guardrail_client,
        )

    if request.route == apigw.ROUTE_SESSION:
        session_id = validate_session_id(request.session_id_param, "path parameter sessionId")
        _set_session(log, session_id)
        agent().end_session(session_id, deadline, log.stats)
        return apigw.empty_response(204, cors)

    apigw.require_json_content(request.headers)
    raw = apigw.decode_body(request.body, request.is_base64)
    log.request_bytes = len(raw)
    chat = parse_chat_request(parse_json_object(raw))
    session_id = chat.session_id or runtime.new_session_id()
    _set_session(log, session_id)
    log.trace_enabled = chat.enable_trace
    turn = Turn(
        session_id=session_id,
        request_id=request_id,
        accept=request.headers.get("accept"),
        cors=cors,
        events=agent().converse(session_id, chat, deadline, log.stats),
        log=log,
        clock=runtime.clock,
        started=started,
    )
    return render(turn)


def answer_json(turn: Turn) -> dict[str, Any]:
    """The buffered answer of a chat turn: every event collected into one JSON object."""
    reply = collect(turn.events)  # the backend raises AGENT_INCOMPLETE_RESPONSE, also mid-stream
    payload: dict[str, Any] = {
        "sessionId": turn.session_id,
        "completion": reply.completion,
        "citations": reply.citations,
        "guardrailInterventions": [event.as_json() for event in reply.guardrail_interventions],
    }
    if reply.return_control is not None:
        payload["returnControl"] = reply.return_control
    return apigw.json_response(200, payload, turn.cors)


def _set_session(log: RequestLog, session_id: str) -> None:
    log.session_id = session_id
    logger.append_keys(session_id=session_id)


def _log_summary(log: RequestLog) -> None:
    # A shallow merge of scalar fields: dataclasses.asdict deep-copies, and this runs on every request.
    fields: dict[str, Any] = {**vars(log), **vars(log.stats)}
    del fields["stats"]
    if log.status >= 500:
        logger.error("request completed", extra=fields)
    elif log.status == 429:
        logger.warning("request completed", extra=fields)
    else:
        logger.info("request completed", extra=fields)
