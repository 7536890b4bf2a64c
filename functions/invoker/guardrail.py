"""``ApplyGuardrail`` (bedrock-runtime): the guardrail of a backend whose service applies none itself.

Why here: an AgentCore harness has no guardrail setting (no guardrail member anywhere in botocore's
``bedrock-agentcore`` / ``bedrock-agentcore-control`` models, nor on pulumi-aws's ``AgentcoreHarness``),
and AWS documents ``ApplyGuardrail`` for exactly this: "assess any text using your pre-configured Amazon
Bedrock Guardrails, without invoking the foundation models ... evaluate user inputs and FM generated
outputs independently", with ``source`` ``INPUT`` for the user's prompt and ``OUTPUT`` for the model's
answer (Bedrock user guide, "Use the ApplyGuardrail API in your application",
guardrails-use-independent-api.html). The response's ``action`` is ``GUARDRAIL_INTERVENED`` or
``NONE``; on an intervention ``outputs`` holds the text to use instead: the guardrail's blocked message,
or the text with sensitive information masked (``ANONYMIZED``).

With ``grounding`` (the turn searched the knowledge base, functions/invoker/retrieval.py), an
``OUTPUT`` check also carries the contextual grounding check's inputs. What AWS documents (Bedrock user
guide, "Use contextual grounding check to filter hallucinations in responses",
guardrails-contextual-grounding-check.html, read in its English and translated editions):

- the check needs "a reference source and a user query" and judges the model response for grounding
  (in the source) and relevance (to the query); with ``ApplyGuardrail`` the three are text blocks whose
  ``qualifiers`` (botocore bedrock-runtime ``GuardrailContentQualifier``) are ``grounding_source``,
  ``query`` and ``guard_content`` (the content to guard, the model's answer);
- several ``grounding_source`` blocks are combined and evaluated together (``query`` likewise), so each
  passage is its own block;
- limits: 100,000 characters of grounding source, 1,000 of query, 5,000 of response
  (``GROUNDING_*_CHARS``): sources and query are cut here (``grounding_content``), the answer is
  checked in segments of at most 5,000 characters by the backend (agentcore ``_release``);
- billing: the response's ``usage.contextualGroundingPolicyUnits`` counts the check's text units
  (botocore ``GuardrailUsage``); a grounding filter that is disabled is not charged ("When disabled, you
  aren't charged for the evaluation", ``GuardrailContextualGroundingFilterConfig.enabled``, API reference);
  the price per 1,000 text units is in offline/cost.py (``bedrock.guardrail.grounding_1k_units``).

Not documented there, so handled defensively: whether the other policies (content, topics, PII) also
evaluate, mask and bill the ``grounding_source`` / ``query`` blocks, and what a guardrail without a
grounding policy does with them. The blocks are sent only after a search in the turn, and sized as
above; a search happens only while the search tool is on the agent's gateway, which is when the program
gives the guardrail its grounding policy (components/guardrail.py ``with_grounding``: knowledge base
attached); and the answer's replacement is read from the last output only, so a masked passage or query
can never become the answer, whatever the service returns for those blocks. (The guide's supported use
cases: its English edition names summarization, paraphrasing and question answering and excludes
"Conversational QA / Chatbot"; its translated editions list RAG and conversational agents. An agent that
answers from retrieved passages is the RAG case; the thresholds are the operator's setting.)

Nothing here logs or keeps the text; ``check`` returns the action, the policy kinds and the
replacement text only. Errors are botocore's, mapped by the calling backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from functions.invoker import reader
from functions.invoker.config import Guardrail
from functions.invoker.events import GuardrailIntervention, assessed_actions


class GuardrailClient(Protocol):
    """The slice of the ``bedrock-runtime`` client this function uses."""

    def apply_guardrail(self, **kwargs: Any) -> Mapping[str, Any]: ...


# ApplyGuardrail on at most one text unit answers in well under a second: one fixed, short read
# timeout, so every check of every turn uses the same client (a client's timeout is fixed, and the
# remaining budget in whole seconds would be a new client almost every check). The backend checks the
# deadline after each call; only within the last seconds of the budget is the timeout shorter.
GUARDRAIL_READ_TIMEOUT_S: Final = 5.0


def create_client(
    read_timeout_s: float, session: Any = None, endpoint_url: str | None = None
) -> GuardrailClient:
    """A ``bedrock-runtime`` client without botocore retries (the backend's retry loop owns them)."""
    client: GuardrailClient = reader.new_client("bedrock-runtime", read_timeout_s, session, endpoint_url)
    return client


# The contextual grounding check's limits, in characters (module docstring).
GROUNDING_SOURCE_CHARS: Final = 100_000  # all grounding_source blocks together (they are combined)
GROUNDING_QUERY_CHARS: Final = 1_000
GROUNDING_CONTENT_CHARS: Final = 5_000


@dataclass(frozen=True)
class Grounding:
    """The contextual grounding check's inputs: the retrieved passages' texts and the user's text."""

    sources: tuple[str, ...] = field(default=())
    query: str = ""


def grounding_content(text: str, grounding: Grounding) -> list[dict[str, Any]]:
    """``ApplyGuardrail`` content for an answer segment checked against ``grounding``: one
    ``grounding_source`` block per passage, in retrieval order, cut where they reach
    ``GROUNDING_SOURCE_CHARS`` together (the later passages do not fit: the check sees the first
    ones whole); the query's first ``GROUNDING_QUERY_CHARS``; the segment as ``guard_content``
    (its callers keep it within ``GROUNDING_CONTENT_CHARS``)."""
    blocks: list[dict[str, Any]] = []
    budget = GROUNDING_SOURCE_CHARS
    for source in grounding.sources:
        piece = source[:budget]
        if not piece:
            continue
        blocks.append({"text": {"text": piece, "qualifiers": ["grounding_source"]}})
        budget -= len(piece)
    query = grounding.query[:GROUNDING_QUERY_CHARS]
    if query:
        blocks.append({"text": {"text": query, "qualifiers": ["query"]}})
    blocks.append({"text": {"text": text, "qualifiers": ["guard_content"]}})
    return blocks


@dataclass(frozen=True)
class Checked:
    """The guardrail's verdict on one text: ``intervention`` None means the text passes unchanged."""

    text: str
    intervention: GuardrailIntervention | None = None
    # The response's ``usage`` (botocore bedrock-runtime ``GuardrailUsage``: text units per policy,
    # ``contextualGroundingPolicyUnits`` among them): counts only, summed on the log line.
    usage: Mapping[str, int] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.intervention is not None and self.intervention.action != "ANONYMIZED"


def check(
    client: GuardrailClient, guardrail: Guardrail, source: str, text: str, grounding: Grounding | None = None
) -> Checked:
    """Apply ``guardrail`` to ``text`` as ``source`` (``INPUT`` or ``OUTPUT``), with the contextual
    grounding check's ``grounding`` when given.

    An intervention that only masked (every finding ``ANONYMIZED``) lets the masked text through;
    anything else is blocked and the text is the guardrail's blocked message.
    """
    content = [{"text": {"text": text}}] if grounding is None else grounding_content(text, grounding)
    response = client.apply_guardrail(
        guardrailIdentifier=guardrail.identifier,
        guardrailVersion=guardrail.version,
        source=source,
        content=content,
    )
    raw_usage = response.get("usage")
    usage = {
        str(name): count
        for name, count in (raw_usage.items() if isinstance(raw_usage, Mapping) else ())
        if type(count) is int and count >= 0
    }
    if response.get("action") != "GUARDRAIL_INTERVENED":
        return Checked(text, usage=usage)
    action, policies = assessed_actions(response.get("assessments"))
    outputs = response.get("outputs")
    texts = [
        str(item["text"])
        for item in (outputs if isinstance(outputs, list) else ())
        if isinstance(item, Mapping) and isinstance(item.get("text"), str)
    ]
    # With grounding blocks, only the last output can be the answer's (the guarded block is last).
    replacement = "".join(texts if grounding is None else texts[-1:])
    intervention = GuardrailIntervention(
        source=source,
        action=action,
        policies=policies,
        guardrail_id=guardrail.guardrail_id,
        guardrail_version=guardrail.version,
    )
    return Checked(replacement, intervention, usage)
