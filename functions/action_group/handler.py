"""Lambda entry point of the agent's action group: ``functions.action_group.handler.handler``.

Bedrock Agents (Classic) sends its function event; an AgentCore Gateway sends the tool's arguments and
names ``<target>___<tool>`` in the client context (gateway.py). Calls to the gateway's ``knowledge``
target run the knowledge base's search tool (knowledge.py), everything else the tools of tools.py
(``tools_for``).

Logging is deliberately narrow: the event's ``inputText`` is the user's prompt and parameter values
are often quoted from it, so only names, outcome and latency are logged, never values or messages;
a tool may add counts and codes under ``tool`` (dispatch.log_field).
No Tracer: constructing one imports aws-xray-sdk (not in this project's pins) even when tracing is
disabled, then patches libraries; Lambda's active tracing already records the invocation segment.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.action_group.dispatch import Dispatch, dispatch, serialize_body
from functions.action_group.gateway import (
    function_event,
    gateway_response,
    gateway_tool_name,
    split_tool_name,
)
from functions.action_group.knowledge import KNOWLEDGE_TARGET, knowledge_app
from functions.action_group.tools import app
from functions.action_group.toolspec import ToolSpec, resolver_tool_specs

logger: Final = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "action-group")

# Read once per cold start. A tool whose declaration is broken fails here, loudly, although the
# Pulumi program already refuses to generate a schema for it.
TOOLS: Final[dict[str, ToolSpec]] = resolver_tool_specs(app)
# The knowledge base's search tool, published only as its own gateway target (AgentCore); Classic
# associates the knowledge base natively, so its action group never offers it.
KNOWLEDGE_TOOLS: Final[dict[str, ToolSpec]] = resolver_tool_specs(knowledge_app)


# log_event=False explicitly: POWERTOOLS_LOGGER_LOG_EVENT=true would otherwise log the prompt.
@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    # An AgentCore Gateway names the tool in the client context; Bedrock Agents sends its own event.
    tool_name = gateway_tool_name(context)
    request = event if tool_name is None else function_event(tool_name, event)
    result = dispatch(request, tools_for(tool_name), serialize_body)
    # The agent's identity exists only in a Classic event; a gateway event is the model's arguments,
    # whose values must never be logged (an argument named "agent" is not an identity).
    _log(result, (time.perf_counter() - started) * 1000, _agent(event) if tool_name is None else {})
    return result.response if tool_name is None else gateway_response(result)


def tools_for(gateway_tool: str | None) -> Mapping[str, ToolSpec]:
    """The tools a call may run: a gateway call to the ``knowledge`` target runs the search tool;
    every other gateway call, and every Bedrock (Classic) event, runs the action group's ``TOOLS``."""
    if gateway_tool is not None and split_tool_name(gateway_tool)[0] == KNOWLEDGE_TARGET:
        return KNOWLEDGE_TOOLS
    return TOOLS


def _log(result: Dispatch, latency_ms: float, agent: Mapping[str, str]) -> None:
    fields: dict[str, object] = {
        "action_group": result.action_group,
        "function": result.function,
        "parameter_names": list(result.parameter_names),
        "outcome": result.outcome,
        "reason": result.reason,
        "latency_ms": round(latency_ms, 2),
        **agent,
    }
    if result.tool_fields:
        fields["tool"] = dict(result.tool_fields)
    if result.error is not None:
        # Stack frames without the exception's message, which may quote a parameter value.
        fields["error_type"] = type(result.error).__name__
        fields["stack"] = traceback.format_tb(result.error.__traceback__)
        logger.error("tool invocation failed", extra=fields)
    elif result.outcome == "failure":
        logger.warning("tool invocation rejected", extra=fields)
    else:
        logger.info("tool invocation", extra=fields)


def _agent(event: object) -> dict[str, str]:
    agent = event.get("agent") if isinstance(event, Mapping) else None
    if not isinstance(agent, Mapping):
        return {}
    return {
        f"agent_{key}": value
        for key in ("id", "alias", "version")
        if isinstance(value := agent.get(key), str)
    }
