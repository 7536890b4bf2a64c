"""Property-based tests of the action group's fault classes (issue #10 items 9 and 10)."""

from __future__ import annotations

import json

from hypothesis import event, given
from hypothesis import strategies as st

from tests.functions.test_action_group_support import bedrock_event, body_of, invoke, param, state_of
from tests.fuzzing import examples

PROFILE = examples(1.0)

literals = st.one_of(
    st.sampled_from(["0", "0.0", "1", "2", "10", "0.5", "1e308", "1e309", "1e999", "1e999999", "1e-999999"]),
    st.sampled_from(["(0 ** -1)", "(0.0 ** -0.5)", "1.0e99999999999999999999"]),  # each one not finite
    st.integers(-(10**6), 10**6).map(str),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3})?e-?[0-9]{1,8}\Z"),
)
expressions = st.recursive(
    literals,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "//", "%"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"sqrt({e})"),
        inner.map(lambda e: f"abs({e})"),
    ),
    max_leaves=6,
)


@PROFILE
@given(expression=expressions)
def test_calculate_never_answers_a_non_finite_value(expression: str) -> None:
    response = invoke(bedrock_event("calculate", [param("expression", expression)]))

    state = state_of(response)
    event(f"state {state}")
    assert state in (None, "REPROMPT"), body_of(response)
    if state is None:
        result = json.loads(body_of(response))["result"]
        assert result.lower().lstrip("-") not in ("infinity", "inf", "nan", "snan")
        assert "Infinity" not in result
        assert "NaN" not in result


dates = st.dates().map(lambda d: d.isoformat())


@PROFILE
@given(count=st.integers(0, 2_500), day=dates, as_json=st.booleans())
def test_holidays_are_refused_above_the_limit_and_counted_below_it(
    count: int, day: str, as_json: bool
) -> None:
    holidays = json.dumps([day] * count) if as_json else ", ".join([day] * count)
    response = invoke(
        bedrock_event(
            "business_days_between",
            [
                param("start_date", "2026-01-01"),
                param("end_date", "2026-12-31"),
                param("holidays", holidays, "array"),
            ],
        )
    )

    event("over the limit" if count > 1000 else "within the limit")
    if count > 1000:
        assert state_of(response) == "REPROMPT"
        assert "at most 1000 items" in body_of(response)
    else:
        assert state_of(response) is None, body_of(response)
