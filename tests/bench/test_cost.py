"""The idle cost model on the real dev and prod programs, its edge cases, and its rendering."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline.cost import (
    TIMES,
    CostEstimate,
    cost_to_json,
    load_prices,
    model_price_key,
    monthly_fixed_cost,
    render_cost,
)
from offline.engine import REPO_ROOT, ProgramRun
from offline.model import PolicyReport, ResourceSnapshot
from offline.preview import PreviewResult, render, to_json
from tests.programs import shared_run

PRICES = load_prices()
ENI_HOUR = PRICES["vpc.interface_endpoint.eni_hour"].usd
KEY_MONTH = PRICES["kms.customer_key_month"].usd
ALARM_MONTH = PRICES["cloudwatch.alarm_month"].usd
DASHBOARD_MONTH = PRICES["cloudwatch.dashboard_month"].usd
# Five alarms and one dashboard per stack (components/monitoring.py).
OPERATIONS = [
    ("CloudWatch alarms", 5, "alarm-month", ALARM_MONTH, 0.5),
    ("CloudWatch dashboard", 1, "dashboard-month", DASHBOARD_MONTH, 3.0),
]


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    return {stack: shared_run(stack) for stack in ("dev", "prod")}


def estimate_of(run: ProgramRun) -> CostEstimate:
    return monthly_fixed_cost(run, PRICES)


def items(estimate: CostEstimate) -> list[tuple[str, float, str, float | None, float | None]]:
    return [
        (item.description, item.quantity, item.unit, item.unit_price, item.monthly_usd)
        for item in estimate.items
    ]


def test_dev_one_az_one_endpoint_and_one_key(runs: dict[str, ProgramRun]) -> None:
    estimate = estimate_of(runs["dev"])

    # 1 endpoint (no logs endpoint: nothing in the VPC calls the Logs API) x 1 AZ = 1 ENI billed
    # 730 h; one customer managed key.
    assert items(estimate) == [
        ("Interface endpoint bedrock-agent-runtime", 730, "ENI-hour", ENI_HOUR, 7.3),
        ("KMS key logs-key", 1, "key-month", KEY_MONTH, 1.0),
        *OPERATIONS,
    ]
    assert sum(item.quantity for item in estimate.items if item.unit == "ENI-hour") == 730
    assert estimate.monthly_usd == pytest.approx(730 * ENI_HOUR + KEY_MONTH + 3.5) == 11.8
    assert estimate.hours_per_month == 730
    assert estimate.complete, estimate.warnings


def test_prod_three_azs(runs: dict[str, ProgramRun]) -> None:
    estimate = estimate_of(runs["prod"])

    assert items(estimate) == [
        ("Interface endpoint bedrock-agent-runtime", 3 * 730, "ENI-hour", ENI_HOUR, 21.9),
        # Production encrypts the agent's data with its own key (agentKmsKey).
        ("KMS key agent-key-key", 1, "key-month", KEY_MONTH, 1.0),
        ("KMS key logs-key", 1, "key-month", KEY_MONTH, 1.0),
        *OPERATIONS,
    ]
    assert estimate.monthly_usd == 27.4


def test_counts_follow_the_program_config() -> None:
    run = shared_run("dev", {"azCount": 1, "interfaceEndpoints": ["bedrock-agent-runtime", "logs", "sts"]})
    estimate = estimate_of(run)

    assert [(i.description, i.basis) for i in estimate.items if i.unit == "ENI-hour"] == [
        ("Interface endpoint bedrock-agent-runtime", f"1 ENI (1 per AZ) {TIMES} 730 h"),
        ("Interface endpoint logs", f"1 ENI (1 per AZ) {TIMES} 730 h"),
        ("Interface endpoint sts", f"1 ENI (1 per AZ) {TIMES} 730 h"),
    ]
    assert estimate.monthly_usd == round(3 * 730 * ENI_HOUR + KEY_MONTH + 3.5, 2) == 26.4


def test_everything_else_the_program_creates_is_free_when_idle(runs: dict[str, ProgramRun]) -> None:
    estimate = estimate_of(runs["dev"])
    free = {entry.category: entry.count for entry in estimate.idle_free}

    # Every resource type of the real program is assessed (a new hourly resource would show up here).
    assert estimate.warnings == ()
    custom = [r for r in runs["dev"].resources if r.custom]
    priced = sum(len(item.resources) for item in estimate.items)
    assert priced + sum(free.values()) == len(custom)
    assert free["log-groups"] == 5  # with the page's CloudFront access logs
    assert free["functions"] == 2
    assert free["agent"] >= 3
    # The page: bucket (+4 settings, policy), page files + config.json, distribution, OAC, headers
    # policy, log delivery (source, destination, delivery, resource policy); Cognito (5 resources).
    files = len(list((REPO_ROOT / "web").rglob("*.*")))
    assert free["web"] == 6 + files + 1 + 3 + 4
    assert free["sign-in"] == 5


def test_page_and_sign_in_are_priced_per_use(runs: dict[str, ProgramRun]) -> None:
    formulas = {formula.name: formula for formula in estimate_of(runs["dev"]).usage}
    assert "$0.085/GB" in formulas["CloudFront (chat page)"].formula
    assert "$0.01/10,000" in formulas["CloudFront (chat page)"].formula
    assert "$0.023" in formulas["S3 (chat page)"].formula
    assert "$0.0055/MAU" in formulas["Cognito sign-in (Lite)"].formula
    assert formulas["Cognito sign-in (Lite)"].status == "third-party"


def test_rendered_section_lists_items_free_resources_and_formulas(runs: dict[str, ProgramRun]) -> None:
    lines = render_cost(estimate_of(runs["dev"]))

    assert lines[0] == "Estimated fixed monthly cost (idle): $11.80"
    assert "730 h/month" in lines[1]
    # The dates the prices were read, first to last (the guardrail, S3 Vectors and monitoring prices
    # were read later than the network's).
    dates = sorted({p.read_on for p in PRICES.prices.values()} | {m.read_on for m in PRICES.models.values()})
    assert f"(read {dates[0]} to {dates[-1]})" in lines[1]
    assert dates[0] == "2026-11-21"
    assert dates[-1] >= "2026-12-02"
    assert (
        f"    + $7.30  Interface endpoint bedrock-agent-runtime: 1 ENI (1 per AZ) {TIMES} 730 h "
        f"{TIMES} $0.01/ENI-hour [third-party]" in lines
    )
    assert any(
        line.startswith(f"    + $1.00  KMS key logs-key: 1 customer managed key {TIMES} $1.00/key-month")
        for line in lines
    )
    assert (
        "    + $0.00  Lambda functions (2 resources): per request and GB-second (no provisioned concurrency)"
        in lines
    )
    text = "\n".join(lines)
    # Per-use prices as formulas with the numbers, read from the run (memory, model).
    assert f"requests {TIMES} $3.50/1M" in text
    assert f"{TIMES} 0.25 GB {TIMES} $0.0000133334/GB-s = $3.53 per 1M requests of 1 s" in text
    assert f"GB processed {TIMES} $0.01/GB (1 endpoints" in text
    assert (
        f"(us.anthropic.claude-haiku-4-5-20251001-v1:0): input tokens {TIMES} $1.10/1M + "
        f"output tokens {TIMES} $5.50/1M" in text
    )
    assert "[unverified]" in text  # numbers no source confirmed are marked, not passed off as exact


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", ("anthropic.claude-haiku-4-5-20251001-v1:0", "geo")),
        (
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            ("anthropic.claude-haiku-4-5-20251001-v1:0", "global"),
        ),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", ("anthropic.claude-haiku-4-5-20251001-v1:0", "geo")),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            ("anthropic.claude-haiku-4-5-20251001-v1:0", "geo"),
        ),
        (
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
            ("anthropic.claude-haiku-4-5-20251001-v1:0", "geo"),
        ),
    ],
)
def test_model_price_key(configured: str, expected: tuple[str, str]) -> None:
    assert model_price_key(configured) == expected


# --- edge cases on hand-built runs -----------------------------------------------------------------


def snapshot(type_: str, name: str, **inputs: Any) -> ResourceSnapshot:
    return ResourceSnapshot(urn=f"urn:pulumi:t::p::{type_}::{name}", type=type_, name=name, inputs=inputs)


def hand_run(*resources: ResourceSnapshot, region: str = "us-east-1", **config: str) -> ProgramRun:
    return ProgramRun("p", "t", {"aws:region": region, **config}, list(resources))


def test_gateway_endpoints_are_free_and_unknown_subnets_fall_back_to_the_stack_subnets() -> None:
    run = hand_run(
        snapshot("aws:ec2/subnet:Subnet", "a"),
        snapshot("aws:ec2/subnet:Subnet", "b"),
        snapshot("aws:ec2/subnet:Subnet", "c"),
        snapshot("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", serviceName="com.amazonaws.us-east-1.s3"),
        snapshot(
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "sts",
            serviceName="com.amazonaws.us-east-1.sts",
            vpcEndpointType="Interface",
        ),
    )
    estimate = estimate_of(run)

    assert items(estimate) == [("Interface endpoint sts", 3 * 730, "ENI-hour", ENI_HOUR, 21.9)]
    assert estimate.items[0].basis == f"3 ENIs (assumed 1 per subnet of the stack) {TIMES} 730 h"


def test_hourly_resources_without_a_price_are_flagged_not_guessed() -> None:
    run = hand_run(
        snapshot("aws:ec2/natGateway:NatGateway", "nat"),
        snapshot("aws:apigateway/stage:Stage", "stage", cacheClusterEnabled=True),
        snapshot("aws:sqs/queue:Queue", "queue"),
        region="eu-west-1",
    )
    estimate = estimate_of(run)

    assert [(i.description, i.unit_price, i.monthly_usd) for i in estimate.items] == [
        ("NAT gateway (per hour and per GB processed)", None, None),
        ("API Gateway cache cluster (per hour, by size)", None, None),
    ]
    assert estimate.monthly_usd == 0
    assert not estimate.complete
    assert any("eu-west-1" in warning for warning in estimate.warnings)
    assert any("aws:sqs/queue:Queue" in warning for warning in estimate.warnings)
    lines = render_cost(estimate)
    assert "? " in lines[2] or "?  " in lines[2]
    assert "price unverified" in lines[2]
    assert any(line.startswith("    ! ") for line in lines)


def test_json_form_carries_totals_and_line_items(runs: dict[str, ProgramRun]) -> None:
    data = json.loads(json.dumps(cost_to_json(estimate_of(runs["dev"]))))

    assert data["monthly_usd"] == 11.8
    assert data["complete"] is True
    assert data["hours_per_month"] == 730
    assert [item["monthly_usd"] for item in data["items"]] == [7.3, 1.0, 0.5, 3.0]
    assert data["items"][0]["price_key"] == "vpc.interface_endpoint.eni_hour"


def test_the_preview_prints_the_cost_under_the_policy_report(runs: dict[str, ProgramRun]) -> None:
    result = PreviewResult(runs["dev"], PolicyReport("pack", "1.0.0", (), ()), 0.1)
    lines = render(result).splitlines()

    cost = lines.index("Estimated fixed monthly cost (idle): $11.80")
    assert lines.index("Policies:") < cost < lines.index("Resources:")
    assert to_json(result)["cost"]["monthly_usd"] == 11.8


def test_global_profile_uses_the_global_rate() -> None:
    run = hand_run(**{"p:agentFoundationModel": "global.anthropic.claude-haiku-4-5-20251001-v1:0"})
    text = "\n".join(render_cost(estimate_of(run)))

    assert (
        f"input tokens {TIMES} $1.00/1M + output tokens {TIMES} $5.00/1M (global cross-region profile)"
        in text
    )


def test_an_unknown_model_is_marked_unverified() -> None:
    run = hand_run(**{"p:agentFoundationModel": "amazon.nova-pro-v1:0"})
    (bedrock,) = [f for f in estimate_of(run).usage if f.name.startswith("Bedrock")]

    assert bedrock.status == "unverified"
    assert "not in offline/prices.json" in bedrock.formula


def test_agentcore_prices_its_third_endpoint_and_each_knowledge_search(runs: dict[str, ProgramRun]) -> None:
    agentcore = estimate_of(shared_run("agentcore"))
    endpoints = [item for item in agentcore.items if item.description.startswith("Interface endpoint")]
    assert [(item.description, item.monthly_usd) for item in endpoints] == [
        ("Interface endpoint bedrock-agent-runtime", 7.3),  # the knowledge base's searches (Retrieve)
        ("Interface endpoint bedrock-agentcore", 7.3),
        ("Interface endpoint bedrock-runtime", 7.3),
    ]
    assert agentcore.monthly_usd == pytest.approx(3 * 730 * ENI_HOUR + KEY_MONTH + 3.5) == 26.4
    formulas = {formula.name: formula for formula in agentcore.usage}
    search = formulas["Knowledge search (AgentCore search tool)"]
    # gateway call + Lambda request + 25 query tokens embedded + one S3 Vectors query, per 1,000 searches.
    per_1000 = 1000 * (
        PRICES["agentcore.gateway.invocations_1k"].usd / 1000
        + PRICES["lambda.requests_1m"].usd / 1e6
        + 25 * PRICES["bedrock.titan_embed_text_v2.input_1m"].usd / 1e6
        + PRICES["s3vectors.query_1m"].usd / 1e6
    )
    assert f"= ${per_1000:.4f} per 1,000 searches of 25 tokens" in search.formula
    assert search.status == "third-party"
    # Classic searches its associated knowledge base itself: no search tool to price.
    assert "Knowledge search (AgentCore search tool)" not in {f.name for f in estimate_of(runs["dev"]).usage}


def test_agentcore_prices_the_grounding_check_s_passages_as_an_explicit_upper_bound() -> None:
    from functions.action_group import knowledge
    from functions.invoker import guardrail
    from offline import cost

    # The sizes the bound uses are the code's: what the search returns and the invoker sends.
    assert cost.SEARCH_PASSAGE_CHARS == knowledge.MAX_TOTAL_CHARS
    assert cost.GROUNDED_ANSWER_CHARS == guardrail.GROUNDING_CONTENT_CHARS
    assert cost.GROUNDING_QUERY_CHARS == guardrail.GROUNDING_QUERY_CHARS == knowledge.MAX_QUERY_CHARS
    assert cost.GROUNDING_SOURCE_CHARS == guardrail.GROUNDING_SOURCE_CHARS

    formulas = {formula.name: formula for formula in estimate_of(shared_run("agentcore")).usage}
    names = list(formulas)
    bound = formulas[
        "Bedrock guardrail guardrail-guardrail: grounding after a search (AgentCore, upper bound)"
    ]
    assert names.index(bound.name) == names.index("Bedrock guardrail guardrail-guardrail") + 1
    grounding = PRICES["bedrock.guardrail.grounding_1k_units"].usd
    every = grounding + sum(
        PRICES[f"bedrock.guardrail.{key}_1k_units"].usd for key in ("content_filter", "denied_topics", "pii")
    )
    # 20,000 characters of passages + 1,000 of question = 21 text units per grounded answer of 5 units.
    assert (
        f"21 units {TIMES} grounding $0.10/1,000 = ${21 * grounding:.2f} more per 1,000 answers"
        in bound.formula
    )
    assert (
        f"21 {TIMES} $0.50/1,000 = ${21 * every:.2f} more (at most ${26 * every:.2f} per 1,000"
        in bound.formula
    )
    assert "(5 text units, in the guardrail's own line: $2.50 per 1,000 answers)" in bound.formula
    assert "undocumented as of 2026-12-02" in bound.formula
    assert bound.status == "unverified"


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("dev", {}),  # Classic: the agent applies its guardrail itself
        ("agentcore", {"knowledgeBaseAttached": False}),  # nothing searched, no grounding policy
    ],
)
def test_no_grounding_bound_where_the_invoker_sends_no_passages(
    stack: str, overrides: dict[str, Any]
) -> None:
    names = [formula.name for formula in estimate_of(shared_run(stack, overrides)).usage]
    assert "Bedrock guardrail guardrail-guardrail" in names
    assert not [name for name in names if "grounding after a search" in name]
