"""What a stack costs when nobody uses it, and the formulas for what each use adds.

`monthly_fixed_cost(run, prices)` prices the resources a program run registered: everything billed
by the hour or the month whatever the traffic (interface endpoints per ENI-hour, customer managed
KMS keys per key-month). Everything else the program creates costs nothing while idle (log groups,
Lambda, the REST API and the agent are billed per use) and is listed with the reason. The per-use
prices are returned as formulas with the numbers, built from the run (memory sizes, the configured
model). A month is 730 hours, as in the AWS pricing pages and calculator.

Prices come from `offline/prices.json` (us-east-1, each with its source and the date it was read).
This module is on the offline preview's cold path: it imports nothing heavier than `json`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports pulumi; the cost model only reads its plain data
    from offline.engine import ProgramRun

PRICES_FILE = Path(__file__).with_name("prices.json")

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SUBNET = "aws:ec2/subnet:Subnet"
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
STAGE = "aws:apigateway/stage:Stage"
HARNESS = "aws:bedrock/agentcoreHarness:AgentcoreHarness"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
KNOWLEDGE_BASE = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
VECTOR_INDEX = "aws:s3/vectorsIndex:VectorsIndex"
SNS_TOPIC = "aws:sns/topic:Topic"
# Billed per month whatever the traffic: (price key, what one is).
MONTHLY_PER_RESOURCE: Mapping[str, tuple[str, str]] = {
    ALARM: ("cloudwatch.alarm_month", "CloudWatch alarms"),
    DASHBOARD: ("cloudwatch.dashboard_month", "CloudWatch dashboard"),
}

# Resources that cost nothing while idle, by category, with what they are billed for instead.
IDLE_CATEGORIES: Mapping[str, tuple[str, str]] = {
    "log-groups": ("CloudWatch log groups", "per GB ingested and per GB-month stored"),
    "functions": ("Lambda functions", "per request and GB-second (no provisioned concurrency)"),
    "api": ("API Gateway REST API", "per request (no cache cluster)"),
    "agent": ("Bedrock agent, action group, alias", "no charge; the model bills tokens per use"),
    "agentcore": (
        "AgentCore harness, gateway and targets",
        "per use: runtime CPU and memory of active sessions, gateway calls; the model bills tokens",
    ),
    "flow-logs": ("VPC flow log", "per GB delivered to CloudWatch Logs"),
    "network": ("VPC, subnets, route tables, security groups, rules", "no charge"),
    "guardrail": ("Bedrock guardrail and its version", "per 1,000 text units evaluated (word filters free)"),
    "knowledge-base": (
        "Bedrock knowledge base, data source, agent association",
        "no charge; ingestion and retrieval bill embedding tokens and vector writes/queries",
    ),
    "vectors": (
        "S3 Vectors bucket and index",
        "per GB-month stored, per GB written, per query (no hourly charge)",
    ),
    "documents": (
        "S3 document bucket, its settings and objects",
        "per GB-month stored (the sample corpus: a few KB)",
    ),
    "metric-filters": (
        "Log metric filters",
        "their custom metrics bill only for hours in which an error is logged",
    ),
    "notifications": ("SNS alarm topic, policy, subscription", "per notification delivered"),
    "no-charge": (
        "IAM roles and policies, Lambda permissions, KMS alias, API Gateway account, deploy-time waits",
        "no charge",
    ),
    "web": (
        "Chat page: S3 bucket and files, CloudFront distribution, OAC, headers policy, log delivery",
        "per GB and request served (CloudFront), per GB-month stored (S3)",
    ),
    "sign-in": ("Cognito user pool, app client, domain, identity pool", "per monthly active user (MAU)"),
}
# The page's resources (components/web.py).
WEB_TYPES: Mapping[str, str] = {
    "aws:s3/bucket:Bucket": "web",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "web",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "web",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "web",
    "aws:s3/bucketVersioning:BucketVersioning": "web",
    "aws:s3/bucketPolicy:BucketPolicy": "web",
    "aws:s3/bucketObjectv2:BucketObjectv2": "web",
    "aws:cloudfront/distribution:Distribution": "web",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "web",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": "web",
    "aws:cloudwatch/logDeliverySource:LogDeliverySource": "web",
    "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination": "web",
    "aws:cloudwatch/logDelivery:LogDelivery": "web",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "web",
    "aws:cognito/userPool:UserPool": "sign-in",
    "aws:cognito/userPoolClient:UserPoolClient": "sign-in",
    "aws:cognito/userPoolDomain:UserPoolDomain": "sign-in",
    "aws:cognito/identityPool:IdentityPool": "sign-in",
    "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment": "sign-in",
}
FREE_WHEN_IDLE: Mapping[str, str] = {
    LOG_GROUP: "log-groups",
    FUNCTION: "functions",
    "aws:lambda/permission:Permission": "no-charge",
    "aws:apigateway/restApi:RestApi": "api",
    "aws:apigateway/resource:Resource": "api",
    "aws:apigateway/method:Method": "api",
    "aws:apigateway/integration:Integration": "api",
    "aws:apigateway/response:Response": "api",
    "aws:apigateway/model:Model": "api",
    "aws:apigateway/requestValidator:RequestValidator": "api",
    "aws:apigateway/deployment:Deployment": "api",
    "aws:apigateway/stage:Stage": "api",
    "aws:apigateway/methodSettings:MethodSettings": "api",
    "aws:apigateway/apiKey:ApiKey": "api",
    "aws:apigateway/usagePlan:UsagePlan": "api",
    "aws:apigateway/usagePlanKey:UsagePlanKey": "api",
    "aws:apigateway/account:Account": "no-charge",
    "aws:bedrock/agentAgent:AgentAgent": "agent",
    "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup": "agent",
    "aws:bedrock/agentAgentAlias:AgentAgentAlias": "agent",
    HARNESS: "agentcore",
    "aws:bedrock/agentcoreGateway:AgentcoreGateway": "agentcore",
    "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget": "agentcore",
    "aws:bedrock/agentcoreResourcePolicy:AgentcoreResourcePolicy": "no-charge",
    "aws:ec2/flowLog:FlowLog": "flow-logs",
    "aws:ec2/vpc:Vpc": "network",
    SUBNET: "network",
    "aws:ec2/routeTable:RouteTable": "network",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "network",
    "aws:ec2/securityGroup:SecurityGroup": "network",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "network",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "network",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "network",
    "aws:iam/role:Role": "no-charge",
    "aws:iam/rolePolicy:RolePolicy": "no-charge",
    "aws:kms/alias:Alias": "no-charge",
    "time:index/sleep:Sleep": "no-charge",  # a wait inside the deployment, not an AWS resource
    **WEB_TYPES,
    GUARDRAIL: "guardrail",
    "aws:bedrock/guardrailVersion:GuardrailVersion": "guardrail",
    KNOWLEDGE_BASE: "knowledge-base",
    "aws:bedrock/agentDataSource:AgentDataSource": "knowledge-base",
    "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation": "knowledge-base",
    "aws:s3/vectorsVectorBucket:VectorsVectorBucket": "vectors",
    VECTOR_INDEX: "vectors",
    METRIC_FILTER: "metric-filters",
    SNS_TOPIC: "notifications",
    "aws:sns/topicPolicy:TopicPolicy": "notifications",
    "aws:sns/topicSubscription:TopicSubscription": "notifications",
}
# Billed by the hour but not in the price table: flagged so that an estimate never silently omits them.
HOURLY_UNPRICED: Mapping[str, str] = {
    "aws:ec2/natGateway:NatGateway": "NAT gateway (per hour and per GB processed)",
    "aws:ec2/eip:Eip": "Elastic IP / public IPv4 address (per hour)",
    "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": "Lambda provisioned concurrency",
}
# Cross-region inference profile prefixes (geographic ones are billed at the in-region rate).
TIMES = "\u00d7"  # the multiplication sign, spelled out for the linter
GEO_PREFIXES = frozenset({"us", "eu", "apac", "jp", "au", "ca", "us-gov"})


# --------------------------------------------------------------------------------------------------
# The price table


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    description: str
    status: str  # "aws" | "third-party" | "unverified" (see offline/prices.json "about")
    source: tuple[str, ...]
    read_on: str
    note: str = ""


@dataclass(frozen=True)
class ModelPrice:
    model_id: str
    name: str
    tiers: Mapping[str, Mapping[str, Any]]  # "global" | "geo" -> input_1m, output_1m, status
    source: tuple[str, ...]
    read_on: str
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    hours_per_month: int
    read_on: str
    prices: Mapping[str, Price]
    models: Mapping[str, ModelPrice]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    return _load_prices(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_prices(path: Path, _mtime_ns: int) -> PriceTable:
    raw = json.loads(path.read_text(encoding="utf-8"))
    prices = {
        key: Price(
            key=key,
            usd=float(entry["usd"]),
            unit=str(entry["unit"]),
            description=str(entry["description"]),
            status=str(entry["status"]),
            source=tuple(entry["source"]),
            read_on=str(entry["read_on"]),
            note=str(entry.get("note", "")),
        )
        for key, entry in raw["prices"].items()
    }
    models = {
        model_id: ModelPrice(
            model_id=model_id,
            name=str(entry["name"]),
            tiers={tier: entry[tier] for tier in ("global", "geo") if tier in entry},
            source=tuple(entry["source"]),
            read_on=str(entry["read_on"]),
            note=str(entry.get("note", "")),
        )
        for model_id, entry in raw.get("bedrock_models", {}).items()
    }
    return PriceTable(
        region=str(raw["region"]),
        currency=str(raw["currency"]),
        hours_per_month=int(raw["hours_per_month"]),
        read_on=str(raw["read_on"]),
        prices=prices,
        models=models,
    )


# --------------------------------------------------------------------------------------------------
# The estimate


@dataclass(frozen=True)
class LineItem:
    """One fixed monthly charge: `quantity` units (ENI-hours, key-months) at `unit_price` each."""

    description: str
    resources: tuple[str, ...]
    quantity: float
    unit: str
    unit_price: float | None  # None: billed, but not in the price table (excluded from the total)
    basis: str  # how the quantity follows from the program, e.g. "2 ENIs (1 per AZ) x 730 h"
    price_key: str = ""
    status: str = ""
    note: str = ""

    @property
    def monthly_usd(self) -> float | None:
        return None if self.unit_price is None else round(self.quantity * self.unit_price, 6)


@dataclass(frozen=True)
class IdleFree:
    category: str
    label: str
    count: int  # resources of the run in this category
    billing: str  # what they are billed for instead of time


@dataclass(frozen=True)
class UsageFormula:
    name: str
    formula: str
    status: str  # the weakest status of the prices it uses


@dataclass(frozen=True)
class CostEstimate:
    stack: str
    region: str
    price_region: str
    hours_per_month: int
    read_on: str
    items: tuple[LineItem, ...]
    idle_free: tuple[IdleFree, ...]
    usage: tuple[UsageFormula, ...]
    warnings: tuple[str, ...]

    @property
    def monthly_usd(self) -> float:
        """The priced fixed charges (unpriced items are flagged in `warnings`, not guessed)."""
        return round(sum(item.monthly_usd or 0.0 for item in self.items), 2)

    @property
    def complete(self) -> bool:
        return not self.warnings and all(item.unit_price is not None for item in self.items)


def monthly_fixed_cost(run: ProgramRun, prices: PriceTable) -> CostEstimate:
    """The idle monthly cost of what `run` registered, priced with `prices`."""
    hours = prices.hours_per_month
    items: list[LineItem] = []
    warnings: list[str] = []
    region = str(run.config.get("aws:region", prices.region))
    if region != prices.region:
        warnings.append(
            f"prices are {prices.region} list prices; this stack deploys to {region}, where they may differ"
        )

    subnets = run.of_type(SUBNET)
    eni_price = prices["vpc.interface_endpoint.eni_hour"]
    for endpoint in sorted(run.of_type(VPC_ENDPOINT), key=lambda r: str(r.inputs.get("serviceName"))):
        if endpoint.inputs.get("vpcEndpointType", "Gateway") != "Interface":
            continue  # gateway endpoints (S3, DynamoDB) are free
        subnet_ids = endpoint.inputs.get("subnetIds")
        if isinstance(subnet_ids, list) and subnet_ids:
            enis, where = len(subnet_ids), "1 per AZ"
        else:
            enis, where = len(subnets), "assumed 1 per subnet of the stack"
        service = str(endpoint.inputs.get("serviceName", endpoint.name)).rsplit(".", 1)[-1]
        items.append(
            LineItem(
                description=f"Interface endpoint {service}",
                resources=(endpoint.name,),
                quantity=enis * hours,
                unit=eni_price.unit,
                unit_price=eni_price.usd,
                basis=f"{enis} ENI{'s' if enis != 1 else ''} ({where}) {TIMES} {hours} h",
                price_key=eni_price.key,
                status=eni_price.status,
            )
        )

    key_price, rotation = prices["kms.customer_key_month"], prices["kms.rotation_month"]
    for key in sorted(run.of_type(KMS_KEY), key=lambda r: r.name):
        rotating = key.inputs.get("enableKeyRotation") is True
        items.append(
            LineItem(
                description=f"KMS key {key.name}",
                resources=(key.name,),
                quantity=1,
                unit=key_price.unit,
                unit_price=key_price.usd,
                basis="1 customer managed key",
                price_key=key_price.key,
                status=key_price.status,
                note=(
                    f"yearly rotation adds {_money(rotation.usd)}/month from year 2, "
                    f"{_money(2 * rotation.usd)} from year 3 (then capped)"
                    if rotating
                    else "no rotation"
                ),
            )
        )

    for type_, (price_key, label) in MONTHLY_PER_RESOURCE.items():
        resources = sorted(run.of_type(type_), key=lambda r: r.name)
        if not resources:
            continue
        price = prices[price_key]
        count = len(resources)
        items.append(
            LineItem(
                description=label,
                resources=tuple(r.name for r in resources),
                quantity=count,
                unit=price.unit,
                unit_price=price.usd,
                basis=f"{count} {price.unit.split('-')[0]}{'s' if count != 1 else ''}",
                price_key=price.key,
                status=price.status,
                note=price.description.split("; ", 1)[1] if "; " in price.description else "",
            )
        )

    for resource in run.resources:
        reason = HOURLY_UNPRICED.get(resource.type)
        if reason is None and resource.type == STAGE and resource.inputs.get("cacheClusterEnabled") is True:
            reason = "API Gateway cache cluster (per hour, by size)"
        if reason is not None:
            items.append(
                LineItem(
                    description=reason,
                    resources=(resource.name,),
                    quantity=hours,
                    unit="hour",
                    unit_price=None,
                    basis=f"{hours} h",
                    status="unverified",
                )
            )
            warnings.append(f"{resource.name}: {reason} is billed by the hour but not priced here")

    counts: dict[str, int] = {}
    unassessed: list[str] = []
    for resource in run.resources:
        if (
            not resource.custom
            or resource.type in (VPC_ENDPOINT, KMS_KEY)
            or resource.type in HOURLY_UNPRICED
            or resource.type in MONTHLY_PER_RESOURCE
        ):
            continue
        category = FREE_WHEN_IDLE.get(resource.type)
        if category == "web" and resource.type.startswith("aws:s3/") and _in_knowledge_base(resource.parent):
            category = "documents"  # the same S3 types hold the knowledge base's documents
        if category is None:
            unassessed.append(resource.type)
        else:
            counts[category] = counts.get(category, 0) + 1
    if unassessed:
        warnings.append(f"not assessed (add them to offline/cost.py): {', '.join(sorted(set(unassessed)))}")
    idle_free = tuple(
        IdleFree(category, label, counts[category], billing)
        for category, (label, billing) in IDLE_CATEGORIES.items()
        if counts.get(category)
    )
    return CostEstimate(
        stack=run.stack,
        region=region,
        price_region=prices.region,
        hours_per_month=hours,
        read_on=_read_dates(prices),
        items=tuple(items),
        idle_free=idle_free,
        usage=tuple(usage_formulas(run, prices)),
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------------------------------
# Per-use prices, as formulas


def usage_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    formulas: list[UsageFormula] = []
    endpoints = [r for r in run.of_type(VPC_ENDPOINT) if r.inputs.get("vpcEndpointType") == "Interface"]
    if endpoints:
        data = prices["vpc.interface_endpoint.data_gb"]
        formulas.append(
            UsageFormula(
                "Interface endpoint data",
                f"GB processed {TIMES} {_money(data.usd)}/GB ({len(endpoints)} endpoints, first 1 PB/month)",
                data.status,
            )
        )
    requests, gb_s = prices["lambda.requests_1m"], prices["lambda.arm64.gb_second"]
    for function in sorted(run.of_type(FUNCTION), key=lambda r: r.name):
        memory_mb = float(function.inputs.get("memorySize") or 128)
        architectures = function.inputs.get("architectures") or ["x86_64"]
        name = str(function.inputs.get("name") or function.name)
        gb = memory_mb / 1024
        if architectures == ["arm64"]:
            per_million_at_1s = requests.usd + 1_000_000 * gb * gb_s.usd
            formulas.append(
                UsageFormula(
                    f"Lambda {name} ({memory_mb:g} MB, arm64)",
                    f"requests {TIMES} {_money(requests.usd)}/1M + requests {TIMES} avg seconds "
                    f"{TIMES} {gb:g} GB {TIMES} {_money(gb_s.usd)}/GB-s = "
                    f"{_money(per_million_at_1s, cents=True)} per 1M requests of 1 s "
                    "(free: 1M requests + 400,000 GB-s/month)",
                    _weakest(requests.status, gb_s.status),
                )
            )
        else:
            formulas.append(
                UsageFormula(
                    f"Lambda {name}",
                    f"requests {TIMES} {_money(requests.usd)}/1M + GB-s at the {architectures[0]} rate "
                    "(not in offline/prices.json)",
                    "unverified",
                )
            )
    if run.of_type("aws:apigateway/restApi:RestApi"):
        api = prices["apigateway.rest.requests_1m"]
        formulas.append(
            UsageFormula(
                "API Gateway REST",
                f"requests {TIMES} {_money(api.usd)}/1M (first 333M/month; 12-month free tier: 1M/month)",
                api.status,
            )
        )
    log_groups = run.of_type(LOG_GROUP)
    if log_groups:
        ingest, vended, storage = (
            prices["logs.ingestion_gb"],
            prices["logs.vended_ingestion_gb"],
            prices["logs.storage_gb_month"],
        )
        retention = sorted({int(g.inputs.get("retentionInDays") or 0) for g in log_groups})
        formulas.append(
            UsageFormula(
                "CloudWatch Logs",
                f"GB ingested {TIMES} {_money(ingest.usd)} (flow logs {_money(vended.usd)}) + "
                f"GB stored {TIMES} {_money(storage.usd)}/GB-month ({len(log_groups)} log groups, kept "
                f"{'/'.join(str(days) for days in retention)} days)",
                _weakest(ingest.status, vended.status, storage.status),
            )
        )
    formulas.extend(_web_formulas(run, prices))
    formulas.append(_bedrock_formula(run, prices))
    if run.of_type(HARNESS):
        formulas.extend(_agentcore_formulas(prices))
    formulas += _guardrail_formulas(run, prices)
    formulas += _grounding_after_search_formulas(run, prices)
    formulas += _knowledge_base_formulas(run, prices)
    formulas += _knowledge_search_formulas(run, prices)
    if run.of_type(METRIC_FILTER):
        metric = prices["cloudwatch.custom_metric_month"]
        formulas.append(
            UsageFormula(
                "CloudWatch metric filters",
                f"each metric (one per error code seen) {TIMES} {_money(metric.usd)}/month, prorated by "
                f"the hours it receives data ({len(run.of_type(METRIC_FILTER))} filters)",
                metric.status,
            )
        )
    if run.of_type(SNS_TOPIC):
        email = prices["sns.email_100k"]
        formulas.append(
            UsageFormula(
                "SNS alarm notifications",
                f"email deliveries {TIMES} {_money(email.usd)}/100,000 beyond 1,000/month "
                "(one per alarm state change)",
                email.status,
            )
        )
    xray = prices["xray.traces_recorded_1m"]
    formulas.append(
        UsageFormula(
            "X-Ray",
            f"traces recorded {TIMES} {_money(xray.usd)}/1M beyond 100,000/month "
            "(active tracing: API stage, functions)",
            xray.status,
        )
    )
    kms = prices["kms.requests_10k"]
    formulas.append(
        UsageFormula(
            "KMS requests",
            f"requests {TIMES} {_money(kms.usd)}/10,000 beyond 20,000/month (CloudWatch Logs using the key)",
            kms.status,
        )
    )
    return formulas


def _in_knowledge_base(parent: str | None) -> bool:
    """Whether a resource's parent URN is the knowledge-base component (components/knowledge_base.py)."""
    return parent is not None and "bedrock-vpc-agent:index:KnowledgeBase::" in parent


