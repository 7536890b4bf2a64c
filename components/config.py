"""The stack configuration: read once from `pulumi.Config`, typed, validated, frozen.

Defaults and descriptions live in `Pulumi.yaml` (the Pulumi CLI materialises project-level defaults
into the program's config), so this module `require`s every key that has a default there and never
repeats a default. Every problem found is reported at once, before any resource is registered, as a
`ConfigError` that says what to change.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.metadata
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pulumi

T = TypeVar("T")

# Regions where Amazon Bedrock Agents run. botocore's endpoint data lists Bedrock's (wider) set of
# regions but not this narrower one, so it is kept here, in one place.
# Source: "Supported Regions for Amazon Bedrock Agents", Amazon Bedrock User Guide
# (docs.aws.amazon.com/bedrock/latest/userguide/agents-supported.html), read 2026-11-21.
BEDROCK_AGENT_REGIONS: frozenset[str] = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-west-1",
        "us-west-2",
    }
)

# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy API reference).
# 0 ("never expire") is deliberately not offered: this project always retains logs for a bounded time.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

# Interface endpoint service names whose SDK (botocore) name differs. Any other name is accepted when
# botocore ships a service model of that name, so the list of known services follows the pinned SDK.
# Source: "AWS services that integrate with AWS PrivateLink", AWS PrivateLink guide, read 2026-11-21.
ENDPOINT_SERVICE_SDK_NAMES: Mapping[str, str] = {
    "monitoring": "cloudwatch",
    "execute-api": "apigateway",
    "ecr.api": "ecr",
    "ecr.dkr": "ecr",
    "ssmmessages": "ssm",
    "ec2messages": "ssm",
    "states": "stepfunctions",
    "sync-states": "stepfunctions",
    "elasticloadbalancing": "elbv2",
    "application-autoscaling": "application-autoscaling",
}

FLOW_LOG_TRAFFIC_TYPES: tuple[str, ...] = ("ALL", "ACCEPT", "REJECT")

# Both Lambdas run this runtime on this architecture; the Powertools layer must match them.
LAMBDA_RUNTIME = "python3.13"
# Python runtimes AWS Lambda has deprecated (no security patches; creating, then updating, functions on
# them gets blocked), with the deprecation date. Source: "Lambda runtimes", Deprecated runtimes,
# AWS Lambda developer guide (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), read
# 2026-12-02. The policy pack keeps the same table (policies/crossguard/compute.py; a test compares).
DEPRECATED_LAMBDA_RUNTIMES: Mapping[str, str] = {
    "python2.7": "2021-07-15",
    "python3.6": "2022-07-18",
    "python3.7": "2023-12-04",
    "python3.8": "2024-10-14",
    "python3.9": "2025-12-15",
    "python3.10": "2026-06-30",
    "python3.11": "2026-06-30",
}
LAMBDA_ARCHITECTURE = "arm64"
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")
# Lambda's LoggingConfig.ApplicationLogLevel accepts TRACE, DEBUG, INFO, WARN, ERROR and FATAL only
# (botocore `lambda` model, ApplicationLogLevel enum); Powertools keeps Python's spelling.
LAMBDA_LOG_LEVELS: Mapping[str, str] = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}
# The Powertools version the functions are tested with (requirements.txt pins it) is the version
# they run: its AWS-managed layer is found through the public SSM parameter Powertools publishes for
# every release, /aws/service/powertools/python/<arch>/<runtime>/<version> (Powertools docs,
# "Lambda Layer" > "SSM parameters"; the parameters are written by the project's update_ssm.yml
# workflow, aws-powertools/powertools-lambda-python#5754). Layer version numbers are not the package
# version (e.g. 3.23.0 is layer 27, aws-powertools/powertools-lambda-python#7689), so none is hard-coded.
POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"

# `iam` signs requests with SigV4, `api-key` sends x-api-key under a usage plan; `none` is accepted
# here so that the policy pack has something to reject in pull requests.
API_AUTH_MODES: tuple[str, ...] = ("iam", "api-key", "none")

# The agent backends (components/agent/): Bedrock Agents ("Agents Classic") and Bedrock AgentCore,
# each with the interface endpoint its invoker calls through (the other one would bill hourly and
# serve nothing).
AGENT_RUNTIMES: tuple[str, ...] = ("classic", "agentcore")
AGENT_ENDPOINT_SERVICES: Mapping[str, str] = {
    "classic": "bedrock-agent-runtime",
    "agentcore": "bedrock-agentcore",
}
# Runtimes whose invoker applies the guardrail itself, and the endpoint it needs for that
# (components/agent/agentcore.py: the harness has no guardrail setting).
GUARDRAIL_ENDPOINT_SERVICES: Mapping[str, str] = {"agentcore": "bedrock-runtime"}
# Runtimes whose agent cannot search a knowledge base itself (the AgentCore harness has no
# knowledge-base member: botocore bedrock-agentcore-control CreateHarness), so it searches through the
# search tool (functions/action_group/knowledge.py), run by the action-group Lambda; and the endpoint
# that Lambda calls Retrieve through (bedrock-agent-runtime in botocore).
KNOWLEDGE_TOOL_RUNTIMES: frozenset[str] = frozenset({"agentcore"})
KNOWLEDGE_TOOL_ENDPOINT_SERVICE = "bedrock-agent-runtime"
# Regions with the AgentCore harness and the bedrock-agentcore interface endpoint. Sources: "Use
# interface VPC endpoints (AWS PrivateLink) ... AgentCore" (AgentCore developer guide,
# vpc-interface-endpoints.html: US East (N. Virginia), US West (Oregon), Europe (Frankfurt), Asia
# Pacific (Sydney)) and the harness's region list on "AgentCore harness" (harness.html), read 2026-12-02.
AGENTCORE_REGIONS: frozenset[str] = frozenset({"us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"})
# Bounds of one AgentCore turn (harness maxIterations / maxTokens; botocore leaves them open, these
# keep a runaway loop cheap).
MAX_ITERATIONS = (1, 50)
MAX_TOKENS = (256, 100_000)

# Integration timeouts, per response transfer mode (API Gateway developer guide, "Stream the
# integration response for your proxy integrations", and the PutIntegration model in botocore:
# timeoutInMillis 50..29,000 for BUFFERED without a quota increase; up to 15 minutes in STREAM mode).
# A streamed turn is also bounded by the function, whose timeout sits one second above the
# integration's and cannot exceed Lambda's 900 s: hence 899,000 ms.
MIN_INTEGRATION_TIMEOUT_MS = 1_000
MAX_BUFFERED_TIMEOUT_MS = 29_000
MAX_STREAM_TIMEOUT_MS = 899_000
MAX_LAMBDA_TIMEOUT_S = 900
# Used when apiIntegrationTimeoutMs is not set. Two minutes covers a multi-step agent turn and stays
# under the 5-minute idle timeout of a regional or private API's stream.
DEFAULT_INTEGRATION_TIMEOUT_MS: Mapping[bool, int] = {True: 120_000, False: MAX_BUFFERED_TIMEOUT_MS}

# CreateAgent's `instruction`: 40 to 20000 characters (pulumi-aws 7.51.1 AgentAgent docs, from the
# provider's validation; the bedrock-agent model in botocore 1.44.5 still says 4000, but the
# provider calls the service through the Go SDK, which does not apply that client-side limit).
INSTRUCTION_LENGTH = (40, 20000)
SESSION_TTL = (60, 5400)

# System inference profiles are named "<geography>.<model id>" and served from that geography's
# regions (Bedrock user guide, "Supported Regions and models for inference profiles", 2026-11-21).
INFERENCE_PROFILE_GEOGRAPHIES: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-", "us-west-"),
    "us-gov": ("us-gov-",),
    "eu": ("eu-",),
    "apac": ("ap-",),
    "jp": ("ap-northeast-1",),
    "au": ("ap-southeast-2",),
    "ca": ("ca-",),
    "global": ("us-", "eu-", "ap-", "ca-", "sa-"),
}
MODEL_ID = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)?\.[a-zA-Z0-9.-]{1,63}(:[a-z0-9-]{1,63}){0,2}")
MODEL_ARN = re.compile(
    r"arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]*:(\d{12})?:"
    r"(foundation-model|inference-profile|application-inference-profile)/[a-zA-Z0-9.:-]+"
)
GUARDRAIL_ID = re.compile(r"[a-z0-9]+|arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]+:\d{12}:guardrail/[a-z0-9]+")
GUARDRAIL_VERSION = re.compile(r"[0-9]{1,8}|DRAFT")
KMS_KEY_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key/[a-zA-Z0-9-]{36}")
LAYER_ARN = re.compile(
    r"arn:aws(-[a-z-]+)?:lambda:(?P<region>[a-z0-9-]+):\d{12}:layer:(?P<name>[A-Za-z0-9_-]+):\d+"
)
# The page (webUi): CloudFront price classes, Cognito MFA modes, and the shapes of its other settings.
WEB_PRICE_CLASSES: tuple[str, ...] = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
WEB_MFA_MODES: tuple[str, ...] = ("OFF", "OPTIONAL", "ON")
WEB_PASSWORD_LENGTH = (8, 99)  # Cognito's PasswordPolicyType.MinimumLength bounds (cognito-idp model)
# CloudFront standard logging (v2) is configured with CloudWatch Logs in us-east-1, and the stack's
# log groups are encrypted with its key, which lives in the stack's region; both must be us-east-1.
WEB_REGION = "us-east-1"
DOMAIN_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
ACM_CERTIFICATE_ARN = re.compile(
    r"arn:aws(-[a-z-]+)?:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[a-f0-9-]{36}"
)
# Cognito's CreateUserPoolDomain: lower-case letters, digits and hyphens, not starting or ending with a
# hyphen, 1-63 characters, and no reserved words (aws, amazon, cognito).
AUTH_DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
AUTH_DOMAIN_RESERVED = ("aws", "amazon", "cognito")
ORIGIN = re.compile(r"https://[a-z0-9.-]+(:\d{1,5})?|http://(localhost|127\.0\.0\.1)(:\d{1,5})?")
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")

# Guardrail vocabularies, as the bedrock API model (CreateGuardrail) of the pinned botocore spells
# them; tests/program/test_config.py checks they still match it.
GUARDRAIL_CONTENT_CATEGORIES: tuple[str, ...] = (
    "SEXUAL", "VIOLENCE", "HATE", "INSULTS", "MISCONDUCT", "PROMPT_ATTACK",
)  # fmt: skip
GUARDRAIL_STRENGTHS: tuple[str, ...] = ("NONE", "LOW", "MEDIUM", "HIGH")
GUARDRAIL_PII_ACTIONS: tuple[str, ...] = ("BLOCK", "ANONYMIZE")
GUARDRAIL_PII_ENTITIES: tuple[str, ...] = (
    "ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD",
    "PHONE", "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER",
    "US_BANK_ROUTING_NUMBER", "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER",
    "US_SOCIAL_SECURITY_NUMBER", "VEHICLE_IDENTIFICATION_NUMBER",
)  # fmt: skip
# Limits of the same model: GuardrailTopicName/Definition/Example(s), GuardrailTopicsConfig,
# GuardrailWordConfigTextString, GuardrailBlockedMessaging.
TOPIC_NAME = re.compile(r"[0-9a-zA-Z-_ !?.]{1,100}")
TOPIC_DEFINITION_LENGTH = 200
TOPIC_EXAMPLE_LENGTH = 100
TOPIC_EXAMPLES = 5
MAX_TOPICS = 30
WORD_LENGTH = 100
BLOCKED_MESSAGE_LENGTH = (1, 500)
# Contextual grounding thresholds: the API accepts 0 <= t < 1 (GuardrailContextualGroundingFilterConfig).
GROUNDING_THRESHOLD = (0.0, 0.99)
# Knowledge base limits (bedrock-agent API model: FixedSizeChunkingConfiguration, Description, and
# EmbeddingModelConfiguration's dimensions; S3 Vectors indexes take 1 to 4096 dimensions).
CHUNKING_STRATEGIES: tuple[str, ...] = ("FIXED_SIZE", "NONE")
CHUNK_MAX_TOKENS = (1, 8192)
CHUNK_OVERLAP_PERCENT = (1, 99)
EMBEDDING_DIMENSIONS = (1, 4096)
KB_DESCRIPTION_LENGTH = (1, 200)
EMBEDDING_MODEL = re.compile(r"[a-z0-9-]+\.[a-zA-Z0-9.-]{1,63}(:[a-z0-9-]{1,63}){0,2}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")

MAX_AZ_COUNT = 6
# Subnets are carved as fixed 1/8 slices of the VPC block (3 extra prefix bits), so adding an AZ
# later adds a subnet without renumbering the existing ones. AWS subnets must be /28 or larger.
SUBNET_PREFIX_BITS = 3
SMALLEST_SUBNET_PREFIX = 28
RFC1918_BLOCKS: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


class ConfigError(pulumi.RunError):
    """An invalid stack configuration; the message lists every problem and how to fix it."""


@dataclass(frozen=True)
class AgentSettings:
    runtime: str  # one of AGENT_RUNTIMES
    foundation_model: str  # a model id, a (cross-region) inference profile id, or an ARN
    instruction: str
    idle_session_ttl_seconds: int
    guardrail_id: str | None
    guardrail_version: str | None
    customer_kms_key_arn: str | None
    max_iterations: int  # AgentCore: model/tool round trips per turn
    max_tokens: int  # AgentCore: output tokens per turn, across its model calls
    create_kms_key: bool = False  # agentKmsKey: the stack creates the agent's own key

    @property
    def inference_profile_geography(self) -> str | None:
        """ "us" for "us.anthropic.claude-…": set when the model is a system inference profile id."""
        return _model_geography(self.foundation_model)


@dataclass(frozen=True)
class DeniedTopic:
    name: str
    definition: str
    examples: tuple[str, ...]


@dataclass(frozen=True)
class GuardrailSettings:
    """The stack's own guardrail (guardrailEnabled); every field is frozen into its pinned version."""

    content_filters: Mapping[str, str]  # category -> NONE | LOW | MEDIUM | HIGH
    pii_entities: Mapping[str, str]  # PII entity type -> BLOCK | ANONYMIZE
    denied_topics: tuple[DeniedTopic, ...]
    blocked_words: tuple[str, ...]
    profanity_filter: bool
    grounding_threshold: float  # applied only with a knowledge base
    relevance_threshold: float
    blocked_message: str


