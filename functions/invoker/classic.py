"""The Classic backend (Bedrock Agents ``InvokeAgent``): request parameters, the response event stream
as ``events``, error mapping and throttling retries.

The boto3 client is created lazily by ``create_client`` (``boto3`` itself is imported there, keeping
~190 ms of imports out of the handler module) with botocore retries off: ``budget.with_retries`` owns
retrying, because only it knows the request's remaining time budget.

Nothing here logs: callers receive ``StreamStats`` (counts, token usage, ids; never text).
"""

from __future__ import annotations

import codecs
import contextlib
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from botocore.eventstream import ParserError as EventStreamParserError
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import ReadTimeoutError as BotocoreReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ReadTimeoutError

from functions.invoker import reader
from functions.invoker.budget import (
    SAFETY_MARGIN_MS,
    Deadline,
    RetryableThrottleError,
    Retrying,
    with_retries,
)
from functions.invoker.config import Guardrail, Settings
from functions.invoker.errors import ApiError
from functions.invoker.events import (
    Citations,
    Event,
    GuardrailIntervention,
    ReturnControl,
    StreamStats,
    TextChunk,
    Usage,
    assessed_actions,
)
from functions.invoker.guardrail import GuardrailClient
from functions.invoker.validation import ApiResult, ChatRequest, FunctionResult, ReturnControlResults

MAX_UPSTREAM_MESSAGE: Final = 300
# One ApplyGuardrail text unit is "up to 1,000 characters" (Amazon Bedrock pricing, Guardrails), but
# the agent's chunks have "at least" applyGuardrailInterval characters "except for the last"
# (botocore StreamingConfigurations: interval 3 gives 'I am'), so 1,000 would often bill two units.
# 900 leaves the model's next token or word room to end a chunk within one unit.
GUARDRAIL_INTERVAL_CHARS: Final = 900


class AgentRuntime(Protocol):
    """The slice of the ``bedrock-agent-runtime`` client this function uses."""

    def invoke_agent(self, **kwargs: Any) -> Mapping[str, Any]: ...


def create_client(
    read_timeout_s: float, session: Any = None, endpoint_url: str | None = None
) -> AgentRuntime:
    """A ``bedrock-agent-runtime`` client whose only retry loop is ours, its responses checked
    (``reader.new_client``; ``reader`` bounds the body's reads by the deadline itself)."""
    client: AgentRuntime = reader.new_client(
        "bedrock-agent-runtime", read_timeout_s, session, endpoint_url, checked=("InvokeAgent",)
    )
    return client


# --- request parameters -------------------------------------------------------------------------


def chat_params(settings: Settings, session_id: str, request: ChatRequest) -> dict[str, Any]:
    params: dict[str, Any] = {
        "agentId": settings.agent_id,
        "agentAliasId": settings.agent_alias_id,
        "sessionId": session_id,
        # With a guardrail the trace is always on: its guardrailTrace is the only sign of an
        # intervention (the answer is then the guardrail's blocked message, a normal chunk).
        "enableTrace": request.enable_trace or settings.guardrail is not None,
    }
    if settings.streaming:
        # The final answer arrives as many chunks while the model writes it, not as one at the end.
        streaming: dict[str, Any] = {"streamFinalResponse": True}
        if settings.guardrail is not None:
            # The agent applies the guardrail every applyGuardrailInterval characters, "by default
            # ... 50" (botocore bedrock-agent-runtime StreamingConfigurations); each call bills at
            # least one text unit of up to 1,000 characters. GUARDRAIL_INTERVAL_CHARS keeps a call to
            # about one unit, the size the cost model (offline/cost.py) and AgentCore's segments
            # (agentcore.SEGMENT_CHARS) assume.
            streaming["applyGuardrailInterval"] = GUARDRAIL_INTERVAL_CHARS
        params["streamingConfigurations"] = streaming
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


# Trace members whose ``modelInvocationOutput.metadata.usage`` counts model tokens.
_MODEL_TRACES: Final = (
    "preProcessingTrace",
    "orchestrationTrace",
    "postProcessingTrace",
    "routingClassifierTrace",
)
# Trace members whose ``invocationInput`` means a tool (action group, collaborator agent, code
# interpreter, knowledge base) is being invoked; custom orchestration may invoke anything.
_ACTING_STEPS: Final = ("orchestrationTrace", "routingClassifierTrace")
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