def _web_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    """The chat page: what a viewer costs (CloudFront, S3 on cache misses) and what a user costs (Cognito)."""
    formulas: list[UsageFormula] = []
    if run.of_type("aws:cloudfront/distribution:Distribution"):
        data, requests = prices["cloudfront.data_out_gb"], prices["cloudfront.https_requests_10k"]
        storage, gets = prices["s3.standard_gb_month"], prices["s3.get_requests_1k"]
        formulas.append(
            UsageFormula(
                "CloudFront (chat page)",
                f"GB out {TIMES} {_money(data.usd)}/GB + "
                f"HTTPS requests {TIMES} {_money(requests.usd)}/10,000 "
                "(always free: 1 TB and 10M requests/month; a page load is about 5 requests and 40 KB)",
                _weakest(data.status, requests.status),
            )
        )
        formulas.append(
            UsageFormula(
                "S3 (chat page)",
                f"GB-month stored {TIMES} {_money(storage.usd)} (under 1 MB with every version) + "
                f"cache-miss GETs {TIMES} {_money(gets.usd)}/1,000",
                _weakest(storage.status, gets.status),
            )
        )
    if run.of_type("aws:cognito/userPool:UserPool"):
        mau = prices["cognito.lite_mau"]
        formulas.append(
            UsageFormula(
                "Cognito sign-in (Lite)",
                f"monthly active users beyond 10,000 {TIMES} {_money(mau.usd)}/MAU; "
                "identity pool credentials free",
                mau.status,
            )
        )
    return formulas


