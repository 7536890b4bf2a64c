"""``ChatClient``: the API contract of docs/api.md from the caller's side.

One turn is ``POST /chat``; when the answer hands control back (``returnControl``) the client runs the
requested ``client_tools`` functions locally and posts their results on the same session, until the
agent answers normally (at most ``max_round_trips`` times). ``end_session`` is ``DELETE /chat/{id}``.

Retries (``RetryPolicy``), the only places a request is sent twice:

* ``429`` and ``503``: after ``Retry-After`` seconds (or a short jittered backoff when the header is
  absent); an answer that asks for more than ``max_wait_s`` is reported instead of waited for. Both
  mean the turn was not accepted: API Gateway throttled it, or the invoker gave up before the agent
  produced anything it would replay. A daily quota (``QUOTA_EXCEEDED``) is not retried.
* A connection that failed before the request was sent (refused, unreachable, connect timeout).
* ``DELETE`` (idempotent) also after a read timeout, a dropped connection, 502 and 504.

A ``POST`` that may have reached the agent (read timeout, reset, 5xx other than 503) is never resent:
the agent may already have acted on it.

Streaming (``ask(text, on_text=...)`` with a ``StreamingTransport``): the turn is sent with
``Accept: application/x-ndjson`` and ``on_text`` gets each piece of the answer as it arrives
(docs/streaming.md). The same retries apply while nothing of the answer was received (an error
status, a connection that failed before sending); once the stream has begun nothing is resent: an
in-band ``error`` event is raised as ``StreamFailedError``, a stream without its final event as
``StreamCutError``.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from client.auth import Signer
from client.tools import CLIENT_ACTION_GROUP, CLIENT_TOOLS, ToolContext, tool_context
from client.tools_runner import ToolRun, fulfil, tool_specs
from client.transport import (
    HttpRequest,
    HttpResponse,
    StreamedHttpResponse,
    StreamingTransport,
    Transport,
    TransportError,
)

USER_AGENT: Final = "bedrock-vpc-agent-client/0.1"
NDJSON: Final = "application/x-ndjson"
# NDJSON preferred; an API deployed with apiStreaming false answers JSON, which is understood too.
STREAM_ACCEPT: Final = f"{NDJSON}, application/json;q=0.5"
# Failures before sending that a retry cannot fix: a name that does not resolve, an untrusted cert.
_PERMANENT_KINDS: Final = frozenset({"dns", "tls"})


class ChatError(Exception):
    """A request failed; ``str()`` is the one line shown to the user (without the ``error:`` prefix)."""


class ApiError(ChatError):
    """The API answered with an error status (normally the envelope of docs/api.md)."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None) -> None:
        self.status, self.code, self.message, self.request_id = status, code, message, request_id
        text = f"{status} {code}".rstrip() + (f" — {message}" if message else "")
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class NetworkError(ChatError):
    def __init__(self, error: TransportError, method: str, attempts: int) -> None:
        self.kind, self.sent = error.kind, error.sent
        text = f"{method} to {error.host} failed: {error.detail}"
        if error.sent and method == "POST" and error.kind in ("timeout", "reset"):
            text += "; the agent may have received the turn, so it was not resent"
        elif attempts > 1:
            text += f" (after {attempts} attempts)"
        super().__init__(text)


class ProtocolError(ChatError):
    """A 2xx answer that does not follow the API contract."""


class StreamCutError(ChatError):
    """A streamed answer stopped without its final event: the text received so far is incomplete.
    Never resent (the agent may have acted on the turn)."""

    def __init__(self, received: str, reason: str) -> None:
        self.received = received
        super().__init__(
            f"the answer was cut off ({reason}) after {len(received)} characters; the turn was not resent "
            "because the agent may already have acted on it"
        )


