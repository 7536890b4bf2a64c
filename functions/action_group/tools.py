"""The tools the agent can call through this action group.

Each tool is a plain function registered on ``app``; its ``Annotated`` parameters are the whole
declaration: ``components/function_schema.py`` turns them into the action group's function schema
and the handler coerces Bedrock's string values with them. Adding a tool here adds it to the agent.

The tools are deterministic and offline (the Lambda runs in private subnets without internet):
exact decimal arithmetic, unit conversion with exact factors, and business-day counting. A tool
raises ``ToolInputError`` for input the model should correct; the handler turns it into REPROMPT.
"""

from __future__ import annotations

import ast
import copy
import math
import re
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from typing import Annotated, Final

from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver

from functions.action_group.dispatch import serialize_body
from functions.action_group.toolspec import MaxItems, ToolInputError

app = BedrockAgentFunctionResolver(serializer=serialize_body)


# --------------------------------------------------------------------------- calculate

_PRECISION: Final = 28
# Traps turn undefined or unrepresentable results into exceptions instead of NaN/Infinity.
_ARITHMETIC: Final = Context(
    prec=_PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
# Bounds on work per call: the input is model-written, possibly from a hostile prompt.
_MAX_EXPRESSION_CHARS: Final = 500
_MAX_NODES: Final = 200
_MAX_EXPONENT: Final = Decimal(10_000)
_MAX_DECIMAL_PLACES: Final = 20
_ALLOWED = "numbers, + - * / // % ** (or ^), parentheses, sqrt(x) and abs(x)"
# Notation models copy from users: ^ for powers, the multiplication, division and minus signs.
_NOTATION: Final = str.maketrans({"^": "**", "\u00d7": "*", "\u00f7": "/", "\u2212": "-"})


@app.tool(
    description=(
        "Evaluates an arithmetic expression exactly, with decimal arithmetic to 28 significant digits "
        "(0.1 + 0.2 is 0.3), and returns the result. Use it for every calculation instead of "
        f"computing yourself. Supports {_ALLOWED}; // and % round towards minus infinity as in Python. "
        "No variables, units or other functions."
    )
)
def calculate(
    expression: Annotated[
        str, f"The expression, e.g. (1200 * 0.075) / 12; at most {_MAX_EXPRESSION_CHARS} characters."
    ],
    decimal_places: Annotated[
        int | None,
        f"Round the result to this many decimal places (0-{_MAX_DECIMAL_PLACES}, halves away from zero); "
        "omit for full precision.",
    ] = None,
) -> dict[str, str]:
    """Exact decimal arithmetic over a whitelisted subset of Python expression syntax."""
    if decimal_places is not None and not 0 <= decimal_places <= _MAX_DECIMAL_PLACES:
        raise ToolInputError(
            f"decimal_places must be between 0 and {_MAX_DECIMAL_PLACES}; omit it for full precision."
        )
    source = expression.strip().translate(_NOTATION)
    if not source:
        raise ToolInputError("expression is empty: pass the arithmetic to evaluate, e.g. 2 * (3 + 4).")
    if len(source) > _MAX_EXPRESSION_CHARS:
        raise ToolInputError(
            f"expression is longer than {_MAX_EXPRESSION_CHARS} characters: split the calculation."
        )
    tree = _parse(source)
    try:
        with localcontext(_ARITHMETIC):
            value = _evaluate(tree.body, source)
            text = (
                _format_decimal(value, _PRECISION)
                if decimal_places is None
                else _round(value, decimal_places)
            )
    except Overflow:
        raise ToolInputError("The result is too large to represent (beyond 1E+999999).") from None
    except InvalidOperation:
        raise ToolInputError(
            "The expression has no real-number result, e.g. sqrt of a negative number or a negative "
            "number raised to a fractional power."
        ) from None
    return {"result": text, "interpreted_as": ast.unparse(_as_written(tree, source))}


class _Written(ast.NodeTransformer):
    """Float literals beyond float range as written: ``ast.unparse`` shows 1e999 as 1e309 (float inf)."""

    def __init__(self, source: str) -> None:
        self._source = source

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        written = ast.get_source_segment(self._source, node)
        if isinstance(node.value, float) and not math.isfinite(node.value) and written:
            return ast.Name(id=written, ctx=ast.Load())
        return node


def _as_written(tree: ast.Expression, source: str) -> ast.AST:
    return _Written(source).visit(copy.deepcopy(tree))


def _parse(source: str) -> ast.Expression:
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        raise ToolInputError(
            f"expression is not valid arithmetic ({error.msg}); allowed: {_ALLOWED}."
        ) from None
    except (ValueError, RecursionError, MemoryError):
        # Null bytes (ValueError before 3.12), or nesting too deep for the parser.
        raise ToolInputError(f"expression is not valid arithmetic; allowed: {_ALLOWED}.") from None
    if sum(1 for _ in ast.walk(tree)) > _MAX_NODES:
        raise ToolInputError("expression has too many terms: split the calculation into steps.")
    return tree


_NOT_FINITE: Final = (
    "The expression has no finite result (e.g. 0 raised to a negative power, or a number beyond "
    "1E+999999): check it, or tell the user the value is undefined."
)


def _evaluate(node: ast.expr, source: str) -> Decimal:
    """The node's value; every value, the operands included, is finite (Decimal allows Infinity)."""
    value = _evaluate_node(node, source)
    if not value.is_finite():
        raise ToolInputError(_NOT_FINITE)
    return value


def _evaluate_node(node: ast.expr, source: str) -> Decimal:
    if isinstance(node, ast.Constant):
        return _literal(node, source)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
        operand = _evaluate(node.operand, source)
        return operand.copy_negate() if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _binary(node.op, _evaluate(node.left, source), _evaluate(node.right, source))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("sqrt", "abs")
        and len(node.args) == 1
        and not node.keywords
    ):
        argument = _evaluate(node.args[0], source)
        return argument.sqrt() if node.func.id == "sqrt" else abs(argument)
    raise ToolInputError(f"{_snippet(ast.unparse(node))} is not allowed; use only {_ALLOWED}.")