def _guardrail_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    formulas: list[UsageFormula] = []
    for guardrail in run.of_type(GUARDRAIL):
        policies = [
            ("content filters", "contentPolicyConfig", "bedrock.guardrail.content_filter_1k_units"),
            ("denied topics", "topicPolicyConfig", "bedrock.guardrail.denied_topics_1k_units"),
            ("PII filter", "sensitiveInformationPolicyConfig", "bedrock.guardrail.pii_1k_units"),
            ("grounding check", "contextualGroundingPolicyConfig", "bedrock.guardrail.grounding_1k_units"),
        ]
        used = [(label, prices[key]) for label, field, key in policies if guardrail.inputs.get(field)]
        if not used:
            continue
        per_1k = sum(price.usd for _, price in used)
        parts = " + ".join(f"{label} {_money(price.usd)}" for label, price in used)
        formulas.append(
            UsageFormula(
                f"Bedrock guardrail {guardrail.name}",
                f"text units (1,000 characters of each prompt and answer) {TIMES} ({parts})/1,000 = "
                f"{_money(round(per_1k, 4))} per 1,000 text units; word filters free",
                _weakest(*(price.status for _, price in used)),
            )
        )
    return formulas


def _knowledge_base_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    if not run.of_type(KNOWLEDGE_BASE):
        return []
    storage, put, query = (
        prices["s3vectors.storage_gb_month"],
        prices["s3vectors.put_gb"],
        prices["s3vectors.query_1m"],
    )
    embed, ocu = prices["bedrock.titan_embed_text_v2.input_1m"], prices["opensearch_serverless.ocu_hour"]
    dimensions = [int(index.inputs.get("dimension") or 0) for index in run.of_type(VECTOR_INDEX)]
    per_vector_kb = f"{4 * max(dimensions, default=0) / 1024:g} KB" if dimensions else "4 bytes per dimension"
    opensearch = 2 * prices.hours_per_month * ocu.usd
    return [
        UsageFormula(
            "S3 Vectors",
            f"GB stored {TIMES} {_money(storage.usd)}/GB-month (one chunk = {per_vector_kb} of float32 "
            f"plus its text) + GB written {TIMES} {_money(put.usd)} + queries {TIMES} "
            f"{_money(query.usd)}/1M; an OpenSearch Serverless store would idle at 2 OCUs "
            f"{TIMES} {prices.hours_per_month} h {TIMES} {_money(ocu.usd)} = "
            f"{_money(opensearch, cents=True)}/month",
            _weakest(storage.status, put.status, query.status),
        ),
        UsageFormula(
            "Knowledge-base embeddings (Titan Text Embeddings V2)",
            f"tokens embedded at ingestion and per retrieval query {TIMES} {_money(embed.usd)}/1M",
            embed.status,
        ),
    ]


