"""Regression tests of the action group's fault classes in issue #10 (items 9 and 10)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import pytest

from functions.action_group import dispatch as dispatch_module
from functions.action_group import toolspec
from functions.action_group.tools import app
from functions.action_group.toolspec import MaxItems, ParamSpec, coerce_value, tool_spec
from tests.functions.test_action_group_support import bedrock_event, body_of, invoke, param, state_of
from tests.functions.test_action_group_tools import call, reprompt

# --- 9. non-finite results are never a successful result ----------------------------------------

NOT_FINITE = "The expression has no finite result"


@pytest.mark.parametrize(
    "expression",
    [
        "0 ** -1",
        "0.0 ** -2.5",
        "(0 ** -1) * 0 + 1",  # an infinite operand, whatever the final arithmetic makes of it
        "1.0e99999999999999999999",  # a literal beyond float and Decimal range
        "1.0e99999999999999999999 - 1",
        "-(0 ** -3)",
        "abs(0 ** -1)",
        "sqrt(0 ** -1)",
    ],
)
def test_calculate_reprompts_on_a_non_finite_value(expression: str) -> None:
    message = reprompt("calculate", expression=expression)

    assert message.startswith(NOT_FINITE), message
    assert "Infinity" not in message


@pytest.mark.parametrize(
    ("expression", "value"),
    [("1e999", "1E+999"), ("1e999999 + 0", "1E+999999"), ("-1e400", "-1E+400"), ("2e400 / 2", "1E+400")],
)
def test_literals_beyond_float_range_are_exact_decimals(expression: str, value: str) -> None:
    result = call("calculate", expression=expression)

    assert result["result"] == value
    # Not ast.unparse's "1e309", its rendering of a float infinity.
    assert result["interpreted_as"] == expression


def test_any_tool_returning_a_non_finite_float_fails_instead_of_answering_infinity() -> None:
    spec = tool_spec(_broken_tool, name="broken", description="returns a float that is not finite")

    result = dispatch_module.dispatch(bedrock_event("broken"), {"broken": spec}, app.serializer)

    assert result.outcome == "failure"
    assert result.reason == "unserializable_result"
    assert state_of(result.response) == "FAILURE"
    assert "Infinity" not in body_of(result.response)


def _broken_tool() -> dict[str, float]:
    return {"ratio": float("inf"), "other": float("nan")}


# --- 10. array size and count are checked before anything is converted ---------------------------


@pytest.fixture
def no_conversion(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records every array parse and item conversion: a rejected array must see neither."""
    seen: list[object] = []
    parse, coerce = toolspec._parse_array, toolspec._coerce_scalar

    def parse_spy(raw: object) -> Any:
        seen.append("parse")
        return parse(raw)

    def coerce_spy(label: str, target: type, raw: object) -> object:
        if label.startswith(("holidays", "ids")):
            seen.append(label)
        return coerce(label, target, raw)

    monkeypatch.setattr(toolspec, "_parse_array", parse_spy)
    monkeypatch.setattr(toolspec, "_coerce_scalar", coerce_spy)
    return seen


def holidays_event(value: object) -> dict[str, Any]:
    return bedrock_event(
        "business_days_between",
        [
            param("start_date", "2026-01-01"),
            param("end_date", "2026-12-31"),
            param("holidays", value, "array"),
        ],
    )


def test_a_multi_megabyte_array_is_rejected_before_it_is_parsed(no_conversion: list[object]) -> None:
    huge = json.dumps(["2026-12-25"] * 300_000)  # 4.2 MB
    started = time.perf_counter()

    response = invoke(holidays_event(huge))

    assert time.perf_counter() - started < 0.5
    assert state_of(response) == "REPROMPT"
    assert "at most 1000 items" in body_of(response)
    assert no_conversion == []


def test_a_long_array_is_counted_before_any_item_is_converted(no_conversion: list[object]) -> None:
    short_items = ",".join(["1"] * 1001)  # 2 kB of text, but 1001 items

    response = invoke(holidays_event(short_items))

    assert state_of(response) == "REPROMPT"
    assert no_conversion == ["parse"]  # parsed (cheap at this size), not one item converted


def test_an_array_already_parsed_is_counted_first(no_conversion: list[object]) -> None:
    spec = ParamSpec("ids", "array", "ids", True, int, MaxItems(3))

    with pytest.raises(toolspec.ParameterError, match="at most 3 items"):
        coerce_value(spec, [1, 2, 3, 4])
    assert no_conversion == ["parse"]


def test_every_array_parameter_is_bounded_even_without_max_items() -> None:
    spec = tool_spec(_unbounded, name="unbounded", description="an array without MaxItems")
    (values,) = spec.parameters

    assert values.max_items == MaxItems(toolspec.DEFAULT_MAX_ITEMS)
    with pytest.raises(toolspec.ParameterError, match=f"at most {toolspec.DEFAULT_MAX_ITEMS} items"):
        coerce_value(values, "1," * (toolspec.DEFAULT_MAX_ITEMS + 1))


def _unbounded(values: Annotated[list[int], "some numbers"]) -> None: ...


def test_the_holiday_limit_still_accepts_a_full_year() -> None:
    holidays = json.dumps([f"2026-{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 29)][:1000])

    response = invoke(holidays_event(holidays))

    assert state_of(response) is None, body_of(response)