@dataclass(frozen=True)
class KnowledgeBaseSettings:
    embedding_model: str
    embedding_dimensions: int
    chunking: str  # one of CHUNKING_STRATEGIES
    chunk_max_tokens: int
    chunk_overlap_percent: int
    description: str
    # knowledgeBaseAttached: False keeps the knowledge base but takes it out of the agent (the first
    # step of turning it off or rebuilding it: the alias must move before its association goes).
    attached: bool = True


@dataclass(frozen=True)
class MonitoringSettings:
    alarm_email: str | None


@dataclass(frozen=True)
class FunctionSettings:
    powertools_layer_arn: str
    invoker_reserved_concurrency: int | None
    log_level: str  # Python/Powertools spelling (DEBUG, INFO, WARNING, ERROR)

    @property
    def lambda_log_level(self) -> str:
        """The same level in the spelling Lambda's applicationLogLevel accepts (WARNING -> WARN)."""
        return LAMBDA_LOG_LEVELS[self.log_level]


@dataclass(frozen=True)
class ApiSettings:
    auth: str  # one of API_AUTH_MODES
    cors_allowed_origins: tuple[str, ...]
    stage_name: str
    throttle_rate_limit: float
    throttle_burst_limit: int
    quota_per_day: int
    integration_timeout_ms: int
    manage_account_logging_role: bool
    streaming: bool = False  # POST /chat answers as NDJSON through a STREAM integration

    @property
    def transfer_mode(self) -> str:
        """The response transfer mode of every integration of the API (always set explicitly:
        once STREAM was set, only an explicit BUFFERED switches back, per the provider's docs)."""
        return "STREAM" if self.streaming else "BUFFERED"

    @property
    def function_timeout_seconds(self) -> int:
        """The invoker's Lambda timeout: one second above the integration timeout, so the handler
        answers (or ends its stream with an error event) before API Gateway or Lambda cut it."""
        return min(self.integration_timeout_ms // 1000 + 1, MAX_LAMBDA_TIMEOUT_S)


@dataclass(frozen=True)
class WebSettings:
    """The browser page (components/web.py); None in StackConfig when webUi is off."""

    price_class: str
    domain_name: str | None
    certificate_arn: str | None
    self_sign_up: bool
    mfa: str  # one of WEB_MFA_MODES
    password_min_length: int
    auth_domain_prefix: str | None  # None: derived from the stack name and account id

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.domain_name,) if self.domain_name else ()


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    region: str
    vpc_cidr: ipaddress.IPv4Network
    availability_zones: tuple[str, ...]  # the first azCount zones the region offers this account
    interface_endpoints: tuple[str, ...]
    flow_log_traffic_type: str
    log_retention_days: int
    protect_stateful_resources: bool
    agent: AgentSettings
    functions: FunctionSettings
    api: ApiSettings
    web: WebSettings | None = None
    guardrail: GuardrailSettings | None = None  # None: no guardrail of the stack's own
    knowledge_base: KnowledgeBaseSettings | None = None  # None: no knowledge base
    monitoring: MonitoringSettings = MonitoringSettings(alarm_email=None)

    @property
    def name_prefix(self) -> str:
        """Prefix for physical names that must be unique per stack (log groups, functions)."""
        return f"{self.project}-{self.stack}"

    @property
    def az_count(self) -> int:
        return len(self.availability_zones)

    def private_subnets(self) -> tuple[tuple[str, ipaddress.IPv4Network], ...]:
        """(AZ, CIDR) per private subnet: disjoint slices of the VPC block, one per AZ, in order."""
        slices = self.vpc_cidr.subnets(prefixlen_diff=SUBNET_PREFIX_BITS)
        return tuple((zone, next(slices)) for zone in self.availability_zones)


