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

Nothing here logs or keeps the text; ``check`` returns the action, the policy kinds and the
replacement text only. Errors are botocore's, mapped by the calling backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Checked:
    """The guardrail's verdict on one text: ``intervention`` None means the text passes unchanged."""

    text: str
    intervention: GuardrailIntervention | None = None

    @property
    def blocked(self) -> bool:
        return self.intervention is not None and self.intervention.action != "ANONYMIZED"


def check(client: GuardrailClient, guardrail: Guardrail, source: str, text: str) -> Checked:
    """Apply ``guardrail`` to ``text`` as ``source`` (``INPUT`` or ``OUTPUT``).

    An intervention that only masked (every finding ``ANONYMIZED``) lets the masked text through;
    anything else is blocked and the text is the guardrail's blocked message.
    """
    response = client.apply_guardrail(
        guardrailIdentifier=guardrail.identifier,
        guardrailVersion=guardrail.version,
        source=source,
        content=[{"text": {"text": text}}],
    )
    if response.get("action") != "GUARDRAIL_INTERVENED":
        return Checked(text)
    action, policies = assessed_actions(response.get("assessments"))
    outputs = response.get("outputs")
    replacement = "".join(
        str(item["text"])
        for item in (outputs if isinstance(outputs, list) else ())
        if isinstance(item, Mapping) and isinstance(item.get("text"), str)
    )
    intervention = GuardrailIntervention(
        source=source,
        action=action,
        policies=policies,
        guardrail_id=guardrail.guardrail_id,
        guardrail_version=guardrail.version,
    )
    return Checked(replacement, intervention)