# A search query's size, for the per-search example: a sentence the model writes (the search tool caps
# a query at 1,000 characters, functions/action_group/knowledge.py MAX_QUERY_CHARS).
SEARCH_QUERY_TOKENS = 25


def _searches_through_a_tool(run: ProgramRun) -> bool:
    """Whether the agent searches its knowledge base through the search tool (AgentCore: a harness and
    a function with KNOWLEDGE_BASE_ID behind a gateway target), not by itself (Classic)."""
    return bool(run.of_type(HARNESS)) and any(
        "KNOWLEDGE_BASE_ID" in ((function.inputs.get("environment") or {}).get("variables") or {})
        for function in run.of_type(FUNCTION)
    )


# The invoker's grounding check after a search (AgentCore), for its upper bound. What it sends to
# ApplyGuardrail (functions/invoker/guardrail.py grounding_content; tests assert these equal the code's):
# the answer as guard_content in pieces of at most GROUNDED_ANSWER_CHARS (AWS's limit for the response),
# each search's passages as grounding_source blocks (at most SEARCH_PASSAGE_CHARS per search,
# functions/action_group/knowledge.py MAX_TOTAL_CHARS; all of them cut at GROUNDING_SOURCE_CHARS, AWS's
# limit) and the user's question as the query block (at most GROUNDING_QUERY_CHARS, AWS's limit).
GROUNDED_ANSWER_CHARS = 5_000
SEARCH_PASSAGE_CHARS = 20_000
GROUNDING_QUERY_CHARS = 1_000
GROUNDING_SOURCE_CHARS = 100_000
TEXT_UNIT_CHARS = 1_000
# Whether the grounding_source and query blocks count as text units is not documented: the Bedrock
# pricing page prices the contextual grounding check per 1,000 text units of up to 1,000 characters;
# the user guide (guardrails-contextual-grounding-check.html) gives the three blocks' limits, not what
# is billed; the API reference's GuardrailUsage reports contextualGroundingPolicyUnits per call, not
# what they count. Read on this date (stored copies, the search tool's corpus).
GROUNDING_UNITS_READ_ON = "2026-12-02"