def _literal(node: ast.Constant, source: str) -> Decimal:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolInputError(f"{_snippet(repr(value))} is not a number; use only {_ALLOWED}.")
    if isinstance(value, int):
        return Decimal(value)
    # The literal's own text keeps its exact decimal value (0.1 stays 0.1, not the binary float).
    written = ast.get_source_segment(source, node) or repr(value)
    try:
        exact = Decimal(written)
    except InvalidOperation:
        exact = Decimal(repr(value))
    return +exact  # unary plus applies the context: a literal beyond 1E+999999 traps Overflow


def _binary(op: ast.operator, left: Decimal, right: Decimal) -> Decimal:
    if isinstance(op, ast.Div | ast.FloorDiv | ast.Mod) and right.is_zero():
        # Decimal signals x/0, 0/0 and x%0 differently; the model needs one clear message.
        raise ToolInputError("The expression divides by zero.")
    if isinstance(op, ast.Add):
        return left + right
    if isinstance(op, ast.Sub):
        return left - right
    if isinstance(op, ast.Mult):
        return left * right
    if isinstance(op, ast.Div):
        return left / right
    if isinstance(op, ast.FloorDiv):
        return _floor_divmod(left, right)[0]
    if isinstance(op, ast.Mod):
        return _floor_divmod(left, right)[1]
    if isinstance(op, ast.Pow):
        if abs(right) > _MAX_EXPONENT:
            raise ToolInputError(f"Exponents are limited to ±{_MAX_EXPONENT}.")
        if left.is_zero() and right.is_zero():
            return Decimal(1)  # the usual convention (and Python's); Decimal calls 0**0 undefined
        return left**right
    raise ToolInputError(f"That operator is not supported; use only {_ALLOWED}.")


def _floor_divmod(left: Decimal, right: Decimal) -> tuple[Decimal, Decimal]:
    # Decimal's divmod truncates towards zero; shift to floor semantics like Python's int and float.
    quotient, remainder = divmod(left, right)
    if not remainder.is_zero() and remainder.is_signed() != right.is_signed():
        quotient, remainder = quotient - 1, remainder + right
    return quotient, remainder


def _round(value: Decimal, places: int) -> str:
    try:
        # Half away from zero, as people round by hand (2.5 -> 3), unlike the arithmetic itself.
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ToolInputError(
            f"The result has too many digits to show {places} decimal places; "
            "use fewer or omit decimal_places."
        ) from None
    return f"{rounded + 0:f}"  # + 0 turns -0.00 into 0.00


