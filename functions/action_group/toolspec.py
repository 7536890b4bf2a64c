"""Tool declarations read from code: one source for the agent's function schema and for argument coercion.

A tool is a plain function whose parameters are declared as ``Annotated[<type>, "<description>"]``;
a parameter without a default is required. The Pulumi program turns these specs into the action
group's function schema (``components/function_schema.py``) and the Lambda handler coerces Bedrock's
string-typed parameter values with the very same specs, so code and schema cannot drift.

Pure stdlib on purpose: the Lambda imports this at cold start and client code may reuse it.
"""

from __future__ import annotations

import inspect
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

BedrockType = Literal["string", "number", "integer", "boolean", "array"]

# Identity lookup: bool is a subclass of int, so isinstance/issubclass would conflate them.
_SCALAR_TYPES: Final[dict[type, BedrockType]] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
}
_SUPPORTED = "str, int, float, bool or list[str|int|float|bool] (optionally `| None` with a default)"

# Echoed values are cut short: enough for the model to recognise its mistake, no more.
_ECHO_CHARS: Final = 40
# Every array is bounded before it is parsed or converted (the value is model-written and may be
# megabytes): at most ``max_items`` items and ``max_items * ITEM_CHARS`` characters of raw text.
DEFAULT_MAX_ITEMS: Final = 1000
ITEM_CHARS: Final = 64


@dataclass(frozen=True)
class MaxItems:
    """``Annotated`` metadata bounding an array parameter: ``Annotated[list[str], "...", MaxItems(50)]``."""

    count: int
    advice: str = "pass only the ones that matter"


class ToolDefinitionError(ValueError):
    """A tool's declaration cannot be turned into a Bedrock function definition."""


class ToolInputError(ValueError):
    """Raised by a tool when the model's input is unusable; the message tells the model what to fix.

    The handler answers with ``REPROMPT`` and this message, so write it for the model, not for a log.
    """


class ParameterError(ToolInputError):
    """A parameter value does not match its declared type."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ParamSpec:
    name: str
    bedrock_type: BedrockType
    description: str
    required: bool
    # Element type of an ``array`` parameter; None for scalars.
    item_type: type | None = None
    max_items: MaxItems | None = None  # arrays only


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: tuple[ParamSpec, ...]
    func: Callable[..., Any]

    def parameter(self, name: str) -> ParamSpec | None:
        return next((p for p in self.parameters if p.name == name), None)


def tool_spec(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> ToolSpec:
    """Read a tool's name, description and parameters from its signature and annotations."""
    tool_name = name or getattr(func, "__name__", "")
    if not tool_name:
        raise ToolDefinitionError(f"Tool {func!r} has no name: register it with an explicit name.")
    text = (description or inspect.getdoc(func) or "").strip()
    if not text:
        raise ToolDefinitionError(
            f"Tool '{tool_name}' has no description: pass description=... when registering it "
            "or give the function a docstring (the model chooses tools by their descriptions)."
        )
    try:
        hints = typing.get_type_hints(func, include_extras=True)
        signature = inspect.signature(func)
    except (NameError, TypeError, ValueError) as error:
        raise ToolDefinitionError(f"Tool '{tool_name}': cannot read its signature: {error}") from error
    params = tuple(_param_spec(tool_name, p, hints.get(p.name)) for p in signature.parameters.values())
    return ToolSpec(name=tool_name, description=text, parameters=params, func=func)


def resolver_tool_specs(resolver: object) -> dict[str, ToolSpec]:
    """Specs of every tool registered on a Powertools ``BedrockAgentFunctionResolver``, in registration order.

    Powertools keeps registrations in the private ``_tools`` dict ({name: {"function", "description"}})
    and has no public accessor; this is the only place that reads it, so a Powertools upgrade that
    changes it breaks here, loudly, at schema generation time.
    """
    registry = getattr(resolver, "_tools", None)
    if not isinstance(registry, dict):
        raise ToolDefinitionError(
            f"{type(resolver).__name__} has no '_tools' registry: is this a Powertools "
            "BedrockAgentFunctionResolver, and has its internal layout changed?"
        )
    specs: dict[str, ToolSpec] = {}
    for tool_name, entry in registry.items():
        if not isinstance(entry, dict) or not callable(entry.get("function")):
            raise ToolDefinitionError(
                f"Tool '{tool_name}': unexpected Powertools registry entry; has its internal layout changed?"
            )
        specs[tool_name] = tool_spec(entry["function"], name=tool_name, description=entry.get("description"))
    return specs


def coerce_value(param: ParamSpec, raw: object) -> object:
    """Convert a raw Bedrock parameter value (normally a string) to the declared Python type."""
    if param.bedrock_type == "array":
        return _coerce_array(param, raw)
    return _coerce_scalar(param.name, _python_type(param.bedrock_type), raw)


