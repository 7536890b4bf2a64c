"""Bedrock function-details event in, well-formed Bedrock response out, for every input.

Powertools' ``BedrockAgentFunctionResolver.resolve`` is not used to run tools: it coerces loosely
(an integer parameter "abc" reaches the tool as the string "abc", a boolean "yes" becomes False),
drops unknown parameters silently, answers errors with a plain-text body that has no
``responseState`` and raises on events missing ``function``. Here the tools' declared types drive
validation and every problem gets the ``responseState`` Bedrock acts on:

* ``REPROMPT``: the model's call was wrong (missing, unknown or mistyped parameter, or a tool's
  ``ToolInputError``); the body tells the model what to fix and Bedrock lets it try again.
* ``FAILURE``: nothing the model can fix (malformed event, function unknown to this code, a bug);
  Bedrock ends the turn with a dependency failure.

A tool may also return its own ``BedrockFunctionResponse`` with a state: the search tool answers a busy
knowledge base with ``REPROMPT`` (one more try may work) and a broken one with ``FAILURE``.

Powertools still shapes the response (``BedrockFunctionsResponseBuilder``) and registers tools.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aws_lambda_powertools.event_handler import BedrockFunctionResponse
from aws_lambda_powertools.event_handler.bedrock_agent_function import BedrockFunctionsResponseBuilder
from aws_lambda_powertools.utilities.data_classes import BedrockAgentFunctionEvent

from functions.action_group.toolspec import ParameterError, ParamSpec, ToolInputError, ToolSpec, coerce_value

Outcome = Literal["success", "reprompt", "failure"]

UNEXPECTED_ERROR: Final = (
    "The tool failed because of an internal error. Tell the user the action could not be completed; "
    "retrying the same call will not help."
)
MALFORMED_EVENT: Final = (
    "The action group received a malformed request from Bedrock ({detail}); it was not run."
)
# Names are echoed to the model and the log; Bedrock limits real ones to 100 characters.
_MAX_NAME_CHARS: Final = 100
_MAX_LOGGED_NAMES: Final = 10

LogValue = int | str
# The fields the running tool adds to its call's log record (``log_field``); None outside a call.
_TOOL_LOG_FIELDS: Final[ContextVar[dict[str, LogValue] | None]] = ContextVar("tool_log_fields", default=None)


def serialize_body(body: object) -> str:
    """A tool result as its response body: the serializer of every resolver here.

    Text reaches the model verbatim (json.dumps would wrap it in quotes); structures become JSON.
    allow_nan=False: a non-finite float is no result (JSON has no Infinity); raising here makes it a
    FAILURE (``unserializable_result``) for any tool, instead of "Infinity" as an answer.
    """
    if isinstance(body, str):
        return body
    return json.dumps(body, ensure_ascii=False, allow_nan=False)


def log_field(name: str, value: LogValue) -> None:
    """Add ``name`` to the log record of the tool call running now (a no-op outside one).

    Counts and fixed codes only: the handler never logs parameter values, results or messages.
    """
    fields = _TOOL_LOG_FIELDS.get()
    if fields is not None:
        fields[name] = value


@dataclass(frozen=True)
class Dispatch:
    """The response plus what the handler logs about it (never parameter values)."""

    response: dict[str, Any]
    outcome: Outcome
    reason: str
    action_group: str
    function: str
    parameter_names: tuple[str, ...] = ()
    error: Exception | None = None
    # What the tool itself added through ``log_field``: counts and codes, never values.
    tool_fields: Mapping[str, LogValue] = field(default_factory=dict)


def dispatch(event: object, tools: Mapping[str, ToolSpec], serializer: Callable[[Any], str]) -> Dispatch:
    """Run the tool an event asks for; never raises (short of BaseExceptions such as SystemExit)."""
    fields: Mapping[Any, Any] = event if isinstance(event, Mapping) else {}
    action_group, function = _name(fields.get("actionGroup")), _name(fields.get("function"))
    # A clean copy of the identity fields, so a response can be built even from a broken event.
    envelope = BedrockAgentFunctionEvent(
        {
            "actionGroup": action_group,
            "function": function,
            "sessionAttributes": _attributes(fields.get("sessionAttributes")),
            "promptSessionAttributes": _attributes(fields.get("promptSessionAttributes")),
        }
    )
    tool_fields: dict[str, LogValue] = {}

    def finish(
        result: object,
        outcome: Outcome,
        reason: str,
        names: tuple[str, ...] = (),
        error: Exception | None = None,
    ) -> Dispatch:
        try:
            response = BedrockFunctionsResponseBuilder(result).build(envelope, serializer=serializer)
        except Exception as build_error:  # noqa: BLE001 - e.g. a tool returned something unserializable
            failure = BedrockFunctionResponse(body=UNEXPECTED_ERROR, response_state="FAILURE")
            response = BedrockFunctionsResponseBuilder(failure).build(envelope, serializer=serializer)
            outcome, reason, error = "failure", "unserializable_result", error or build_error
        return Dispatch(response, outcome, reason, action_group, function, names, error, dict(tool_fields))

    def reject(
        state: Literal["REPROMPT", "FAILURE"], reason: str, message: str, names: tuple[str, ...] = ()
    ) -> Dispatch:
        outcome: Outcome = "reprompt" if state == "REPROMPT" else "failure"
        return finish(BedrockFunctionResponse(body=message, response_state=state), outcome, reason, names)

    if not isinstance(event, Mapping) or not action_group or not function:
        detail = "not a JSON object" if not isinstance(event, Mapping) else "missing actionGroup or function"
        return reject("FAILURE", "malformed_event", MALFORMED_EVENT.format(detail=detail))

    spec = tools.get(function)
    if spec is None:
        # Bedrock only calls functions in the deployed schema, so this means schema and code drifted.
        return reject(
            "FAILURE",
            "unknown_function",
            f"Function {_quote(function)} does not exist in action group {_quote(action_group)}. "
            f"Known functions: {', '.join(tools) or '(none)'}.",
        )

    parsed = _parameters(fields.get("parameters"))
    if isinstance(parsed, str):
        return reject("FAILURE", "malformed_event", MALFORMED_EVENT.format(detail=parsed))
    names = tuple(name[:_MAX_NAME_CHARS] for name, _ in parsed[:_MAX_LOGGED_NAMES])

    problem = _check_names(spec, [name for name, _ in parsed])
    if problem is not None:
        return reject("REPROMPT", problem[0], problem[1], names)

    arguments: dict[str, object] = {}
    try:
        for name, raw in parsed:
            param = spec.parameter(name)
            if param is not None and not _omitted(param, raw):
                arguments[name] = coerce_value(param, raw)
    except ParameterError as error:
        return reject(
            "REPROMPT", "invalid_parameter", f"{error} Call {spec.name} again with a corrected value.", names
        )

    token = _TOOL_LOG_FIELDS.set(tool_fields)
    try:
        result = spec.func(**arguments)
    except ToolInputError as error:
        return reject("REPROMPT", "tool_input", str(error), names)
    except Exception as error:  # noqa: BLE001 - any bug becomes FAILURE; the handler logs it
        failure = BedrockFunctionResponse(body=UNEXPECTED_ERROR, response_state="FAILURE")
        return finish(failure, "failure", "tool_error", names, error)
    finally:
        _TOOL_LOG_FIELDS.reset(token)

    # A tool may return its own BedrockFunctionResponse, e.g. to set session attributes or a state.
    state = result.response_state if isinstance(result, BedrockFunctionResponse) else None
    if state is None:
        return finish(result, "success", "ok", names)
    return finish(result, "reprompt" if state == "REPROMPT" else "failure", "tool_response", names)


def _parameters(raw: object) -> list[tuple[str, object]] | str:
    """(name, value) pairs, or what is malformed about them."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return "parameters is not a list"
    pairs: list[tuple[str, object]] = []
    for entry in raw:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
            return "a parameter has no name"
        pairs.append((entry["name"], entry.get("value")))
    return pairs