class _Reader:
    """Reads this project's settings and collects every problem, so the user fixes them in one round."""

    def __init__(self, project: str, stack: str) -> None:
        self.project = project
        self.stack = stack
        self.messages: list[str] = []
        self._config = pulumi.Config()

    def key(self, name: str) -> str:
        return name if ":" in name else f"{self.project}:{name}"

    def add(self, name: str, message: str) -> None:
        self.messages.append(f"{self.key(name)}: {message}")

    def _read(self, name: str, reader: Callable[[], T]) -> T | None:
        try:
            return reader()
        except (pulumi.ConfigMissingError, pulumi.ConfigTypeError) as error:
            self.add(name, str(error).strip())
        return None

    def text(self, name: str) -> str | None:
        if ":" in name:
            namespace, _, short = name.partition(":")
            return self._read(name, lambda: pulumi.Config(namespace).require(short))
        return self._read(name, lambda: self._config.require(name))

    def optional_text(self, name: str) -> str | None:
        return self._read(name, lambda: self._config.get(name))

    def integer(self, name: str) -> int | None:
        return self._read(name, lambda: self._config.require_int(name))

    def optional_integer(self, name: str) -> int | None:
        return self._read(name, lambda: self._config.get_int(name))

    def number(self, name: str) -> float | None:
        return self._read(name, lambda: self._config.require_float(name))

    def boolean(self, name: str) -> bool | None:
        return self._read(name, lambda: self._config.require_bool(name))

    def structured(self, name: str) -> object:
        """A JSON setting (list, object), or its raw text when it is not JSON (its checker says why)."""
        return self._read(name, lambda: _json_or_text(self._config.require(name)))

    def raise_if_any(self) -> None:
        if self.messages:
            details = "\n".join(f"  - {message}" for message in self.messages)
            raise ConfigError(
                f"Invalid configuration for stack '{self.stack}' ({len(self.messages)} problem(s)); "
                f"nothing was created:\n{details}"
            )


