"""Properties over generated inputs: the handler never raises and always answers in Bedrock's shape,
and the tools agree with independent reference computations."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from functions.action_group import handler as handler_module
from functions.action_group.tools import _weekdays
from functions.action_group.toolspec import coerce_value
from tests.functions.test_action_group_support import (
    assert_bedrock_response,
    bedrock_event,
    body_of,
    captured_logs,
    invoke,
    param,
    state_of,
)
from tests.fuzzing import examples

FAST = examples(1.0)  # the profile's count (tests/fuzzing.py)

KNOWN_FUNCTIONS = list(handler_module.TOOLS)
KNOWN_PARAMETERS = sorted({p.name for spec in handler_module.TOOLS.values() for p in spec.parameters})
BEDROCK_TYPES = ["string", "number", "integer", "boolean", "array"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
)
# Mostly plausible strings (what Bedrock really sends), sometimes anything JSON can carry.
raw_values = (
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "2.5",
            "1e309",
            "nan",
            "true",
            "FALSE",
            "[]",
            "[1, 2]",
            '["2025-01-01"]',
            "2025-02-29",
        ]
    )
    | st.from_regex(r"[0-9eE.+\-*/%^() ]{0,30}", fullmatch=True)
    | st.text(max_size=200)
    | json_values
)
parameters = st.fixed_dictionaries(
    {"name": st.sampled_from(KNOWN_PARAMETERS) | st.text(min_size=1, max_size=20)},
    optional={"type": st.sampled_from(BEDROCK_TYPES) | st.text(max_size=8), "value": raw_values},
)
events = st.builds(
    bedrock_event,
    function=st.sampled_from(KNOWN_FUNCTIONS) | st.text(max_size=30),
    parameters=st.lists(parameters, max_size=6),
    session_attributes=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)


def _mangle(event: dict[str, Any], drop: list[str], junk: dict[str, Any]) -> dict[str, Any]:
    mangled = {k: v for k, v in event.items() if k not in drop}
    mangled.update(junk)
    return mangled


malformed_events = (
    st.builds(
        _mangle,
        events,
        st.lists(st.sampled_from(["actionGroup", "function", "parameters", "agent", "sessionAttributes"])),
        st.dictionaries(
            st.sampled_from(
                ["actionGroup", "function", "parameters", "sessionAttributes", "promptSessionAttributes"]
            ),
            json_values,
            max_size=2,
        ),
    )
    | json_values
)


@FAST
@given(events)
def test_any_parameters_get_a_well_formed_response_and_never_raise(event: dict[str, Any]) -> None:
    response = invoke(event)

    function_response = assert_bedrock_response(response)
    assert response["response"]["actionGroup"] == event["actionGroup"]
    assert response["response"]["function"] == event["function"]
    if event["function"] not in KNOWN_FUNCTIONS:
        assert function_response["responseState"] == "FAILURE"
    else:
        # The model's mistakes are never FAILURE: only a bug would be, and there is none to find.
        assert function_response.get("responseState") in (None, "REPROMPT"), body_of(response)


@FAST
@given(malformed_events)
def test_malformed_events_get_a_well_formed_response_and_never_raise(event: Any) -> None:
    assert_bedrock_response(invoke(event))


@examples(0.4)
@given(events)
def test_logs_never_contain_parameter_values_or_the_prompt(event: dict[str, Any]) -> None:
    marker = "Zq9-PROMPT-MARKER"
    event["inputText"] = marker
    event["parameters"].append(param("expression", f"1 + {marker}"))

    with captured_logs() as records:
        invoke(event)

    assert len(records) == 1
    assert marker not in json.dumps(records)


small_ints = st.integers(min_value=-(10**9), max_value=10**9)


@FAST
@given(small_ints, small_ints, small_ints.filter(lambda n: n != 0))
def test_calculate_agrees_with_python_integer_arithmetic(a: int, b: int, c: int) -> None:
    expression = f"({a}) * ({b}) - ({a}) // ({c}) + ({b}) % ({c})"

    response = invoke(bedrock_event("calculate", [param("expression", expression)]))

    assert state_of(response) is None
    assert json.loads(body_of(response))["result"] == str(a * b - a // c + b % c)


@FAST
@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    st.integers(min_value=0, max_value=60),
)
def test_weekday_count_matches_a_day_by_day_count(first: date, length: int) -> None:
    last = first + timedelta(days=length)

    expected = sum(1 for n in range(length + 1) if (first + timedelta(days=n)).weekday() < 5)

    assert _weekdays(first, last) == expected


@FAST
@given(st.integers())
def test_integers_round_trip_through_their_text(n: int) -> None:
    spec = handler_module.TOOLS["calculate"].parameter("decimal_places")
    assert spec is not None

    assert coerce_value(spec, str(n)) == n