def _format_decimal(value: Decimal, significant_digits: int) -> str:
    """Plain notation while every integer digit is significant, scientific beyond; no trailing zeros."""
    if value.is_zero():
        return "0"
    normal = value.normalize()
    if -7 <= normal.adjusted() < significant_digits:
        return f"{normal:f}"
    return str(normal)


def _snippet(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


# --------------------------------------------------------------------------- convert_units

# Exact definitions: factors to the SI base unit (metre, kilogram), as decimal strings.
_LINEAR_UNITS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "mm": ("length", "0.001", ("millimeter", "millimeters", "millimetre", "millimetres")),
    "cm": ("length", "0.01", ("centimeter", "centimeters", "centimetre", "centimetres")),
    "m": ("length", "1", ("meter", "meters", "metre", "metres")),
    "km": ("length", "1000", ("kilometer", "kilometers", "kilometre", "kilometres")),
    "in": ("length", "0.0254", ("inch", "inches")),
    "ft": ("length", "0.3048", ("foot", "feet")),
    "yd": ("length", "0.9144", ("yard", "yards")),
    "mi": ("length", "1609.344", ("mile", "miles")),
    "nmi": ("length", "1852", ("nautical mile", "nautical miles")),
    "mg": ("mass", "0.000001", ("milligram", "milligrams", "milligramme", "milligrammes")),
    "g": ("mass", "0.001", ("gram", "grams", "gramme", "grammes")),
    "kg": ("mass", "1", ("kilogram", "kilograms", "kilogramme", "kilogrammes", "kilo", "kilos")),
    "t": ("mass", "1000", ("tonne", "tonnes", "metric ton", "metric tons")),
    "oz": ("mass", "0.028349523125", ("ounce", "ounces")),
    "lb": ("mass", "0.45359237", ("lbs", "pound", "pounds")),
    "st": ("mass", "6.35029318", ("stone", "stones")),
}
# Temperature: kelvin = (value + offset) * scale.
_TEMPERATURE_UNITS: Final[dict[str, tuple[Fraction, Fraction, tuple[str, ...]]]] = {
    "°C": (Fraction("273.15"), Fraction(1), ("c", "celsius", "centigrade", "degc")),
    "°F": (Fraction("459.67"), Fraction(5, 9), ("f", "fahrenheit", "degf")),
    "K": (Fraction(0), Fraction(1), ("k", "kelvin", "kelvins")),
}
_ALIASES: Final[dict[str, str]] = {
    alias: symbol
    for table in (_LINEAR_UNITS, _TEMPERATURE_UNITS)
    for symbol, (*_, aliases) in table.items()
    for alias in (symbol.lower().lstrip("°"), *aliases)
}
_SIGNIFICANT_DIGITS: Final = 12
_SUPPORTED_UNITS = (
    "length: mm, cm, m, km, in, ft, yd, mi, nmi; mass: mg, g, kg, t, oz, lb, st; temperature: C, F, K"
)


@app.tool(
    description=(
        "Converts a quantity between units of length, mass or temperature using exact conversion "
        f"factors, rounded to {_SIGNIFICANT_DIGITS} significant digits. Units: {_SUPPORTED_UNITS} "
        "(full names such as 'miles' or 'celsius' also work)."
    )
)
def convert_units(
    value: Annotated[float, "The quantity to convert, e.g. 5.5."],
    from_unit: Annotated[str, "Unit of value, e.g. km, lb or C."],
    to_unit: Annotated[str, "Unit to convert to; must measure the same thing as from_unit."],
) -> dict[str, str]:
    source, target = _unit(from_unit, "from_unit"), _unit(to_unit, "to_unit")
    source_dimension, target_dimension = _dimension(source), _dimension(target)
    if source_dimension != target_dimension:
        raise ToolInputError(
            f"Cannot convert {source_dimension} ({source}) to {target_dimension} ({target}): "
            "both units must measure the same kind of quantity."
        )
    # repr() is the shortest text that round-trips, so 0.1 is converted as exactly 1/10.
    amount = Fraction(repr(value))
    if source_dimension == "temperature":
        converted = _convert_temperature(amount, source, target)
    else:
        converted = amount * Fraction(_LINEAR_UNITS[source][1]) / Fraction(_LINEAR_UNITS[target][1])
    shown_in, shown_out = _significant(amount), _significant(converted)
    return {"value": shown_out, "unit": target, "summary": f"{shown_in} {source} = {shown_out} {target}"}