def load_config(
    available_zones: Callable[[str], Sequence[str]] | None = None,
    endpoint_service_zones: Callable[[str, str], Sequence[str]] | None = None,
    powertools_layer: Callable[[str], str] | None = None,
) -> StackConfig:
    """Read and validate the stack configuration.

    Three lookups reach AWS, and only once everything else is valid (so a typo in the region never
    does): `available_zones(region)` (the AZ names the account can use), `endpoint_service_zones(
    region, service)` (the AZs an interface endpoint service is offered in) and
    `powertools_layer(region)` (the layer ARN of the pinned Powertools release). They default to the
    AWS provider's invokes.
    """
    project, stack = pulumi.get_project(), pulumi.get_stack()
    read = _Reader(project, stack)
    _check_runtime(read)
    _check_unknown_keys(read)

    runtime = _one_of(read, "agentRuntime", AGENT_RUNTIMES)
    region = read.text("aws:region")
    if region is not None and not _check_region(region, runtime, read):
        region = None  # one fault, one message: the checks that depend on the region are skipped
    vpc_cidr_text = read.text("vpcCidr")
    vpc_cidr = _check_vpc_cidr(vpc_cidr_text, read) if vpc_cidr_text is not None else None
    az_count = read.integer("azCount")
    endpoints = read.structured("interfaceEndpoints")
    endpoint_names = _check_endpoints(endpoints, read) if endpoints is not None else None
    traffic_type = _one_of(read, "flowLogTrafficType", FLOW_LOG_TRAFFIC_TYPES)
    retention = read.integer("logRetentionDays")
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda days: (abs(days - retention), days))
        read.add(
            "logRetentionDays",
            f"{retention} is not a retention CloudWatch Logs accepts; use one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))} (nearest: {nearest}).",
        )
    protect = read.boolean("protectStatefulResources")
    agent = _read_agent(read, region, runtime)
    functions = _read_functions(read, region)
    api = _read_api(read)
    web = _read_web(read, region, api)
    guardrail = _read_guardrail(read, agent)
    knowledge_base = _read_knowledge_base(read)
    if runtime is not None and endpoint_names is not None:
        _check_agent_endpoint(endpoint_names, runtime, knowledge_base, read)
        guarded = guardrail is not None or (agent is not None and agent.guardrail_id is not None)
        _check_guardrail_endpoint(endpoint_names, runtime, guarded, read)
        _check_knowledge_tool_endpoint(endpoint_names, runtime, knowledge_base, read)
    monitoring = _read_monitoring(read)

    zones: Sequence[str] = ()
    if az_count is not None and not 1 <= az_count <= MAX_AZ_COUNT:
        read.add("azCount", f"{az_count} is out of range; use 1 to {MAX_AZ_COUNT}.")
    elif az_count is not None and region is not None and endpoint_names is not None and not read.messages:
        zones = _choose_zones(
            read,
            region,
            az_count,
            endpoint_names,
            available_zones or _provider_zones,
            endpoint_service_zones or _provider_endpoint_service_zones,
        )
    if (
        functions is not None
        and not functions.powertools_layer_arn
        and region is not None
        and not read.messages
    ):
        functions = _with_resolved_layer(
            read, region, functions, powertools_layer or _provider_powertools_layer
        )

    read.raise_if_any()
    # raise_if_any() returned, so every value was read and is valid.
    assert region is not None
    assert vpc_cidr is not None
    assert az_count is not None
    assert endpoint_names is not None
    assert traffic_type is not None
    assert retention is not None
    assert protect is not None
    assert agent is not None
    assert functions is not None
    assert api is not None
    assert monitoring is not None
    return StackConfig(
        project=project,
        stack=stack,
        region=region,
        vpc_cidr=vpc_cidr,
        availability_zones=tuple(zones),
        interface_endpoints=endpoint_names,
        flow_log_traffic_type=traffic_type,
        log_retention_days=retention,
        protect_stateful_resources=protect,
        agent=agent,
        functions=functions,
        api=api,
        web=web,
        guardrail=guardrail,
        knowledge_base=knowledge_base,
        monitoring=monitoring,
    )


def _one_of(read: _Reader, name: str, allowed: Sequence[str]) -> str | None:
    value = read.text(name)
    if value is not None and value not in allowed:
        read.add(name, f"'{value}' is not one of {', '.join(allowed)}.")
        return None
    return value


def _in_range(read: _Reader, name: str, value: T | None, low: T, high: T, unit: str = "") -> T | None:
    if value is not None and not low <= value <= high:  # type: ignore[operator]
        read.add(name, f"{value}{unit} is out of range; use {low} to {high}{unit}.")
        return None
    return value


def _read_agent(read: _Reader, region: str | None, runtime: str | None) -> AgentSettings | None:
    before = len(read.messages)
    model = read.text("agentFoundationModel")
    if model is not None:
        _check_model(model, region, read)
    instruction = read.text("agentInstruction")
    if instruction is not None:
        instruction = instruction.strip()
        _in_range(read, "agentInstruction", len(instruction), *INSTRUCTION_LENGTH, " characters")
    ttl = _in_range(
        read, "agentIdleSessionTtlSeconds", read.integer("agentIdleSessionTtlSeconds"), *SESSION_TTL
    )
    guardrail_id = read.optional_text("agentGuardrailId")
    guardrail_version = read.optional_text("agentGuardrailVersion")
    if (guardrail_id is None) != (guardrail_version is None):
        read.add(
            "agentGuardrailId",
            "set agentGuardrailId and agentGuardrailVersion together (the version is a number or DRAFT).",
        )
    if guardrail_id is not None and not GUARDRAIL_ID.fullmatch(guardrail_id):
        read.add("agentGuardrailId", f"'{guardrail_id}' is not a guardrail id or ARN.")
    if guardrail_version is not None and not GUARDRAIL_VERSION.fullmatch(guardrail_version):
        read.add("agentGuardrailVersion", f"'{guardrail_version}' must be a version number or DRAFT.")
    max_iterations = _in_range(
        read, "agentMaxIterations", read.integer("agentMaxIterations"), *MAX_ITERATIONS
    )
    max_tokens = _in_range(read, "agentMaxTokens", read.integer("agentMaxTokens"), *MAX_TOKENS)
    kms_key = read.optional_text("agentKmsKeyArn")
    if kms_key is not None and not KMS_KEY_ARN.fullmatch(kms_key):
        read.add(
            "agentKmsKeyArn", f"'{kms_key}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
        )
    create_key = read.boolean("agentKmsKey")
    if create_key and kms_key is not None:
        read.add(
            "agentKmsKey",
            "agentKmsKey creates the agent's own key, agentKmsKeyArn brings one: set only one of them.",
        )
    if (
        len(read.messages) > before
        or runtime is None
        or model is None
        or instruction is None
        or ttl is None
        or max_iterations is None
        or max_tokens is None
    ):
        return None
    assert create_key is not None
    return AgentSettings(
        runtime=runtime,
        foundation_model=model,
        instruction=instruction,
        idle_session_ttl_seconds=ttl,
        guardrail_id=guardrail_id,
        guardrail_version=guardrail_version,
        customer_kms_key_arn=kms_key,
        max_iterations=max_iterations,
        max_tokens=max_tokens,
        create_kms_key=create_key,
    )


def _read_functions(read: _Reader, region: str | None) -> FunctionSettings | None:
    before = len(read.messages)
    # Unset (the default): the layer of the pinned Powertools release, resolved later.
    layer = read.optional_text("powertoolsLayerArn")
    if layer is not None:
        _check_layer(layer, region, read)
    concurrency = read.optional_integer("invokerReservedConcurrency")
    if concurrency == 0:
        # AWS accepts 0: it is how a function is switched off, so every invocation is throttled.
        read.add(
            "invokerReservedConcurrency",
            "0 means the invoker can never run (Lambda throttles every call); use 1 to 1000, or remove "
            "the setting for no reservation.",
        )
    else:
        _in_range(read, "invokerReservedConcurrency", concurrency, 1, 1000)
    log_level = _one_of(read, "functionLogLevel", LOG_LEVELS)
    if len(read.messages) > before or log_level is None:
        return None
    return FunctionSettings(
        powertools_layer_arn=layer or "", invoker_reserved_concurrency=concurrency, log_level=log_level
    )