class _Translator:
    """InvokeAgent ``ResponseStream`` members -> events, counting into ``StreamStats`` on the way."""

    def __init__(self, stats: StreamStats, guardrail: Guardrail | None = None) -> None:
        self._stats = stats
        self._guardrail = guardrail
        # Decoding is incremental: a multi-byte character may straddle two chunks.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = False
        self._returned_control = False
        self._acted = False

    @property
    def answered(self) -> bool:
        """Whether the stream carried an answer: completion bytes or a ``returnControl``."""
        return self._text or self._returned_control

    @property
    def acted(self) -> bool:
        """Whether the turn may have had effects: an answer, files, or a step that invoked a tool."""
        return self.answered or self._acted

    def events(self, member: Mapping[str, Any]) -> Iterator[Event]:
        if "chunk" in member:
            yield from self._chunk(_mapping(member["chunk"]))
        elif "trace" in member:
            yield from self._trace(_mapping(member["trace"]))
        elif "files" in member:
            self._acted = True  # code interpreter output: the turn ran code
        elif "returnControl" in member and not self._returned_control:
            payload = normalize_return_control(_mapping(member["returnControl"]))
            self._returned_control = True
            self._stats.return_control = True
            self._stats.invocation_inputs = len(payload["invocationInputs"])
            yield ReturnControl(payload)

    def finish(self) -> Iterator[Event]:
        """The text still held by the decoder (an incomplete character at the very end)."""
        rest = self._decoder.decode(b"", final=True)
        if rest:
            yield TextChunk(rest)

    def _chunk(self, chunk: Mapping[str, Any]) -> Iterator[Event]:
        data = chunk.get("bytes")
        self._stats.chunks += 1
        if isinstance(data, bytes) and data:  # a chunk without bytes is not (part of) an answer
            self._text = True
            self._stats.completion_bytes += len(data)
            yield TextChunk(self._decoder.decode(data))
        citations = _dig(chunk, "attribution", "citations")
        if isinstance(citations, list) and citations:
            items = tuple(normalize_citation(_mapping(citation)) for citation in citations)
            self._stats.citations += len(items)
            yield Citations(items)

    def _trace(self, part: Mapping[str, Any]) -> Iterator[Event]:
        self._stats.trace_events += 1
        trace = _mapping(part.get("trace"))
        if any(_dig(trace, step, "invocationInput") is not None for step in _ACTING_STEPS) or (
            "customOrchestrationTrace" in trace
        ):
            self._acted = True
        guardrail_trace = _mapping(trace.get("guardrailTrace"))
        if guardrail_trace.get("action") == "INTERVENED":
            yield from self._interventions(guardrail_trace)
        for name in _MODEL_TRACES:
            usage = _dig(trace, name, "modelInvocationOutput", "metadata", "usage")
            if isinstance(usage, Mapping):
                tokens = Usage(_count(usage.get("inputTokens")), _count(usage.get("outputTokens")))
                self._stats.input_tokens += tokens.input_tokens
                self._stats.output_tokens += tokens.output_tokens
                yield tokens

    def _interventions(self, trace: Mapping[str, Any]) -> Iterator[Event]:
        """One ``GuardrailIntervention`` per side the guardrail trace assessed (``GuardrailTrace``:
        ``inputAssessments`` for the user's text, ``outputAssessments`` for the model's answer)."""
        guardrail = self._guardrail
        assessed: list[tuple[str, object]] = [
            (side, trace[key])
            for side, key in (("INPUT", "inputAssessments"), ("OUTPUT", "outputAssessments"))
            if isinstance(trace.get(key), list) and trace[key]
        ]
        for side, assessments in assessed or [("OUTPUT" if self._text else "INPUT", None)]:
            action, policies = assessed_actions(assessments)
            yield self._stats.intervened(
                GuardrailIntervention(
                    source=side,
                    action=action,
                    policies=policies,
                    guardrail_id=guardrail.guardrail_id if guardrail else None,
                    guardrail_version=guardrail.version if guardrail else None,
                )
            )


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


