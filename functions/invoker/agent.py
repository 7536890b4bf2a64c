"""InvokeAgent: request parameters, the response event stream, error mapping and throttling retries.

The boto3 client is created lazily by ``create_client`` (``boto3`` itself is imported there, keeping
~190 ms of imports out of the handler module) with botocore retries off: ``invoke`` owns retrying,
because only it knows the request's remaining time budget.

Nothing here logs: callers receive ``StreamStats`` (counts, token usage, ids; never text).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import ReadTimeoutError as BotocoreReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ReadTimeoutError

from functions.invoker.budget import Deadline, RetryPolicy
from functions.invoker.config import Settings
from functions.invoker.errors import ApiError
from functions.invoker.validation import ApiResult, ChatRequest, FunctionResult, ReturnControlResults

CONNECT_TIMEOUT_S: Final = 2.0
MAX_UPSTREAM_MESSAGE: Final = 300


class AgentRuntime(Protocol):
    """The slice of the ``bedrock-agent-runtime`` client this function uses."""

    def invoke_agent(self, **kwargs: Any) -> Mapping[str, Any]: ...


def create_client(read_timeout_s: float, session: Any = None) -> AgentRuntime:
    """A ``bedrock-agent-runtime`` client whose only retry loop is ours.

    ``total_max_attempts=1`` disables botocore retries; the read timeout bounds one socket read (the
    agent may think for most of the budget before its first event), the connect timeout is short
    because the VPC interface endpoint answers within milliseconds or not at all.
    """
    import boto3  # deliberately lazy, see the module docstring
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,
    )
    factory = session if session is not None else boto3.session.Session()
    client: AgentRuntime = factory.client("bedrock-agent-runtime", config=config)
    return client


# --- request parameters -------------------------------------------------------------------------


def chat_params(settings: Settings, session_id: str, request: ChatRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "agentId": settings.agent_id,
        "agentAliasId": settings.agent_alias_id,
        "sessionId": session_id,
        "enableTrace": request.enable_trace,
    }
    if request.return_control_results is not None:
        params["sessionState"] = session_state(request.return_control_results)
    else:
        params["inputText"] = request.input_text
    return params


def end_session_params(settings: Settings, session_id: str) -> dict[str, Any]:
    return {
        "agentId": settings.agent_id,
        "agentAliasId": settings.agent_alias_id,
        "sessionId": session_id,
        "endSession": True,
    }


def session_state(results: ReturnControlResults) -> dict[str, Any]:
    """``sessionState`` resuming a returned-control turn (botocore's ``InvocationResultMember``)."""
    return {
        "invocationId": results.invocation_id,
        "returnControlInvocationResults": [_invocation_result(item) for item in results.results],
    }


def _invocation_result(item: FunctionResult | ApiResult) -> dict[str, Any]:
    result: dict[str, Any] = {"actionGroup": item.action_group}
    if isinstance(item, FunctionResult):
        result["function"] = item.function
        content_type = "TEXT"
    else:
        result["apiPath"] = item.api_path
        result["httpMethod"] = item.http_method
        if item.http_status_code is not None:
            result["httpStatusCode"] = item.http_status_code
        content_type = "application/json"
    if item.body is not None:
        result["responseBody"] = {content_type: {"body": item.body}}
    if item.response_state is not None:
        result["responseState"] = item.response_state
    if item.confirmation_state is not None:
        result["confirmationState"] = item.confirmation_state
    if item.agent_id is not None:
        result["agentId"] = item.agent_id
    key = "functionResult" if isinstance(item, FunctionResult) else "apiResult"
    return {key: result}


# --- the response stream ------------------------------------------------------------------------


@dataclass
class StreamStats:
    """What the handler logs about the agent call. Counts and ids only."""

    attempts: int = 0
    throttled: int = 0
    chunks: int = 0
    completion_bytes: int = 0
    citations: int = 0
    trace_events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    return_control: bool = False
    invocation_inputs: int = 0
    upstream_request_id: str | None = None


@dataclass
class AgentReply:
    completion: str
    citations: list[dict[str, Any]]
    return_control: dict[str, Any] | None
    chunks: int

    @property
    def answered(self) -> bool:
        """Whether the stream carried an answer (a chunk) or handed control back to the client."""
        return self.chunks > 0 or self.return_control is not None


# Trace members whose ``modelInvocationOutput.metadata.usage`` counts model tokens.
_MODEL_TRACES: Final = (
    "preProcessingTrace",
    "orchestrationTrace",
    "postProcessingTrace",
    "routingClassifierTrace",
)
# RetrievalResultLocation member -> its address field. SQL locations carry a query, not an address.
_LOCATION_ADDRESS: Final = {
    "s3Location": "uri",
    "webLocation": "url",
    "confluenceLocation": "url",
    "salesforceLocation": "url",
    "sharePointLocation": "url",
    "kendraDocumentLocation": "uri",
    "customDocumentLocation": "id",
    "googleDriveLocation": "url",
    "oneDriveLocation": "url",
}


class _Collector:
    def __init__(self, stats: StreamStats) -> None:
        self._stats = stats
        self._parts: list[bytes] = []
        self._chunks = 0
        self._citations: list[dict[str, Any]] = []
        self._return_control: dict[str, Any] | None = None

    @property
    def produced_output(self) -> bool:
        return self._chunks > 0 or self._return_control is not None

    def add(self, event: Mapping[str, Any]) -> None:
        if "chunk" in event:
            self._chunk(_mapping(event["chunk"]))
        elif "trace" in event:
            self._trace(_mapping(event["trace"]))
        elif "returnControl" in event and self._return_control is None:
            self._return_control = normalize_return_control(_mapping(event["returnControl"]))
            self._stats.return_control = True
            self._stats.invocation_inputs = len(self._return_control["invocationInputs"])

    def _chunk(self, chunk: Mapping[str, Any]) -> None:
        data = chunk.get("bytes")
        if isinstance(data, bytes):
            self._parts.append(data)
            self._stats.completion_bytes += len(data)
        self._chunks += 1
        self._stats.chunks += 1
        citations = _dig(chunk, "attribution", "citations")
        if isinstance(citations, list):
            for citation in citations:
                self._citations.append(normalize_citation(_mapping(citation)))
                self._stats.citations += 1

    def _trace(self, part: Mapping[str, Any]) -> None:
        self._stats.trace_events += 1
        trace = _mapping(part.get("trace"))
        for name in _MODEL_TRACES:
            usage = _dig(trace, name, "modelInvocationOutput", "metadata", "usage")
            if isinstance(usage, Mapping):
                self._stats.input_tokens += _count(usage.get("inputTokens"))
                self._stats.output_tokens += _count(usage.get("outputTokens"))

    def reply(self) -> AgentReply:
        # Decode once: a multi-byte character may straddle two chunks.
        completion = b"".join(self._parts).decode("utf-8", errors="replace")
        return AgentReply(completion, self._citations, self._return_control, self._chunks)


def normalize_citation(citation: Mapping[str, Any]) -> dict[str, Any]:
    """``{"text", "span": {"start", "end"} | null, "references": [{"type", "uri"}]}``."""
    part = _mapping(_dig(citation, "generatedResponsePart", "textResponsePart"))
    text = part.get("text")
    span = _mapping(part.get("span"))
    start, end = span.get("start"), span.get("end")
    references = citation.get("retrievedReferences")
    return {
        "text": text if isinstance(text, str) else "",
        "span": {"start": start, "end": end} if isinstance(start, int) and isinstance(end, int) else None,
        "references": [_reference(_mapping(ref)) for ref in references]
        if isinstance(references, list)
        else [],
    }


def _reference(reference: Mapping[str, Any]) -> dict[str, Any]:
    location = _mapping(reference.get("location"))
    kind = location.get("type")
    uri = None
    for member, address in _LOCATION_ADDRESS.items():
        value = _dig(location, member, address)
        if isinstance(value, str):
            uri = value
            break
    return {"type": kind if isinstance(kind, str) else None, "uri": uri}


def normalize_return_control(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``{"invocationId", "invocationInputs": [...]}``; inputs are flat objects (see docs/api.md)."""
    inputs: list[dict[str, Any]] = []
    members = payload.get("invocationInputs")
    for member in members if isinstance(members, list) else []:
        member_map = _mapping(member)
        if "functionInvocationInput" in member_map:
            source = _mapping(member_map["functionInvocationInput"])
            item = {"actionGroup": source.get("actionGroup"), "function": source.get("function")}
        elif "apiInvocationInput" in member_map:
            source = _mapping(member_map["apiInvocationInput"])
            item = {
                "actionGroup": source.get("actionGroup"),
                "apiPath": source.get("apiPath"),
                "httpMethod": source.get("httpMethod"),
            }
            body = _request_body(_mapping(source.get("requestBody")))
            if body is not None:
                item["requestBody"] = body
        else:
            continue  # a union member this version does not know; the client could not answer it
        item["parameters"] = _parameters(source.get("parameters"))
        for optional in ("actionInvocationType", "agentId", "collaboratorName"):
            if isinstance(source.get(optional), str):
                item[optional] = source[optional]
        inputs.append(item)
    invocation_id = payload.get("invocationId")
    return {
        "invocationId": invocation_id if isinstance(invocation_id, str) else "",
        "invocationInputs": inputs,
    }


def _parameters(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [
        {key: _mapping(param).get(key) for key in ("name", "type", "value")}
        for param in value
        if isinstance(param, Mapping)
    ]


def _request_body(body: Mapping[str, Any]) -> dict[str, Any] | None:
    content = body.get("content")
    if not isinstance(content, Mapping):
        return None
    return {
        "content": {
            str(media): {"properties": _parameters(_mapping(spec).get("properties"))}
            for media, spec in content.items()
        }
    }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dig(value: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


# --- errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamError:
    status: int
    code: str
    message: str


# Bedrock error type (call-raised ``ClientError`` code, or stream ``:exception-type`` capitalised)
# -> our response. Throttling types are handled separately (retried, then 429).
UPSTREAM_ERRORS: Final[Mapping[str, UpstreamError]] = {
    "ValidationException": UpstreamError(400, "AGENT_VALIDATION_ERROR", "the agent rejected the request"),
    "ConflictException": UpstreamError(
        409, "AGENT_CONFLICT", "the session is busy with another request; retry when it has finished"
    ),
    "AccessDeniedException": UpstreamError(
        502, "AGENT_ACCESS_DENIED", "the API is not allowed to invoke the agent"
    ),
    "ResourceNotFoundException": UpstreamError(
        502, "AGENT_NOT_FOUND", "the configured agent or alias does not exist"
    ),
    "DependencyFailedException": UpstreamError(
        502, "AGENT_DEPENDENCY_FAILED", "a resource the agent depends on failed"
    ),
    "BadGatewayException": UpstreamError(502, "AGENT_BAD_GATEWAY", "a service behind the agent failed"),
    "InternalServerException": UpstreamError(502, "AGENT_INTERNAL_ERROR", "the agent service failed"),
    "ModelNotReadyException": UpstreamError(
        503, "AGENT_MODEL_NOT_READY", "the agent's model is not ready yet"
    ),
}
UNKNOWN_UPSTREAM: Final = UpstreamError(502, "AGENT_ERROR", "the agent failed")
THROTTLING_ERRORS: Final[Mapping[str, str]] = {
    "ThrottlingException": "AGENT_THROTTLED",
    "ServiceQuotaExceededException": "AGENT_QUOTA_EXCEEDED",
}


class RetryableThrottleError(Exception):
    """A throttling error that may still be retried (nothing was streamed to us yet)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.upstream = upstream


def deadline_exceeded() -> ApiError:
    return ApiError(504, "DEADLINE_EXCEEDED", "the agent did not answer within the time budget")


def throttled_error(upstream: str, retry_after_s: int) -> ApiError:
    return ApiError(
        429,
        THROTTLING_ERRORS[upstream],
        "the agent is receiving too many requests; retry later",
        headers={"Retry-After": str(retry_after_s)},
        upstream=upstream,
    )


def upstream_type(error: ClientError) -> str:
    """``ThrottlingException`` for both ``ThrottlingException`` and stream ``throttlingException``."""
    code = error.response.get("Error", {}).get("Code", "")
    code = code if isinstance(code, str) else ""
    return code[:1].upper() + code[1:]


# Throttled after part of the answer was streamed: not retryable, since the turn may have run actions.
INTERRUPTED_CODE: Final = "AGENT_INTERRUPTED"


def classify(error: Exception, *, produced_output: bool, policy: RetryPolicy) -> Exception | None:
    """The exception to raise instead of ``error`` (``None``: not an agent failure, re-raise it)."""
    if isinstance(error, ClientError):  # call-raised, or EventStreamError from the stream
        kind = upstream_type(error)
        if kind in THROTTLING_ERRORS:
            # Once the agent has streamed an answer part, replaying the turn could repeat actions:
            # answer with a code no client retries (502, no Retry-After) rather than a retryable 429.
            if produced_output:
                return ApiError(
                    502,
                    INTERRUPTED_CODE,
                    "the agent was throttled after it had started answering; the turn was not retried "
                    "because it may already have run actions: check before sending it again",
                    upstream=kind,
                )
            return RetryableThrottleError(kind)
        spec = UPSTREAM_ERRORS.get(kind, UNKNOWN_UPSTREAM)
        message = spec.message
        if kind == "ValidationException":
            detail = error.response.get("Error", {}).get("Message")
            if isinstance(detail, str) and detail:
                message = f"{message}: {detail[:MAX_UPSTREAM_MESSAGE]}"
        return ApiError(spec.status, spec.code, message, upstream=kind or "UnknownError")
    # botocore's ReadTimeoutError (raised by the call) derives from its *vendored* urllib3's class,
    # urllib3's own ReadTimeoutError is what a stalled read of the event stream raises.
    if isinstance(error, (BotocoreReadTimeoutError, ReadTimeoutError)):
        return ApiError(504, "AGENT_TIMEOUT", "the agent stopped responding", upstream=type(error).__name__)
    if isinstance(error, (BotocoreConnectionError, HTTPClientError, Urllib3HTTPError)):
        return ApiError(
            503, "AGENT_UNAVAILABLE", "the agent endpoint is unreachable", upstream=type(error).__name__
        )
    # botocore.parsers.ResponseParserError is matched by name: importing botocore.parsers costs ~200 ms.
    if isinstance(error, EventStreamParserError) or _named(error, "ResponseParserError"):
        return ApiError(
            502, "AGENT_BAD_RESPONSE", "the agent sent a malformed response", upstream=type(error).__name__
        )
    return None


def _named(error: Exception, name: str) -> bool:
    return any(cls.__name__ == name and cls.__module__.startswith("botocore") for cls in type(error).__mro__)


# --- the call -----------------------------------------------------------------------------------


def invoke(
    client: AgentRuntime,
    params: Mapping[str, Any],
    deadline: Deadline,
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    rand: Callable[[], float],
    stats: StreamStats,
    on_retry: Callable[[int, float, str], None] = lambda retry, delay, upstream: None,
) -> AgentReply:
    """Call InvokeAgent and read its stream, retrying throttling with full jitter within ``deadline``."""
    retry = 0
    while True:
        if deadline.remaining() < policy.min_attempt_s:
            raise deadline_exceeded()
        stats.attempts += 1
        try:
            return _attempt(client, params, deadline, policy, stats)
        except RetryableThrottleError as throttled:
            stats.throttled += 1
            retry += 1
            delay = policy.delay(retry, rand)
            if stats.attempts >= policy.max_attempts or deadline.remaining() - delay < policy.min_attempt_s:
                raise throttled_error(throttled.upstream, policy.retry_after_s(retry)) from throttled
            on_retry(retry, delay, throttled.upstream)
            sleep(delay)


def _attempt(
    client: AgentRuntime,
    params: Mapping[str, Any],
    deadline: Deadline,
    policy: RetryPolicy,
    stats: StreamStats,
) -> AgentReply:
    try:
        response = client.invoke_agent(**params)
    except Exception as exc:
        mapped = classify(exc, produced_output=False, policy=policy)
        if mapped is None:
            raise
        raise mapped from exc
    request_id = _dig(response, "ResponseMetadata", "RequestId")
    stats.upstream_request_id = request_id if isinstance(request_id, str) else None
    stream: Iterable[Mapping[str, Any]] = response.get("completion") or ()
    collector = _Collector(stats)
    finished = False
    try:
        if deadline.expired():
            raise deadline_exceeded()
        for event in stream:
            if deadline.expired():  # the event arrived too late to be part of an answer
                raise deadline_exceeded()
            collector.add(event)
        finished = True
    except ApiError:
        raise
    except Exception as exc:
        mapped = classify(exc, produced_output=collector.produced_output, policy=policy)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        if not finished:
            # Abandoning a half-read stream: close it so the connection is not reused mid-message.
            close = getattr(stream, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
    return collector.reply()
