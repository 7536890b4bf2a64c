"""docs/benchmarks.md's idle-cost blocks are what the cost model renders now, for the real programs and
offline/prices.json (refresh with `python -m offline.docs`)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from offline.cost import load_prices
from offline.cost_docs import (
    ENI_HOUR,
    STACKS,
    choices_block,
    estimates,
    generators,
    idle_cost_table,
    price_table,
    stack_estimates,
    stack_runs,
)
from offline.docs import BENCHMARKS, block

DOC = BENCHMARKS.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(generators()))
def test_benchmarks_block_is_current(name: str) -> None:
    assert block(DOC, name, "docs/benchmarks.md") == generators()[name](), (
        f"docs/benchmarks.md block '{name}' is stale: run `python -m offline.docs`"
    )


def test_the_idle_table_has_every_charge_and_the_totals_the_preview_prints() -> None:
    table = block(DOC, "idle-cost").splitlines()
    costs = stack_estimates()
    assert table[0] == f"| what | price | {' | '.join(STACKS)} |"
    assert table[-1] == (
        "| **total per month** | | " + " | ".join(f"**${costs[s].monthly_usd:,.2f}**" for s in STACKS) + " |"
    )
    described = {row.split(" | ")[0].removeprefix("| ") for row in table[2:-1]}
    assert described == {item.description for s in STACKS for item in costs[s].items}
    # Issue #14's fixed charges: the monitoring and the agent's own key (prod).
    assert {"CloudWatch alarms", "CloudWatch dashboard", "KMS key agent-key-key"} <= described
    (agent_key,) = [row for row in table if row.startswith("| KMS key agent-key-key |")]
    assert agent_key.endswith("| — | 1 customer managed key = $1.00 |")  # prod only (agentKmsKey)


def test_the_resources_free_when_idle_include_the_guardrail_knowledge_base_and_topic() -> None:
    labels = {row.split(" | ")[0].removeprefix("| ") for row in block(DOC, "idle-free").splitlines()[2:]}
    assert {
        "Bedrock guardrail and its version",
        "Bedrock knowledge base, data source, agent association",
        "S3 Vectors bucket and index",
        "SNS alarm topic, policy, subscription",
        "Log metric filters",
    } <= labels


def test_every_price_is_in_the_doc_with_its_date_and_a_source() -> None:
    prices = load_prices()
    rows = block(DOC, "prices").splitlines()[2:]
    for key, price in prices.prices.items():
        (row,) = [r for r in rows if f"(`{key}`)" in r]
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        assert cells[2] == price.status
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cells[3])
        assert cells[3] == price.read_on
        assert cells[4], f"{key} has no source"
    for guardrail_or_vectors in ("bedrock.guardrail.content_filter_1k_units", "s3vectors.storage_gb_month"):
        assert any(f"(`{guardrail_or_vectors}`)" in r for r in rows)


def test_a_changed_price_makes_the_doc_stale() -> None:
    """The check can fail: a dearer ENI-hour changes the idle table, the choices and the price table."""
    prices = load_prices()
    dearer = dataclasses.replace(
        prices,
        prices={**prices.prices, ENI_HOUR: dataclasses.replace(prices[ENI_HOUR], usd=0.02)},
    )
    costs = estimates(stack_runs(), dearer)
    assert idle_cost_table(costs) != block(DOC, "idle-cost")
    assert "$14.60" in idle_cost_table(costs)  # 730 ENI-hours at $0.02 in dev
    assert choices_block(costs, dearer) != block(DOC, "cost-of-choices")
    assert price_table(dearer) != block(DOC, "prices")
