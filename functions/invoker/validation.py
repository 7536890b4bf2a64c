"""Strict parsing of the ``POST /chat`` body and of session ids.

Rules (documented in ``docs/api.md``): the body is one UTF-8 JSON object without duplicate keys;
unknown fields anywhere are rejected; strings must be valid Unicode (no lone surrogates); lengths
count Unicode code points. Error messages name the field, never echo its value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from functions.invoker.errors import ApiError, validation_error

MAX_INPUT_TEXT: Final = 25_000
MAX_RESULT_BODY: Final = 25_000  # Bedrock caps an action-group response body at 25 KB
MAX_RESULTS: Final = 5  # ReturnControlInvocationResults: 1..5 members
MAX_NAME: Final = 256  # actionGroup, function, apiPath, httpMethod
# On AgentCore the invocationId carries the handed-off tool call and the queue behind it (compressed:
# the invoker keeps no state); 16 KiB holds far more than the client's tools take as input, and with
# 5 result bodies of 25,000 characters (<= 500 KB as UTF-8) stays well inside MAX_BODY_BYTES (1 MiB).
# Classic's ids (InvokeAgent's sessionState.invocationId: an unbounded String) are short.
MAX_INVOCATION_ID: Final = 16_384
SESSION_ID_PATTERN: Final = re.compile(r"[0-9a-zA-Z._:-]{2,100}")
_AGENT_ID = re.compile(r"[0-9a-zA-Z]{1,10}")
RESPONSE_STATES: Final = frozenset({"FAILURE", "REPROMPT"})
CONFIRMATION_STATES: Final = frozenset({"CONFIRM", "DENY"})

_CHAT_FIELDS: Final = frozenset({"inputText", "sessionId", "enableTrace", "returnControlResults"})
_RC_FIELDS: Final = frozenset({"invocationId", "results"})
_COMMON_RESULT_FIELDS: Final = frozenset(
    {"actionGroup", "body", "responseState", "confirmationState", "agentId"}
)
_FUNCTION_RESULT_FIELDS: Final = _COMMON_RESULT_FIELDS | {"function"}
_API_RESULT_FIELDS: Final = _COMMON_RESULT_FIELDS | {"apiPath", "httpMethod", "httpStatusCode"}


@dataclass(frozen=True)
class FunctionResult:
    action_group: str
    function: str
    body: str | None = None
    response_state: str | None = None
    confirmation_state: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class ApiResult:
    action_group: str
    api_path: str
    http_method: str
    http_status_code: int | None = None
    body: str | None = None
    response_state: str | None = None
    confirmation_state: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class ReturnControlResults:
    invocation_id: str
    results: tuple[FunctionResult | ApiResult, ...]


@dataclass(frozen=True)
class ChatRequest:
    input_text: str | None  # None when resuming a returned-control turn
    session_id: str | None  # None: the API generates one
    enable_trace: bool = False
    return_control_results: ReturnControlResults | None = None


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode strict UTF-8 JSON that must be an object; 400 ``INVALID_JSON`` otherwise."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, "INVALID_JSON", "the body is not a valid JSON document") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "INVALID_JSON", "the body must be a JSON object")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def validate_session_id(value: object, field: str = "sessionId") -> str:
    """The pattern InvokeAgent documents, and not only dots: the id is a path segment of the agent's
    URL (``/sessions/{sessionId}/text``), where ``.`` and ``..`` are dot segments that address
    another path."""
    text = _string(value, field)
    if not SESSION_ID_PATTERN.fullmatch(text) or not text.strip("."):
        raise validation_error(f"{field} must match ^[0-9a-zA-Z._:-]{{2,100}}$ and not be only dots")
    return text


def parse_chat_request(body: Mapping[str, Any]) -> ChatRequest:
    _only(body, _CHAT_FIELDS, "")
    session_id = validate_session_id(body["sessionId"]) if "sessionId" in body else None
    enable_trace = body.get("enableTrace", False)
    if type(enable_trace) is not bool:
        raise validation_error("enableTrace must be a boolean")
    results = None
    if "returnControlResults" in body:
        results = _return_control_results(body["returnControlResults"])
    input_text: str | None = None
    if "inputText" in body:
        input_text = _string(body["inputText"], "inputText", maximum=MAX_INPUT_TEXT)
    if results is None:
        if not input_text:
            raise validation_error(f"inputText is required and must be 1..{MAX_INPUT_TEXT} characters")
    else:
        if input_text:
            raise validation_error("inputText must be empty or absent when returnControlResults is present")
        if session_id is None:
            raise validation_error("sessionId is required when returnControlResults is present")
        input_text = None
    return ChatRequest(
        input_text=input_text,
        session_id=session_id,
        enable_trace=enable_trace,
        return_control_results=results,
    )


def _return_control_results(value: object) -> ReturnControlResults:
    field = "returnControlResults"
    body = _object(value, field)
    _only(body, _RC_FIELDS, field)
    invocation_id = _string(
        _required(body, "invocationId", field), f"{field}.invocationId", 1, MAX_INVOCATION_ID
    )
    items = _required(body, "results", field)
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_RESULTS:
        raise validation_error(f"{field}.results must be an array of 1..{MAX_RESULTS} results")
    results = tuple(_result(item, f"{field}.results[{index}]") for index, item in enumerate(items))
    return ReturnControlResults(invocation_id=invocation_id, results=results)


def _result(value: object, field: str) -> FunctionResult | ApiResult:
    body = _object(value, field)
    if ("function" in body) == ("apiPath" in body):
        raise validation_error(f"{field} must have exactly one of function or apiPath")
    is_function = "function" in body
    _only(body, _FUNCTION_RESULT_FIELDS if is_function else _API_RESULT_FIELDS, field)
    action_group = _string(_required(body, "actionGroup", field), f"{field}.actionGroup", 1, MAX_NAME)
    result_body = _optional_string(body, "body", field, 0, MAX_RESULT_BODY)
    response_state = _optional_enum(body, "responseState", field, RESPONSE_STATES)
    confirmation_state = _optional_enum(body, "confirmationState", field, CONFIRMATION_STATES)
    agent_id = _optional_agent_id(body, field)
    if is_function:
        return FunctionResult(
            action_group=action_group,
            function=_string(body["function"], f"{field}.function", 1, MAX_NAME),
            body=result_body,
            response_state=response_state,
            confirmation_state=confirmation_state,
            agent_id=agent_id,
        )
    status = body.get("httpStatusCode")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        raise validation_error(f"{field}.httpStatusCode must be an integer 100..599")
    return ApiResult(
        action_group=action_group,
        api_path=_string(body["apiPath"], f"{field}.apiPath", 1, MAX_NAME),
        http_method=_string(_required(body, "httpMethod", field), f"{field}.httpMethod", 1, MAX_NAME),
        http_status_code=status,
        body=result_body,
        response_state=response_state,
        confirmation_state=confirmation_state,
        agent_id=agent_id,
    )


def _only(body: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        # Field names come from the client: report a bounded, printable rendering only.
        name = json.dumps(unknown[0][:64])
        where = f" in {field}" if field else ""
        raise validation_error(f"unknown field {name}{where}")


def _object(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise validation_error(f"{field} must be an object")
    return value


def _required(body: Mapping[str, Any], name: str, field: str) -> object:
    if name not in body:
        raise validation_error(f"{field}.{name} is required")
    return body[name]


def _string(value: object, field: str, minimum: int = 0, maximum: int | None = None) -> str:
    if not isinstance(value, str):
        raise validation_error(f"{field} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise validation_error(f"{field} must be valid Unicode text") from exc
    if len(value) < minimum or (maximum is not None and len(value) > maximum):
        bound = f"{minimum}..{maximum}" if maximum is not None else f"at least {minimum}"
        raise validation_error(f"{field} must be {bound} characters")
    return value


def _optional_string(
    body: Mapping[str, Any], name: str, field: str, minimum: int, maximum: int
) -> str | None:
    if name not in body:
        return None
    return _string(body[name], f"{field}.{name}", minimum, maximum)


def _optional_enum(body: Mapping[str, Any], name: str, field: str, allowed: frozenset[str]) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str) or value not in allowed:
        raise validation_error(f"{field}.{name} must be one of {', '.join(sorted(allowed))}")
    return value


def _optional_agent_id(body: Mapping[str, Any], field: str) -> str | None:
    if "agentId" not in body:
        return None
    value = body["agentId"]
    if not isinstance(value, str) or not _AGENT_ID.fullmatch(value):
        raise validation_error(f"{field}.agentId must match ^[0-9a-zA-Z]{{1,10}}$")
    return value
