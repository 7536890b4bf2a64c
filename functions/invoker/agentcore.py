"""The AgentCore backend (``bedrock-agentcore`` InvokeHarness / StopRuntimeSession) as ``events``.

Everything follows botocore's service model of ``bedrock-agentcore`` (2024-02-28):

- request: ``harnessArn``, ``runtimeSessionId`` (33-100 characters of ``[a-zA-Z0-9][a-zA-Z0-9-_]*``:
  ``runtime_session_id`` derives it from the API's ``sessionId``, the same id for the same session),
  ``messages``: the user's text, or the resume of a returned-control turn (inline-function tools: the
  harness pauses and hands the call to the caller, "Connect to tools", AgentCore developer guide,
  harness-tools.html): the assistant ``toolUse`` echoed, then the user's ``toolResult`` (``chat_params``).
- stream (``InvokeHarnessStreamOutput``): ``contentBlockDelta.text`` is the answer; ``toolUse`` blocks
  of the client's tools (``INLINE_TOOL_GROUPS``) that the harness did not answer itself (no
  ``toolResult`` for them) when the last ``messageStop`` says ``tool_use`` are returned as
  ``returnControl``, one call per pause; ``metadata.usage`` counts
  tokens; ``messageStop.stopReason`` other than ``end_turn``/``stop_sequence`` is mapped to an error
  (``STOP_REASONS``); the stream's own exception members (``internalServerException``,
  ``validationException``, ``runtimeClientError``) arrive as botocore ``EventStreamError`` and are
  mapped like the call's errors (``UPSTREAM_ERRORS``), with throttling retried before any output.
- the knowledge base's search tool (``RETRIEVAL_TOOL``; the harness runs it through the gateway):
  its ``toolResult`` blocks (``contentBlockStart.toolResult`` {toolUseId, status}, then
  ``contentBlockDelta.toolResult`` lists of ``{text | json}``, until ``contentBlockStop`` of the same
  ``contentBlockIndex``, or else the message's end, the next block at that index or the stream's
  end) are read for the turn's passages (functions/invoker/retrieval.py); the answer's ``[S1a2b3c]``
  markers become ``Citations`` in a last stage (functions/invoker/citations.py),
  and the guardrail's output checks carry the passages for its contextual grounding check.
- ``DELETE`` calls ``StopRuntimeSession`` on the harness's runtime (an idempotent operation; a session
  the runtime no longer knows is already ended: 204).

The ``returnControl`` contract of docs/api.md is kept: ``invocationId`` is opaque to the client, which
echoes it with its results; here it carries the handed-off call and the ones still to come
(``encode_invocation_id``), so that the stateless invoker can echo the call and hand off the next,
and the turn's search state (passage ids with references, pending searches) so that the resumed
request cites them. Nothing authenticates it: with a guardrail, the echoed input is checked as
``INPUT`` before the harness sees it (``_guarded_echo``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from functions.invoker import reader
from functions.invoker.budget import Deadline, RetryableThrottleError, deadline_exceeded, with_retries
from functions.invoker.citations import cite, marker_spans, restore_markers, strip_markers
from functions.invoker.classic import (
    BackendBase,
    UpstreamError,
    attempt_read_timeout,
    bad_response,
    incomplete_response,
    throttled_error,
    upstream_type,
)
from functions.invoker.classic import classify as classic_classify
from functions.invoker.config import Guardrail, Settings
from functions.invoker.errors import ApiError
from functions.invoker.events import Event, ReturnControl, StreamStats, TextChunk, Usage
from functions.invoker.guardrail import (
    GROUNDING_CONTENT_CHARS,
    GUARDRAIL_READ_TIMEOUT_S,
    Checked,
    Grounding,
    GuardrailClient,
    check,
)
from functions.invoker.retrieval import PASSAGE_ID, Retrieved, is_retrieval_tool, read_result
from functions.invoker.sentences import sentence_cut
from functions.invoker.validation import (
    MAX_INVOCATION_ID,
    ApiResult,
    ChatRequest,
    FunctionResult,
    ReturnControlResults,
)

SESSION_PREFIX: Final = "api-"  # + 64 hex digits: 68 characters, inside 33..100
# invocationId = prefix + base64url (unpadded) of the zlib-compressed JSON ``{"s", "u", "q"}``: the
# session's tag, the handed-off call and the queue, each call ``[toolUseId, name, input]``.
INVOCATION_PREFIX: Final = "tooluse:v2:"
# zlib expands at most ~1,000-fold: a 16 KiB id could claim megabytes; nothing this API encodes
# (a call's input fits MAX_INVOCATION_ID compressed) needs more than this.
MAX_HANDOFF_JSON: Final = 262_144
SESSION_TAG_CHARS: Final = 16
# HarnessToolUseId and HarnessToolName (botocore bedrock-agentcore 2024-02-28): 1..64 of these.
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
COMPLETE_STOPS: Final = frozenset({"end_turn", "stop_sequence"})


class HarnessClient(Protocol):
    """The slice of the ``bedrock-agentcore`` client this function uses."""

    def invoke_harness(self, **kwargs: Any) -> Mapping[str, Any]: ...

    def stop_runtime_session(self, **kwargs: Any) -> Mapping[str, Any]: ...


def create_client(
    read_timeout_s: float, session: Any = None, endpoint_url: str | None = None
) -> HarnessClient:
    """A ``bedrock-agentcore`` client whose only retry loop is ours, its responses checked (``reader``)."""
    client: HarnessClient = reader.new_client(
        "bedrock-agentcore",
        read_timeout_s,
        session,
        endpoint_url,
        checked=("InvokeHarness", "StopRuntimeSession"),
    )
    return client


# --- request parameters -------------------------------------------------------------------------


def runtime_session_id(session_id: str) -> str:
    """AgentCore's session id for the API's ``sessionId``: deterministic, and always valid there."""
    return SESSION_PREFIX + hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class InlineCall:
    """A call of one of the client's tools (an inline function) as the model made it."""

    tool_use_id: str
    name: str
    input: Mapping[str, Any]  # the parsed JSON object

    def as_json(self) -> list[Any]:
        return [self.tool_use_id, self.name, dict(self.input)]