def _read_api(read: _Reader) -> ApiSettings | None:
    before = len(read.messages)
    auth = _one_of(read, "apiAuth", API_AUTH_MODES)
    origins = read.structured("apiCorsAllowedOrigins")
    if origins is not None:
        _check_origins(origins, read)
    stage = read.text("apiStageName")
    if stage is not None and not STAGE_NAME.fullmatch(stage):
        read.add("apiStageName", f"'{stage}' must be 1-128 letters, digits, '-' or '_'.")
    rate = _in_range(read, "apiThrottleRateLimit", read.number("apiThrottleRateLimit"), 0.1, 10000.0)
    burst = _in_range(read, "apiThrottleBurstLimit", read.integer("apiThrottleBurstLimit"), 1, 5000)
    quota = _in_range(read, "apiQuotaPerDay", read.integer("apiQuotaPerDay"), 1, 10_000_000)
    streaming = read.boolean("apiStreaming")
    timeout = _integration_timeout(read, streaming)
    manage_role = read.boolean("apiManageAccountLoggingRole")
    if len(read.messages) > before:
        return None
    assert auth is not None
    assert isinstance(origins, list)
    assert stage is not None
    assert rate is not None
    assert burst is not None
    assert quota is not None
    assert timeout is not None
    assert manage_role is not None
    assert streaming is not None
    return ApiSettings(
        auth=auth,
        cors_allowed_origins=tuple(origins),
        stage_name=stage,
        throttle_rate_limit=rate,
        throttle_burst_limit=burst,
        quota_per_day=quota,
        integration_timeout_ms=timeout,
        manage_account_logging_role=manage_role,
        streaming=streaming,
    )


def _integration_timeout(read: _Reader, streaming: bool | None) -> int | None:
    """apiIntegrationTimeoutMs, or the default of the transfer mode; its range depends on the mode."""
    name = "apiIntegrationTimeoutMs"
    value = read.optional_integer(name)
    if streaming is None:
        return None
    if value is None:
        return DEFAULT_INTEGRATION_TIMEOUT_MS[streaming]
    if not streaming and MAX_BUFFERED_TIMEOUT_MS < value <= MAX_STREAM_TIMEOUT_MS:
        read.add(
            name,
            f"{value} ms is out of range for a buffered API (apiStreaming false): API Gateway ends "
            f"buffered integrations at {MAX_BUFFERED_TIMEOUT_MS} ms; use 1000 to "
            f"{MAX_BUFFERED_TIMEOUT_MS} ms, or set apiStreaming true (up to {MAX_STREAM_TIMEOUT_MS} ms).",
        )
        return None
    high = MAX_STREAM_TIMEOUT_MS if streaming else MAX_BUFFERED_TIMEOUT_MS
    return _in_range(read, name, value, MIN_INTEGRATION_TIMEOUT_MS, high, " ms")


def _read_web(read: _Reader, region: str | None, api: ApiSettings | None) -> WebSettings | None:
    enabled = read.boolean("webUi")
    price_class = _one_of(read, "webPriceClass", WEB_PRICE_CLASSES)
    domain = read.optional_text("webDomainName")
    certificate = read.optional_text("webCertificateArn")
    self_sign_up = read.boolean("webSelfSignUp")
    mfa = _one_of(read, "webMfa", WEB_MFA_MODES)
    length = _in_range(
        read, "webPasswordMinLength", read.integer("webPasswordMinLength"), *WEB_PASSWORD_LENGTH
    )
    prefix = read.optional_text("webAuthDomainPrefix")
    if not enabled:
        return None
    before = len(read.messages)
    if region is not None and region != WEB_REGION:
        read.add(
            "webUi",
            f"the page needs the stack in {WEB_REGION} (CloudFront delivers its access logs through "
            f"CloudWatch Logs in {WEB_REGION}, into a log group encrypted with this stack's key); "
            "deploy to us-east-1 or set webUi false.",
        )
    if api is not None and api.auth != "iam":
        read.add(
            "webUi",
            f"the page signs its API calls with SigV4 (Cognito identity-pool credentials), so apiAuth must "
            f"be iam, not '{api.auth}'; set apiAuth iam or webUi false.",
        )
    if (domain is None) != (certificate is None):
        read.add("webDomainName", "set webDomainName and webCertificateArn together (or neither).")
    if domain is not None and not DOMAIN_NAME.fullmatch(domain):
        read.add("webDomainName", f"'{domain}' is not a lower-case DNS name such as chat.example.com.")
    if certificate is not None:
        match = ACM_CERTIFICATE_ARN.fullmatch(certificate)
        if match is None:
            read.add(
                "webCertificateArn",
                f"'{certificate}' is not an ACM certificate ARN "
                "(arn:aws:acm:us-east-1:<account>:certificate/<id>).",
            )
        elif match["region"] != "us-east-1":
            read.add(
                "webCertificateArn",
                f"the certificate is in {match['region']}; CloudFront only uses ACM certificates from "
                "us-east-1: request or import one there.",
            )
    if prefix is not None and (
        not AUTH_DOMAIN_PREFIX.fullmatch(prefix) or any(word in prefix for word in AUTH_DOMAIN_RESERVED)
    ):
        read.add(
            "webAuthDomainPrefix",
            f"'{prefix}' must be 1-63 lower-case letters, digits or hyphens (not at either end) without "
            f"the reserved words {', '.join(AUTH_DOMAIN_RESERVED)}.",
        )
    if len(read.messages) > before or price_class is None or self_sign_up is None or mfa is None:
        return None
    if length is None:
        return None
    return WebSettings(
        price_class=price_class,
        domain_name=domain,
        certificate_arn=certificate,
        self_sign_up=self_sign_up,
        mfa=mfa,
        password_min_length=length,
        auth_domain_prefix=prefix,
    )


def _read_guardrail(read: _Reader, agent: AgentSettings | None) -> GuardrailSettings | None:
    """The stack's guardrail, or None when guardrailEnabled is off (an existing one may be attached)."""
    before = len(read.messages)
    enabled = read.boolean("guardrailEnabled")
    filters = _check_choice_map(
        read, "guardrailContentFilters", GUARDRAIL_CONTENT_CATEGORIES, GUARDRAIL_STRENGTHS, "category"
    )
    pii = _check_choice_map(
        read, "guardrailPiiEntities", GUARDRAIL_PII_ENTITIES, GUARDRAIL_PII_ACTIONS, "PII entity type"
    )
    topics = _check_topics(read, read.structured("guardrailDeniedTopics"))
    words = read.structured("guardrailBlockedWords")
    if words is not None and (
        not isinstance(words, list)
        or not all(isinstance(w, str) and 0 < len(w) <= WORD_LENGTH for w in words)
    ):
        read.add(
            "guardrailBlockedWords", f"must be a list of words or phrases of 1 to {WORD_LENGTH} characters."
        )
    profanity = read.boolean("guardrailProfanityFilter")
    grounding = _in_range(
        read, "guardrailGroundingThreshold", read.number("guardrailGroundingThreshold"), *GROUNDING_THRESHOLD
    )
    relevance = _in_range(
        read, "guardrailRelevanceThreshold", read.number("guardrailRelevanceThreshold"), *GROUNDING_THRESHOLD
    )
    message = read.text("guardrailBlockedMessage")
    if message is not None:
        _in_range(read, "guardrailBlockedMessage", len(message), *BLOCKED_MESSAGE_LENGTH, " characters")
    if enabled and agent is not None and agent.guardrail_id is not None:
        read.add(
            "guardrailEnabled",
            "the stack creates its own guardrail, and agentGuardrailId names another: turn guardrailEnabled "
            "off to attach the existing guardrail, or remove agentGuardrailId/agentGuardrailVersion.",
        )
    if len(read.messages) > before or not enabled:
        return None
    assert filters is not None
    assert pii is not None
    assert topics is not None
    assert isinstance(words, list)
    assert profanity is not None
    assert grounding is not None
    assert relevance is not None
    assert message is not None
    if filters and all(strength == "NONE" for strength in filters.values()) and not pii and not topics:
        read.add(
            "guardrailContentFilters",
            "every filter is NONE and nothing else is configured: the "
            "guardrail would filter nothing; set guardrailEnabled to false instead.",
        )
        return None
    return GuardrailSettings(
        content_filters=filters,
        pii_entities=pii,
        denied_topics=topics,
        blocked_words=tuple(words),
        profanity_filter=profanity,
        grounding_threshold=grounding,
        relevance_threshold=relevance,
        blocked_message=message,
    )


