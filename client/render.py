"""Text shown to the user: the completion with numbered citation markers, the list of sources, and what
the agent's guardrail did (docs/api.md, "Guardrail interventions")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def render_answer(completion: str, citations: Sequence[Mapping[str, Any]]) -> str:
    """The completion, ``[n]`` after each cited passage, then ``Sources:`` with one line per reference.

    References are numbered once each (the same document cited twice keeps its number). A marker is
    placed only where the citation's span really covers its text in the completion; every reference
    is listed either way.
    """
    numbers: dict[tuple[str, str | None], int] = {}
    inserts: list[tuple[int, str]] = []
    for citation in citations:
        cited: list[int] = []
        for reference in citation.get("references") or []:
            if not isinstance(reference, Mapping):
                continue
            key = (str(reference.get("type") or "SOURCE"), _uri(reference.get("uri")))
            cited.append(numbers.setdefault(key, len(numbers) + 1))
        end = _span_end(completion, citation)
        if cited and end is not None:
            inserts.append((end, "".join(f"[{n}]" for n in dict.fromkeys(cited))))
    text = completion
    for position, marker in sorted(inserts, key=lambda item: item[0], reverse=True):
        text = text[:position] + marker + text[position:]
    if not numbers:
        return text
    lines = [text, "", "Sources:"]
    for (kind, uri), number in numbers.items():
        lines.append(f"  [{number}] {uri if uri is not None else f'({kind} source, no address)'}")
    return "\n".join(lines)


def _uri(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _span_end(completion: str, citation: Mapping[str, Any]) -> int | None:
    """Where the cited text ends in the completion, if its span says so (Bedrock's end is inclusive)."""
    span, text = citation.get("span"), citation.get("text")
    if not isinstance(span, Mapping) or not isinstance(text, str) or not text:
        return None
    start, end = span.get("start"), span.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or start < 0:
        return None
    for stop in (end + 1, end):  # inclusive end as documented, tolerate an exclusive one
        if completion[start:stop] == text:
            return stop
    return None


def render_sources(citations: Sequence[Mapping[str, Any]]) -> str:
    """Only the ``Sources:`` list (for a streamed answer, whose text was printed as it arrived)."""
    return render_answer("", citations).lstrip("\n")


_SIDES = {"INPUT": "your message", "OUTPUT": "the answer"}
_ACTIONS = {
    "BLOCKED": "blocked",
    "ANONYMIZED": "masked sensitive information in",
    "INTERVENED": "intervened in",
}


def render_interventions(interventions: Sequence[Mapping[str, Any]]) -> str:
    """One line per guardrail intervention, e.g. ``guardrail: blocked your message (content, word)``;
    the text shown above it is the guardrail's own message, not the agent's answer."""
    lines = []
    for item in interventions:
        side = _SIDES.get(str(item.get("source")), "the turn")
        action = _ACTIONS.get(str(item.get("action")), "intervened in")
        policies = [str(p) for p in item.get("policies") or [] if isinstance(p, str)]
        detail = f" ({', '.join(policies)})" if policies else ""
        lines.append(f"guardrail: {action} {side}{detail}")
    return "\n".join(lines)