def _param_spec(tool: str, param: inspect.Parameter, hint: object) -> ParamSpec:
    where = f"Parameter '{param.name}' of tool '{tool}'"
    if param.kind not in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
        raise ToolDefinitionError(
            f"{where}: *args, **kwargs and positional-only parameters cannot be elicited."
        )
    if hint is None:
        raise ToolDefinitionError(
            f"{where} has no annotation: declare it as Annotated[<type>, '<description>']."
        )
    base, description, max_items = _split_annotated(_strip_optional(hint))
    base = _strip_optional(base)
    if description is None:
        raise ToolDefinitionError(
            f"{where} has no description: declare it as Annotated[<type>, '<what it means>'] "
            "(the model fills parameters from their descriptions)."
        )
    required = param.default is inspect.Parameter.empty
    if isinstance(base, type) and base in _SCALAR_TYPES:
        return ParamSpec(param.name, _SCALAR_TYPES[base], description, required)
    if base is list or typing.get_origin(base) is list:
        args = typing.get_args(base)
        item = args[0] if args else str
        if isinstance(item, type) and item in _SCALAR_TYPES:
            return ParamSpec(
                param.name, "array", description, required, item, max_items or MaxItems(DEFAULT_MAX_ITEMS)
            )
    raise ToolDefinitionError(f"{where} has unsupported type {base!r}; supported: {_SUPPORTED}.")


def _strip_optional(hint: object) -> object:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return hint


def _split_annotated(hint: object) -> tuple[object, str | None, MaxItems | None]:
    if typing.get_origin(hint) is not typing.Annotated:
        return hint, None, None
    base, *metadata = typing.get_args(hint)
    texts = [m.strip() for m in metadata if isinstance(m, str) and m.strip()]
    bounds = [m for m in metadata if isinstance(m, MaxItems) and m.count > 0]
    return base, (texts[0] if texts else None), (bounds[0] if bounds else None)


def _python_type(bedrock_type: BedrockType) -> type:
    return next(t for t, b in _SCALAR_TYPES.items() if b == bedrock_type)


def _echo(raw: object) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text if len(text) <= _ECHO_CHARS else text[:_ECHO_CHARS] + "…")


def _coerce_scalar(label: str, target: type, raw: object) -> object:
    if target is str:
        if isinstance(raw, str):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)
        raise ParameterError(label, f"Parameter '{label}' must be text; got {_echo(raw)}.")
    if target is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise ParameterError(label, f"Parameter '{label}' must be true or false; got {_echo(raw)}.")
    if target is int:
        return _coerce_int(label, raw)
    return _coerce_float(label, raw)


def _coerce_int(label: str, raw: object) -> int:
    message = f"Parameter '{label}' must be a whole number such as 2; got {_echo(raw)}."
    if isinstance(raw, bool):
        raise ParameterError(label, message)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            # Models often write 3 as "3.0"; that is still a whole number.
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number) and number.is_integer() and abs(number) < 2**53:
            return int(number)
    raise ParameterError(label, message)


def _coerce_float(label: str, raw: object) -> float:
    message = f"Parameter '{label}' must be a finite number such as 3.5; got {_echo(raw)}."
    if isinstance(raw, bool):
        raise ParameterError(label, message)
    if isinstance(raw, int | float):
        number = float(raw) if abs(raw) < 1e308 else math.inf
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            raise ParameterError(label, message) from None
    else:
        raise ParameterError(label, message)
    if not math.isfinite(number):
        raise ParameterError(label, message)
    return number


def _coerce_array(param: ParamSpec, raw: object) -> list[object]:
    item_type = param.item_type or str
    example = '["2025-12-25", "2025-12-26"]' if item_type is str else "[1, 2, 3]"
    bound = param.max_items or MaxItems(DEFAULT_MAX_ITEMS)
    too_many = ParameterError(
        param.name, f"Parameter '{param.name}' may list at most {bound.count} items: {bound.advice}."
    )
    if isinstance(raw, str) and len(raw) > bound.count * ITEM_CHARS:
        raise too_many  # checked before parsing: the text alone may be megabytes
    items = _parse_array(raw)
    if items is None:
        raise ParameterError(
            param.name, f"Parameter '{param.name}' must be a JSON array such as {example}; got {_echo(raw)}."
        )
    if len(items) > bound.count:
        raise too_many  # checked before converting a single item
    try:
        return [_coerce_scalar(f"{param.name}[{index}]", item_type, item) for index, item in enumerate(items)]
    except ParameterError as error:
        raise ParameterError(param.name, str(error)) from None


def _parse_array(raw: object) -> list[object] | None:
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, list):
        return parsed
    # Bedrock passes arrays as the model wrote them; besides JSON that is often "[a, b]" or "a, b".
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "[" in text or "]" in text or "{" in text:
        return None
    return [part.strip().strip("'\"").strip() for part in text.split(",") if part.strip()]