def _check_choice_map(
    read: _Reader, name: str, keys: Sequence[str], values: Sequence[str], what: str
) -> dict[str, str] | None:
    """A {key: value} setting whose keys and values come from fixed vocabularies."""
    raw = read.structured(name)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        read.add(name, f"must be an object of {what} to one of {', '.join(values)}.")
        return None
    before = len(read.messages)
    for key, value in raw.items():
        if key not in keys:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Use one of {', '.join(keys)}."
            read.add(name, f"'{key}' is not a {what}.{hint}")
        elif value not in values:
            read.add(name, f"{key}: '{value}' is not one of {', '.join(values)}.")
    return dict(sorted(raw.items())) if len(read.messages) == before else None


def _check_topics(read: _Reader, raw: object) -> tuple[DeniedTopic, ...] | None:
    name = "guardrailDeniedTopics"
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        read.add(name, "must be a list of {name, definition, examples} objects.")
        return None
    if len(raw) > MAX_TOPICS:
        read.add(name, f"{len(raw)} topics; a guardrail takes at most {MAX_TOPICS}.")
    before = len(read.messages)
    topics: list[DeniedTopic] = []
    for index, item in enumerate(raw):
        topic, definition, examples = item.get("name"), item.get("definition"), item.get("examples", [])
        where = f"topic {index + 1}"
        if not isinstance(topic, str) or not TOPIC_NAME.fullmatch(topic):
            read.add(name, f"{where}: name must be 1 to 100 letters, digits, spaces or - _ ! ? . characters.")
        if not isinstance(definition, str) or not 0 < len(definition) <= TOPIC_DEFINITION_LENGTH:
            read.add(name, f"{where}: definition must be 1 to {TOPIC_DEFINITION_LENGTH} characters.")
        if (
            not isinstance(examples, list)
            or len(examples) > TOPIC_EXAMPLES
            or not all(isinstance(e, str) and 0 < len(e) <= TOPIC_EXAMPLE_LENGTH for e in examples)
        ):
            read.add(
                name,
                f"{where}: examples must be at most {TOPIC_EXAMPLES} phrases of 1 to {TOPIC_EXAMPLE_LENGTH} "
                "characters.",
            )
        unknown = sorted(set(item) - {"name", "definition", "examples"})
        if unknown:
            read.add(name, f"{where}: unknown field(s) {', '.join(unknown)}; use name, definition, examples.")
        if len(read.messages) == before:
            topics.append(DeniedTopic(str(topic), str(definition), tuple(examples)))
    names = [topic.name.lower() for topic in topics]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        read.add(name, f"topic '{duplicate}' is listed twice.")
    return tuple(topics) if len(read.messages) == before else None


def _read_knowledge_base(read: _Reader) -> KnowledgeBaseSettings | None:
    before = len(read.messages)
    enabled = read.boolean("knowledgeBaseEnabled")
    attached = read.boolean("knowledgeBaseAttached")
    model = read.text("knowledgeBaseEmbeddingModel")
    if model is not None and not EMBEDDING_MODEL.fullmatch(model):
        read.add(
            "knowledgeBaseEmbeddingModel",
            f"'{model}' is not a Bedrock embedding model id (e.g. amazon.titan-embed-text-v2:0).",
        )
    dimensions = _in_range(
        read,
        "knowledgeBaseEmbeddingDimensions",
        read.integer("knowledgeBaseEmbeddingDimensions"),
        *EMBEDDING_DIMENSIONS,
    )
    chunking = _one_of(read, "knowledgeBaseChunking", CHUNKING_STRATEGIES)
    max_tokens = _in_range(
        read, "knowledgeBaseChunkMaxTokens", read.integer("knowledgeBaseChunkMaxTokens"), *CHUNK_MAX_TOKENS
    )
    overlap = _in_range(
        read,
        "knowledgeBaseChunkOverlapPercent",
        read.integer("knowledgeBaseChunkOverlapPercent"),
        *CHUNK_OVERLAP_PERCENT,
    )
    description = read.text("knowledgeBaseDescription")
    if description is not None:
        description = description.strip()
        _in_range(read, "knowledgeBaseDescription", len(description), *KB_DESCRIPTION_LENGTH, " characters")
    if len(read.messages) > before or not enabled:
        return None
    assert model is not None
    assert dimensions is not None
    assert chunking is not None
    assert max_tokens is not None
    assert overlap is not None
    assert description is not None
    return KnowledgeBaseSettings(
        embedding_model=model,
        embedding_dimensions=dimensions,
        chunking=chunking,
        chunk_max_tokens=max_tokens,
        chunk_overlap_percent=overlap,
        description=description,
        attached=attached is not False,
    )


def _read_monitoring(read: _Reader) -> MonitoringSettings | None:
    email = read.optional_text("alarmEmail")
    if email is not None and not EMAIL.fullmatch(email):
        read.add("alarmEmail", f"'{email}' is not an email address.")
        return None
    return MonitoringSettings(alarm_email=email)


def _model_geography(model: str) -> str | None:
    first, _, rest = model.partition(".")
    return first if rest and first in INFERENCE_PROFILE_GEOGRAPHIES else None


def _check_model(model: str, region: str | None, read: _Reader) -> None:
    if model.startswith("arn:"):
        if not MODEL_ARN.fullmatch(model):
            read.add(
                "agentFoundationModel",
                f"'{model}' is not a foundation-model or inference-profile ARN.",
            )
        return
    if not MODEL_ID.fullmatch(model):
        read.add(
            "agentFoundationModel",
            f"'{model}' is not a Bedrock model id (e.g. anthropic.claude-3-5-haiku-20241022-v1:0) or "
            "inference profile id (e.g. us.anthropic.claude-haiku-4-5-20251001-v1:0).",
        )
        return
    geography = _model_geography(model)
    if geography is None or region is None:
        return
    allowed = INFERENCE_PROFILE_GEOGRAPHIES[geography]
    if not any(region.startswith(prefix) for prefix in allowed):
        read.add(
            "agentFoundationModel",
            f"the '{geography}.' inference profile is not offered in {region}; "
            f"use a profile of the region's geography or a model id without a prefix.",
        )


