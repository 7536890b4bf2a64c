"""What the rest of the program sees of the agent, whichever runtime serves it.

`__main__.py` builds the agent through `create_agent` (components/agent/__init__.py) and then only
uses this protocol: the invoker's environment and IAM statements, the interface endpoint service the
invoker reaches the agent through and that endpoint's policy, and the stack outputs. The cost model
(offline/cost.py) prices the resources the run registered, so it needs nothing more from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

import pulumi

from components.config import AgentSettings
from components.context import AwsContext
from components.function_schema import FunctionDefinition
from components.guardrail import GuardrailAttachment


@dataclass(frozen=True)
class ToolGroup:
    """A group of tools the agent may call, described once for every runtime.

    `function_arn` is the Lambda that runs them; None means the caller fulfils them (the API returns
    the call to the client, which answers in its next request).
    """

    name: str
    description: str
    functions: Sequence[FunctionDefinition]
    function_arn: Optional[pulumi.Input[str]] = None
    # A stable identity of the executor for definition hashes (the ARN is only known later).
    executor_key: str = "RETURN_CONTROL"
    # False: the first step of removing the group (it stays, disabled, for one deployment; README,
    # "Changing the agent").
    enabled: bool = True


@dataclass(frozen=True)
class KnowledgeBaseSpec:
    """A knowledge base the agent searches; `key` identifies it in definition hashes."""

    knowledge_base_id: pulumi.Input[str]
    knowledge_base_arn: pulumi.Input[str]
    description: str
    key: str
    # False: the association stays, DISABLED, and leaves the definition hash (knowledgeBaseAttached).
    enabled: bool = True


@dataclass(frozen=True)
class AgentKeySpec:
    """The customer-managed key of the agent's data; `key` identifies it in definition hashes."""

    arn: pulumi.Input[str]
    key: str


@dataclass
class AgentArgs:
    context: AwsContext
    settings: AgentSettings
    agent_name: str
    tool_groups: Sequence[ToolGroup]
    # How long one turn may run: the API's deadline (a runtime with its own limit stops before it).
    turn_timeout_seconds: int
    guardrail: Optional[GuardrailAttachment] = None
    knowledge_bases: Sequence[KnowledgeBaseSpec] = ()
    kms_key: Optional[AgentKeySpec] = None


class AgentRuntime(Protocol):
    """The small interface of an agent backend (Classic Bedrock Agents, Bedrock AgentCore)."""

    @property
    def invoke_action(self) -> str:
        """The API operation the invoker calls, e.g. "InvokeAgent" (for descriptions and docs)."""
        ...

    @property
    def searches_knowledge_bases(self) -> bool:
        """Whether the agent searches `AgentArgs.knowledge_bases` itself; False: only through the
        search tool's tool group (components/agent/__init__.py `searches_knowledge_bases`)."""
        ...

    @property
    def endpoint_service(self) -> str:
        """Short name of the interface endpoint service the invoker calls through."""
        ...

    @property
    def invoker_environment(self) -> Mapping[str, pulumi.Input[str]]:
        """Environment variables that tell the invoker which agent to call."""
        ...

    @property
    def invoker_statements(self) -> Sequence[Mapping[str, Any]]:
        """IAM statements the invoker needs, scoped to this stack's agent."""
        ...

    def endpoint_policies(self, invoker_role_arn: pulumi.Input[str]) -> Mapping[str, dict[str, Any]]:
        """Interface endpoint service -> its policy: only the invoker's role calling this stack's agent
        (and, where the invoker applies the guardrail itself, that guardrail)."""
        ...

    @property
    def outputs(self) -> Mapping[str, pulumi.Input[Any]]:
        """Stack outputs (export name -> value), in export order."""
        ...
