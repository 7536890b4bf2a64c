"""Entry point of the streaming invoker (``apiStreaming``): every invocation answered as a stream.

``functions.invoker.runtime`` calls ``handler`` for each invocation and streams what it returns in
API Gateway's streaming proxy format. Behind a STREAM integration every route reaches this entry
point, so every answer is a ``StreamedResponse``:

- ``POST /chat`` with ``Accept: application/x-ndjson``: the turn's events as NDJSON lines, each sent
  as soon as the agent produced it (``ndjson_lines``); the status is sent with the first line, so a
  failure after it is an in-band ``error`` line; a complete answer always ends with ``done`` or
  ``error`` (docs/streaming.md).
- anything else: exactly the buffered contract of ``functions.invoker.handler`` (status, headers,
  JSON body), sent as one piece.

The renderer reads only the backend-neutral events (``functions.invoker.events``) of whichever
``AgentBackend`` the handler built, so every backend streams the same way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any, Final

from aws_lambda_powertools.logging import correlation_paths

from functions.invoker import apigw
from functions.invoker import handler as buffered_handler
from functions.invoker.errors import ApiError
from functions.invoker.events import (
    Citations,
    Event,
    GuardrailIntervention,
    ReturnControl,
    TextChunk,
    Usage,
)
from functions.invoker.handler import Rendered, Runtime, Turn, answer, answer_json, logger
from functions.invoker.runtime import StreamedResponse

NDJSON: Final = "application/x-ndjson"
NDJSON_CONTENT_TYPE: Final = f"{NDJSON}; charset=utf-8"
# Chat answers differ by Accept: caches and browsers must not reuse one for the other.
VARY: Final = "Origin, Accept"


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
)
def handler(event: dict[str, Any], context: Any) -> StreamedResponse:
    return respond(event, context, buffered_handler.RUNTIME)


def respond(event: object, context: Any, runtime: Runtime) -> StreamedResponse:
    response = answer(event, context, runtime, render)
    return response if isinstance(response, StreamedResponse) else buffered(response)


def render(turn: Turn) -> Rendered:
    """NDJSON when the request accepts it, else the buffered JSON answer."""
    if not accepts_ndjson(turn.accept):
        response = answer_json(turn)
        response["headers"]["Vary"] = VARY
        return response
    events = iter(turn.events)
    # Everything that fails before the agent produced its first event raises here, inside the
    # handler's error mapping: an HTTP error with its status, as in buffered mode.
    first = next(events, None)
    headers = apigw.stream_headers(NDJSON_CONTENT_TYPE, {**turn.cors, "Vary": VARY})
    turn.first_byte()
    head = () if first is None else (first,)
    return StreamedResponse(200, headers, ndjson_lines(turn, chain(head, events)))


def ndjson_lines(turn: Turn, events: Iterator[Event]) -> Iterator[bytes]:
    """One line per event, then exactly one terminal line (``done`` or ``error``); logs at the end."""
    sent = 0
    error: ApiError | None = None
    input_tokens = output_tokens = 0
    try:
        # The backend vouches for completeness: an answer that ends too early raises from it.
        for event in events:
            if isinstance(event, Usage):
                input_tokens += event.input_tokens
                output_tokens += event.output_tokens
                continue
            line = event_line(event)
            if line:
                sent += len(line)
                yield line
        usage = {"inputTokens": input_tokens, "outputTokens": output_tokens}
        line = _line({"type": "done", "sessionId": turn.session_id, "usage": usage})
    except ApiError as failure:
        error = failure
        line = error_line(failure, turn)
    except Exception:  # noqa: BLE001 - a bug: logged, and the stream still ends with its error line
        logger.exception("unhandled error while streaming")
        error = ApiError(500, "INTERNAL_ERROR", "internal error")
        line = error_line(error, turn)
    try:
        sent += len(line)
        yield line
    finally:
        turn.finish(error, sent)


def event_line(event: Event) -> bytes:
    if isinstance(event, TextChunk):
        return _line({"type": "chunk", "text": event.text}) if event.text else b""
    if isinstance(event, Citations):
        return _line({"type": "citation", "citations": list(event.items)})
    if isinstance(event, ReturnControl):
        return _line({"type": "returnControl", "returnControl": event.payload})
    if isinstance(event, GuardrailIntervention):
        return _line({"type": "guardrailIntervention", "guardrailIntervention": event.as_json()})
    return b""  # an event type this renderer does not know yet: never breaks the stream


def error_line(error: ApiError, turn: Turn) -> bytes:
    envelope = {"code": error.code, "message": error.message, "requestId": turn.request_id}
    return _line({"type": "error", "status": error.status, "error": envelope, "sessionId": turn.session_id})


# One encoder for every line (json.dumps with options builds a new one per call, per chunk). It
# escapes control characters: a line never contains a raw newline.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _line(document: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(document).encode("utf-8") + b"\n"


def accepts_ndjson(accept: str | None) -> bool:
    """Whether an ``Accept`` header lists application/x-ndjson with a non-zero quality."""
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() != NDJSON:
            continue
        quality = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            continue
    return False


def buffered(response: Mapping[str, Any]) -> StreamedResponse:
    """A buffered proxy response (``statusCode``, ``headers``, ``body``) as a one-piece stream."""
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return StreamedResponse(int(response["statusCode"]), dict(response.get("headers") or {}), (data,))