def throttled_error(upstream: str, retry_after_s: int) -> ApiError:
    return ApiError(
        429,
        THROTTLING_ERRORS[upstream],
        "the agent is receiving too many requests; retry later",
        headers={"Retry-After": str(retry_after_s)},
        upstream=upstream,
    )


def upstream_type(error: ClientError) -> str:
    """The Bedrock error type: ``ThrottlingException`` for ``ThrottlingException``, stream
    ``throttlingException``, and an empty or HTML 5xx body whose type is only in ``x-amzn-errortype``.
    """
    response = error.response
    code = _dig(response, "Error", "Code")
    code = code if isinstance(code, str) else ""
    if not code or code.isdigit():  # botocore's generic parse: the body named no type, the status did
        header = _header(response, "x-amzn-errortype")
        if header:
            code = header.split(":", 1)[0].strip()
        elif _dig(response, "ResponseMetadata", "HTTPStatusCode") == 429:
            code = "ThrottlingException"  # 429 is throttling whatever its body says
        else:
            code = ""
    return code[:1].upper() + code[1:]


def _header(response: Mapping[str, Any], name: str) -> str | None:
    headers = _mapping(_dig(response, "ResponseMetadata", "HTTPHeaders"))
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None


# An ARN (also percent-encoded) up to the next character an ARN cannot contain, and any run of 12 or
# more digits (an account id, possibly inside a longer number): never in a client-visible message.
_ARN = re.compile(r"arn(?::|%3a)[^\s\"'`<>()\[\]{},;]*", re.IGNORECASE)
_ACCOUNT_ID = re.compile(r"[0-9]{12,}")


def redact(message: str) -> str:
    """An upstream message fit for a client: bounded, without ARNs or account ids."""
    return _ACCOUNT_ID.sub("<account-id>", _ARN.sub("<resource>", message[: MAX_UPSTREAM_MESSAGE * 4]))[
        :MAX_UPSTREAM_MESSAGE
    ]


# A failure after the turn may have had effects (``_Translator.acted``) is reported with a code no
# client retries (502, no Retry-After), never as a retryable 429/503: replaying could repeat actions.
INTERRUPTED_CODE: Final = "AGENT_INTERRUPTED"
_RETRYABLE_STATUSES: Final = frozenset({429, 503})


def classify(error: Exception, *, acted: bool) -> Exception | None:
    """The exception to raise instead of ``error`` (``None``: not an agent failure, re-raise it)."""
    mapped = _map(error)
    if isinstance(mapped, RetryableThrottleError) and acted:
        return _interrupted(mapped.upstream)
    if isinstance(mapped, ApiError) and acted and mapped.status in _RETRYABLE_STATUSES:
        return _interrupted(mapped.upstream)
    return mapped


def _interrupted(upstream: str | None) -> ApiError:
    return ApiError(
        502,
        INTERRUPTED_CODE,
        "the agent failed after it had started acting on the turn; the turn was not retried "
        "because it may already have run actions: check before sending it again",
        upstream=upstream,
    )


def _map(error: Exception) -> Exception | None:
    if isinstance(error, ClientError):  # call-raised, or EventStreamError from the stream
        kind = upstream_type(error)
        if kind in THROTTLING_ERRORS:
            return RetryableThrottleError(kind)
        spec = UPSTREAM_ERRORS.get(kind, UNKNOWN_UPSTREAM)
        message = spec.message
        if kind == "ValidationException":
            detail = _dig(error.response, "Error", "Message")
            if isinstance(detail, str) and detail.strip():
                message = f"{message}: {redact(detail)}"
        return ApiError(spec.status, spec.code, message, upstream=kind or "UnknownError")
    if isinstance(error, reader.AgentStreamError):
        if error.truncated:
            return incomplete_response("the agent's response ended in the middle of a message")
        return bad_response(type(error).__name__)
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
        return bad_response(type(error).__name__)
    return None


def bad_response(upstream: str) -> ApiError:
    return ApiError(502, "AGENT_BAD_RESPONSE", "the agent sent a malformed response", upstream=upstream)