def _unit(raw: str, parameter: str) -> str:
    key = " ".join(raw.replace("°", " ").replace("º", " ").lower().split()).rstrip(".")
    for prefix in ("degrees ", "degree ", "deg "):
        key = key.removeprefix(prefix)
    symbol = _ALIASES.get(key)
    if symbol is None:
        raise ToolInputError(
            f"{parameter} {_snippet(raw)} is not a supported unit. Supported: {_SUPPORTED_UNITS}."
        )
    return symbol


def _dimension(symbol: str) -> str:
    return "temperature" if symbol in _TEMPERATURE_UNITS else _LINEAR_UNITS[symbol][0]


def _convert_temperature(amount: Fraction, source: str, target: str) -> Fraction:
    offset, scale, _ = _TEMPERATURE_UNITS[source]
    kelvin = (amount + offset) * scale
    if kelvin < 0:
        raise ToolInputError(
            f"{_significant(amount)} {source} is below absolute zero, so it is not a temperature."
        )
    offset, scale, _ = _TEMPERATURE_UNITS[target]
    return kelvin / scale - offset


def _significant(number: Fraction) -> str:
    with localcontext(Context(prec=_SIGNIFICANT_DIGITS, rounding=ROUND_HALF_UP)):
        return _format_decimal(Decimal(number.numerator) / Decimal(number.denominator), _SIGNIFICANT_DIGITS)


# --------------------------------------------------------------------------- business_days_between

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MAX_HOLIDAYS: Final = 1000


@app.tool(
    description=(
        "Counts business days (Monday to Friday, minus the holidays you list) from start_date to "
        "end_date, counting both dates themselves by default like a spreadsheet's NETWORKDAYS. "
        "It knows no public holidays: pass any that apply in holidays."
    )
)
def business_days_between(
    start_date: Annotated[str, "First date, as YYYY-MM-DD."],
    end_date: Annotated[str, "Last date, as YYYY-MM-DD; not before start_date."],
    holidays: Annotated[
        list[str] | None,
        'Non-working dates to skip besides weekends, as YYYY-MM-DD strings, e.g. ["2025-12-25"].',
        MaxItems(_MAX_HOLIDAYS, "pass only those inside the range"),  # checked before any date is parsed
    ] = None,
    inclusive: Annotated[
        bool, "true (default) counts start_date and end_date themselves; false only the days between them."
    ] = True,
) -> dict[str, object]:
    start, end = _iso_date(start_date, "start_date"), _iso_date(end_date, "end_date")
    if end < start:
        raise ToolInputError(
            f"end_date {end.isoformat()} is before start_date {start.isoformat()}: "
            "swap them or fix the dates."
        )
    skipped = holidays or []
    if len(skipped) > _MAX_HOLIDAYS:  # the parameter's MaxItems already refused it when Bedrock called
        raise ToolInputError(
            f"holidays lists more than {_MAX_HOLIDAYS} dates: pass only those inside the range."
        )
    holiday_dates = {_iso_date(day, f"holidays[{index}]") for index, day in enumerate(skipped)}
    weekdays = on_weekdays = 0
    if inclusive or (end - start).days >= 2:  # otherwise nothing lies strictly between the dates
        first = start if inclusive else start + timedelta(days=1)
        last = end if inclusive else end - timedelta(days=1)
        weekdays = _weekdays(first, last)
        on_weekdays = sum(1 for day in holiday_dates if first <= day <= last and day.weekday() < 5)
    return {
        "business_days": weekdays - on_weekdays,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "inclusive": inclusive,
        "holidays_skipped": on_weekdays,
    }


def _iso_date(text: str, parameter: str) -> date:
    candidate = text.strip()
    if _ISO_DATE.fullmatch(candidate):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            raise ToolInputError(f"{parameter} {_snippet(text)} is not a real calendar date.") from None
    raise ToolInputError(
        f"{parameter} must be a date written as YYYY-MM-DD, e.g. 2025-03-14; got {_snippet(text)}."
    )


def _weekdays(first: date, last: date) -> int:
    """Monday-to-Friday dates in [first, last]; O(1), so ranges of centuries cost nothing."""
    weeks, extra = divmod((last - first).days + 1, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for offset in range(extra) if (start + offset) % 7 < 5)