def _grounding_after_search_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    """The upper bound of what the passages and the question add to each grounded answer's check,
    where the invoker runs the check itself (AgentCore with a knowledge base and a guardrail with
    contextual grounding). The guardrail's own line (_guardrail_formulas) counts the answer's units."""
    grounded = [g for g in run.of_type(GUARDRAIL) if g.inputs.get("contextualGroundingPolicyConfig")]
    if not grounded or not _searches_through_a_tool(run):
        return []
    grounding = prices["bedrock.guardrail.grounding_1k_units"]
    policies = [
        prices[key]
        for field, key in (
            ("contentPolicyConfig", "bedrock.guardrail.content_filter_1k_units"),
            ("topicPolicyConfig", "bedrock.guardrail.denied_topics_1k_units"),
            ("sensitiveInformationPolicyConfig", "bedrock.guardrail.pii_1k_units"),
        )
        if grounded[0].inputs.get(field)
    ]
    answer_units = GROUNDED_ANSWER_CHARS // TEXT_UNIT_CHARS
    passage_units = SEARCH_PASSAGE_CHARS // TEXT_UNIT_CHARS
    extra_units = passage_units + GROUNDING_QUERY_CHARS // TEXT_UNIT_CHARS
    every_1k = grounding.usd + sum(p.usd for p in policies)  # per 1,000 units, every policy

    def per_1000_answers(units: int, usd_per_1k_units: float) -> str:
        return _money(round(units * usd_per_1k_units, 2), cents=True)

    others = (
        f", or {extra_units} {TIMES} {_money(round(every_1k, 4))}/1,000 = "
        f"{per_1000_answers(extra_units, every_1k)} more (at most "
        f"{per_1000_answers(answer_units + extra_units, every_1k)} per 1,000 answers in all) if the "
        "content, topic and PII policies evaluate them too (also undocumented)"
        if policies
        else ""
    )
    return [
        UsageFormula(
            f"Bedrock guardrail {grounded[0].name}: grounding after a search (AgentCore, upper bound)",
            f"one grounded check per answer of up to {GROUNDED_ANSWER_CHARS:,} characters ({answer_units} "
            f"text units, in the guardrail's own line: {per_1000_answers(answer_units, every_1k)} per 1,000 "
            "answers) "
            f"also carries the search's passages (up to {SEARCH_PASSAGE_CHARS:,} characters: "
            f"{passage_units} units) and the question (up to {GROUNDING_QUERY_CHARS:,}: 1 unit); if AWS "
            f"counts those blocks as text units (undocumented as of {GROUNDING_UNITS_READ_ON}: neither the "
            f"pricing page nor the contextual grounding guide says), {extra_units} units {TIMES} grounding "
            f"{_money(grounding.usd)}/1,000 = {per_1000_answers(extra_units, grounding.usd)} more per "
            f"1,000 answers{others}; each further search in the turn adds up to {passage_units} units "
            f"(all passages cut at {GROUNDING_SOURCE_CHARS:,} characters) and each further check of a "
            "longer or streamed answer carries them again; ApplyGuardrail's "
            "usage.contextualGroundingPolicyUnits shows what was counted",
            _weakest(grounding.status, *(p.status for p in policies)),
        )
    ]


