"""The invoker's environment contract, parsed and validated into a ``Settings`` value.

| variable | required | meaning |
|---|---|---|
| ``AGENT_ID`` | classic | the Bedrock agent id (``^[0-9a-zA-Z]{1,10}$``) |
| ``AGENT_ALIAS_ID`` | classic | the agent alias id (``^[0-9a-zA-Z]{1,10}$``) |
| ``HARNESS_ARN`` | agentcore | the AgentCore harness ARN (botocore's ``HarnessArn`` pattern) |
| ``HARNESS_RUNTIME_ARN`` | agentcore | the runtime AgentCore provisioned for the harness |
| ``INLINE_TOOL_GROUPS`` | no | agentcore: JSON ``{"<inline function>": "<group>"}`` (``returnControl``) |
| ``RETRIEVAL_TOOL`` | no | agentcore: the search tool as the model sees it (citations, grounding) |
| ``GUARDRAIL_ID`` | no | the agent's guardrail (id or ARN), with ``GUARDRAIL_VERSION`` (see below) |
| ``GUARDRAIL_VERSION`` | no | the guardrail's pinned version (a number or ``DRAFT``) |
| ``ALLOWED_ORIGINS`` | no | JSON array of exact origins (``https://app.example.com``), default ``[]`` |
| ``API_DEADLINE_MS`` | no | API Gateway integration timeout in ms, default 29000 (2000..900000) |
| ``AGENT_BACKEND`` | no | the agent service: ``classic`` (Bedrock Agents, the default) or ``agentcore`` |
| ``API_STREAMING`` | no | ``true``: the API streams, the agent is asked to stream its answer (``false``) |
| ``POWERTOOLS_SERVICE_NAME`` | no | the ``service`` key of every log line (read by Powertools) |

With a guardrail, classic asks for the agent's trace to see its interventions; agentcore applies the
guardrail itself (``ApplyGuardrail``, functions/invoker/guardrail.py).

Settings are read on every invocation (cheap: a few dict lookups and one small ``json.loads``), so
a misconfiguration is reported per request as a logged 500 ``CONFIG_ERROR`` instead of an import
crash that API Gateway would turn into an opaque 502.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from functions.invoker.errors import ConfigError

DEFAULT_API_DEADLINE_MS: Final = 29_000
MIN_API_DEADLINE_MS: Final = 2_000
MAX_API_DEADLINE_MS: Final = 900_000
DEFAULT_AGENT_BACKEND: Final = "classic"
AGENT_BACKENDS: Final = ("classic", "agentcore")  # the names functions.invoker.backend.BACKENDS implements

_RESOURCE_ID = re.compile(r"[0-9a-zA-Z]{1,10}")
# botocore bedrock-runtime: GuardrailIdentifier (an id or a guardrail ARN) and GuardrailVersion.
_GUARDRAIL_ID = re.compile(
    r"[a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+"
)
_GUARDRAIL_VERSION = re.compile(r"[1-9][0-9]{0,7}|DRAFT")
# botocore bedrock-agentcore: HarnessArn; a runtime ARN of the same account and partition.
_HARNESS_ARN = re.compile(
    r"arn:([^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:harness/[a-zA-Z][a-zA-Z0-9_]{0,39}-[a-zA-Z0-9]{10}"
)
# botocore bedrock-agentcore: HarnessToolName (the name a harness toolUse carries).
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_RUNTIME_ARN = re.compile(
    r"arn:([^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:runtime/[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}"
)
# scheme://host[:port], no path, no trailing slash; "*" and "null" are rejected on purpose.
_ORIGIN = re.compile(
    r"https?://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?"
)


@dataclass(frozen=True)
class Settings:
    agent_id: str
    agent_alias_id: str
    allowed_origins: frozenset[str]
    api_deadline_ms: int
    backend: str = DEFAULT_AGENT_BACKEND
    streaming: bool = False
    harness_arn: str = ""
    harness_runtime_arn: str = ""
    inline_tool_groups: Mapping[str, str] = field(default_factory=dict)
    guardrail: Guardrail | None = None
    retrieval_tool: str = ""  # "": this stack's agent has no knowledge-base search tool


@dataclass(frozen=True)
class Guardrail:
    """The guardrail the agent applies: the identifier (id or ARN) and version AWS was given."""

    identifier: str
    version: str

    @property
    def guardrail_id(self) -> str:
        """The bare id (the last part of an ARN), for reports."""
        return self.identifier.rsplit("/", 1)[-1]


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Validate the environment; raise ``ConfigError`` naming the offending variable.

    Each backend requires the identifiers of its own agent (Classic: agent and alias ids; AgentCore:
    the harness and its runtime) and ignores the other's.
    """
    backend = _backend(environ.get("AGENT_BACKEND"))
    classic = backend == "classic"
    return Settings(
        agent_id=_resource_id(environ, "AGENT_ID") if classic else "",
        agent_alias_id=_resource_id(environ, "AGENT_ALIAS_ID") if classic else "",
        allowed_origins=_allowed_origins(environ.get("ALLOWED_ORIGINS")),
        api_deadline_ms=_deadline_ms(environ.get("API_DEADLINE_MS")),
        backend=backend,
        streaming=_flag(environ, "API_STREAMING"),
        harness_arn="" if classic else _arn(environ, "HARNESS_ARN", _HARNESS_ARN),
        harness_runtime_arn="" if classic else _arn(environ, "HARNESS_RUNTIME_ARN", _RUNTIME_ARN),
        inline_tool_groups={} if classic else _tool_groups(environ.get("INLINE_TOOL_GROUPS")),
        guardrail=_guardrail(environ),
        retrieval_tool="" if classic else _tool_name(environ, "RETRIEVAL_TOOL"),
    )