@dataclass(frozen=True)
class Handoff:
    """The inline call handed to the client, and those the harness hands off after it, oldest first:
    it hands inline functions off one at a time ("Multiple inline functions are handed off one at a
    time", harness-lifecycle-hooks.html), maybe without streaming their ``toolUse`` again."""

    call: InlineCall
    queue: tuple[InlineCall, ...] = ()
    # The turn's search results so far, for the resumed request: the ids and references of the
    # passages retrieved (citable there; no passage text, so no grounding), and the toolUseIds of
    # searches whose result the harness had not streamed yet (it may stream it after the resume).
    references: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    searches: tuple[str, ...] = ()


def resumed_handoff(settings: Settings, session_id: str, request: ChatRequest) -> Handoff | None:
    """The handoff a returned-control turn answers (400 when its ``invocationId`` is not one this API
    returned in this session); None for a text turn."""
    results = request.return_control_results
    if results is None:
        return None
    return decode_invocation_id(
        results.invocation_id, runtime_session_id(session_id), settings.inline_tool_groups
    )


def chat_params(
    settings: Settings, session_id: str, request: ChatRequest, handoff: Handoff | None = None
) -> dict[str, Any]:
    """A text turn, or (``handoff`` from ``resumed_handoff``) the resume of an inline call: the
    assistant ``toolUse`` echoed before the user's ``toolResult``. The AgentCore guide once required
    both ("You must include both the assistant toolUse message and your toolResult ... The harness
    intentionally does not persist the inline function turn"; a lone result was rejected: "The number
    of toolResult blocks ... exceeds the number of toolUse blocks of previous turn"); its current
    version keeps the call in session state and ignores a resent ``toolUse`` (harness-tools.html,
    "Inline function calls"). This form resumes under both."""
    results = request.return_control_results
    if results is None or handoff is None:
        messages = [{"role": "user", "content": [{"text": request.input_text}]}]
    else:
        call = handoff.call
        tool_use = {"toolUseId": call.tool_use_id, "name": call.name, "input": dict(call.input)}
        messages = [
            {"role": "assistant", "content": [{"toolUse": tool_use}]},
            {"role": "user", "content": tool_results(call, results, settings.inline_tool_groups)},
        ]
    return {
        "harnessArn": settings.harness_arn,
        "runtimeSessionId": runtime_session_id(session_id),
        "messages": messages,
    }


def stop_params(settings: Settings, session_id: str) -> dict[str, Any]:
    return {
        "agentRuntimeArn": settings.harness_runtime_arn,
        "runtimeSessionId": runtime_session_id(session_id),
    }


def session_tag(runtime_session: str) -> str:
    """What binds an ``invocationId`` to its session (a stale id from another session is refused)."""
    return hashlib.sha256(runtime_session.encode("utf-8")).hexdigest()[:SESSION_TAG_CHARS]


def encode_invocation_id(runtime_session: str, handoff: Handoff) -> str:
    """``handoff`` as an opaque, compact ``invocationId`` (the client echoes it; ``decode_invocation_id``):
    ``r`` (references, ``[id, type, uri]``) and ``p`` (pending searches) only when there are any."""
    document: dict[str, Any] = {
        "s": session_tag(runtime_session),
        "u": handoff.call.as_json(),
        "q": [call.as_json() for call in handoff.queue],
    }
    if handoff.references:
        document["r"] = [
            [passage_id, reference.get("type"), reference.get("uri")]
            for passage_id, reference in handoff.references
        ]
    if handoff.searches:
        document["p"] = list(handoff.searches)
    packed = zlib.compress(json.dumps(document, separators=(",", ":")).encode("ascii"), 9)
    return INVOCATION_PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_invocation_id(invocation_id: str, runtime_session: str, tool_groups: Mapping[str, str]) -> Handoff:
    """The handoff an ``invocationId`` of ``encode_invocation_id`` carries, checked strictly: 400
    ``VALIDATION_ERROR`` for anything else (another format, a corrupted or altered id, another
    session's, a call of a tool that is not one of this stack's inline functions)."""
    if not invocation_id.startswith(INVOCATION_PREFIX):
        raise _invalid_invocation_id("is not an invocationId this API returned on AgentCore")
    text = invocation_id[len(INVOCATION_PREFIX) :]
    try:
        if not _BASE64URL.fullmatch(text):
            raise ValueError("not base64url")
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        if base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii") != text:
            raise ValueError("not canonical base64url")
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_HANDOFF_JSON)
        if not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
            raise ValueError("not one zlib stream within bounds")
        document = json.loads(raw.decode("ascii"), parse_constant=_reject_constant)
    except (ValueError, zlib.error, binascii.Error, RecursionError) as exc:
        raise _invalid_invocation_id("is corrupted or was altered") from exc
    if not isinstance(document, dict) or not {"s", "u", "q"} <= set(document) <= {"s", "u", "q", "r", "p"}:
        raise _invalid_invocation_id("is corrupted or was altered")
    if document["s"] != session_tag(runtime_session):
        raise _invalid_invocation_id("belongs to another session")
    queue, references, searches = document["q"], document.get("r", []), document.get("p", [])
    if not isinstance(queue, list) or not isinstance(references, list) or not isinstance(searches, list):
        raise _invalid_invocation_id("is corrupted or was altered")
    call = _decoded_call(document["u"], tool_groups)
    handoff = Handoff(
        call,
        tuple(_decoded_call(queued, tool_groups) for queued in queue),
        tuple(_decoded_reference(item) for item in references),
        tuple(_decoded_search(item) for item in searches),
    )
    ids = [handoff.call.tool_use_id, *(call.tool_use_id for call in handoff.queue), *handoff.searches]
    if len(set(ids)) != len(ids):
        raise _invalid_invocation_id("is corrupted or was altered")
    return handoff


