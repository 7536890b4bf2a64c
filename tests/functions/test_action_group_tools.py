"""Each tool end to end through the handler, with Bedrock-shaped events and exact expected values."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from tests.functions.test_action_group_support import (
    assert_bedrock_response,
    bedrock_event,
    body_of,
    invoke,
    param,
    state_of,
)

TYPES = {
    "decimal_places": "integer",
    "value": "number",
    "holidays": "array",
    "inclusive": "boolean",
}


def call(function: str, **params: Any) -> dict[str, Any]:
    response = invoke(
        bedrock_event(function, [param(k, v, TYPES.get(k, "string")) for k, v in params.items()])
    )
    assert_bedrock_response(response)
    assert state_of(response) is None, body_of(response)
    result: dict[str, Any] = json.loads(body_of(response))
    return result


def reprompt(function: str, **params: Any) -> str:
    response = invoke(
        bedrock_event(function, [param(k, v, TYPES.get(k, "string")) for k, v in params.items()])
    )
    assert_bedrock_response(response)
    assert state_of(response) == "REPROMPT", body_of(response)
    return body_of(response)


# --------------------------------------------------------------------------- calculate

ALLOWED = "numbers, + - * / // % ** (or ^), parentheses, sqrt(x) and abs(x)"


@pytest.mark.parametrize(
    ("expression", "result", "interpreted_as"),
    [
        ("0.1 + 0.2", "0.3", "0.1 + 0.2"),
        ("(1200 * 0.075) / 12", "7.5", "1200 * 0.075 / 12"),
        ("2^10", "1024", "2 ** 10"),
        ("-2 ** 2", "-4", "-2 ** 2"),
        ("10 / 3", "3.333333333333333333333333333", "10 / 3"),
        ("2 / 3", "0.6666666666666666666666666667", "2 / 3"),
        ("-7 // 2", "-4", "-7 // 2"),
        ("-7 % 2", "1", "-7 % 2"),
        ("7 % -2", "-1", "7 % -2"),
        ("7.5 // 2", "3", "7.5 // 2"),
        ("sqrt(2)", "1.414213562373095048801688724", "sqrt(2)"),
        ("abs(-3.5) * 2", "7", "abs(-3.5) * 2"),
        ("2 ** -2", "0.25", "2 ** (-2)"),
        ("0 ** 0", "1", "0 ** 0"),
        ("2.50 * 2", "5", "2.5 * 2"),
        ("1e-10 * 3", "3E-10", "1e-10 * 3"),
        ("10 ** 30", "1E+30", "10 ** 30"),
        ("99999999999999999999999999 + 1", "100000000000000000000000000", "99999999999999999999999999 + 1"),
        ("1_000 * 3", "3000", "1000 * 3"),
        ("12 \u00d7 3 \u00f7 4 \u2212 1", "8", "12 * 3 / 4 - 1"),
        ("  0.1 * 3  ", "0.3", "0.1 * 3"),
    ],
)
def test_calculate_is_exact(expression: str, result: str, interpreted_as: str) -> None:
    assert call("calculate", expression=expression) == {"result": result, "interpreted_as": interpreted_as}


@pytest.mark.parametrize(
    ("expression", "places", "result"),
    [
        ("10 / 3", "2", "3.33"),
        ("2.5", "0", "3"),
        ("-2.5", "0", "-3"),
        ("1.005", "2", "1.01"),
        ("2", "3", "2.000"),
        ("-0.0001", "2", "0.00"),
    ],
)
def test_calculate_rounds_half_away_from_zero_to_decimal_places(
    expression: str, places: str, result: str
) -> None:
    assert call("calculate", expression=expression, decimal_places=places)["result"] == result


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "The expression divides by zero."),
        ("0 / 0", "The expression divides by zero."),
        ("5 % 0", "The expression divides by zero."),
        (
            "sqrt(-1)",
            "The expression has no real-number result, e.g. sqrt of a negative number or a negative number "
            "raised to a fractional power.",
        ),
        (
            "(-8) ** 0.5",
            "The expression has no real-number result, e.g. sqrt of a negative number or a negative number "
            "raised to a fractional power.",
        ),
        ("2 ** 20000", "Exponents are limited to \u00b110000."),
        ("9 ** 9 ** 9", "Exponents are limited to \u00b110000."),
        ("(10 ** 9999) ** 200", "The result is too large to represent (beyond 1E+999999)."),
        (
            "__import__('os').system('id')",
            f"\"__import__('os').system('id')\" is not allowed; use only {ALLOWED}.",
        ),
        ("x + 1", f"'x' is not allowed; use only {ALLOWED}."),
        ("round(2.5)", f"'round(2.5)' is not allowed; use only {ALLOWED}."),
        ("sqrt(4, 2)", f"'sqrt(4, 2)' is not allowed; use only {ALLOWED}."),
        ("[1, 2]", f"'[1, 2]' is not allowed; use only {ALLOWED}."),
        ("1 < 2", f"'1 < 2' is not allowed; use only {ALLOWED}."),
        ("3 & 1", f"That operator is not supported; use only {ALLOWED}."),
        ("'abc'", f"\"'abc'\" is not a number; use only {ALLOWED}."),
        ("True", f"'True' is not a number; use only {ALLOWED}."),
        ("2j", f"'2j' is not a number; use only {ALLOWED}."),
        ("", "expression is empty: pass the arithmetic to evaluate, e.g. 2 * (3 + 4)."),
        ("1" * 501, "expression is longer than 500 characters: split the calculation."),
        ("+".join(["1"] * 120), "expression has too many terms: split the calculation into steps."),
        ("-" * 300 + "1", "expression has too many terms: split the calculation into steps."),
    ],
)
def test_calculate_reprompts_on_bad_expressions(expression: str, message: str) -> None:
    assert reprompt("calculate", expression=expression) == message


@pytest.mark.parametrize("expression", ["1 +", "(1", "1\x00", "(" * 210 + "1" + ")" * 210, "1 2"])
def test_calculate_reprompts_on_unparseable_expressions(expression: str) -> None:
    # The parser's own wording (quoted in parentheses) differs between Python versions.
    message = reprompt("calculate", expression=expression)

    assert message.startswith("expression is not valid arithmetic")
    assert message.endswith(f"allowed: {ALLOWED}.")


@pytest.mark.parametrize("places", ["-1", "21"])
def test_calculate_reprompts_on_out_of_range_decimal_places(places: str) -> None:
    assert reprompt("calculate", expression="1/3", decimal_places=places) == (
        "decimal_places must be between 0 and 20; omit it for full precision."
    )


def test_calculate_reprompts_when_rounding_needs_more_digits_than_it_has() -> None:
    assert reprompt("calculate", expression="10 ** 30", decimal_places="2") == (
        "The result has too many digits to show 2 decimal places; use fewer or omit decimal_places."
    )


# --------------------------------------------------------------------------- convert_units


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        ("5", "km", "mi", {"value": "3.10685596119", "unit": "mi", "summary": "5 km = 3.10685596119 mi"}),
        ("1", "in", "cm", {"value": "2.54", "unit": "cm", "summary": "1 in = 2.54 cm"}),
        ("212", "\u00b0F", "C", {"value": "100", "unit": "\u00b0C", "summary": "212 \u00b0F = 100 \u00b0C"}),
        (
            "-40",
            "celsius",
            "fahrenheit",
            {"value": "-40", "unit": "\u00b0F", "summary": "-40 \u00b0C = -40 \u00b0F"},
        ),
        ("0", "K", "deg C", {"value": "-273.15", "unit": "\u00b0C", "summary": "0 K = -273.15 \u00b0C"}),
        (
            "100",
            "Degrees Fahrenheit",
            "kelvin",
            {"value": "310.927777778", "unit": "K", "summary": "100 \u00b0F = 310.927777778 K"},
        ),
        ("1", "lb", "kg", {"value": "0.45359237", "unit": "kg", "summary": "1 lb = 0.45359237 kg"}),
        ("1", "stone", "pounds", {"value": "14", "unit": "lb", "summary": "1 st = 14 lb"}),
        ("16", "oz", "lbs.", {"value": "1", "unit": "lb", "summary": "16 oz = 1 lb"}),
        ("1", "Nautical  Mile", "km", {"value": "1.852", "unit": "km", "summary": "1 nmi = 1.852 km"}),
        ("0.1", "metres", "mm", {"value": "100", "unit": "mm", "summary": "0.1 m = 100 mm"}),
        ("2.5", "t", "kg", {"value": "2500", "unit": "kg", "summary": "2.5 t = 2500 kg"}),
        ("1e20", "m", "km", {"value": "1E+17", "unit": "km", "summary": "1E+20 m = 1E+17 km"}),
        (
            "123456789012",
            "m",
            "m",
            {"value": "123456789012", "unit": "m", "summary": "123456789012 m = 123456789012 m"},
        ),
        ("0.00000001", "km", "mm", {"value": "0.01", "unit": "mm", "summary": "1E-8 km = 0.01 mm"}),
        ("1e30", "mm", "km", {"value": "1E+24", "unit": "km", "summary": "1E+30 mm = 1E+24 km"}),
        ("3", "ft", "ft", {"value": "3", "unit": "ft", "summary": "3 ft = 3 ft"}),
    ],
)
def test_convert_units_uses_exact_factors(
    value: str, from_unit: str, to_unit: str, expected: dict[str, str]
) -> None:
    assert call("convert_units", value=value, from_unit=from_unit, to_unit=to_unit) == expected


SUPPORTED = "length: mm, cm, m, km, in, ft, yd, mi, nmi; mass: mg, g, kg, t, oz, lb, st; temperature: C, F, K"


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "message"),
    [
        (
            "1",
            "kg",
            "m",
            "Cannot convert mass (kg) to length (m): both units must measure the same kind of quantity.",
        ),
        (
            "1",
            "C",
            "km",
            "Cannot convert temperature (\u00b0C) to length (km): "
            "both units must measure the same kind of quantity.",
        ),
        ("1", "furlong", "m", f"from_unit 'furlong' is not a supported unit. Supported: {SUPPORTED}."),
        ("1", "m", "", f"to_unit '' is not a supported unit. Supported: {SUPPORTED}."),
        ("-300", "C", "K", "-300 \u00b0C is below absolute zero, so it is not a temperature."),
        ("-1", "K", "F", "-1 K is below absolute zero, so it is not a temperature."),
    ],
)
def test_convert_units_reprompts(value: str, from_unit: str, to_unit: str, message: str) -> None:
    assert reprompt("convert_units", value=value, from_unit=from_unit, to_unit=to_unit) == message


@pytest.mark.parametrize("value", ["1e400", "inf", "-Infinity", "nan", "1,5", ""])
def test_convert_units_reprompts_on_non_finite_or_unparseable_values(value: str) -> None:
    assert reprompt("convert_units", value=value, from_unit="m", to_unit="km") == (
        f"Parameter 'value' must be a finite number such as 3.5; got {value!r}. "
        "Call convert_units again with a corrected value."
    )


# --------------------------------------------------------------------------- business_days_between


@pytest.mark.parametrize(
    ("params", "business_days", "holidays_skipped"),
    [
        ({"start_date": "2025-03-01", "end_date": "2025-03-31"}, 21, 0),
        (
            {
                "start_date": "2025-12-22",
                "end_date": "2025-12-31",
                "holidays": '["2025-12-25", "2025-12-26"]',
            },
            6,
            2,
        ),
        # Arrays arrive as the model wrote them; a bare comma list works too, and weekend holidays
        # and holidays outside the range do not count twice.
        (
            {
                "start_date": "2025-12-22",
                "end_date": "2025-12-31",
                "holidays": "2025-12-25, 2025-12-27, 2026-01-01",
            },
            7,
            1,
        ),
        (
            {"start_date": "2025-12-22", "end_date": "2025-12-31", "holidays": "[2025-12-25, 2025-12-25]"},
            7,
            1,
        ),
        ({"start_date": "2025-12-22", "end_date": "2025-12-31", "holidays": "[]"}, 8, 0),
        ({"start_date": "2025-03-03", "end_date": "2025-03-03"}, 1, 0),
        ({"start_date": "2025-03-01", "end_date": "2025-03-02"}, 0, 0),
        ({"start_date": "2025-03-03", "end_date": "2025-03-07", "inclusive": "false"}, 3, 0),
        ({"start_date": "2025-03-03", "end_date": "2025-03-04", "inclusive": "false"}, 0, 0),
        ({"start_date": "2025-03-03", "end_date": "2025-03-03", "inclusive": "FALSE"}, 0, 0),
        ({"start_date": "2025-03-03", "end_date": "2025-03-07", "inclusive": "true"}, 5, 0),
        ({"start_date": "2024-02-26", "end_date": "2024-03-01"}, 5, 0),
        ({"start_date": "0001-01-01", "end_date": "9999-12-31", "inclusive": "false"}, 2_608_613, 0),
    ],
)
def test_business_days_between(params: dict[str, str], business_days: int, holidays_skipped: int) -> None:
    result = call("business_days_between", **params)

    assert result == {
        "business_days": business_days,
        "start_date": params["start_date"],
        "end_date": params["end_date"],
        "inclusive": params.get("inclusive", "true").lower() == "true",
        "holidays_skipped": holidays_skipped,
    }


def test_business_days_over_a_century_match_a_day_by_day_count() -> None:
    start, end = date(2000, 1, 1), date(2099, 12, 31)
    expected = sum(1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5)

    result = call("business_days_between", start_date=start.isoformat(), end_date=end.isoformat())

    assert result["business_days"] == expected == 26_089


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"start_date": "2025-03-31", "end_date": "2025-03-01"},
            "end_date 2025-03-01 is before start_date 2025-03-31: swap them or fix the dates.",
        ),
        (
            {"start_date": "2025-02-30", "end_date": "2025-03-01"},
            "start_date '2025-02-30' is not a real calendar date.",
        ),
        (
            {"start_date": "2025-03-01", "end_date": "March 31"},
            "end_date must be a date written as YYYY-MM-DD, e.g. 2025-03-14; got 'March 31'.",
        ),
        (
            {"start_date": "2025-3-1", "end_date": "2025-03-31"},
            "start_date must be a date written as YYYY-MM-DD, e.g. 2025-03-14; got '2025-3-1'.",
        ),
        (
            {"start_date": "2025-03-01T00:00:00", "end_date": "2025-03-31"},
            "start_date must be a date written as YYYY-MM-DD, e.g. 2025-03-14; got '2025-03-01T00:00:00'.",
        ),
        (
            {"start_date": "2025-03-01", "end_date": "2025-03-31", "holidays": '["2025-03-10", "soon"]'},
            "holidays[1] must be a date written as YYYY-MM-DD, e.g. 2025-03-14; got 'soon'.",
        ),
        (
            {
                "start_date": "2025-03-01",
                "end_date": "2025-03-31",
                "holidays": json.dumps(["2025-03-10"] * 1001),
            },
            "Parameter 'holidays' may list at most 1000 items: pass only those inside the range. "
            "Call business_days_between again with a corrected value.",
        ),
    ],
)
def test_business_days_between_reprompts(params: dict[str, str], message: str) -> None:
    assert reprompt("business_days_between", **params) == message
