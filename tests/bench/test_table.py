"""The benchmark table renderer, the statistics behind it and the verdict on dev's idle cost."""

from __future__ import annotations

from typing import Any

import pytest

from bench.__main__ import MINUS, choice_lines, cost_rows, judge_dev_cost, pytest_summary
from bench.stats import summarize, summarize_iqr
from bench.table import (
    EN_DASH,
    INFO,
    MISS,
    PASS,
    TIMES,
    Row,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    render_table,
    row,
)


def test_summary_is_median_and_min_max() -> None:
    summary = summarize([3.0, 1.0, 2.0, 10.0])

    assert (summary.median, summary.low, summary.high, summary.n) == (2.5, 1.0, 10.0, 4)
    assert summary.spread == 9.0
    with pytest.raises(ValueError, match="no measurements"):
        summarize([])


def test_iqr_summary_ignores_the_disturbed_tail() -> None:
    summary = summarize_iqr([1.0, 1.1, 1.2, 1.3, 9.0])

    assert (summary.median, summary.low, summary.high, summary.n) == (1.2, 1.1, 1.3, 5)
    assert summarize_iqr([2.0]) == summarize([2.0])


def test_row_judges_the_median_against_the_limit() -> None:
    fast = row("preview", summarize([2.5, 2.9, 3.4]), fmt_seconds, limit=3.0, target="< 3 s")
    slow = row("preview", summarize([3.1, 2.9, 3.4]), fmt_seconds, limit=3.0, target="< 3 s")
    info = row("rss", summarize([1024.0]), fmt_bytes)

    assert fast.cells() == ("preview", "2.90 s", f"2.50 s{EN_DASH}3.40 s", "3", "< 3 s", PASS, "")
    assert slow.result == MISS
    assert (info.result, info.spread, info.n) == (INFO, "", "1")


def test_table_is_aligned_markdown_with_escaped_cells() -> None:
    lines = render_table([Row("a | b", "1 s", result=PASS), Row("longer measurement", "12 ms", notes="x")])

    assert lines[0].startswith("| measurement ")
    assert "| spread " in lines[0]
    assert set(lines[1]) == {"|", "-"}
    assert len({len(line) for line in lines}) == 1
    assert "a \\| b" in lines[2]
    assert lines[2].count(" | ") == 6


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.345, "2.35 s"), (0.25, "250 ms"), (0.0123, "12.3 ms"), (0.000095, "95 µs")],
)
def test_seconds(value: float, text: str) -> None:
    assert fmt_seconds(value) == text


def test_bytes_and_ratios() -> None:
    assert fmt_bytes(19021) == "18.6 KiB"
    assert fmt_bytes(137 * 1024 * 1024) == "137 MiB"
    assert fmt_bytes(100) == "100 B"
    assert fmt_ratio(1.2749) == f"1.27{TIMES}"


def variant(label: str, usd: float, *mandatory: str) -> dict[str, Any]:
    return {"label": label, "overrides": {}, "monthly_usd": usd, "mandatory": list(mandatory)}


def test_dev_cost_misses_when_a_cheaper_variant_passes_the_same_policies() -> None:
    choices = {
        "stack": "dev",
        "variants": [
            variant("dev as configured", 30.2),
            variant("azCount 1", 15.6),
            variant("without the logs endpoint", 15.6, "vpc-required-endpoints"),
        ],
    }

    verdict, notes = judge_dev_cost(choices)

    assert verdict == MISS
    assert notes == f"azCount 1 also passes, at $15.60 ({MINUS}$14.60)"
    assert choice_lines(choices)[1:4] == [
        "    dev as configured: $30.20",
        f"    azCount 1: $15.60 ({MINUS}$14.60) — passes the mandatory policies",
        f"    without the logs endpoint: $15.60 ({MINUS}$14.60) — fails vpc-required-endpoints",
    ]


def test_dev_cost_passes_when_every_cheaper_variant_breaks_a_mandatory_policy() -> None:
    choices = {
        "stack": "dev",
        "variants": [
            variant("dev as configured", 15.6),
            variant("azCount 2", 30.2),
            variant("without the logs endpoint", 8.3, "vpc-required-endpoints"),
        ],
    }

    assert judge_dev_cost(choices) == (PASS, "no cheaper variant passes the mandatory policies (see below)")


def test_pytest_summary_is_the_last_result_line() -> None:
    output = "bringing up nodes...\n....\n=========== 612 passed, 2 skipped in 31.02s ===========\n"

    assert pytest_summary(output) == "612 passed, 2 skipped in 31.02s"
    assert pytest_summary("") == "no summary line"


def test_the_cost_rows_are_the_preview_models_totals() -> None:
    """`make bench` reports each stack's idle cost as bench.worker computes it: offline.cost on the real
    program, the number the offline preview prints (no copy of a price in bench/)."""
    from bench.worker import cost
    from offline.cost_docs import stack_estimates

    costs = {stack: cost(stack) for stack in ("dev", "prod")}
    choices = {
        "stack": "dev",
        "variants": [variant("dev as configured", costs["dev"]["estimate"]["monthly_usd"])],
    }

    rows = cost_rows(costs, choices)

    models = stack_estimates()
    assert [(r.measurement, r.median) for r in rows] == [
        (f"idle cost {stack}", f"${models[stack].monthly_usd:,.2f}/month") for stack in ("dev", "prod")
    ]
    assert (
        costs["dev"]["lines"][0] == f"Estimated fixed monthly cost (idle): ${models['dev'].monthly_usd:,.2f}"
    )
    assert rows[1].notes.split("; ") == [
        f"{item.description} ${item.monthly_usd:,.2f}" for item in models["prod"].items
    ]