def _tool_name(environ: Mapping[str, str], name: str) -> str:
    """An optional tool name (absent or blank: none)."""
    value = environ.get(name, "").strip()
    if value and not _TOOL_NAME.fullmatch(value):
        raise ConfigError(f"{name} must be a tool name of 1-64 characters a-z A-Z 0-9 _ -")
    return value


def _guardrail(environ: Mapping[str, str]) -> Guardrail | None:
    identifier = environ.get("GUARDRAIL_ID", "").strip()
    version = environ.get("GUARDRAIL_VERSION", "").strip()
    if not identifier and not version:
        return None
    if not identifier or not version:
        raise ConfigError("set GUARDRAIL_ID and GUARDRAIL_VERSION together")
    if not _GUARDRAIL_ID.fullmatch(identifier):
        raise ConfigError("GUARDRAIL_ID is not a guardrail id or ARN")
    if not _GUARDRAIL_VERSION.fullmatch(version):
        raise ConfigError("GUARDRAIL_VERSION must be a version number or DRAFT")
    return Guardrail(identifier, version)


def _arn(environ: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    if not pattern.fullmatch(value):
        raise ConfigError(f"{name} is not an AgentCore ARN of the expected kind")
    return value


def _tool_groups(raw: str | None) -> dict[str, str]:
    if raw is None or not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("INLINE_TOOL_GROUPS must be a JSON object of strings") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ConfigError("INLINE_TOOL_GROUPS must be a JSON object of strings")
    return parsed


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        raise ConfigError(f"{name} must be true or false")
    return value == "true"


def _backend(raw: str | None) -> str:
    if raw is None or not raw.strip():
        return DEFAULT_AGENT_BACKEND
    value = raw.strip()
    if value not in AGENT_BACKENDS:
        raise ConfigError(f"AGENT_BACKEND must be one of {', '.join(AGENT_BACKENDS)}")
    return value


def _resource_id(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    if not _RESOURCE_ID.fullmatch(value):
        raise ConfigError(f"{name} must match ^[0-9a-zA-Z]{{1,10}}$")
    return value


def _allowed_origins(raw: str | None) -> frozenset[str]:
    if raw is None or not raw.strip():
        return frozenset()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("ALLOWED_ORIGINS must be a JSON array of origin strings") from exc
    if not isinstance(parsed, list) or not all(isinstance(item, str) for item in parsed):
        raise ConfigError("ALLOWED_ORIGINS must be a JSON array of origin strings")
    for origin in parsed:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError("ALLOWED_ORIGINS entries must be exact origins like https://app.example.com")
    return frozenset(parsed)


def _deadline_ms(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_API_DEADLINE_MS
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ConfigError("API_DEADLINE_MS must be an integer number of milliseconds") from exc
    if not MIN_API_DEADLINE_MS <= value <= MAX_API_DEADLINE_MS:
        raise ConfigError(f"API_DEADLINE_MS must be between {MIN_API_DEADLINE_MS} and {MAX_API_DEADLINE_MS}")
    return value