def _omitted(param: ParamSpec, raw: object) -> bool:
    # Models sometimes send an optional parameter as null or "" rather than leaving it out.
    if param.required:
        return False
    return raw is None or (param.bedrock_type != "string" and isinstance(raw, str) and not raw.strip())


def _check_names(spec: ToolSpec, given: list[str]) -> tuple[str, str] | None:
    """(reason, message for the model) if parameter names are duplicated, unknown or missing."""
    signature = ", ".join(
        f"{p.name} ({p.bedrock_type}{', required' if p.required else ''})" for p in spec.parameters
    )
    duplicates = sorted(name for name, count in Counter(given).items() if count > 1)
    if duplicates:
        return "duplicate_parameter", (
            f"Parameter(s) {_names(duplicates)} were given more than once; give each parameter once. "
            f"{spec.name} takes: {signature or 'no parameters'}."
        )
    unknown = [name for name in given if spec.parameter(name) is None]
    if unknown:
        return "unknown_parameter", (
            f"{spec.name} has no parameter(s) {_names(unknown)}. It takes: {signature or 'no parameters'}."
        )
    missing = [p for p in spec.parameters if p.required and p.name not in given]
    if missing:
        wanted = "; ".join(f"{p.name} ({p.description.rstrip('.')})" for p in missing)
        return "missing_parameter", (
            f"{spec.name} is missing required parameter(s): {wanted}. Ask the user for them if they are "
            "not in the conversation, then call it again."
        )
    return None


def _name(value: object) -> str:
    return value[:_MAX_NAME_CHARS] if isinstance(value, str) else ""


def _attributes(value: object) -> dict[str, str]:
    # Bedrock's contract is string-to-string; anything else would make the response invalid.
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _quote(name: str) -> str:
    return repr(name)


def _names(names: list[str]) -> str:
    return ", ".join(_quote(name[:_MAX_NAME_CHARS]) for name in names[:_MAX_LOGGED_NAMES])