def _check_layer(layer: str, region: str | None, read: _Reader) -> None:
    match = LAYER_ARN.fullmatch(layer)
    if match is None:
        read.add(
            "powertoolsLayerArn",
            f"'{layer}' is not a Lambda layer version ARN "
            "(arn:aws:lambda:<region>:<account>:layer:<name>:<version>).",
        )
        return
    if region is not None and match["region"] != region:
        read.add(
            "powertoolsLayerArn",
            f"the layer is in {match['region']} but the stack deploys to {region}; Lambda only attaches "
            f"layers of its own region: use arn:aws:lambda:{region}:…",
        )
    expected = f"{LAMBDA_RUNTIME.replace('.', '')}-{LAMBDA_ARCHITECTURE}"
    # A deprecated runtime is the fault then (see _check_runtime), not the layer: no layer to suggest.
    supported = LAMBDA_RUNTIME not in DEPRECATED_LAMBDA_RUNTIMES
    if supported and "powertools" in match["name"].lower() and expected not in match["name"]:
        read.add(
            "powertoolsLayerArn",
            f"layer '{match['name']}' does not match the functions' runtime and architecture; "
            f"use the AWSLambdaPowertoolsPythonV3-{expected} layer.",
        )


def _check_runtime(read: _Reader) -> None:
    """The functions' runtime is code (LAMBDA_RUNTIME), not config, but it fails the same way: report
    a deprecated or unknown runtime as such, first, instead of the layer that does not match it."""
    where = "LAMBDA_RUNTIME (components/config.py)"
    deprecated = DEPRECATED_LAMBDA_RUNTIMES.get(LAMBDA_RUNTIME)
    if deprecated is not None:
        read.messages.append(
            f"{where}: {LAMBDA_RUNTIME} is a deprecated Lambda runtime (deprecated on {deprecated}: no "
            "security patches, and Lambda blocks creating, then updating, functions on it); set it to a "
            "supported runtime such as python3.13 (the Powertools layer follows it)."
        )
    elif LAMBDA_RUNTIME not in _lambda_runtimes():
        read.messages.append(
            f"{where}: '{LAMBDA_RUNTIME}' is not a Lambda runtime (the botocore lambda model's Runtime "
            "values); use e.g. python3.13."
        )


@functools.lru_cache(maxsize=1)
def _lambda_runtimes() -> tuple[str, ...]:
    import gzip

    models = sorted((_botocore_data_dir() / "lambda").glob("*/service-2.json.gz"))
    with gzip.open(models[-1]) as model:
        return tuple(json.load(model)["shapes"]["Runtime"]["enum"])


def _check_origins(origins: object, read: _Reader) -> None:
    if not isinstance(origins, list) or not all(isinstance(item, str) for item in origins):
        read.add("apiCorsAllowedOrigins", 'must be a list of origins, e.g. ["https://app.example.com"].')
        return
    for origin in origins:
        if origin == "*" or "*" in origin:
            read.add(
                "apiCorsAllowedOrigins",
                "'*' is not allowed: list each browser origin that may call the API.",
            )
        elif not ORIGIN.fullmatch(origin):
            read.add(
                "apiCorsAllowedOrigins",
                f"'{origin}' is not an origin: scheme://host[:port] with no path or trailing slash, "
                "https unless the host is localhost.",
            )


def _json_or_text(value: str) -> object:
    """A structured setting, or the raw text when it is not JSON (its checker says what is wrong)."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def declared_config_keys() -> dict[str, Any]:
    """The `config:` block of Pulumi.yaml: the single declaration of every program setting."""
    import yaml

    project_file = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: faster
    declared = yaml.load(project_file.read_text(encoding="utf-8"), Loader=loader).get("config", {})  # noqa: S506
    return {key: value for key, value in declared.items() if ":" not in key}


def _check_unknown_keys(read: _Reader) -> None:
    """A misspelt key would otherwise be ignored silently and its default used instead."""
    declared = declared_config_keys()
    for full_key in sorted(pulumi.runtime.get_config_env()):
        namespace, _, name = full_key.partition(":")
        if namespace != read.project or name in declared:
            continue
        close = difflib.get_close_matches(name, declared, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        read.add(full_key, f"is not a setting of this project.{hint} Known: {', '.join(sorted(declared))}.")


def _check_region(region: str, runtime: str | None, read: _Reader) -> bool:
    regions, service = (
        (AGENTCORE_REGIONS, "Amazon Bedrock AgentCore (harness and interface endpoint)")
        if runtime == "agentcore"
        else (BEDROCK_AGENT_REGIONS, "Amazon Bedrock Agents")
    )
    if region in regions:
        return True
    close = difflib.get_close_matches(region, regions, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    read.add(
        "aws:region",
        f"'{region}' does not offer {service}.{hint} Use one of "
        f"{', '.join(sorted(regions))} (`pulumi config set aws:region <region>`).",
    )
    return False


def _check_agent_endpoint(
    names: Sequence[str], runtime: str, knowledge_base: KnowledgeBaseSettings | None, read: _Reader
) -> None:
    """The other backend's endpoint serves nothing on this stack but bills every hour (unless it is the
    one the knowledge base's search tool calls Retrieve through)."""
    own = AGENT_ENDPOINT_SERVICES[runtime]
    searched = knowledge_base is not None and runtime in KNOWLEDGE_TOOL_RUNTIMES
    for other_runtime, other in AGENT_ENDPOINT_SERVICES.items():
        if other_runtime == runtime or other not in names:
            continue
        if other == KNOWLEDGE_TOOL_ENDPOINT_SERVICE and searched:
            continue
        why = (
            f"without knowledgeBaseEnabled it would bill hourly and carry nothing: on {runtime} it only "
            "carries the knowledge base's searches"
            if other == KNOWLEDGE_TOOL_ENDPOINT_SERVICE and runtime in KNOWLEDGE_TOOL_RUNTIMES
            else "it would bill hourly and carry nothing"
        )
        # Usually the own endpoint is listed already (e.g. the search tool's endpoint left behind after
        # knowledgeBaseEnabled false): then the fix is to remove this one, not to add what is there.
        fix = "remove it" if own in names else f"replace it with '{own}'"
        read.add(
            "interfaceEndpoints",
            f"'{other}' is the {other_runtime} agent's endpoint but agentRuntime is {runtime}: "
            f"{fix} ({why}).",
        )


def _check_guardrail_endpoint(names: Sequence[str], runtime: str, guarded: bool, read: _Reader) -> None:
    """An AgentCore harness has no guardrail setting: the invoker calls ApplyGuardrail (bedrock-runtime),
    and the private subnets reach it only through its interface endpoint."""
    service = GUARDRAIL_ENDPOINT_SERVICES.get(runtime)
    if guarded and service is not None and service not in names:
        read.add(
            "interfaceEndpoints",
            f"agentRuntime {runtime} with a guardrail needs '{service}': the invoker applies the guardrail "
            f"itself (ApplyGuardrail) and has no other way out of the VPC; add '{service}' to the list.",
        )


