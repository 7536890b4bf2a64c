"""Tool declarations read from code, and the coercion of Bedrock's string values they drive."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import pytest
from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver

from functions.action_group.toolspec import (
    MaxItems,
    ParameterError,
    ParamSpec,
    ToolDefinitionError,
    coerce_value,
    resolver_tool_specs,
    tool_spec,
)


def _typed(name: str, bedrock_type: Any, item_type: type | None = None) -> ParamSpec:
    return ParamSpec(name, bedrock_type, "d", True, item_type)


def book_room(
    room: Annotated[str, "Room name."],
    people: Annotated[int, " Number of attendees. "],
    hours: Annotated[float, "Duration in hours."] = 1.0,
    projector: Annotated[bool, "Whether a projector is needed."] = False,
    invitees: Annotated[list[str] | None, "E-mail addresses to invite."] = None,
    *,
    floors: Annotated[Optional[list[int]], "Acceptable floors."] = None,  # both spellings work
    note: Annotated[str, "Free text.", "second string is ignored"] | None = None,
) -> str:
    """Books a meeting room.

    Second paragraph of the docstring."""
    return room


def test_tool_spec_reads_types_descriptions_and_required_from_the_signature() -> None:
    spec = tool_spec(book_room)

    assert spec.name == "book_room"
    assert spec.description == "Books a meeting room.\n\nSecond paragraph of the docstring."
    assert spec.func is book_room
    assert spec.parameters == (
        ParamSpec("room", "string", "Room name.", True),
        ParamSpec("people", "integer", "Number of attendees.", True),
        ParamSpec("hours", "number", "Duration in hours.", False),
        ParamSpec("projector", "boolean", "Whether a projector is needed.", False),
        ParamSpec(
            "invitees", "array", "E-mail addresses to invite.", False, item_type=str, max_items=MaxItems(1000)
        ),
        ParamSpec("floors", "array", "Acceptable floors.", False, item_type=int, max_items=MaxItems(1000)),
        ParamSpec("note", "string", "Free text.", False),
    )


def test_registration_name_and_description_win_over_function_name_and_docstring() -> None:
    spec = tool_spec(book_room, name="reserve", description="  Reserves a room.  ")

    assert (spec.name, spec.description) == ("reserve", "Reserves a room.")


def test_resolver_specs_follow_registration_order_and_descriptions() -> None:
    resolver = BedrockAgentFunctionResolver()

    @resolver.tool(name="second_name", description="Registered description.")
    def b(x: Annotated[int, "An x."]) -> int:
        return x

    @resolver.tool()
    def a() -> str:
        """Docstring description."""
        return ""

    specs = resolver_tool_specs(resolver)

    assert [(s.name, s.description) for s in specs.values()] == [
        ("second_name", "Registered description."),
        ("a", "Docstring description."),
    ]
    assert list(specs) == ["second_name", "a"]


def _no_description(x: Annotated[int, "An x."]) -> int:
    return x


def _no_param_description(x: Annotated[int, "   "]) -> int:
    """Doc."""
    return x


def _plain_annotation(x: int) -> int:
    """Doc."""
    return x


def _unannotated(x) -> int:
    """Doc."""
    return int(x)


def _dict_param(x: Annotated[dict[str, int], "A map."]) -> int:
    """Doc."""
    return len(x)


def _tuple_param(x: Annotated[tuple[int, ...], "Numbers."]) -> int:
    """Doc."""
    return len(x)


def _list_of_lists(x: Annotated[list[list[str]], "Nested."]) -> int:
    """Doc."""
    return len(x)


def _union(x: Annotated[int | str, "Either."]) -> int:
    """Doc."""
    return 0


def _varargs(*xs: Annotated[int, "Numbers."]) -> int:
    """Doc."""
    return len(xs)


def _positional_only(x: Annotated[int, "An x."], /) -> int:
    """Doc."""
    return x


def _unresolvable(x: Annotated[NotDefinedAnywhere, "An x."]) -> int:  # type: ignore[name-defined]  # noqa: F821
    """Doc."""
    return 0


@pytest.mark.parametrize(
    ("func", "message"),
    [
        (_no_description, "Tool '_no_description' has no description: pass description=..."),
        (_no_param_description, "Parameter 'x' of tool '_no_param_description' has no description"),
        (_plain_annotation, "Parameter 'x' of tool '_plain_annotation' has no description"),
        (_unannotated, "Parameter 'x' of tool '_unannotated' has no annotation"),
        (_dict_param, "Parameter 'x' of tool '_dict_param' has unsupported type dict[str, int]"),
        (_tuple_param, "Parameter 'x' of tool '_tuple_param' has unsupported type tuple[int, ...]"),
        (_list_of_lists, "Parameter 'x' of tool '_list_of_lists' has unsupported type list[list[str]]"),
        (_union, "Parameter 'x' of tool '_union' has unsupported type int | str"),
        (_varargs, "Parameter 'xs' of tool '_varargs': *args, **kwargs and positional-only parameters"),
        (_positional_only, "Parameter 'x' of tool '_positional_only': *args, **kwargs and positional-only"),
        (_unresolvable, "Tool '_unresolvable': cannot read its signature: name 'NotDefinedAnywhere'"),
    ],
)
def test_declarations_that_cannot_become_a_schema_are_rejected_naming_the_tool(
    func: Any, message: str
) -> None:
    with pytest.raises(ToolDefinitionError) as raised:
        tool_spec(func)

    assert str(raised.value).startswith(message)


def test_resolver_without_a_registry_is_rejected() -> None:
    with pytest.raises(ToolDefinitionError, match="object has no '_tools' registry"):
        resolver_tool_specs(object())


def test_resolver_with_an_unexpected_registry_layout_is_rejected() -> None:
    resolver = BedrockAgentFunctionResolver()
    resolver._tools["odd"] = {"callable": len}

    with pytest.raises(ToolDefinitionError, match="Tool 'odd': unexpected Powertools registry entry"):
        resolver_tool_specs(resolver)


@pytest.mark.parametrize(
    ("bedrock_type", "raw", "expected"),
    [
        ("string", "hello", "hello"),
        ("string", "", ""),
        ("string", 5, "5"),
        ("string", 2.5, "2.5"),
        ("integer", "42", 42),
        ("integer", " -7 ", -7),
        ("integer", "+3", 3),
        ("integer", "3.0", 3),
        ("integer", "1e3", 1000),
        ("integer", 5, 5),
        ("integer", 5.0, 5),
        ("integer", "123456789012345678901234567890", 123456789012345678901234567890),
        ("number", "3.5", 3.5),
        ("number", " -0.25 ", -0.25),
        ("number", "1e3", 1000.0),
        ("number", 2, 2.0),
        ("boolean", "true", True),
        ("boolean", " FALSE ", False),
        ("boolean", True, True),
    ],
)
def test_scalars_coerce_to_the_declared_type(bedrock_type: str, raw: object, expected: object) -> None:
    value = coerce_value(_typed("p", bedrock_type), raw)

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("bedrock_type", "raw", "message"),
    [
        ("string", None, "Parameter 'p' must be text; got 'None'."),
        ("string", ["a"], "Parameter 'p' must be text; got \"['a']\"."),
        ("string", True, "Parameter 'p' must be text; got 'True'."),
        ("integer", "abc", "Parameter 'p' must be a whole number such as 2; got 'abc'."),
        ("integer", "2.5", "Parameter 'p' must be a whole number such as 2; got '2.5'."),
        ("integer", "", "Parameter 'p' must be a whole number such as 2; got ''."),
        ("integer", "1e30", "Parameter 'p' must be a whole number such as 2; got '1e30'."),
        ("integer", "inf", "Parameter 'p' must be a whole number such as 2; got 'inf'."),
        ("integer", True, "Parameter 'p' must be a whole number such as 2; got 'True'."),
        ("integer", 2.5, "Parameter 'p' must be a whole number such as 2; got '2.5'."),
        ("integer", "9" * 5000, f"Parameter 'p' must be a whole number such as 2; got '{'9' * 40}\u2026'."),
        ("number", "abc", "Parameter 'p' must be a finite number such as 3.5; got 'abc'."),
        ("number", "nan", "Parameter 'p' must be a finite number such as 3.5; got 'nan'."),
        ("number", "-inf", "Parameter 'p' must be a finite number such as 3.5; got '-inf'."),
        (
            "number",
            10**400,
            f"Parameter 'p' must be a finite number such as 3.5; got '{'1' + '0' * 39}\u2026'.",
        ),
        ("number", False, "Parameter 'p' must be a finite number such as 3.5; got 'False'."),
        ("number", {"v": 1}, "Parameter 'p' must be a finite number such as 3.5; got \"{'v': 1}\"."),
        ("boolean", "yes", "Parameter 'p' must be true or false; got 'yes'."),
        ("boolean", 1, "Parameter 'p' must be true or false; got '1'."),
        ("boolean", None, "Parameter 'p' must be true or false; got 'None'."),
    ],
)
def test_scalars_that_do_not_match_raise_a_message_for_the_model(
    bedrock_type: str, raw: object, message: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        coerce_value(_typed("p", bedrock_type), raw)

    assert str(raised.value) == message
    assert raised.value.parameter == "p"


@pytest.mark.parametrize(
    ("item_type", "raw", "expected"),
    [
        (str, '["a", "b"]', ["a", "b"]),
        (str, "[a, b]", ["a", "b"]),
        (str, "['a', \"b\"]", ["a", "b"]),
        (str, "a, b,", ["a", "b"]),
        (str, "single", ["single"]),
        (str, "", []),
        (str, "[]", []),
        (str, ["x", "y"], ["x", "y"]),
        (int, "[1, 2, 3]", [1, 2, 3]),
        (int, '["1", "2"]', [1, 2]),
        (float, "[0.5, 2]", [0.5, 2.0]),
        (bool, "[true, false]", [True, False]),
    ],
)
def test_arrays_accept_json_and_the_loose_forms_models_write(
    item_type: type, raw: object, expected: object
) -> None:
    assert coerce_value(_typed("tags", "array", item_type), raw) == expected


@pytest.mark.parametrize(
    ("item_type", "raw", "message"),
    [
        (
            str,
            '{"a": 1}',
            'Parameter \'tags\' must be a JSON array such as ["2025-12-25", "2025-12-26"]; got \'{"a": 1}\'.',
        ),
        (str, "[[1], [2]]", "Parameter 'tags[0]' must be text; got '[1]'."),
        (str, 7, "Parameter 'tags' must be a JSON array such as [\"2025-12-25\", \"2025-12-26\"]; got '7'."),
        (int, "[1, x]", "Parameter 'tags[1]' must be a whole number such as 2; got 'x'."),
        (int, "[1, [2]]", "Parameter 'tags[1]' must be a whole number such as 2; got '[2]'."),
        (int, "[1, {2}]", "Parameter 'tags' must be a JSON array such as [1, 2, 3]; got '[1, {2}]'."),
    ],
)
def test_arrays_that_do_not_match_raise_naming_the_parameter(
    item_type: type, raw: object, message: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        coerce_value(_typed("tags", "array", item_type), raw)

    assert str(raised.value) == message
    assert raised.value.parameter == "tags"