def _knowledge_search_formulas(run: ProgramRun, prices: PriceTable) -> list[UsageFormula]:
    """What one search costs where the agent searches through a tool (AgentCore: a function with
    KNOWLEDGE_BASE_ID behind a gateway target): the gateway's tool call, the function's request, the
    query's embedding and one S3 Vectors query. Retrieve has no charge of its own on a vector knowledge
    base (the Bedrock price list bills the embedding model and, for structured data and reranking only,
    the query); the passages return to the model as input tokens (the model's line)."""
    if not _searches_through_a_tool(run):
        return []
    gateway, requests = prices["agentcore.gateway.invocations_1k"], prices["lambda.requests_1m"]
    embed, query = prices["bedrock.titan_embed_text_v2.input_1m"], prices["s3vectors.query_1m"]
    per_search = (
        gateway.usd / 1_000 + requests.usd / 1e6 + SEARCH_QUERY_TOKENS * embed.usd / 1e6 + query.usd / 1e6
    )
    return [
        UsageFormula(
            "Knowledge search (AgentCore search tool)",
            f"per search: 1 gateway tool call {TIMES} {_money(gateway.usd)}/1,000 + 1 Lambda request "
            f"{TIMES} {_money(requests.usd)}/1M (+ its GB-s) + query tokens {TIMES} {_money(embed.usd)}/1M "
            f"+ 1 S3 Vectors query {TIMES} {_money(query.usd)}/1M = {_money(round(per_search * 1000, 4))} "
            f"per 1,000 searches of {SEARCH_QUERY_TOKENS} tokens; Retrieve itself adds no charge, the "
            "passages return to the model as input tokens",
            _weakest(gateway.status, requests.status, embed.status, query.status),
        )
    ]