def _check_knowledge_tool_endpoint(
    names: Sequence[str], runtime: str, knowledge_base: KnowledgeBaseSettings | None, read: _Reader
) -> None:
    """An agent that cannot search a knowledge base itself searches it through the search tool, whose
    Lambda calls Retrieve (bedrock-agent-runtime) from the private subnets: only through its endpoint.
    Not while the knowledge base is detached (knowledgeBaseAttached false): nothing searches it then."""
    service = KNOWLEDGE_TOOL_ENDPOINT_SERVICE
    if (
        runtime in KNOWLEDGE_TOOL_RUNTIMES
        and knowledge_base is not None
        and knowledge_base.attached
        and service not in names
    ):
        read.add(
            "interfaceEndpoints",
            f"agentRuntime {runtime} with knowledgeBaseEnabled needs '{service}': the agent searches the "
            f"knowledge base through its search tool, whose Lambda calls Retrieve from the VPC and has no "
            f"other way out; add '{service}' to the list, or set knowledgeBaseAttached false (the agent "
            "stops searching it, the knowledge base is kept) or knowledgeBaseEnabled false (removes it).",
        )


def _check_vpc_cidr(text: str, read: _Reader) -> ipaddress.IPv4Network | None:
    key = "vpcCidr"
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        read.add(key, f"'{text}' is not a valid IPv4 CIDR block ({error}); use e.g. 10.4.0.0/16.")
        return None
    if not any(network.subnet_of(block) for block in RFC1918_BLOCKS):
        read.add(
            key,
            f"{network} is not a private (RFC 1918) range; use a block inside 10.0.0.0/8, "
            "172.16.0.0/12 or 192.168.0.0/16, e.g. 10.4.0.0/16.",
        )
        return None
    largest_prefix = SMALLEST_SUBNET_PREFIX - SUBNET_PREFIX_BITS
    if not 16 <= network.prefixlen <= largest_prefix:
        read.add(
            key,
            f"{network} has prefix /{network.prefixlen}; AWS VPCs are /16 to /28 and this program "
            f"carves one /{network.prefixlen + SUBNET_PREFIX_BITS} subnet per AZ (at least "
            f"/{SMALLEST_SUBNET_PREFIX}), so use a prefix between /16 and /{largest_prefix}.",
        )
        return None
    return network


def _endpoint_service_known(name: str) -> bool:
    return (_botocore_data_dir() / ENDPOINT_SERVICE_SDK_NAMES.get(name, name)).is_dir()


def _check_endpoints(value: object, read: _Reader) -> tuple[str, ...] | None:
    key = "interfaceEndpoints"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        read.add(key, 'must be a list of service names, e.g. ["bedrock-agent-runtime", "logs"].')
        return None
    names: list[str] = []
    for raw in value:
        # Accept the full form "com.amazonaws.<region>.<service>" but store the short name.
        name = raw.rsplit(".", 1)[-1] if raw.startswith("com.amazonaws.") else raw
        if name in names:
            read.add(key, f"'{name}' is listed twice.")
        elif not _endpoint_service_known(name):
            known = sorted(os.listdir(_botocore_data_dir())) + sorted(ENDPOINT_SERVICE_SDK_NAMES)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            read.add(key, f"'{name}' is not a known AWS service endpoint name.{hint}")
        else:
            names.append(name)
    return tuple(names)


def _botocore_data_dir() -> Path:
    import botocore

    return Path(botocore.__file__).parent / "data"  # service models, one folder per SDK service name


def _choose_zones(
    read: _Reader,
    region: str,
    az_count: int,
    services: Sequence[str],
    available_zones: Callable[[str], Sequence[str]],
    endpoint_service_zones: Callable[[str, str], Sequence[str]],
) -> tuple[str, ...]:
    """The first `az_count` zones (by name) that the account has and every endpoint service offers.

    AZ names map to different physical zones in each account, and some interface endpoint services
    are not offered in every zone (CreateVpcEndpoint then fails with "does not support the
    availability zone of the subnet"), so the choice intersects the region's zones with what
    DescribeVpcEndpointServices reports for each configured service, in this account.
    """
    region_zones = sorted(available_zones(region))
    if az_count > len(region_zones):
        read.add(
            "azCount",
            f"{az_count} AZs requested but {region} offers {len(region_zones)} to this account "
            f"({', '.join(region_zones)}); set azCount to {len(region_zones)} or less.",
        )
        return ()
    usable = set(region_zones)
    missing: dict[str, list[str]] = {}
    for service in services:
        offered = set(endpoint_service_zones(region, service))
        if usable - offered:
            missing[service] = sorted(usable - offered)
        usable &= offered
    zones = [zone for zone in region_zones if zone in usable]
    if az_count > len(zones):
        gaps = "; ".join(
            f"{service} is not offered in {', '.join(names)}" for service, names in missing.items()
        )
        read.add(
            "azCount",
            f"{az_count} AZs requested but only {len(zones)} of {region}'s zones offer every interface "
            f"endpoint service ({gaps}); set azCount to {len(zones)} or less, or remove the service "
            "from interfaceEndpoints.",
        )
        return ()
    return tuple(zones[:az_count])


def _with_resolved_layer(
    read: _Reader, region: str, functions: FunctionSettings, powertools_layer: Callable[[str], str]
) -> FunctionSettings:
    try:
        layer = powertools_layer(region)
    except Exception as error:  # noqa: BLE001 - any lookup failure becomes a config message
        read.add(
            "powertoolsLayerArn",
            f"could not find the Powertools {powertools_version()} layer for {LAMBDA_RUNTIME} on "
            f"{LAMBDA_ARCHITECTURE} in {region} ({powertools_parameter_name()}: {error}); set "
            "powertoolsLayerArn to that release's layer ARN.",
        )
        return functions
    return dataclasses.replace(functions, powertools_layer_arn=layer)


def powertools_version() -> str:
    """The Powertools release the functions are tested with: the one installed (requirements.txt pins it)."""
    return importlib.metadata.version(POWERTOOLS_DISTRIBUTION)


def powertools_parameter_name() -> str:
    """The public SSM parameter holding the layer ARN of that release for the functions' runtime."""
    return POWERTOOLS_PARAMETER.format(
        architecture=LAMBDA_ARCHITECTURE, runtime=LAMBDA_RUNTIME, version=powertools_version()
    )


def _provider_powertools_layer(region: str) -> str:
    import pulumi_aws as aws

    return str(aws.ssm.get_parameter(name=powertools_parameter_name(), region=region).value)


def _provider_endpoint_service_zones(region: str, service: str) -> Sequence[str]:
    import pulumi_aws as aws

    # The provider's region is the stack's (aws:region), so the lookup is in the right region.
    result = aws.ec2.get_vpc_endpoint_service(
        service_name=f"com.amazonaws.{region}.{service}", service_type="Interface"
    )
    return list(result.availability_zones)


def _provider_zones(region: str) -> Sequence[str]:
    import pulumi_aws as aws

    result = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        region=region,
    )
    return list(result.names)
