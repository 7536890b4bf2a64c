"""The agent: one protocol (`AgentRuntime`), one factory, one module per runtime.

`create_agent` is the only place that branches on the configured runtime (`agentRuntime`).
"""

from __future__ import annotations

from typing import Optional

import pulumi

from components.agent.agentcore import AgentCoreAgent
from components.agent.base import AgentArgs, AgentKeySpec, AgentRuntime, KnowledgeBaseSpec, ToolGroup
from components.agent.classic import BedrockAgent

__all__ = ["AgentArgs", "AgentKeySpec", "AgentRuntime", "KnowledgeBaseSpec", "ToolGroup", "create_agent"]


def create_agent(name: str, args: AgentArgs, opts: Optional[pulumi.ResourceOptions] = None) -> AgentRuntime:
    """The agent of the runtime `args.settings.runtime` names ("classic" or "agentcore")."""
    if args.settings.runtime == "classic":
        return BedrockAgent(name, args, opts)
    if args.settings.runtime == "agentcore":
        return AgentCoreAgent(name, args, opts)
    raise ValueError(f"unknown agent runtime {args.settings.runtime!r}")  # config.py validates it first
