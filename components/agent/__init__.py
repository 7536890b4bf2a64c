"""The agent: one protocol (`AgentRuntime`), one factory, one module per runtime.

`create_agent` and `searches_knowledge_bases` are the only places that look up the configured runtime
(`agentRuntime`); the rest of the program asks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Optional

import pulumi

from components.agent.agentcore import AgentCoreAgent
from components.agent.base import AgentArgs, AgentKeySpec, AgentRuntime, KnowledgeBaseSpec, ToolGroup
from components.agent.classic import BedrockAgent

__all__ = [
    "AgentArgs",
    "AgentKeySpec",
    "AgentRuntime",
    "KnowledgeBaseSpec",
    "ToolGroup",
    "create_agent",
    "searches_knowledge_bases",
]

RUNTIMES: Final[Mapping[str, type[BedrockAgent] | type[AgentCoreAgent]]] = {
    "classic": BedrockAgent,
    "agentcore": AgentCoreAgent,
}


def _runtime(runtime: str) -> type[BedrockAgent] | type[AgentCoreAgent]:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown agent runtime {runtime!r}")  # config.py validates it first
    return RUNTIMES[runtime]


def create_agent(name: str, args: AgentArgs, opts: Optional[pulumi.ResourceOptions] = None) -> AgentRuntime:
    """The agent of the runtime `args.settings.runtime` names ("classic" or "agentcore")."""
    return _runtime(args.settings.runtime)(name, args, opts)


def searches_knowledge_bases(runtime: str) -> bool:
    """Whether the runtime's agent searches the knowledge bases it is given itself (Classic: associated
    with the agent). False: it can only search one through the search tool (a tool group of
    functions/action_group/knowledge.py's `knowledge_app`), which the caller adds. Asked before the
    agent exists: the tool's Lambda is deployed first."""
    return _runtime(runtime).searches_knowledge_bases