def _decoded_reference(value: object) -> tuple[str, Mapping[str, Any]]:
    if not isinstance(value, list) or len(value) != 3:
        raise _invalid_invocation_id("is corrupted or was altered")
    passage_id, kind, uri = value
    if not isinstance(passage_id, str) or not PASSAGE_ID.fullmatch(passage_id):
        raise _invalid_invocation_id("is corrupted or was altered")
    if not (kind is None or isinstance(kind, str)) or not (uri is None or isinstance(uri, str)):
        raise _invalid_invocation_id("is corrupted or was altered")
    return passage_id, {"type": kind, "uri": uri}


def _decoded_search(value: object) -> str:
    if not isinstance(value, str) or not _TOOL_NAME.fullmatch(value):
        raise _invalid_invocation_id("is corrupted or was altered")
    return value


def _decoded_call(value: object, tool_groups: Mapping[str, str]) -> InlineCall:
    if not isinstance(value, list) or len(value) != 3:
        raise _invalid_invocation_id("is corrupted or was altered")
    tool_use_id, name, arguments = value
    if not isinstance(tool_use_id, str) or not _TOOL_NAME.fullmatch(tool_use_id):
        raise _invalid_invocation_id("is corrupted or was altered")
    if not isinstance(name, str) or name not in tool_groups:
        raise _invalid_invocation_id("names a call of a tool this API does not hand to clients")
    if not isinstance(arguments, dict):
        raise _invalid_invocation_id("is corrupted or was altered")
    return InlineCall(tool_use_id, name, arguments)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _invalid_invocation_id(reason: str) -> ApiError:
    return ApiError(
        400,
        "VALIDATION_ERROR",
        f"returnControlResults.invocationId {reason}: echo the invocationId of the latest returnControl "
        "of this session unchanged",
    )


