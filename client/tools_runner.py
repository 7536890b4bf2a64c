"""Fulfils a ``returnControl`` invocation input with a local tool and builds its result (docs/api.md).

Mirrors the action-group Lambda's contract (``functions/action_group/dispatch.py``) without
Powertools: parameters are coerced with the tools' own ``Annotated`` declarations, a call the model
got wrong (unknown, missing or mistyped parameter, or a ``ToolInputError``) is answered ``REPROMPT``
with a message for the model, and anything the model cannot fix (a function or action group this
client does not have, a bug in a tool) is ``FAILURE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from functions.action_group.toolspec import ParameterError, ToolInputError, ToolSpec, coerce_value, tool_spec

ResponseState = Literal["REPROMPT", "FAILURE"]

MAX_BODY_CHARS: Final = 25_000
TOOL_ERROR: Final = (
    "The client-side tool failed with an internal error. Tell the user the action could not be "
    "completed; retrying the same call will not help."
)


@dataclass(frozen=True)
class ToolRun:
    """What happened to one invocation input (for display; parameter values are not kept)."""

    action_group: str
    name: str  # function name, or "<httpMethod> <apiPath>" for an API input
    state: Literal["ok", "REPROMPT", "FAILURE"]
    result: dict[str, Any]
    error: BaseException | None = None


def tool_specs(tools: Mapping[str, Callable[..., Any]]) -> dict[str, ToolSpec]:
    return {name: tool_spec(func, name=name) for name, func in tools.items()}


def fulfil(invocation_input: Mapping[str, Any], action_group: str, specs: Mapping[str, ToolSpec]) -> ToolRun:
    """Run one invocation input; never raises (short of BaseExceptions such as KeyboardInterrupt)."""
    group = _text(invocation_input.get("actionGroup"))
    echo = {"agentId": invocation_input["agentId"]} if _text(invocation_input.get("agentId")) else {}
    if "function" not in invocation_input:
        api_path, method = _text(invocation_input.get("apiPath")), _text(invocation_input.get("httpMethod"))
        result = {
            "actionGroup": group,
            "apiPath": api_path or "/",
            "httpMethod": method or "GET",
            "httpStatusCode": 501,
            "body": json.dumps(
                {"error": f"this client implements no API operations (action group {group!r})"}
            ),
            "responseState": "FAILURE",
            **echo,
        }
        return ToolRun(group, f"{method} {api_path}", "FAILURE", result)

    function = _text(invocation_input.get("function"))

    def answer(body: str, state: ResponseState | None = None, error: BaseException | None = None) -> ToolRun:
        result: dict[str, Any] = {"actionGroup": group, "function": function, "body": _cut(body)}
        if state is not None:
            result["responseState"] = state
        return ToolRun(group, function, state or "ok", {**result, **echo}, error)

    if group != action_group:
        return answer(
            f"This client only runs the action group {action_group!r}; {group!r} is not available here.",
            "FAILURE",
        )
    spec = specs.get(function)
    if spec is None:
        known = ", ".join(specs) or "(none)"
        return answer(
            f"Function {function!r} does not exist in action group {group!r}. Known functions: {known}.",
            "FAILURE",
        )
    arguments = _arguments(spec, invocation_input.get("parameters"))
    if isinstance(arguments, str):
        return answer(arguments, "REPROMPT")
    try:
        value = spec.func(**arguments)
    except ToolInputError as error:
        return answer(str(error), "REPROMPT")
    except Exception as error:  # noqa: BLE001 - a bug in a tool becomes FAILURE, shown to the user
        return answer(TOOL_ERROR, "FAILURE", error)
    return answer(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _arguments(spec: ToolSpec, raw: object) -> dict[str, object] | str:
    """Keyword arguments for the tool, or a REPROMPT message for the model."""
    takes = ", ".join(f"{p.name} ({p.bedrock_type})" for p in spec.parameters) or "no parameters"
    given: dict[str, object] = {}
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            given[entry["name"]] = entry.get("value")
    unknown = [name for name in given if spec.parameter(name) is None]
    if unknown:
        return f"{spec.name} has no parameter(s) {', '.join(map(repr, unknown))}. It takes: {takes}."
    missing = [p.name for p in spec.parameters if p.required and p.name not in given]
    if missing:
        return f"{spec.name} is missing required parameter(s) {', '.join(missing)}. It takes: {takes}."
    arguments: dict[str, object] = {}
    try:
        for name, value in given.items():
            param = spec.parameter(name)
            if param is not None and not (not param.required and value is None):
                arguments[name] = coerce_value(param, value)
    except ParameterError as error:
        return f"{error} Call {spec.name} again with a corrected value."
    return arguments


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _cut(body: str) -> str:
    return body if len(body) <= MAX_BODY_CHARS else body[: MAX_BODY_CHARS - 1] + "…"
