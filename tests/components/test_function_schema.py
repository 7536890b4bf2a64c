"""The action group's function schema is generated from the tools' code and checked against Bedrock."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import botocore.session
import pytest
from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver
from botocore.validate import ParamValidator

from components.function_schema import (
    FunctionDefinition,
    FunctionSchemaError,
    function_schema,
    function_schema_for_resolver,
    pulumi_aws_function_schema,
)
from functions.action_group.tools import app
from functions.action_group.toolspec import tool_spec
from tests.functions.test_action_group_support import bedrock_event, body_of, invoke, param, state_of

EXPECTED_SCHEMA: list[dict[str, Any]] = [
    {
        "name": "calculate",
        "description": (
            "Evaluates an arithmetic expression exactly, with decimal arithmetic to 28 significant digits "
            "(0.1 + 0.2 is 0.3), and returns the result. Use it for every calculation instead of computing "
            "yourself. Supports numbers, + - * / // % ** (or ^), parentheses, sqrt(x) and abs(x); // and % "
            "round towards minus infinity as in Python. No variables, units or other functions."
        ),
        "parameters": {
            "expression": {
                "type": "string",
                "description": "The expression, e.g. (1200 * 0.075) / 12; at most 500 characters.",
                "required": True,
            },
            "decimal_places": {
                "type": "integer",
                "description": (
                    "Round the result to this many decimal places (0-20, halves away from zero); "
                    "omit for full precision."
                ),
                "required": False,
            },
        },
        "requireConfirmation": "DISABLED",
    },
    {
        "name": "convert_units",
        "description": (
            "Converts a quantity between units of length, mass or temperature using exact conversion "
            "factors, rounded to 12 significant digits. Units: length: mm, cm, m, km, in, ft, yd, mi, nmi; "
            "mass: mg, g, kg, t, oz, lb, st; temperature: C, F, K (full names such as 'miles' or 'celsius' "
            "also work)."
        ),
        "parameters": {
            "value": {
                "type": "number",
                "description": "The quantity to convert, e.g. 5.5.",
                "required": True,
            },
            "from_unit": {
                "type": "string",
                "description": "Unit of value, e.g. km, lb or C.",
                "required": True,
            },
            "to_unit": {
                "type": "string",
                "description": "Unit to convert to; must measure the same thing as from_unit.",
                "required": True,
            },
        },
        "requireConfirmation": "DISABLED",
    },
    {
        "name": "business_days_between",
        "description": (
            "Counts business days (Monday to Friday, minus the holidays you list) from start_date to "
            "end_date, counting both dates themselves by default like a spreadsheet's NETWORKDAYS. "
            "It knows no public holidays: pass any that apply in holidays."
        ),
        "parameters": {
            "start_date": {"type": "string", "description": "First date, as YYYY-MM-DD.", "required": True},
            "end_date": {
                "type": "string",
                "description": "Last date, as YYYY-MM-DD; not before start_date.",
                "required": True,
            },
            "holidays": {
                "type": "array",
                "description": (
                    'Non-working dates to skip besides weekends, as YYYY-MM-DD strings, e.g. ["2025-12-25"].'
                ),
                "required": False,
            },
            "inclusive": {
                "type": "boolean",
                "description": (
                    "true (default) counts start_date and end_date themselves; "
                    "false only the days between them."
                ),
                "required": False,
            },
        },
        "requireConfirmation": "DISABLED",
    },
]


def test_the_real_tools_generate_exactly_this_schema() -> None:
    assert function_schema_for_resolver(app) == EXPECTED_SCHEMA


def test_the_generated_schema_is_a_valid_create_agent_action_group_request() -> None:
    # botocore's own model of the Bedrock Agents API: catches wrong keys, types and enum values.
    model = botocore.session.get_session().get_service_model("bedrock-agent")
    request = {
        "agentId": "AGENT12345",
        "agentVersion": "DRAFT",
        "actionGroupName": "offline-tools",
        "actionGroupExecutor": {"lambda": "arn:aws:lambda:eu-west-1:123456789012:function:action-group"},
        "functionSchema": {"functions": function_schema_for_resolver(app)},
    }

    report = ParamValidator().validate(request, model.operation_model("CreateAgentActionGroup").input_shape)

    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize(
    ("function", "parameter"),
    [
        (d["name"], name)
        for d in EXPECTED_SCHEMA
        for name, p in d["parameters"].items()
        if p["type"] in ("integer", "number", "boolean", "array")
    ],
)
def test_every_typed_parameter_in_the_schema_is_validated_by_the_handler(
    function: str, parameter: str
) -> None:
    # Code and schema cannot drift: the type the schema announces is the type the Lambda enforces.
    schema = {d["name"]: d for d in function_schema_for_resolver(app)}[function]
    required = [
        param(name, "1", p["type"])
        for name, p in schema["parameters"].items()
        if p["required"] and name != parameter
    ]

    response = invoke(bedrock_event(function, [*required, param(parameter, "{not valid}", "string")]))

    assert state_of(response) == "REPROMPT"
    assert body_of(response).startswith(f"Parameter '{parameter}' must be ")


def test_adding_a_tool_to_a_resolver_adds_it_to_the_schema() -> None:
    resolver = BedrockAgentFunctionResolver()

    @resolver.tool(description="Says hello.")
    def greet(name: Annotated[str, "Who to greet."]) -> str:
        return f"Hello {name}"

    before = function_schema_for_resolver(resolver)

    @resolver.tool(name="count-words")
    def count(
        text: Annotated[str, "Text to count."], minimum: Annotated[int, "Ignore shorter words."] = 1
    ) -> int:
        """Counts the words in a text."""
        return len([w for w in text.split() if len(w) >= minimum])

    after = function_schema_for_resolver(resolver)

    greet_definition: FunctionDefinition = {
        "name": "greet",
        "description": "Says hello.",
        "parameters": {"name": {"type": "string", "description": "Who to greet.", "required": True}},
        "requireConfirmation": "DISABLED",
    }
    assert before == [greet_definition]
    assert after == [
        greet_definition,
        {
            "name": "count-words",
            "description": "Counts the words in a text.",
            "parameters": {
                "text": {"type": "string", "description": "Text to count.", "required": True},
                "minimum": {"type": "integer", "description": "Ignore shorter words.", "required": False},
            },
            "requireConfirmation": "DISABLED",
        },
    ]


DESCRIPTION = "Asks the user to confirm a booking (runs client-side through RETURN_CONTROL)."


def confirm_booking(
    booking_id: Annotated[str, "Booking reference."],
    nights: Annotated[int, "Number of nights."],
    rate: Annotated[float, "Nightly rate."] = 0.0,
    breakfast: Annotated[bool, "Breakfast included."] = False,
    guests: Annotated[list[str] | None, "Guest names."] = None,
) -> None:
    """Asks the user to confirm a booking (runs client-side through RETURN_CONTROL)."""


def test_plain_annotated_callables_and_specs_generate_the_same_definitions() -> None:
    expected: FunctionDefinition = {
        "name": "confirm_booking",
        "description": DESCRIPTION,
        "parameters": {
            "booking_id": {"type": "string", "description": "Booking reference.", "required": True},
            "nights": {"type": "integer", "description": "Number of nights.", "required": True},
            "rate": {"type": "number", "description": "Nightly rate.", "required": False},
            "breakfast": {"type": "boolean", "description": "Breakfast included.", "required": False},
            "guests": {"type": "array", "description": "Guest names.", "required": False},
        },
        "requireConfirmation": "DISABLED",
    }

    assert function_schema({"confirm_booking": confirm_booking}) == [expected]
    assert function_schema({"confirm_booking": tool_spec(confirm_booking)}) == [expected]


def _tool(
    name: str,
    *,
    description: str = "Does a thing.",
    parameters: int = 0,
    param_name: str = "p",
    param_description: str = "A value.",
) -> Any:
    """A callable with ``parameters`` annotated string parameters, for exercising the limits."""
    names = [param_name] if parameters == 1 else [f"{param_name}{i}" for i in range(parameters)]

    def tool(**kwargs: Any) -> None:
        return None

    tool.__name__ = name
    tool.__doc__ = description
    tool.__annotations__ = dict.fromkeys(names, Annotated[str, param_description])
    signature = inspect.Signature([inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in names])
    setattr(tool, "__signature__", signature)  # noqa: B010 - mypy does not know the attribute
    return tool


@pytest.mark.parametrize(
    ("tools", "problem"),
    [
        (
            {"_private": _tool("_private")},
            "Tool '_private': the name must be 1-100 letters or digits, each optionally followed by "
            "one '_' or '-' (Bedrock pattern ^([0-9a-zA-Z][_-]?){1,100}$); rename it or register it "
            "with name=...",
        ),
        ({"a__b": _tool("a__b")}, "Tool 'a__b': the name must be 1-100 letters or digits"),
        ({"has space": _tool("has space")}, "Tool 'has space': the name must be 1-100 letters or digits"),
        ({"trailing\n": _tool("trailing\n")}, "Tool 'trailing\n': the name must be 1-100 letters or digits"),
        ({"é": _tool("é")}, "Tool 'é': the name must be 1-100 letters or digits"),
        ({"a" * 101: _tool("a" * 101)}, f"Tool '{'a' * 101}': the name must be 1-100 letters or digits"),
        (
            {"verbose": _tool("verbose", description="x" * 1201)},
            "Tool 'verbose': the description has 1201 characters; Bedrock allows 1200.",
        ),
        (
            {"wide": _tool("wide", parameters=6)},
            "Tool 'wide' has 6 parameters; Bedrock allows 5 per function (quota 'Parameters per function')",
        ),
        (
            {"odd": _tool("odd", parameters=1, param_name="_hidden")},
            "Tool 'odd': parameter '_hidden' must be 1-100 letters or digits",
        ),
        (
            {"chatty": _tool("chatty", parameters=1, param_description="y" * 501)},
            "Tool 'chatty': the description of parameter 'p' has 501 characters; Bedrock allows 500.",
        ),
        (
            {f"tool{i}": _tool(f"tool{i}") for i in range(12)},
            "12 tools are registered but an agent allows 11 functions (quota 'APIs per Agent')",
        ),
        ({}, "No tools are registered: an action group needs at least one function."),
        (
            {"renamed": tool_spec(_tool("original"))},
            "Tool 'renamed' is registered under another name in its spec",
        ),
        ({"nodoc": _tool("nodoc", description="")}, "Tool 'nodoc' has no description"),
    ],
)
def test_each_bedrock_limit_fails_generation_naming_the_tool(tools: dict[str, Any], problem: str) -> None:
    with pytest.raises(FunctionSchemaError) as raised:
        function_schema(tools)

    assert str(raised.value).startswith("Invalid Bedrock function schema:\n- ")
    assert problem in str(raised.value)


def test_limits_at_the_boundary_pass() -> None:
    tools = {f"t{i}": _tool(f"t{i}") for i in range(9)}
    tools["a" * 100] = _tool("a" * 100, description="x" * 1200, parameters=5, param_description="y" * 500)
    tools["a-b_c"] = _tool("a-b_c")

    definitions = function_schema(tools)

    assert [d["name"] for d in definitions][-2:] == ["a" * 100, "a-b_c"]
    assert len(definitions[-2]["parameters"]) == 5


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(FunctionSchemaError) as raised:
        function_schema({"_a": _tool("_a"), "b": _tool("b", parameters=6)})

    assert str(raised.value).count("\n- ") == 2


def test_raised_quotas_can_be_passed_in() -> None:
    tools = {f"tool{i}": _tool(f"tool{i}", parameters=6) for i in range(12)}

    assert len(function_schema(tools, max_parameters_per_function=6, max_functions=12)) == 12


def test_resolver_with_a_broken_tool_fails_generation_naming_it() -> None:
    resolver = BedrockAgentFunctionResolver()

    @resolver.tool(description="Takes an undeclared parameter.")
    def vague(x: int) -> int:
        return x

    with pytest.raises(FunctionSchemaError, match="Parameter 'x' of tool 'vague' has no description"):
        function_schema_for_resolver(resolver)


def test_pulumi_aws_shape_lists_parameters_with_map_block_key() -> None:
    definitions = function_schema({"confirm_booking": confirm_booking})

    assert pulumi_aws_function_schema(definitions[:1]) == {
        "member_functions": {
            "functions": [
                {
                    "name": "confirm_booking",
                    "description": DESCRIPTION,
                    "parameters": [
                        {
                            "map_block_key": "booking_id",
                            "type": "string",
                            "description": "Booking reference.",
                            "required": True,
                        },
                        {
                            "map_block_key": "nights",
                            "type": "integer",
                            "description": "Number of nights.",
                            "required": True,
                        },
                        {
                            "map_block_key": "rate",
                            "type": "number",
                            "description": "Nightly rate.",
                            "required": False,
                        },
                        {
                            "map_block_key": "breakfast",
                            "type": "boolean",
                            "description": "Breakfast included.",
                            "required": False,
                        },
                        {
                            "map_block_key": "guests",
                            "type": "array",
                            "description": "Guest names.",
                            "required": False,
                        },
                    ],
                }
            ]
        }
    }


def test_pulumi_aws_shape_refuses_confirmation_it_cannot_express() -> None:
    (definition,) = function_schema({"confirm_booking": confirm_booking})
    definition["requireConfirmation"] = "ENABLED"

    with pytest.raises(FunctionSchemaError, match="Tool 'confirm_booking' requires confirmation"):
        pulumi_aws_function_schema([definition])
