"""What an agent backend yields while it reads the agent's answer: backend-neutral events.

A backend (``functions.invoker.classic``, ...) turns its service's stream into these events lazily,
one by one as the stream is read, and fills a ``StreamStats`` for the summary log line. Renderers
consume the same iterator: ``collect`` builds the buffered JSON answer of ``POST /chat``.
Events carry completion text; never log them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final


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


@dataclass(frozen=True)
class GuardrailIntervention:
    """A guardrail intervened in the turn (docs/api.md, "Guardrail interventions"): which guardrail,
    on which side (``INPUT``: the user's text, ``OUTPUT``: the agent's answer), what it did
    (``BLOCKED``, ``ANONYMIZED``, or ``INTERVENED`` when the service did not say) and the kinds of
    policy that acted (``content``, ``topic``, ``word``, ``sensitiveInformation``, ...). Never the
    blocked text, nor what the assessment matched: the answer carries only the guardrail's own message.
    """

    source: str
    action: str
    policies: tuple[str, ...] = ()
    guardrail_id: str | None = None
    guardrail_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "action": self.action,
            "policies": list(self.policies),
            "guardrailId": self.guardrail_id,
            "guardrailVersion": self.guardrail_version,
        }


Event = TextChunk | Citations | ReturnControl | Usage | GuardrailIntervention

# Assessment policy members (bedrock-runtime / bedrock-agent-runtime ``GuardrailAssessment``) -> the
# short name an intervention reports.
POLICY_NAMES: Final[Mapping[str, str]] = {
    "contentPolicy": "content",
    "topicPolicy": "topic",
    "wordPolicy": "word",
    "sensitiveInformationPolicy": "sensitiveInformation",
    "contextualGroundingPolicy": "contextualGrounding",
    "automatedReasoningPolicy": "automatedReasoning",
}


def assessed_actions(assessments: object) -> tuple[str, tuple[str, ...]]:
    """The action and the policy kinds of guardrail ``assessments`` (a list of ``GuardrailAssessment``).

    Reads only each finding's ``action`` (never its matched text): ``BLOCKED`` if any finding blocked,
    else ``ANONYMIZED`` if any masked, else ``INTERVENED``; policies in model order, each once.
    """
    actions: set[str] = set()
    policies: list[str] = []
    for assessment in assessments if isinstance(assessments, list) else ():
        if not isinstance(assessment, Mapping):
            continue
        for member, name in POLICY_NAMES.items():
            found = _finding_actions(assessment.get(member))
            if found:
                actions |= found
                if name not in policies:
                    policies.append(name)
    action = "BLOCKED" if "BLOCKED" in actions else "ANONYMIZED" if "ANONYMIZED" in actions else "INTERVENED"
    return action, tuple(policies)


def _finding_actions(policy: object) -> set[str]:
    """The non-NONE ``action`` of every finding in a policy assessment (lists of findings)."""
    found: set[str] = set()
    if not isinstance(policy, Mapping):
        return found
    for findings in policy.values():
        for finding in findings if isinstance(findings, list) else ():
            action = finding.get("action") if isinstance(finding, Mapping) else None
            if isinstance(action, str) and action != "NONE":
                found.add(action)
    return found


@dataclass
class StreamStats:
    """What the handler logs about the agent call, filled by the backend. Counts and ids only."""

    attempts: int = 0
    throttled: int = 0
    chunks: int = 0
    completion_bytes: int = 0
    citations: int = 0
    retrievals: int = 0  # AgentCore: the search tool's results read (their passages are citable)
    retrievals_ignored: int = 0  # ... and those that failed or were unreadable
    retrieved_passages: int = 0
    trace_events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    return_control: bool = False
    invocation_inputs: int = 0
    upstream_request_id: str | None = None
    guardrail_intervened: bool = False  # the metric filter "guardrail-interventions" matches on it
    guardrail_interventions: int = 0
    # AgentCore: ApplyGuardrail calls made (throttled attempts included) and the units their
    # responses' ``usage`` reported, summed per GuardrailUsage member (what the guardrail bills).
    guardrail_calls: int = 0
    guardrail_units: dict[str, int] = field(default_factory=dict)

    def guardrail_used(self, usage: Mapping[str, int]) -> None:
        for name, count in usage.items():
            self.guardrail_units[name] = self.guardrail_units.get(name, 0) + count

    def intervened(self, event: GuardrailIntervention) -> GuardrailIntervention:
        """Count ``event`` (the backend yields what this returns)."""
        self.guardrail_intervened = True
        self.guardrail_interventions += 1
        return event


@dataclass
class Reply:
    """The buffered answer: every event of one turn collected (the backend vouches it is complete)."""

    completion: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    return_control: dict[str, Any] | None = None
    guardrail_interventions: list[GuardrailIntervention] = field(default_factory=list)


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
        elif isinstance(event, GuardrailIntervention):
            reply.guardrail_interventions.append(event)
    reply.completion = "".join(parts)
    return reply