def tool_results(
    call: InlineCall, results: ReturnControlResults, tool_groups: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The client's result of the handed-off call as its ``toolResult`` block: exactly one result,
    a function result of that call's function and group (each pause hands off one call)."""
    (item, *others) = results.results
    group = tool_groups.get(call.name)
    answers = isinstance(item, FunctionResult) and (item.function, item.action_group) == (call.name, group)
    if others or not answers:
        raise ApiError(
            400,
            "VALIDATION_ERROR",
            "returnControlResults.results must be exactly one function result answering the "
            "returnControl's one invocation input (the same actionGroup and function)",
        )
    return [_tool_result(call.tool_use_id, item)]


def _tool_result(tool_use_id: str, item: FunctionResult | ApiResult) -> dict[str, Any]:
    failed = item.response_state is not None or item.confirmation_state == "DENY"
    text = item.body or ("The user declined this action." if item.confirmation_state == "DENY" else "")
    return {
        "toolResult": {
            "toolUseId": tool_use_id,
            "content": [{"text": text or "(no result)"}],
            "status": "error" if failed else "success",
        }
    }


# --- the response stream ------------------------------------------------------------------------


@dataclass(frozen=True)
class StopError:
    status: int
    code: str
    message: str


# HarnessStopReason values other than a complete answer or a tool hand-over.
STOP_REASONS: Final[Mapping[str, StopError]] = {
    "max_tokens": StopError(502, "AGENT_LIMIT_REACHED", "the agent reached its output token limit"),
    "max_output_tokens_exceeded": StopError(
        502, "AGENT_LIMIT_REACHED", "the agent reached its output token limit for the turn"
    ),
    "max_iterations_exceeded": StopError(
        502, "AGENT_LIMIT_REACHED", "the agent reached its limit of model and tool steps for the turn"
    ),
    "model_context_window_exceeded": StopError(
        502, "AGENT_LIMIT_REACHED", "the conversation no longer fits the model's context: start a new session"
    ),
    "timeout_exceeded": StopError(504, "AGENT_TIMEOUT", "the agent ran out of time for the turn"),
    "content_filtered": StopError(502, "AGENT_CONTENT_FILTERED", "the model's answer was filtered"),
    "malformed_model_output": StopError(502, "AGENT_MODEL_ERROR", "the model produced an unusable answer"),
    "malformed_tool_use": StopError(502, "AGENT_MODEL_ERROR", "the model called a tool incorrectly"),
    "interrupted": StopError(502, "AGENT_INTERRUPTED", "the agent's turn was interrupted"),
    "partial_turn": StopError(502, "AGENT_INTERRUPTED", "the agent's turn ended part-way"),
    "hook_stopped": StopError(502, "AGENT_STOPPED", "a hook of the agent stopped the turn"),
    "tool_result": StopError(
        502, "AGENT_INCOMPLETE_RESPONSE", "the agent's response ended without an answer"
    ),
}


@dataclass
class _ToolUse:
    tool_use_id: str
    name: str
    parts: list[str] = field(default_factory=list)


@dataclass
class _SearchResult:
    """A ``toolResult`` block of the search tool being read: its status and content members."""

    status: object
    content: list[object] = field(default_factory=list)


@dataclass(frozen=True)
class Knowledge:
    """What the translator needs to read the search tool's results: its name (``RETRIEVAL_TOOL``;
    "" when the stack has none) and where this turn's passages go."""

    retrieval_tool: str = ""
    retrieved: Retrieved = field(default_factory=Retrieved)


class _Translator:
    """InvokeHarness stream members -> events, counting into ``StreamStats`` on the way."""

    def __init__(
        self,
        stats: StreamStats,
        tool_groups: Mapping[str, str],
        runtime_session: str = "",
        resumed: Handoff | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        self._stats = stats
        self._groups = tool_groups
        self._session = runtime_session
        self._resumed = resumed  # the handoff this turn's request answered
        self._knowledge = knowledge or Knowledge()
        self._text = False
        self._acted = False
        self._blocks: dict[int, _ToolUse] = {}
        self._uses: dict[str, _ToolUse] = {}  # toolUseId -> use, in arrival order
        self._answered_ids: set[str] = set()
        self._searches: dict[int, _SearchResult] = {}  # contentBlockIndex -> the search's result
        # searches an earlier request of the turn saw called, their result not yet streamed
        self._carried_searches = set(resumed.searches) if resumed is not None else set()
        self.stop_reason: str | None = None

    @property
    def acted(self) -> bool:
        """Whether the turn may have had effects: text, a tool call, or a tool's result."""
        return self._text or self._acted or bool(self._uses)

    def events(self, member: Mapping[str, Any]) -> Iterator[Event]:
        if "contentBlockDelta" in member:
            yield from self._delta(_mapping(member["contentBlockDelta"]))
        elif "contentBlockStart" in member:
            self._start(_mapping(member["contentBlockStart"]))
        elif "messageStop" in member:
            self._read_searches()  # a message ends: all of its blocks are whole
            reason = _mapping(member["messageStop"]).get("stopReason")
            self.stop_reason = reason if isinstance(reason, str) else ""
        elif "metadata" in member:
            usage = _mapping(_mapping(member["metadata"]).get("usage"))
            tokens = Usage(_count(usage.get("inputTokens")), _count(usage.get("outputTokens")))
            self._stats.input_tokens += tokens.input_tokens
            self._stats.output_tokens += tokens.output_tokens
            yield tokens
        elif "contentBlockStop" in member:
            index = _mapping(member["contentBlockStop"]).get("contentBlockIndex")
            if isinstance(index, int):
                self._read_searches(index)
        elif "messageStart" in member:
            self._read_searches()  # a new message: the previous one's blocks are whole
        elif "hookEvent" in member:
            self._stats.trace_events += 1

    def _start(self, event: Mapping[str, Any]) -> None:
        start = _mapping(event.get("start"))
        index = event.get("contentBlockIndex")
        if isinstance(index, int):
            self._read_searches(index)  # a new block at that index: the one before it is whole
        if "toolUse" in start:
            use = _mapping(start["toolUse"])
            tool_use_id, name = use.get("toolUseId"), use.get("name")
            if isinstance(tool_use_id, str) and isinstance(name, str) and isinstance(index, int):
                block = self._uses.get(tool_use_id) or _ToolUse(tool_use_id, name)
                self._uses[tool_use_id] = block
                self._blocks[index] = block
        elif "toolResult" in start:
            self._acted = True  # the harness ran a tool (the gateway's) itself
            result = _mapping(start["toolResult"])
            tool_use_id = result.get("toolUseId")
            if isinstance(tool_use_id, str):
                self._answered_ids.add(tool_use_id)
                called = self._uses.get(tool_use_id)
                searched = tool_use_id in self._carried_searches or (
                    called is not None and is_retrieval_tool(called.name, self._knowledge.retrieval_tool)
                )
                if searched and isinstance(index, int) and self._knowledge.retrieval_tool:
                    self._searches[index] = _SearchResult(result.get("status"))

    def _delta(self, event: Mapping[str, Any]) -> Iterator[Event]:
        delta = _mapping(event.get("delta"))
        text = delta.get("text")
        if isinstance(text, str) and text:
            self._text = True
            self._stats.chunks += 1
            self._stats.completion_bytes += len(text.encode("utf-8"))
            yield TextChunk(text)
        elif "toolUse" in delta:
            block = self._blocks.get(event.get("contentBlockIndex"))  # type: ignore[arg-type]
            piece = _mapping(delta["toolUse"]).get("input")
            if block is not None and isinstance(piece, str):
                block.parts.append(piece)
        elif "toolResult" in delta:
            self._acted = True
            search = self._searches.get(event.get("contentBlockIndex"))  # type: ignore[arg-type]
            content = delta["toolResult"]
            if search is not None and isinstance(content, list):
                search.content.extend(content)
        # reasoningContent and toolResultMetadata are never returned to API clients.

    def _read_searches(self, index: int | None = None) -> None:
        """The search results being read at ``index`` (all of them: None) finished and read. Their
        ``contentBlockStop`` is the usual end, but nothing AWS publishes shows the harness closing a
        tool result's block with one, so a message's end, the next block at the same index and the
        stream's end finish them too (in arrival order)."""
        indexes = list(self._searches) if index is None else [index] if index in self._searches else []
        for key in indexes:
            self._read_search(self._searches.pop(key))

    def _read_search(self, search: _SearchResult) -> None:
        """A whole search result: its passages kept for citations and grounding. A failed or
        unreadable one is only counted (its content may be an error text: never logged)."""
        passages = None if search.status == "error" else read_result(search.content)
        if passages is None:
            self._stats.retrievals_ignored += 1
            return
        self._stats.retrievals += 1
        self._stats.retrieved_passages += len(passages)
        self._knowledge.retrieved.add(passages)

    def finish(self) -> Iterator[Event]:
        """After a clean end: the client's next inline call as ``returnControl``, or the stop reason's
        error. Only the last ``messageStop`` decides (a tool use can be streamed before the harness
        decides how the turn goes on, harness-lifecycle-hooks.html)."""
        self._read_searches()  # a result whose block was never closed
        reason = self.stop_reason
        if reason is None:
            raise incomplete_response()
        if reason == "tool_use":
            handoff = self._next_handoff()
            if handoff is not None:
                yield self._return_control(handoff)
                return
        if reason in COMPLETE_STOPS:
            if not self._text:
                raise incomplete_response()
            return
        spec = STOP_REASONS.get(
            reason, StopError(502, "AGENT_INCOMPLETE_RESPONSE", "the agent stopped early")
        )
        raise ApiError(spec.status, spec.code, spec.message, upstream=f"stopReason:{reason or 'none'}")

    def _next_handoff(self) -> Handoff | None:
        """The oldest inline call waiting for the client, and the rest behind it. The calls this stream
        streamed and left unanswered are the pending ones, unless they are all queued already (the
        harness streamed a queued call again): then the queue of the answered handoff goes on, its
        next call returned even when the stream did not show it. A call this stream made that is not
        queued is a new model response: the harness resolves all of a response's calls before the
        model answers again, so what is left of the old queue is superseded (and, where the harness
        kept no inline turn, was never pending)."""
        answered = self._resumed
        answered_id = answered.call.tool_use_id if answered is not None else None
        queue = answered.queue if answered is not None else ()
        streamed = [
            InlineCall(use.tool_use_id, use.name, _input("".join(use.parts)))
            for use in self._uses.values()
            if use.name in self._groups
            and use.tool_use_id not in self._answered_ids
            and use.tool_use_id != answered_id
        ]
        queued_ids = {call.tool_use_id for call in queue}
        if any(call.tool_use_id not in queued_ids for call in streamed):
            calls = streamed
        else:
            calls = [call for call in queue if call.tool_use_id not in self._answered_ids]
        if not calls:
            return None
        return Handoff(calls[0], tuple(calls[1:]))

    def _pending_searches(self) -> tuple[str, ...]:
        """The search calls of the turn whose result has not been streamed yet (carried ones first)."""
        streamed = [
            use.tool_use_id
            for use in self._uses.values()
            if is_retrieval_tool(use.name, self._knowledge.retrieval_tool)
        ]
        ordered = dict.fromkeys([*sorted(self._carried_searches), *streamed])
        return tuple(tool_use_id for tool_use_id in ordered if tool_use_id not in self._answered_ids)

    def _return_control(self, handoff: Handoff) -> ReturnControl:
        """The handoff as ``returnControl``, with the turn's search state when the id has room for it:
        the references are left out first, then the pending searches; the call itself never."""
        searches = self._pending_searches() if self._knowledge.retrieval_tool else ()
        references = tuple(self._knowledge.retrieved.references())
        for carried in (
            Handoff(handoff.call, handoff.queue, references, searches),
            Handoff(handoff.call, handoff.queue, (), searches),
            handoff,
        ):
            invocation_id = encode_invocation_id(self._session, carried)
            if len(invocation_id) <= MAX_INVOCATION_ID:
                break
        if len(invocation_id) > MAX_INVOCATION_ID:
            raise ApiError(
                502,
                "AGENT_BAD_RESPONSE",
                f"the agent's pending tool calls are too large to hand to the client (an invocationId "
                f"over {MAX_INVOCATION_ID} characters); end the session and start a new one",
                upstream="ToolUsesTooLarge",
            )
        call = handoff.call
        inputs = [
            {
                "actionGroup": self._groups[call.name],
                "function": call.name,
                "parameters": _parameters(call.input),
            }
        ]
        payload = {"invocationId": invocation_id, "invocationInputs": inputs}
        self._stats.return_control = True
        self._stats.invocation_inputs = len(inputs)
        return ReturnControl(payload)


def _input(raw_input: str) -> dict[str, Any]:
    """A tool's streamed JSON input, which must be an object (``HarnessToolUseBlock.input``)."""
    try:
        arguments = json.loads(raw_input, parse_constant=_reject_constant) if raw_input.strip() else {}
    except (ValueError, RecursionError) as exc:
        raise bad_response("ToolInputNotJson") from exc
    if not isinstance(arguments, dict):
        raise bad_response("ToolInputNotAnObject")
    return arguments


def _parameters(arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A tool's input as Bedrock-style parameters: ``{"name", "type", "value"}`` with text values."""
    return [
        {
            "name": str(name),
            "type": _type(value),
            "value": value if isinstance(value, str) else json.dumps(value),
        }
        for name, value in arguments.items()
    ]


def _type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "string"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


# --- errors -------------------------------------------------------------------------------------


# bedrock-agentcore error shapes of InvokeHarness and StopRuntimeSession (call-raised, or a stream
# exception member capitalised) -> our response; throttling types are retried, then 429.
UPSTREAM_ERRORS: Final[Mapping[str, UpstreamError]] = {
    "ValidationException": UpstreamError(400, "AGENT_VALIDATION_ERROR", "the agent rejected the request"),
    "ConflictException": UpstreamError(
        409, "AGENT_CONFLICT", "the session is busy with another request; retry when it has finished"
    ),
    "RetryableConflictException": UpstreamError(
        409, "AGENT_CONFLICT", "the session is busy with another request; retry when it has finished"
    ),
    "AccessDeniedException": UpstreamError(
        502, "AGENT_ACCESS_DENIED", "the API is not allowed to invoke the agent"
    ),
    "UnauthorizedException": UpstreamError(
        502, "AGENT_ACCESS_DENIED", "the API is not allowed to invoke the agent"
    ),
    "ResourceNotFoundException": UpstreamError(
        502, "AGENT_NOT_FOUND", "the configured harness does not exist"
    ),
    "RuntimeClientError": UpstreamError(502, "AGENT_DEPENDENCY_FAILED", "the agent's runtime failed"),
    "InternalServerException": UpstreamError(502, "AGENT_INTERNAL_ERROR", "the agent service failed"),
}


def classify(error: Exception, *, acted: bool) -> Exception | None:
    """This service's error table over Classic's classification, which also covers throttling (retried
    before any output, 502 ``AGENT_INTERRUPTED`` after), transport faults, timeouts and framing."""
    if isinstance(error, ClientError):
        kind = upstream_type(error)
        spec = UPSTREAM_ERRORS.get(kind)
        if spec is not None and kind != "ValidationException":  # Classic adds the redacted detail
            return ApiError(spec.status, spec.code, spec.message, upstream=kind)
    return classic_classify(error, acted=acted)


# --- the calls ----------------------------------------------------------------------------------


class AgentCoreBackend(BackendBase[HarnessClient]):
    """``AgentBackend`` over ``bedrock-agentcore`` InvokeHarness and StopRuntimeSession, with the
    guardrail applied around the harness (``ApplyGuardrail``: the harness has no guardrail setting)."""

    create_client = staticmethod(create_client)

    def converse(
        self, session_id: str, chat: ChatRequest, deadline: Deadline, stats: StreamStats
    ) -> Iterator[Event]:
        """The harness's events, the guardrail's checks around them, then (with a search tool) the
        citation stage, last: its offsets refer to the text the caller receives."""
        resumed = resumed_handoff(self._settings, session_id, chat)
        params = chat_params(self._settings, session_id, chat, resumed)
        knowledge = Knowledge(self._settings.retrieval_tool)
        if resumed is not None and knowledge.retrieval_tool:
            knowledge.retrieved.carry(resumed.references)  # citable here; their texts stayed behind
        guardrail = self._settings.guardrail
        if guardrail is None:
            events = self._harness(params, deadline, stats, resumed, knowledge)
        else:
            events = self._guarded(guardrail, params, chat, deadline, stats, resumed, knowledge)
        if not knowledge.retrieval_tool:
            return events
        return cite(events, knowledge.retrieved, stats)

    def end_session(self, session_id: str, deadline: Deadline, stats: StreamStats) -> None:
        params = stop_params(self._settings, session_id)

        def attempt() -> Iterator[Event]:
            client = self._clients(attempt_read_timeout(deadline, self._settings))
            _stop(client, params, deadline, stats)
            return iter(())

        for _ in with_retries(attempt, deadline, self._retrying, stats, throttled_error):
            pass

    def _harness(
        self,
        params: Mapping[str, Any],
        deadline: Deadline,
        stats: StreamStats,
        resumed: Handoff | None,
        knowledge: Knowledge,
    ) -> Iterator[Event]:
        def attempt() -> Iterator[Event]:
            client = self._clients(attempt_read_timeout(deadline, self._settings))
            knowledge.retrieved.clear()  # a retried attempt answered nothing: it starts afresh
            return _invoke(
                client, params, deadline, stats, self._settings.inline_tool_groups, resumed, knowledge
            )

        return with_retries(attempt, deadline, self._retrying, stats, throttled_error)

    def _guarded(
        self,
        guardrail: Guardrail,
        params: dict[str, Any],
        chat: ChatRequest,
        deadline: Deadline,
        stats: StreamStats,
        resumed: Handoff | None,
        knowledge: Knowledge,
    ) -> Iterator[Event]:
        """The user's text checked (``INPUT``) before the harness sees it, the answer (``OUTPUT``) before
        the caller does. A returned-control turn's result bodies are the caller's free text reaching
        the model, so each is checked as ``INPUT`` too (prompt-attack filters judge inputs only): a
        masked body goes on masked; a blocked one goes on as a failed tool result carrying the
        guardrail's message instead of the body. The harness still gets one ``toolResult`` per
        ``toolUse`` it is waiting for: without them its session would hold an unanswered tool use and
        refuse the caller's next text turn (Converse requires a result for every tool use)."""
        query: str | None = None  # the user's text as the harness got it: the grounding check's query
        if chat.return_control_results is None:
            checked = self._check(
                guardrail, "INPUT", chat.input_text or "", deadline, stats, before_answer=True
            )
            query = checked.text
            if checked.intervention is not None:
                yield stats.intervened(checked.intervention)
                if checked.blocked:
                    yield TextChunk(checked.text)  # the guardrail's blocked-input message
                    return
                params = {**params, "messages": [{"role": "user", "content": [{"text": checked.text}]}]}
        else:
            blocks = params["messages"][-1]["content"]  # the user's toolResult, after the toolUse echo
            for block, item in zip(blocks, chat.return_control_results.results, strict=True):
                if not item.body:
                    continue  # nothing of the caller's reaches the model but a fixed placeholder
                checked = self._check(guardrail, "INPUT", item.body, deadline, stats, before_answer=True)
                if checked.intervention is None:
                    continue
                yield stats.intervened(checked.intervention)
                block["toolResult"]["content"] = [{"text": checked.text}]
                if checked.blocked:
                    block["toolResult"]["status"] = "error"
            echo = params["messages"][0]["content"][0]["toolUse"]
            refused = yield from self._guarded_echo(guardrail, echo, deadline, stats)
            if refused is not None:
                yield TextChunk(refused)  # as for blocked user text: the harness is not called
                return
        segments = SEGMENT_CHARS if self._settings.streaming else None

        def grounding() -> Grounding | None:
            """The grounding check's inputs, when this turn retrieved passages and the query is known."""
            texts = knowledge.retrieved.texts()
            return Grounding(tuple(texts), query) if texts and query else None

        harness = self._harness(params, deadline, stats, resumed, knowledge)
        yield from self._checked_output(guardrail, harness, segments, deadline, stats, grounding)

    def _guarded_echo(
        self, guardrail: Guardrail, echo: dict[str, Any], deadline: Deadline, stats: StreamStats
    ) -> Generator[Event, None, str | None]:
        """The echoed ``toolUse`` input checked as ``INPUT``: it comes from the caller's
        ``invocationId``, which nothing authenticates (docs/api.md), and reaches the model as an
        assistant message. None: it goes on (masked in ``echo`` when the guardrail masked it); else
        the text that ends the turn: the guardrail's blocked message, or, when the masked JSON is no
        longer an object (so no tool input), ``ECHO_MASKED_UNUSABLE``."""
        arguments = echo["input"]
        if not arguments:
            return None  # "{}": nothing of the caller's but the tool's name, which is checked
        checked = self._check(
            guardrail, "INPUT", json.dumps(arguments, ensure_ascii=False), deadline, stats, before_answer=True
        )
        if checked.intervention is None:
            return None
        yield stats.intervened(checked.intervention)
        if checked.blocked:
            return checked.text
        try:
            masked = json.loads(checked.text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            masked = None
        if not isinstance(masked, dict):
            return ECHO_MASKED_UNUSABLE
        echo["input"] = masked
        return None

    def _checked_output(
        self,
        guardrail: Guardrail,
        events: Iterator[Event],
        segments: tuple[int, int] | None,
        deadline: Deadline,
        stats: StreamStats,
        grounding: Callable[[], Grounding | None] = lambda: None,
    ) -> Iterator[Event]:
        """Text is held back until the guardrail passed it: all of it at the end of the turn (buffered),
        or in segments of ``segments`` characters cut at a sentence end (streaming, docs/streaming.md).
        A blocked segment ends the turn with the guardrail's message; text already sent stays sent.
        ``grounding()``: the contextual grounding check's inputs at the time of a check (the passages
        retrieved so far), or None.

        Once ``grounding()`` applies (the turn searched), streaming stops cutting segments: the answer
        from there on is held and checked as a whole (in pieces of ``GROUNDING_CONTENT_CHARS`` within
        one release, as buffered), then released. AWS aggregates relevance over the chunks of one
        guarded response ("If any one chunk is deemed relevant, the whole response is considered
        relevant", guardrails-contextual-grounding-check.html); separate ApplyGuardrail calls cannot,
        so a 200-character opening or a closing line judged alone would fail relevance. Text held
        from before the search is released first, checked as before (without grounding)."""
        held = ""
        threshold, limit = segments if segments is not None else (0, 0)
        whole = segments is None  # hold everything until the end (or the next non-text event)
        try:
            for event in events:
                if isinstance(event, Usage):
                    yield event
                    continue
                if isinstance(event, TextChunk):
                    if not whole and grounding() is not None:
                        # The search's result arrived since the last text: what is held was said before it.
                        segment, held, whole = held, "", True
                        if (yield from self._release(guardrail, segment, deadline, stats, None)):
                            return
                    held += event.text
                    # A large chunk may hold several segments; none is longer than ``limit``.
                    while not whole and len(held) >= threshold:
                        cut = _segment_cut(held, limit)
                        segment, held = held[:cut], held[cut:]
                        threshold = limit
                        if (yield from self._release(guardrail, segment, deadline, stats, grounding())):
                            return
                    continue
                # returnControl (and any event to come): everything said before it goes first
                segment, held = held, ""
                if (yield from self._release(guardrail, segment, deadline, stats, grounding())):
                    return
                yield event
            yield from self._release(guardrail, held, deadline, stats, grounding())
        finally:
            close = getattr(events, "close", None)
            if callable(close):
                close()  # a blocked answer: stop reading the harness (its stream is closed)

    def _release(
        self,
        guardrail: Guardrail,
        text: str,
        deadline: Deadline,
        stats: StreamStats,
        grounding: Grounding | None,
    ) -> Generator[Event, None, bool]:
        """``text`` as the guardrail lets it out (itself, masked, or its blocked message); True: blocked.

        With ``grounding``, the check's content is at most ``GROUNDING_CONTENT_CHARS`` (the grounding
        check's limit): a longer text (a buffered answer) is checked in such pieces, cut at sentence
        ends, and released only once all passed: a blocked piece replaces all of it, as without."""
        if not text:
            return False
        pieces = [text] if grounding is None else _pieces(text, GROUNDING_CONTENT_CHARS)
        released: list[str] = []
        blocked = False
        for piece in pieces:
            # With grounding, the check judges the answer without its citation markers (no passage
            # contains "[S1a2b3c]"); the text released keeps them for the citation stage.
            guarded, markers = strip_markers(piece) if grounding is not None else (piece, [])
            if not guarded.strip():
                guarded, markers = piece, []  # markers only: judged as written (no empty content)
            checked = self._check(
                guardrail, "OUTPUT", guarded, deadline, stats, before_answer=False, grounding=grounding
            )
            if checked.intervention is not None:
                yield stats.intervened(checked.intervention)
            if checked.blocked:
                released, blocked = [checked.text], True
                break
            if checked.intervention is None:
                released.append(piece)
            else:  # masked: the guardrail's text, the markers put back after the same words
                released.append(restore_markers(checked.text, guarded, markers))
        if "".join(released):
            yield TextChunk("".join(released))
        return blocked

    def _check(
        self,
        guardrail: Guardrail,
        source: str,
        text: str,
        deadline: Deadline,
        stats: StreamStats,
        *,
        before_answer: bool,
        grounding: Grounding | None = None,
    ) -> Checked:
        """``ApplyGuardrail`` with throttling retried (re-checking a text has no effect); when the
        retries run out after the harness ran, the turn fails as not retryable (502), never 429."""
        guardrails = self._guardrails
        if guardrails is None:
            raise guardrail_unavailable("NoGuardrailClient")
        verdicts: list[Checked] = []

        def attempt() -> Iterator[Event]:
            if deadline.expired():
                raise deadline_exceeded()
            client = guardrails(guardrail_read_timeout(deadline, self._settings))
            stats.guardrail_calls += 1
            verdict = _apply(client, guardrail, source, text, deadline, grounding)
            stats.guardrail_used(verdict.usage)
            verdicts.append(verdict)
            return iter(())

        def exhausted(upstream: str, retry_after_s: int) -> ApiError:
            if before_answer:
                return throttled_error(upstream, retry_after_s)
            return guardrail_unavailable(upstream)

        # Its own attempt count: the harness's attempts (the summary line's) are not spent on it.
        calls = StreamStats()
        try:
            for _ in with_retries(attempt, deadline, self._retrying, calls, exhausted):
                pass
        finally:
            stats.throttled += calls.throttled
        return verdicts[-1]


# The end of a resumed turn whose echoed tool input the guardrail masked into something not an object.
ECHO_MASKED_UNUSABLE: Final = (
    "The guardrail masked the tool call this request resumes, so it cannot be resumed. "
    "Please start a new session."
)

# Streaming: the first segment of held-back text is checked at 200 characters, so the first words
# come soon; later ones at 1,000, the size of one ApplyGuardrail text unit (what it bills per call).
SEGMENT_CHARS: Final = (200, 1000)


def guardrail_read_timeout(deadline: Deadline, settings: Settings) -> float:
    """``GUARDRAIL_READ_TIMEOUT_S``, or the attempt's whole seconds left when fewer (1 to 4)."""
    return min(GUARDRAIL_READ_TIMEOUT_S, attempt_read_timeout(deadline, settings))


def guardrail_unavailable(upstream: str) -> ApiError:
    return ApiError(
        502,
        "GUARDRAIL_UNAVAILABLE",
        "the guardrail could not check the turn; nothing it had not checked was returned",
        upstream=upstream,
    )


def _segment_cut(text: str, limit: int) -> int:
    """``sentence_cut``, never inside a citation marker (whole, or at the end one that may still
    become one): a marker cut in two would be judged, and possibly blocked, in halves."""
    cut = sentence_cut(text, limit)
    for start, end in marker_spans(text):
        if start < cut < end:
            return start if start > 0 else min(end, limit)
    return cut


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at sentence ends where possible."""
    pieces = []
    while len(text) > limit:
        cut = _segment_cut(text, limit)
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


def _apply(
    client: GuardrailClient,
    guardrail: Guardrail,
    source: str,
    text: str,
    deadline: Deadline,
    grounding: Grounding | None = None,
) -> Checked:
    try:
        checked = check(client, guardrail, source, text, grounding)
    except Exception as exc:
        mapped = classic_classify(exc, acted=False)
        if mapped is None:
            raise
        if isinstance(mapped, RetryableThrottleError):
            raise mapped from exc
        upstream = mapped.upstream if isinstance(mapped, ApiError) else None
        raise guardrail_unavailable(upstream or type(exc).__name__) from exc
    if deadline.expired():
        raise deadline_exceeded()
    return checked


def _raise_mapped(exc: Exception, *, acted: bool) -> None:
    mapped = classify(exc, acted=acted)
    if mapped is None:
        raise exc
    raise mapped from exc


def _stop(client: HarnessClient, params: Mapping[str, Any], deadline: Deadline, stats: StreamStats) -> None:
    token = reader.CURRENT_DEADLINE.set(deadline)
    try:
        response = client.stop_runtime_session(**params)
    except Exception as exc:
        if isinstance(exc, ClientError) and upstream_type(exc) == "ResourceNotFoundException":
            return  # the runtime no longer has the session: it has ended already
        _raise_mapped(exc, acted=False)
        raise
    finally:
        reader.CURRENT_DEADLINE.reset(token)
    request_id = _mapping(response.get("ResponseMetadata")).get("RequestId")
    stats.upstream_request_id = request_id if isinstance(request_id, str) else None
    if deadline.expired():
        raise deadline_exceeded()


def _invoke(
    client: HarnessClient,
    params: Mapping[str, Any],
    deadline: Deadline,
    stats: StreamStats,
    tool_groups: Mapping[str, str],
    resumed: Handoff | None = None,
    knowledge: Knowledge | None = None,
) -> Iterator[Event]:
    """One InvokeHarness call, its stream read lazily; every failure mapped (``classify``)."""
    token = reader.CURRENT_DEADLINE.set(deadline)
    try:
        response = client.invoke_harness(**params)
    except Exception as exc:
        _raise_mapped(exc, acted=False)
        raise
    finally:
        reader.CURRENT_DEADLINE.reset(token)
    request_id = _mapping(response.get("ResponseMetadata")).get("RequestId")
    stats.upstream_request_id = request_id if isinstance(request_id, str) else None
    stream: Iterable[Mapping[str, Any]] = response.get("stream") or ()
    translator = _Translator(stats, tool_groups, str(params["runtimeSessionId"]), resumed, knowledge)

    def unreadable(exc: Exception) -> Exception:
        return classify(exc, acted=translator.acted) or bad_response(type(exc).__name__)

    with contextlib.closing(reader.read_members(stream, deadline, unreadable)) as members:
        for member in members:
            yield from translator.events(member)
    yield from translator.finish()
