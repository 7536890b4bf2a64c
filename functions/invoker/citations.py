"""Citations on AgentCore: the search tool's ``[S1a2b3c]`` markers in the answer become ``Citations``.

The search tool tells the model to cite a passage by writing its id in square brackets after the
sentence it supports (functions/action_group/knowledge.py): ``... five days. [S1a2b3c]``, also
several at once, ``[S1a2b3c, Sdef456]``. This stage runs last, on the text the caller receives (after
the guardrail's output check, which may mask it), so that offsets refer to that text:

- a marker whose ids were all retrieved in this turn (``Retrieved``) is removed from the completion,
  with the spaces or tabs (at most ``MAX_GAP``) just before it, and yields a citation
  ``{"text", "span", "references"}`` (docs/api.md): ``text`` is what the marker supports, from the
  previous citation's end or the start of its sentence (whichever is later) up to the marker,
  trimmed; ``span`` its offsets in the completion (``end`` exclusive); ``references`` the passages'
  sources in marker order, each once. A marker with nothing before it since the previous citation
  (``[S1a2b3c][Sdef456]``) supports the same text as that one (same ``text`` and ``span``).
- a marker whose ids all have the tool's id shape (``S`` + 6 lowercase hex digits) but that this
  request cannot resolve (a passage of an earlier turn, a guess) is removed, without a citation;
- any other bracketed text stays verbatim.

Streaming: text is released as it arrives except a tail that may still become a marker (at most
``MAX_HOLD`` characters: a stray ``[`` is released as soon as the next character rules a marker out);
the tail is released at the end and before a ``returnControl``. Where the chunks of a stream are cut
changes nothing: the completion and citations are those of the whole text (a property test checks).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from functions.invoker.events import (
    Citations,
    Event,
    GuardrailIntervention,
    ReturnControl,
    StreamStats,
    TextChunk,
)
from functions.invoker.retrieval import PASSAGE_ID, Retrieved
from functions.invoker.sentences import sentence_ends

MAX_GAP: Final = 3  # spaces or tabs before a marker removed with it ("five days [S1a2b3c]." -> "five days.")
MAX_IDS: Final = 10  # ids in one marker
_HEX: Final = frozenset("0123456789abcdefABCDEF")
_ID = r"S[0-9a-fA-F]{6}"
_SEPARATORS: Final = ",;"
MARKER: Final = re.compile(rf"[ \t]{{0,{MAX_GAP}}}\[({_ID}(?:[{_SEPARATORS}] ?{_ID}){{0,{MAX_IDS - 1}}})\]")
_IDS = re.compile(_ID)
# The longest text that may still become a marker: the gap, "[", the ids with their separators.
MAX_HOLD: Final = MAX_GAP + 1 + 7 * MAX_IDS + 2 * (MAX_IDS - 1)


@dataclass(frozen=True)
class _Cited:
    text: str
    start: int
    end: int


class CitationStage:
    """Completion text in, released text and citations out, for one turn."""

    def __init__(self, retrieved: Retrieved, stats: StreamStats) -> None:
        self._retrieved = retrieved
        self._stats = stats
        self._pending = ""  # received, not released: a possible marker's beginning
        self._released = 0  # characters of the completion released so far
        # released text since the previous citation's end (all of it before one), in pieces
        self._since: list[str] = []
        self._previous: _Cited | None = None

    def feed(self, text: str) -> Iterator[Event]:
        """``text`` received: what of it (and of the held tail) can be released, with its citations."""
        pending = self._pending + text
        position = 0
        for match in MARKER.finditer(pending):
            references = self._references(match[1])
            if references is None and not _well_formed(match[1]):
                continue  # not the search tool's id shape: the bracketed text stays, as written
            yield from self._release(pending[position : match.start()])
            if references is not None:
                yield self._cite(references)
            # else: a passage id this request cannot resolve (an earlier turn's, a guess): removed
            position = match.end()
        tail = pending[position:]
        hold = _hold_from(tail)
        self._pending = tail[hold:]
        yield from self._release(tail[:hold])

    def drop(self) -> None:
        """Forget the held tail: the guardrail's blocked message replaces what follows it, and a
        marker's beginning glued to that message would be neither text nor citation."""
        self._pending = ""

    def flush(self) -> Iterator[Event]:
        """The held tail, verbatim: the stream ends (or pauses for a ``returnControl``) here."""
        pending, self._pending = self._pending, ""
        yield from self._release(pending)

    def _references(self, ids: str) -> list[Mapping[str, Any]] | None:
        references: list[Mapping[str, Any]] = []
        for passage_id in _IDS.findall(ids):
            reference = self._retrieved.reference("S" + passage_id[1:].lower())
            if reference is None:
                return None
            if reference not in references:
                references.append(reference)
        return references

    def _release(self, text: str) -> Iterator[Event]:
        if text:
            self._released += len(text)
            self._since.append(text)
            yield TextChunk(text)

    def _cite(self, references: list[Mapping[str, Any]]) -> Citations:
        since = "".join(self._since)
        offset = self._released - len(since)
        supported = since.rstrip()
        sentence = max(sentence_ends(supported), default=0)
        text = supported[sentence:].lstrip()
        if text:
            cited = _Cited(text, offset + len(supported) - len(text), offset + len(supported))
        elif self._previous is not None and not since.strip():
            cited = self._previous  # "[S1a2b3c][Sdef456]": the same text as the marker before
        else:
            cited = _Cited("", self._released, self._released)
        self._previous = cited
        self._since = []
        self._stats.citations += 1
        item = {
            "text": cited.text,
            "span": {"start": cited.start, "end": cited.end},
            "references": [dict(reference) for reference in references],
        }
        return Citations((item,))