def incomplete_response(message: str = "the agent's response ended without an answer") -> ApiError:
    return ApiError(502, "AGENT_INCOMPLETE_RESPONSE", message)


def _named(error: Exception, name: str) -> bool:
    return any(cls.__name__ == name and cls.__module__.startswith("botocore") for cls in type(error).__mro__)


# --- the call -----------------------------------------------------------------------------------


ClientT = TypeVar("ClientT")


class BackendBase(Generic[ClientT]):
    """What every backend is built from (``backend.BackendClass``): the settings, its service's clients
    by read timeout, the retry policy, and ``bedrock-runtime`` clients for a backend that applies the
    guardrail itself (``functions.invoker.guardrail``)."""

    def __init__(
        self,
        settings: Settings,
        clients: Callable[[float], ClientT],
        retrying: Retrying,
        guardrails: Callable[[float], GuardrailClient] | None = None,
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._retrying = retrying
        self._guardrails = guardrails


class ClassicBackend(BackendBase[AgentRuntime]):
    """``AgentBackend`` over ``bedrock-agent-runtime`` InvokeAgent (the agent applies its guardrail:
    interventions come from its trace)."""

    create_client = staticmethod(create_client)

    def converse(
        self, session_id: str, chat: ChatRequest, deadline: Deadline, stats: StreamStats
    ) -> Iterator[Event]:
        params = chat_params(self._settings, session_id, chat)
        return self._invoke(params, deadline, stats, require_answer=True)

    def end_session(self, session_id: str, deadline: Deadline, stats: StreamStats) -> None:
        params = end_session_params(self._settings, session_id)
        for _ in self._invoke(params, deadline, stats, require_answer=False):
            pass

    def _invoke(
        self, params: Mapping[str, Any], deadline: Deadline, stats: StreamStats, *, require_answer: bool
    ) -> Iterator[Event]:
        def attempt() -> Iterator[Event]:
            client = self._clients(attempt_read_timeout(deadline, self._settings))
            return _attempt(
                client,
                params,
                deadline,
                stats,
                require_answer=require_answer,
                guardrail=self._settings.guardrail,
            )

        return with_retries(attempt, deadline, self._retrying, stats, throttled_error)


def attempt_read_timeout(deadline: Deadline, settings: Settings) -> float:
    """Whole seconds a socket read of this attempt may block: never past the deadline, at least 1 s.

    Whole seconds, so the handler keeps one client per value (a client's timeout is fixed): the first
    attempt of every request has the same value, only retries use another.
    """
    budget_s = (settings.api_deadline_ms - SAFETY_MARGIN_MS) / 1000
    return float(max(1, math.floor(min(deadline.remaining(), budget_s))))


def _attempt(
    client: AgentRuntime,
    params: Mapping[str, Any],
    deadline: Deadline,
    stats: StreamStats,
    *,
    require_answer: bool,
    guardrail: Guardrail | None = None,
) -> Iterator[Event]:
    """One InvokeAgent call, its stream read lazily; every failure mapped (``classify``).

    A success is a stream that ended cleanly within the budget and (``require_answer``) carried an
    answer: text or a ``returnControl``. Whatever botocore raises while decoding the agent's bytes is
    the agent's fault (502); what the translation of decoded events raises is ours (500).
    """
    token = reader.CURRENT_DEADLINE.set(deadline)
    try:
        response = client.invoke_agent(**params)
    except Exception as exc:
        mapped = classify(exc, acted=False)
        if mapped is None:
            raise
        raise mapped from exc
    finally:
        reader.CURRENT_DEADLINE.reset(token)
    request_id = _dig(response, "ResponseMetadata", "RequestId")
    stats.upstream_request_id = request_id if isinstance(request_id, str) else None
    stream: Iterable[Mapping[str, Any]] = response.get("completion") or ()
    translator = _Translator(stats, guardrail)

    def unreadable(exc: Exception) -> Exception:
        return classify(exc, acted=translator.acted) or bad_response(type(exc).__name__)

    with contextlib.closing(reader.read_members(stream, deadline, unreadable)) as members:
        for member in members:
            yield from translator.events(member)
    if require_answer and not translator.answered:
        raise incomplete_response()
    yield from translator.finish()
