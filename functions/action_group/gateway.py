"""The same tools behind an AgentCore Gateway Lambda target.

The gateway invokes the function with the tool's arguments as the event (a JSON object) and names the
tool in the client context, ``context.client_context.custom["bedrockAgentCoreToolName"]``, as
``<target>___<tool>`` ("AWS Lambda function targets", AgentCore developer guide,
gateway-add-target-lambda.html: the target prefix must be stripped in the function; the function
returns plain JSON). Here the call becomes the Bedrock function event the dispatcher already
validates, so both backends share one validation and one set of tools, and the dispatcher's
response becomes the gateway's JSON: ``{"result": body}`` or ``{"error": body, "retry": bool}``.

A structured result (a JSON object or array: the search tool's passages, calculate's answer) goes
under ``result`` as that object, not as its JSON text. The page asks only for "a valid JSON response
that can be parsed by the gateway" and documents no unwrapping; a gateway's ``tools/call`` reply
carries the function's whole return value, serialized, as the tool result's text. So a body nested as
a string reached the model as JSON inside a JSON string: every quote escaped, more tokens, harder to
read. Plain text (an error, a tool answering in words) stays a string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from functions.action_group.dispatch import Dispatch

TOOL_NAME_KEY: Final = "bedrockAgentCoreToolName"
TARGET_DELIMITER: Final = "___"


def gateway_tool_name(context: object) -> str | None:
    """The ``<target>___<tool>`` name when the gateway invoked the function, else None."""
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    name = custom.get(TOOL_NAME_KEY) if isinstance(custom, Mapping) else None
    return name if isinstance(name, str) and name else None


def split_tool_name(tool_name: str) -> tuple[str, str]:
    """``(target, tool)`` of a ``<target>___<tool>`` name; the target is "" without the delimiter."""
    target, delimiter, tool = tool_name.partition(TARGET_DELIMITER)
    return (target, tool) if delimiter else ("", tool_name)


def function_event(tool_name: str, arguments: object) -> dict[str, Any]:
    """The Bedrock function-details event for a gateway call (values as Bedrock sends them: text)."""
    target, tool = split_tool_name(tool_name)
    parameters: Any
    if isinstance(arguments, Mapping):
        parameters = [
            {"name": str(name), "type": "string", "value": _text(value)}
            for name, value in arguments.items()
            if value is not None
        ]
    else:
        parameters = "not an object"  # the dispatcher answers FAILURE: malformed request
    return {
        "messageVersion": "1.0",
        "actionGroup": target or "gateway",
        "function": tool,
        "parameters": parameters,
    }


def gateway_response(result: Dispatch) -> dict[str, Any]:
    function_response = result.response.get("response", {}).get("functionResponse", {})
    body = function_response.get("responseBody", {}).get("TEXT", {}).get("body", "")
    state = function_response.get("responseState")
    if state is None:
        return {"result": _structured(body)}
    return {"error": body, "retry": state == "REPROMPT"}


def _structured(body: object) -> object:
    """The JSON object or array ``body`` holds, else ``body`` itself (text, a bare number or word)."""
    if not isinstance(body, str) or not body.lstrip().startswith(("{", "[")):
        return body
    try:
        value: object = json.loads(body, parse_constant=_no_constant)
    except ValueError:  # text that merely starts like JSON (JSONDecodeError is a ValueError)
        return body
    return value if isinstance(value, dict | list) else body


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: keep such a body as the text it is


def _text(value: object) -> str:
    """Bedrock sends every value as text; JSON text for numbers, booleans and lists."""
    return value if isinstance(value, str) else json.dumps(value)