def cite(events: Iterator[Event], retrieved: Retrieved, stats: StreamStats) -> Iterator[Event]:
    """``events`` with the markers of known passages turned into ``Citations`` (module docstring)."""
    stage = CitationStage(retrieved, stats)
    try:
        for event in events:
            if isinstance(event, TextChunk):
                yield from stage.feed(event.text)
                continue
            if isinstance(event, ReturnControl):
                yield from stage.flush()
            elif isinstance(event, GuardrailIntervention) and replaces_text(event):
                stage.drop()
            yield event
        yield from stage.flush()
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()


def _well_formed(ids: str) -> bool:
    """Whether every id of a marker has the search tool's id shape (``PASSAGE_ID``: lowercase hex)."""
    return all(PASSAGE_ID.fullmatch(passage_id) for passage_id in _IDS.findall(ids))


def replaces_text(intervention: GuardrailIntervention) -> bool:
    """Whether the intervention's text (the blocked message) replaces the answer from here on."""
    return intervention.source == "OUTPUT" and intervention.action != "ANONYMIZED"


def marker_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` has a marker (``MARKER``, whole) or, at its end, what may still become one."""
    spans = [(match.start(), match.end()) for match in MARKER.finditer(text)]
    hold = _hold_from(text)
    if hold < len(text):
        spans.append((hold, len(text)))
    return spans


def strip_markers(text: str) -> tuple[str, list[tuple[int, str]]]:
    """``text`` without its markers (``MARKER``, any id), and each removed marker with its offset in
    the stripped text: what the guardrail judges (a marker is no content the grounding check could
    find in a passage); ``restore_markers`` puts them back."""
    pieces: list[str] = []
    markers: list[tuple[int, str]] = []
    position = length = 0
    for match in MARKER.finditer(text):
        pieces.append(text[position : match.start()])
        length += match.start() - position
        markers.append((length, match[0]))
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces), markers


def restore_markers(masked: str, stripped: str, markers: list[tuple[int, str]]) -> str:
    """The guardrail's masked version of ``stripped`` with ``strip_markers``' markers put back where
    they belong: each after the same text, mapped through the differences masking made (a marker
    after a masked span follows its replacement). Only marker text is added to ``masked``, so nothing
    the guardrail masked can come back."""
    if not markers:
        return masked
    codes: Sequence[tuple[str, int, int, int, int]] | None = None
    offsets: list[int] = []
    for offset, _ in markers:
        before, after = stripped[:offset], stripped[offset:]
        if masked.startswith(before):  # masking changed only text after the marker
            offsets.append(offset)
        elif masked.endswith(after):  # ... only text before it
            offsets.append(len(masked) - len(after))
        else:  # both sides changed: follow the differences
            if codes is None:
                codes = list(difflib.SequenceMatcher(None, stripped, masked, autojunk=False).get_opcodes())
            offsets.append(_mapped(offset, codes))
    pieces: list[str] = []
    position = 0
    for offset, (_, marker) in zip(offsets, markers, strict=True):
        offset = max(offset, position)
        pieces.extend((masked[position:offset], marker))
        position = offset
    pieces.append(masked[position:])
    return "".join(pieces)


def _mapped(offset: int, codes: Sequence[tuple[str, int, int, int, int]]) -> int:
    """``offset`` (just after some text of the old string) in the new one of ``codes``."""
    if offset == 0:
        return 0
    for tag, old_start, old_end, new_start, new_end in codes:
        if old_start < offset <= old_end:
            return new_start + (offset - old_start) if tag == "equal" else new_end
    return codes[-1][4] if codes else 0


def _hold_from(text: str) -> int:
    """Where the tail of ``text`` that may still become a marker (``MARKER``) begins; len: none."""
    for start in range(max(0, len(text) - MAX_HOLD), len(text)):
        if _may_become_marker(text[start:]):
            return start
    return len(text)


def _may_become_marker(text: str) -> bool:
    """Whether more text could make ``text`` (not empty) a whole ``MARKER`` match."""
    body = text.lstrip(" \t")
    if len(text) - len(body) > MAX_GAP:
        return False
    if not body:
        return True  # spaces before what may be a marker
    if body[0] != "[":
        return False
    index, ids = 1, 0
    while True:
        if index == len(body):
            return True
        if body[index] != "S":
            return False
        index += 1
        for _ in range(6):
            if index == len(body):
                return True
            if body[index] not in _HEX:
                return False
            index += 1
        ids += 1
        if index == len(body):
            return True
        if body[index] not in _SEPARATORS or ids == MAX_IDS:
            return False  # "]" ends a whole marker (or one already judged), anything else no marker
        index += 1
        if index < len(body) and body[index] == " ":
            index += 1