class StreamFailedError(ApiError):
    """The API reported an error in the middle of a streamed answer (an ``error`` event)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None,
        received: str,
        session_id: str | None = None,
    ) -> None:
        super().__init__(status, code, message, request_id)
        self.received = received
        self.session_id = session_id  # the turn's session: it exists, and the next turn continues it


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    max_wait_s: float = 30.0  # the longest Retry-After the client agrees to wait
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0


@dataclass(frozen=True)
class Reply:
    """A normal answer (``returnControl`` already resolved) and what happened on the way."""

    session_id: str
    completion: str
    citations: list[dict[str, Any]]
    raw: dict[str, Any]  # the final response JSON, as the API sent it
    # What the agent's guardrail did in the turn (docs/api.md); every round trip's, in order.
    guardrail_interventions: list[dict[str, Any]] = field(default_factory=list)
    tool_runs: list[ToolRun] = field(default_factory=list)
    round_trips: int = 0
    streamed: bool = False  # the text was handed to on_text as it arrived


class ChatClient:
    """Talks to one chat URL (``https://<api>/<stage>/chat``) over an injectable transport."""

    def __init__(
        self,
        url: str,
        *,
        signer: Signer,
        transport: Transport,
        timeout: float = 35.0,
        session_id: str | None = None,
        enable_trace: bool = False,
        tools: Mapping[str, Callable[..., Any]] = CLIENT_TOOLS,
        action_group: str = CLIENT_ACTION_GROUP,
        context: ToolContext | None = None,
        max_round_trips: int = 5,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_tool: Callable[[str], None] | None = None,
        streaming: StreamingTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.session_id = session_id
        self.enable_trace = enable_trace
        self.timeout = timeout
        self._signer = signer
        self._transport = transport
        self._specs = tool_specs(tools)
        self._action_group = action_group
        self._context = context or ToolContext()
        self._max_round_trips = max_round_trips
        self._policy = policy or RetryPolicy()
        self._sleep, self._rand, self._now = sleep, rand, now
        self._on_tool = on_tool
        self._streaming = streaming
        self.streamed = False  # whether the last answer arrived as a stream (its text went to on_text)

    # -- turns ----------------------------------------------------------------------------------

    def ask(self, text: str, on_text: Callable[[str], None] | None = None) -> Reply:
        """Send one user turn and resolve every ``returnControl`` until the agent answers.

        ``on_text``: stream the answer (when the transport can), handing each piece to it as it arrives.
        """
        answer = self.post_chat({"inputText": text}, on_text)
        runs: list[ToolRun] = []
        trips = 0
        interventions = list(_interventions(answer))
        while "returnControl" in answer:
            if trips >= self._max_round_trips:
                raise ChatError(
                    f"the agent returned control {trips + 1} times in one turn (the client stops after "
                    f"{self._max_round_trips}); ask again or start a new session"
                )
            trips += 1
            control = _object(answer["returnControl"], "returnControl")
            invocation_id = control.get("invocationId")
            inputs = control.get("invocationInputs")
            if not isinstance(invocation_id, str) or not isinstance(inputs, list) or not inputs:
                raise ProtocolError("the API returned a returnControl without invocationId/invocationInputs")
            results = [self._run(_object(item, "invocationInputs[]")) for item in inputs]
            runs.extend(results)
            answer = self.post_chat(
                {
                    "returnControlResults": {
                        "invocationId": invocation_id,
                        "results": [run.result for run in results],
                    }
                },
                on_text,
            )
            interventions.extend(_interventions(answer))
        return Reply(
            session_id=answer["sessionId"],
            completion=answer["completion"],
            citations=answer["citations"],
            raw=answer,
            guardrail_interventions=interventions,
            tool_runs=runs,
            round_trips=trips,
            streamed=self.streamed,
        )

    @property
    def streams(self) -> bool:
        return self._streaming is not None

    def post_chat(
        self, fields: Mapping[str, Any], on_text: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """One ``POST /chat`` on the current session; adopts the session id the API answers with."""
        streaming = on_text is not None and self._streaming is not None
        body: dict[str, Any] = dict(fields)
        if self.session_id is not None:
            body["sessionId"] = self.session_id
        if self.enable_trace:
            body["enableTrace"] = True
        encoded = json.dumps(body).encode("utf-8")
        if streaming:
            assert on_text is not None
            answer = self._stream_chat(encoded, on_text)
        else:
            self.streamed = False
            answer = _parse_chat_response(self._exchange("POST", self.url, encoded, idempotent=False))
        self.session_id = answer["sessionId"]
        return answer

    def end_session(self, timeout: float = 5.0) -> bool:
        """``DELETE /chat/{sessionId}``; True when the API confirmed it. Raises ChatError on failure."""
        if self.session_id is None:
            return False
        url = f"{self.url}/{quote(self.session_id, safe='')}"
        self._exchange("DELETE", url, None, idempotent=True, timeout=timeout)
        self.session_id = None
        return True

    def _run(self, invocation_input: dict[str, Any]) -> ToolRun:
        if self._on_tool is not None:
            name = invocation_input.get("function") or invocation_input.get("apiPath") or "?"
            self._on_tool(f"{invocation_input.get('actionGroup')}.{name}")
        with tool_context(self._context):
            return fulfil(invocation_input, self._action_group, self._specs)

    # -- HTTP -----------------------------------------------------------------------------------

    def _exchange(
        self, method: str, url: str, body: bytes | None, *, idempotent: bool, timeout: float | None = None
    ) -> HttpResponse:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        policy = self._policy
        attempt = 0
        while True:
            attempt += 1
            request = self._signer(HttpRequest(method, url, dict(headers), body))
            last = attempt >= policy.max_attempts
            try:
                response = self._transport(request, timeout or self.timeout)
            except TransportError as error:
                retry = (not error.sent or idempotent) and error.kind not in _PERMANENT_KINDS
                if retry and not last:
                    self._sleep(self._backoff(attempt))
                    continue
                raise NetworkError(error, method, attempt) from None
            if 200 <= response.status < 300:
                return response
            failure = _api_error(response)
            if not last:
                delay = self._retry_delay(response, failure, attempt, idempotent)
                if delay is not None:
                    self._sleep(delay)
                    continue
            raise failure

    def _stream_chat(self, body: bytes, on_text: Callable[[str], None]) -> dict[str, Any]:
        """``POST /chat`` asking for NDJSON; ``on_text`` gets each piece of the answer as it arrives.

        Returns the same object as a buffered answer. Retries only while nothing of the answer was
        received (the status was an error, or the connection failed before the request was sent).
        """
        assert self._streaming is not None
        headers = {"Accept": STREAM_ACCEPT, "Content-Type": "application/json", "User-Agent": USER_AGENT}
        policy = self._policy
        attempt = 0
        while True:
            attempt += 1
            request = self._signer(HttpRequest("POST", self.url, dict(headers), body))
            last = attempt >= policy.max_attempts
            try:
                response = self._streaming.open(request, self.timeout)
            except TransportError as error:
                if not error.sent and error.kind not in _PERMANENT_KINDS and not last:
                    self._sleep(self._backoff(attempt))
                    continue
                raise NetworkError(error, "POST", attempt) from None
            if not 200 <= response.status < 300:
                failure = _api_error(_buffered(response))
                delay = None if last else self._retry_delay(response, failure, attempt, idempotent=False)
                if delay is not None:
                    self._sleep(delay)
                    continue
                raise failure
            if not (response.header("content-type") or "").startswith(NDJSON):
                self.streamed = False  # an API deployed without streaming: its JSON answer
                return _parse_chat_response(_buffered(response))
            self.streamed = True
            try:
                return _read_stream(response, on_text)
            except StreamFailedError as failed:
                if failed.session_id:
                    self.session_id = failed.session_id
                raise

    def _retry_delay(
        self, response: HttpResponse | StreamedHttpResponse, failure: ApiError, attempt: int, idempotent: bool
    ) -> float | None:
        if response.status in (429, 503) and failure.code != "QUOTA_EXCEEDED":
            after = _retry_after(response.header("retry-after"), self._now())
            if after is None:
                return self._backoff(attempt)
            return after if after <= self._policy.max_wait_s else None
        if idempotent and response.status in (502, 504):
            return self._backoff(attempt)
        return None

    def _backoff(self, attempt: int) -> float:
        policy = self._policy
        ceiling = min(policy.backoff_cap_s, policy.backoff_base_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._rand())


def _buffered(response: StreamedHttpResponse) -> HttpResponse:
    try:
        body = response.read()
    except TransportError:
        body = b""
    return HttpResponse(response.status, response.headers, body)


def _read_stream(response: StreamedHttpResponse, on_text: Callable[[str], None]) -> dict[str, Any]:
    """Consume NDJSON events until ``done`` (the answer) or ``error`` (raised); anything else is a cut."""
    parts: list[str] = []
    citations: list[Any] = []
    control: dict[str, Any] | None = None
    interventions: list[Any] = []
    try:
        for raw in response.lines:
            try:
                event = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ProtocolError("the API streamed a line that is not JSON") from None
            kind = event.get("type") if isinstance(event, dict) else None
            if kind == "chunk" and isinstance(event.get("text"), str):
                parts.append(event["text"])
                on_text(event["text"])
            elif kind == "citation" and isinstance(event.get("citations"), list):
                citations.extend(event["citations"])
            elif kind == "returnControl" and control is None:
                control = _object(event.get("returnControl"), "returnControl")
            elif kind == "guardrailIntervention" and isinstance(event.get("guardrailIntervention"), dict):
                interventions.append(event["guardrailIntervention"])
            elif kind == "done":
                answer: dict[str, Any] = {
                    "sessionId": event.get("sessionId"),
                    "completion": "".join(parts),
                    "citations": citations,
                    "guardrailInterventions": interventions,
                    "usage": event.get("usage"),
                }
                if control is not None:
                    answer["returnControl"] = control
                if not isinstance(answer["sessionId"], str) or not answer["sessionId"]:
                    raise ProtocolError("the API's done event has no sessionId")
                return answer
            elif kind == "error":
                error = _object(event.get("error"), "the error event")
                status = event.get("status")
                raise StreamFailedError(
                    status if isinstance(status, int) else 502,
                    str(error.get("code") or ""),
                    _one_line(str(error.get("message") or "")),
                    error.get("requestId") if isinstance(error.get("requestId"), str) else None,
                    "".join(parts),
                    event.get("sessionId") if isinstance(event.get("sessionId"), str) else None,
                )
            # Unknown event types are ignored (docs/streaming.md).
        raise StreamCutError("".join(parts), "the stream ended without its final event")
    except TransportError as error:
        raise StreamCutError("".join(parts), error.detail) from None
    finally:
        response.close()


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _api_error(response: HttpResponse) -> ApiError:
    header_id = response.header("x-amzn-requestid") or response.header("x-amz-apigw-id")
    try:
        document = json.loads(response.body.decode("utf-8")) if response.body else None
    except (UnicodeDecodeError, ValueError):
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        message = error.get("message")
        request_id = error.get("requestId")
        return ApiError(
            response.status,
            error["code"],
            _one_line(message) if isinstance(message, str) else "",
            request_id if isinstance(request_id, str) and request_id else header_id,
        )
    # Not the API's envelope, e.g. a proxy or API Gateway without the configured gateway responses.
    message = document.get("message") or document.get("Message") if isinstance(document, dict) else None
    if not isinstance(message, str):
        message = _one_line(response.body.decode("utf-8", "replace"))[:200] if response.body else ""
    return ApiError(response.status, "", _one_line(message), header_id)


def _parse_chat_response(response: HttpResponse) -> dict[str, Any]:
    try:
        answer = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"the API answered {response.status} with a body that is not JSON") from None
    answer = _object(answer, "the response")
    if not isinstance(answer.get("sessionId"), str) or not answer["sessionId"]:
        raise ProtocolError("the API's response has no sessionId")
    if not isinstance(answer.get("completion"), str):
        raise ProtocolError("the API's response has no completion text")
    if not isinstance(answer.get("citations"), list):
        raise ProtocolError("the API's response has no citations list")
    return answer


def _interventions(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's guardrail interventions (absent from an API older than the field: none)."""
    items = answer.get("guardrailInterventions")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} is not a JSON object")
    return value


def _one_line(text: str) -> str:
    return " ".join(text.split())


__all__ = [
    "ApiError",
    "ChatClient",
    "ChatError",
    "NetworkError",
    "ProtocolError",
    "Reply",
    "RetryPolicy",
    "StreamCutError",
    "StreamFailedError",
]
