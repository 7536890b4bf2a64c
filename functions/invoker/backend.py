"""The one interface the handler sees of an agent service, and the one place that picks it.

``AgentBackend.converse`` returns an iterator of ``events`` that reads the agent's stream lazily:
the handler (buffered JSON) and a streaming renderer consume the same iterator. Every failure is
raised from that iterator as an ``ApiError`` with the documented code (docs/api.md), whether it
happens on the call or in the middle of the stream, so the classification lives in the backends
and applies to every rendering mode. ``backend_from_settings`` is the only code that branches on
``AGENT_BACKEND``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Protocol

from functions.invoker.agentcore import AgentCoreBackend
from functions.invoker.budget import Deadline, Retrying
from functions.invoker.classic import ClassicBackend
from functions.invoker.config import Settings
from functions.invoker.errors import ConfigError
from functions.invoker.events import Event, StreamStats
from functions.invoker.validation import ChatRequest


class AgentBackend(Protocol):
    def converse(
        self, session_id: str, chat: ChatRequest, deadline: Deadline, stats: StreamStats
    ) -> Iterator[Event]:
        """Send one turn; yield its events as they arrive. Raises ``ApiError`` (also mid-stream)."""
        ...

    def end_session(self, session_id: str, deadline: Deadline, stats: StreamStats) -> None:
        """End the session (``DELETE /chat/{sessionId}``). Raises ``ApiError``."""
        ...


# ``clients(read_timeout_s)``: a client of the backend's service whose socket reads block at most that
# long (whole seconds; the handler keeps one client per value for the environment's lifetime).
Clients = Callable[[float], Any]


class BackendClass(Protocol):
    """A backend implementation, built per request over the environment's clients."""

    def __call__(
        self, settings: Settings, clients: Clients, retrying: Retrying, guardrails: Clients | None = None
    ) -> AgentBackend: ...

    def create_client(self, read_timeout_s: float) -> Any:
        """A new boto3 client of the backend's service (no botocore retries: ``with_retries`` owns them)."""
        ...


# AGENT_BACKEND -> implementation; config.AGENT_BACKENDS lists the same names (a test checks).
BACKENDS: Final[Mapping[str, BackendClass]] = {"classic": ClassicBackend, "agentcore": AgentCoreBackend}


def _backend_class(settings: Settings) -> BackendClass:
    backend = BACKENDS.get(settings.backend)
    if backend is None:
        raise ConfigError(f"AGENT_BACKEND {settings.backend!r} is not available")
    return backend


def backend_from_settings(
    settings: Settings, clients: Clients, retrying: Retrying, guardrails: Clients | None = None
) -> AgentBackend:
    """The backend ``AGENT_BACKEND`` names, talking through ``clients`` (made by ``create_client``);
    ``guardrails``: ``bedrock-runtime`` clients, for a backend that applies the guardrail itself."""
    return _backend_class(settings)(settings, clients, retrying, guardrails)


def create_client(settings: Settings, read_timeout_s: float) -> Any:
    """A new boto3 client of the service ``AGENT_BACKEND`` names."""
    return _backend_class(settings).create_client(read_timeout_s)