def _bedrock_formula(run: ProgramRun, prices: PriceTable) -> UsageFormula:
    configured = str(run.config.get(f"{run.project}:agentFoundationModel", ""))
    model_id, tier = model_price_key(configured)
    model = prices.models.get(model_id)
    if model is None or tier not in model.tiers:
        return UsageFormula(
            f"Bedrock model {configured or '(unset)'}",
            "input/output tokens at the model's rate (not in offline/prices.json)",
            "unverified",
        )
    rates = model.tiers[tier]
    profile = "global cross-region profile" if tier == "global" else "geographic profile / in-region"
    return UsageFormula(
        f"Bedrock {model.name} ({configured})",
        f"input tokens {TIMES} {_money(float(rates['input_1m']))}/1M + output tokens {TIMES} "
        f"{_money(float(rates['output_1m']))}/1M ({profile}); a turn makes several model calls: "
        "the invoker logs each turn's input_tokens and output_tokens",
        str(rates.get("status", "unverified")),
    )


def _agentcore_formulas(prices: PriceTable) -> list[UsageFormula]:
    cpu, memory = prices["agentcore.runtime.vcpu_hour"], prices["agentcore.runtime.gb_hour"]
    gateway = prices["agentcore.gateway.invocations_1k"]
    return [
        UsageFormula(
            "AgentCore harness sessions",
            f"active vCPU-hours {TIMES} {_money(cpu.usd)} + GB-hours {TIMES} {_money(memory.usd)}, "
            "per second while a turn runs (not while it waits on the model or a tool); no separate harness "
            "charge (a third-party report of the preview)",
            _weakest(cpu.status, memory.status, "unverified"),
        ),
        UsageFormula(
            "AgentCore Gateway",
            f"(tool calls + tool listings) {TIMES} {_money(gateway.usd)}/1,000",
            gateway.status,
        ),
    ]


