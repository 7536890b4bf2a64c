"""The knowledge base's passages a turn retrieved on AgentCore, read back from the harness's stream.

The AgentCore harness cannot search a knowledge base itself: the agent calls the search tool
(functions/action_group/knowledge.py, ``RETRIEVAL_TOOL``, e.g. ``knowledge___search_documents``)
through the gateway, and the harness streams the tool's result to the invoker like any other block.
That result is the contract of the tool's module docstring:

    {"passages": [{"id": "S1a2b3c", "text": "...", "source": {"type": "S3", "uri": "s3://..."},
                   "score": 0.83}],
     "instructions": "..."}

On the way the result is wrapped once: the gateway's Lambda target answers ``{"result": <the
document>}`` (functions/action_group/gateway.py ``gateway_response``; the body as JSON text, or the
object itself), and an AgentCore Gateway hands a Lambda target's whole JSON response to the MCP
client as the tool result's text without unwrapping any member ("The Lambda function must return a
valid JSON response", gateway-add-target-lambda.html); ``passages_of`` unwraps that one level. The
tool's errors (``{"error": text, "retry": bool}``) are not the contract and are ignored.

``read_result`` turns one result's content into ``Passage``s; ``Retrieved`` keeps this turn's, by
id, for the citation stage (functions/invoker/citations.py: ``[S1a2b3c]`` markers become citations
with these references) and the guardrail's grounding check (their texts are the grounding source).
Passage text is completion-grade data: nothing here logs it, and it never reaches the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

# The contract's id: "S" + 6 lowercase hex digits of SHA-256 over "{uri}\n{text}".
PASSAGE_ID: Final = re.compile(r"S[0-9a-f]{6}")
# The harness may prefix a tool's name with its server's (unverified): "<server>___<tool>".
_PREFIX_SEPARATOR: Final = "___"


@dataclass(frozen=True)
class Passage:
    passage_id: str
    text: str
    reference: Mapping[str, Any]  # {"type", "uri"}: exactly a docs/api.md ``references[]`` item


@dataclass
class Retrieved:
    """The passages this turn's searches returned, in arrival order; the first of an id is kept
    (an id stands for its source and text, so a later one is the same passage). ``carried``: the
    references of passages an earlier request of the same turn retrieved (a turn resumed after a
    client tool: they travel in its ``invocationId`` without their text), citable, never grounding."""

    passages: dict[str, Passage] = field(default_factory=dict)
    carried: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def add(self, passages: Iterable[Passage]) -> None:
        for passage in passages:
            self.passages.setdefault(passage.passage_id, passage)

    def carry(self, references: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        for passage_id, reference in references:
            self.carried.setdefault(passage_id, reference)

    def clear(self) -> None:
        """This request's passages forgotten (a retried attempt starts afresh); the carried stay."""
        self.passages.clear()

    def reference(self, passage_id: str) -> Mapping[str, Any] | None:
        passage = self.passages.get(passage_id)
        return passage.reference if passage is not None else self.carried.get(passage_id)

    def references(self) -> list[tuple[str, Mapping[str, Any]]]:
        """Every citable id and its reference: the carried ones first, then this request's."""
        found = dict(self.carried)
        for passage_id, passage in self.passages.items():
            found.setdefault(passage_id, passage.reference)
        return list(found.items())

    def texts(self) -> list[str]:
        return [passage.text for passage in self.passages.values()]


def is_retrieval_tool(name: str, retrieval_tool: str) -> bool:
    """Whether a harness ``toolUse`` named ``name`` is the search tool ``RETRIEVAL_TOOL`` names."""
    return bool(retrieval_tool) and (
        name == retrieval_tool or name.endswith(_PREFIX_SEPARATOR + retrieval_tool)
    )


def read_result(content: Iterable[object]) -> list[Passage] | None:
    """The passages of one search result, from its ``toolResult`` content: the members of every
    ``HarnessToolResultBlockDelta`` (botocore bedrock-agentcore), each ``{"text"}`` or ``{"json"}``.
    Text pieces are one JSON text split across deltas (joined first); a ``json`` member is the
    document itself. None when it is not the contract's document (the caller ignores the result)."""
    pieces = [item for item in content if isinstance(item, Mapping)]
    texts = [item["text"] for item in pieces if isinstance(item.get("text"), str)]
    documents = [item["json"] for item in pieces if "json" in item]
    document: object
    if texts and not documents:
        try:
            document = json.loads("".join(texts))
        except (ValueError, RecursionError):
            return None
    elif len(documents) == 1 and not texts:
        document = documents[0]
    else:
        return None
    return passages_of(document)


# The gateway target's member around a successful tool's body (functions/action_group/gateway.py).
GATEWAY_RESULT: Final = "result"


def passages_of(document: object) -> list[Passage] | None:
    """The contract's ``passages``, also inside the gateway's ``{"result": ...}`` (JSON text or the
    object: one level, module docstring); a malformed passage is left out, a document without the
    list (an ``{"error", "retry"}`` answer included) is None."""
    if not isinstance(document, Mapping):
        return None
    if "passages" not in document and GATEWAY_RESULT in document and "error" not in document:
        document = _unwrapped(document[GATEWAY_RESULT])
        if not isinstance(document, Mapping):
            return None
    items = document.get("passages")
    if not isinstance(items, list):
        return None
    passages = []
    for item in items:
        passage = _passage(item)
        if passage is not None:
            passages.append(passage)
    return passages


def _unwrapped(inner: object) -> object:
    """The gateway's ``result`` member as a document: JSON text parsed, a mapping as it is."""
    if isinstance(inner, str):
        try:
            return json.loads(inner)
        except (ValueError, RecursionError):
            return None
    return inner


def _passage(item: object) -> Passage | None:
    if not isinstance(item, Mapping):
        return None
    passage_id, text, source = item.get("id"), item.get("text"), item.get("source")
    if not isinstance(passage_id, str) or not PASSAGE_ID.fullmatch(passage_id):
        return None
    if not isinstance(text, str) or not isinstance(source, Mapping):
        return None
    kind, uri = source.get("type"), source.get("uri")
    # The tool gives null for a location type or address it does not know (SQL has no address).
    if not (kind is None or isinstance(kind, str)) or not (uri is None or isinstance(uri, str)):
        return None
    return Passage(passage_id, text, {"type": kind, "uri": uri})
