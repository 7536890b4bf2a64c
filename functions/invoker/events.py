"""What an agent backend yields while it reads the agent's answer: backend-neutral events.

A backend (``functions.invoker.classic``, ...) turns its service's stream into these events lazily,
one by one as the stream is read, and fills a ``StreamStats`` for the summary log line. Renderers
consume the same iterator: ``collect`` builds the buffered JSON answer of ``POST /chat``.
Events carry completion text; never log them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextChunk:
    """A piece of the completion, already decoded (a character split across chunks is joined)."""

    text: str


@dataclass(frozen=True)
class Citations:
    """Citations of the text so far, each ``{"text", "span", "references"}`` (docs/api.md)."""

    items: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ReturnControl:
    """The agent hands control back: ``{"invocationId", "invocationInputs": [...]}`` (docs/api.md)."""

    payload: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """Model tokens one step of the agent consumed (summed by the consumer if it wants a total)."""

    input_tokens: int
    output_tokens: int


Event = TextChunk | Citations | ReturnControl | Usage


@dataclass
class StreamStats:
    """What the handler logs about the agent call, filled by the backend. Counts and ids only."""

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
class Reply:
    """The buffered answer: every event of one turn collected (the backend vouches it is complete)."""

    completion: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    return_control: dict[str, Any] | None = None


def collect(events: Iterable[Event]) -> Reply:
    """Read the whole iterator into one ``Reply`` (the first ``ReturnControl`` wins)."""
    reply = Reply()
    parts: list[str] = []
    for event in events:
        if isinstance(event, TextChunk):
            parts.append(event.text)
        elif isinstance(event, Citations):
            reply.citations.extend(event.items)
        elif isinstance(event, ReturnControl) and reply.return_control is None:
            reply.return_control = event.payload
    reply.completion = "".join(parts)
    return reply