def model_price_key(configured: str) -> tuple[str, str]:
    """(`anthropic.claude-...` id, "global" | "geo") from a model id, profile id or ARN."""
    name = configured.rsplit("/", 1)[-1]
    prefix, _, rest = name.partition(".")
    if prefix == "global" and rest:
        return rest, "global"
    if prefix in GEO_PREFIXES and rest:
        return rest, "geo"
    return name, "geo"  # a plain model id is invoked in-region


# --------------------------------------------------------------------------------------------------
# Rendering


def render_cost(estimate: CostEstimate) -> list[str]:
    lines = [
        f"Estimated fixed monthly cost (idle): {_money(estimate.monthly_usd, cents=True)}",
        f"    {estimate.price_region} list prices from offline/prices.json (read {estimate.read_on}), "
        f"{estimate.hours_per_month} h/month; per-use charges below come on top",
    ]
    width = max((len(_money(item.monthly_usd or 0, cents=True)) for item in estimate.items), default=5)
    for item in estimate.items:
        if item.monthly_usd is None:
            amount, price = "?".rjust(width), "price unverified"
        else:
            amount = _money(item.monthly_usd, cents=True).rjust(width)
            price = f"{_money(item.unit_price or 0)}/{item.unit}"
        status = "" if item.status in ("aws", "") else f" [{item.status}]"
        note = f"; {item.note}" if item.note else ""
        lines.append(f"    + {amount}  {item.description}: {item.basis} {TIMES} {price}{status}{note}")
    for free in estimate.idle_free:
        resources = f"{free.count} resource{'s' if free.count != 1 else ''}"
        lines.append(
            f"    + {_money(0, cents=True).rjust(width)}  {free.label} ({resources}): {free.billing}"
        )
    for warning in estimate.warnings:
        lines.append(f"    ! {warning}")
    lines.append("    Per use (not in the total):")
    for formula in estimate.usage:
        status = "" if formula.status == "aws" else f" [{formula.status}]"
        lines.append(f"      {formula.name}: {formula.formula}{status}")
    return lines


def cost_to_json(estimate: CostEstimate) -> dict[str, Any]:
    data = asdict(estimate)
    data["monthly_usd"] = estimate.monthly_usd
    data["complete"] = estimate.complete
    for item, raw in zip(estimate.items, data["items"], strict=True):
        raw["monthly_usd"] = item.monthly_usd
    return data


def preview_lines(run: ProgramRun) -> list[str]:
    """The preview's cost section."""
    return render_cost(monthly_fixed_cost(run, load_prices()))


def preview_json(run: ProgramRun) -> dict[str, Any]:
    """The preview's `--json` cost entry."""
    return cost_to_json(monthly_fixed_cost(run, load_prices()))


def _money(value: float, *, cents: bool = False) -> str:
    """$14.60, $0.01, $0.0000133334: never fewer than two decimals, never invented precision."""
    if cents:
        return f"${value:,.2f}"
    text = format(Decimal(repr(value)).normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"${int(whole):,}.{decimals.ljust(2, '0')}"


def _read_dates(prices: PriceTable) -> str:
    """When the prices were read: one date, or the first and the last (prices added later)."""
    dates = sorted({p.read_on for p in prices.prices.values()} | {m.read_on for m in prices.models.values()})
    if not dates:
        return prices.read_on
    return dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"


_STATUS_ORDER: Sequence[str] = ("aws", "third-party", "unverified")


def _weakest(*statuses: str) -> str:
    return max(statuses, key=lambda s: _STATUS_ORDER.index(s) if s in _STATUS_ORDER else len(_STATUS_ORDER))
