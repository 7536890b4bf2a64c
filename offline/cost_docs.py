"""The idle-cost tables of docs/benchmarks.md, generated from the cost model the preview prints.

Each function renders one `<!-- NAME:start -->` block from `offline.cost.monthly_fixed_cost` on the
real dev and prod programs and from `offline/prices.json`, so the document has no copy of a number:
`python -m offline.docs` rewrites the blocks, and tests/bench/test_benchmarks_doc.py fails when one
is stale.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from offline.cost import (
    TIMES,
    CostEstimate,
    LineItem,
    PriceTable,
    UsageFormula,
    load_prices,
    monthly_fixed_cost,
)
from offline.cost import _money as _usd

if TYPE_CHECKING:
    from offline.engine import ProgramRun

STACKS = ("dev", "prod")  # what `make bench` costs by default (python -m bench --stacks)
README_STACKS = ("dev", "agentcore", "prod")  # every Pulumi.<stack>.yaml of the project
ENI_HOUR = "vpc.interface_endpoint.eni_hour"
KEY_MONTH = "kms.customer_key_month"
ROTATION_MONTH = "kms.rotation_month"


@functools.lru_cache(maxsize=len(README_STACKS))
def stack_run(stack: str) -> ProgramRun:
    from offline.engine import run_program

    return run_program(stack)


def stack_runs(stacks: tuple[str, ...] = STACKS) -> dict[str, ProgramRun]:
    return {stack: stack_run(stack) for stack in stacks}


def stack_estimates(stacks: tuple[str, ...] = STACKS) -> dict[str, CostEstimate]:
    return estimates(stack_runs(stacks))


def estimates(runs: Mapping[str, ProgramRun], prices: PriceTable | None = None) -> dict[str, CostEstimate]:
    prices = prices or load_prices()
    return {stack: monthly_fixed_cost(run, prices) for stack, run in runs.items()}


def idle_cost_table(costs: Mapping[str, CostEstimate]) -> str:
    """Every fixed charge of every stack, with how its quantity follows from the program."""
    stacks = list(costs)
    rows = [
        f"| what | price | {' | '.join(stacks)} |",
        f"|---|---|{'---|' * len(stacks)}",
    ]
    first: dict[str, LineItem] = {}
    order: list[str] = []  # each stack's order, a charge only one stack has after its predecessor there
    for estimate in costs.values():
        previous: str | None = None
        for item in estimate.items:
            if item.description not in first:
                first[item.description] = item
                order.insert(order.index(previous) + 1 if previous else 0, item.description)
            previous = item.description
    for description in order:
        sample = first[description]
        cells = []
        for estimate in costs.values():
            match = next((i for i in estimate.items if i.description == description), None)
            cells.append("—" if match is None else _cell(match))
        status = "" if sample.status in ("aws", "") else f" ({sample.status})"
        note = f"; {sample.note}" if sample.note else ""
        price = "not priced" if sample.unit_price is None else f"{_usd(sample.unit_price)}/{sample.unit}"
        rows.append(f"| {description} | {price}{status}{note} | {' | '.join(cells)} |")
    totals = " | ".join(f"**{_usd(estimate.monthly_usd, cents=True)}**" for estimate in costs.values())
    rows.append(f"| **total per month** | | {totals} |")
    return "\n".join(rows)


def idle_free_table(costs: Mapping[str, CostEstimate]) -> str:
    """What the program creates that costs nothing while idle, and what it is billed for instead."""
    stacks = list(costs)
    rows = [f"| resources | billed for | {' | '.join(stacks)} |", f"|---|---|{'---|' * len(stacks)}"]
    labels: dict[str, str] = {}
    for estimate in costs.values():
        for free in estimate.idle_free:
            labels.setdefault(free.label, free.billing)
    for label, billing in labels.items():
        counts = [
            str(next((f.count for f in estimate.idle_free if f.label == label), 0))
            for estimate in costs.values()
        ]
        rows.append(f"| {label} | {billing} | {' | '.join(counts)} |")
    return "\n".join(rows)


def usage_block(costs: Mapping[str, CostEstimate]) -> str:
    """The per-use formulas of the first stack, as the preview prints them, then those only another
    stack has (AgentCore's harness, gateway, search and grounding lines): a function's line is the
    same function when its name differs only by the stack's name."""
    first, *others = costs.values()
    lines = [f"```text\n# stack {first.stack}", *map(_usage_line, first.usage)]
    seen = {formula.name for formula in first.usage}
    for estimate in others:
        own = [
            formula
            for formula in estimate.usage
            if formula.name.replace(f"-{estimate.stack}-", f"-{first.stack}-") not in seen
        ]
        if own:
            lines += [f"# only in stack {estimate.stack}", *map(_usage_line, own)]
            seen.update(formula.name for formula in own)
    return "\n".join([*lines, "```"])


def _usage_line(formula: UsageFormula) -> str:
    return f"{formula.name}: {formula.formula}" + ("" if formula.status == "aws" else f" [{formula.status}]")


def choices_block(costs: Mapping[str, CostEstimate], prices: PriceTable) -> str:
    """What one more AZ, endpoint or key costs, from the same prices (the policy verdicts are prose)."""
    hours = prices.hours_per_month
    eni, key, rotation = prices[ENI_HOUR], prices[KEY_MONTH], prices[ROTATION_MONTH]
    per_eni_month = eni.usd * hours
    lines = [
        f"- **One interface endpoint in one AZ** (an ENI): {hours} h {TIMES} {_usd(eni.usd)}/{eni.unit} = "
        f"**{_usd(per_eni_month, cents=True)} per month** ({eni.status}). Each AZ adds one ENI per "
        "endpoint, each endpoint one ENI per AZ.",
    ]
    for stack, estimate in costs.items():
        endpoint_items = [item for item in estimate.items if item.price_key == ENI_HOUR]
        azs = {round(item.quantity / hours) for item in endpoint_items}
        endpoints_usd = sum(item.monthly_usd or 0 for item in endpoint_items)
        share = 100 * endpoints_usd / estimate.monthly_usd if estimate.monthly_usd else 0
        lines.append(
            f"- **{stack}**: {len(endpoint_items)} endpoint(s) in {', '.join(map(str, sorted(azs)))} AZ(s) = "
            f"{_usd(endpoints_usd, cents=True)} of its {_usd(estimate.monthly_usd, cents=True)} "
            f"({share:.0f}%); one AZ more would add {_usd(len(endpoint_items) * per_eni_month, cents=True)}."
        )
    lines.append(
        f"- **A customer managed KMS key**: {_usd(key.usd)}/{key.unit} in its first year; each yearly "
        f"rotation adds {_usd(rotation.usd)}/month, capped after the second "
        f"({_usd(key.usd + 2 * rotation.usd)}/month from the third year)."
    )
    return "\n".join(lines)


def cost_summary(costs: Mapping[str, CostEstimate]) -> str:
    """README's short form: each stack's idle total and what makes it up."""
    rows = ["| stack | idle cost per month | billed by the hour or month |", "|---|---|---|"]
    for stack, estimate in costs.items():
        parts = "; ".join(f"{item.description}: {_cell(item)}" for item in estimate.items)
        rows.append(f"| {stack} | **{_usd(estimate.monthly_usd, cents=True)}** | {parts} |")
    return "\n".join(rows)


def price_table(prices: PriceTable) -> str:
    """Every price of offline/prices.json with its unit, status, date and sources."""
    rows = ["| price | value | status | read on | sources |", "|---|---|---|---|---|"]
    for price in prices.prices.values():
        rows.append(
            f"| {price.description} (`{price.key}`) | {_usd(price.usd)}/{price.unit} | {price.status} | "
            f"{price.read_on} | {_sources(price.source)} |"
        )
    for model in prices.models.values():
        for tier, rate in model.tiers.items():
            profile = "global profile" if tier == "global" else "geographic profile / in-region"
            rates = f"{_usd(float(rate['input_1m']))} / {_usd(float(rate['output_1m']))}"
            rows.append(
                f"| {model.name}, {profile} (`{model.model_id}`) | {rates} per 1M input / output tokens | "
                f"{rate.get('status', '')} | {model.read_on} | {_sources(model.source)} |"
            )
    return "\n".join(rows)


def generators() -> dict[str, Callable[[], str]]:
    """docs/benchmarks.md's blocks (for offline.docs)."""
    return {
        "idle-cost": lambda: idle_cost_table(stack_estimates()),
        "idle-free": lambda: idle_free_table(stack_estimates()),
        "per-use": lambda: usage_block(stack_estimates(README_STACKS)),
        "cost-of-choices": lambda: choices_block(stack_estimates(), load_prices()),
        "prices": lambda: price_table(load_prices()),
    }


def _cell(item: LineItem) -> str:
    if item.monthly_usd is None:
        return f"{item.basis} = ?"
    return f"{item.basis} = {_usd(item.monthly_usd, cents=True)}"


def _sources(urls: tuple[str, ...]) -> str:
    return ", ".join(url.removeprefix("https://").removeprefix("www.").rstrip("/") for url in urls)
