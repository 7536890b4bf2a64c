"""The stack configuration: read once from `pulumi.Config`, typed, validated, frozen.

Defaults and descriptions live in `Pulumi.yaml` (the Pulumi CLI materialises project-level defaults
into the program's config), so this module `require`s every key that has a default there and never
repeats a default. Every problem found is reported at once, before any resource is registered, as a
`ConfigError` that says what to change.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
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


class _Problems:
    """Collects every configuration problem so the user fixes them in one round."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.messages: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.messages.append(f"{key}: {message}")

    def read(self, key: str, reader: Callable[[], T]) -> T | None:
        try:
            return reader()
        except (pulumi.ConfigMissingError, pulumi.ConfigTypeError) as error:
            self.add(key, str(error).strip())
        return None

    def raise_if_any(self) -> None:
        if self.messages:
            details = "\n".join(f"  - {message}" for message in self.messages)
            raise ConfigError(
                f"Invalid configuration for stack '{self.stack}' ({len(self.messages)} problem(s)); "
                f"nothing was created:\n{details}"
            )


def load_config(available_zones: Callable[[str], Sequence[str]] | None = None) -> StackConfig:
    """Read and validate the stack configuration.

    `available_zones(region)` returns the AZ names the account can use in the region; it defaults
    to the AWS provider's `get_availability_zones` invoke and is only called once the region is valid.
    """
    project, stack = pulumi.get_project(), pulumi.get_stack()
    problems = _Problems(stack)
    cfg = pulumi.Config()
    aws_cfg = pulumi.Config("aws")

    _check_unknown_keys(project, problems)

    region = problems.read("aws:region", lambda: aws_cfg.require("region"))
    vpc_cidr_text = problems.read(_key(project, "vpcCidr"), lambda: cfg.require("vpcCidr"))
    az_count = problems.read(_key(project, "azCount"), lambda: cfg.require_int("azCount"))
    endpoints = problems.read(
        _key(project, "interfaceEndpoints"), lambda: _json_or_text(cfg.require("interfaceEndpoints"))
    )
    traffic_type = problems.read(
        _key(project, "flowLogTrafficType"), lambda: cfg.require("flowLogTrafficType")
    )
    retention = problems.read(_key(project, "logRetentionDays"), lambda: cfg.require_int("logRetentionDays"))
    protect = problems.read(
        _key(project, "protectStatefulResources"), lambda: cfg.require_bool("protectStatefulResources")
    )

    if region is not None:
        _check_region(region, problems)
    vpc_cidr = _check_vpc_cidr(project, vpc_cidr_text, problems) if vpc_cidr_text is not None else None
    endpoint_names = _check_endpoints(project, endpoints, problems) if endpoints is not None else None
    if traffic_type is not None and traffic_type not in FLOW_LOG_TRAFFIC_TYPES:
        problems.add(
            _key(project, "flowLogTrafficType"),
            f"'{traffic_type}' is not one of {', '.join(FLOW_LOG_TRAFFIC_TYPES)}.",
        )
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        nearest = min(LOG_RETENTION_DAYS, key=lambda days: (abs(days - retention), days))
        problems.add(
            _key(project, "logRetentionDays"),
            f"{retention} is not a retention CloudWatch Logs accepts; use one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))} (nearest: {nearest}).",
        )
    zones: Sequence[str] = ()
    if az_count is not None and not 1 <= az_count <= MAX_AZ_COUNT:
        problems.add(_key(project, "azCount"), f"{az_count} is out of range; use 1 to {MAX_AZ_COUNT}.")
    elif az_count is not None and region is not None and not problems.messages:
        # Only ask AWS once everything else is valid: the region is known to offer Bedrock Agents.
        zones = sorted((_provider_zones if available_zones is None else available_zones)(region))
        if az_count > len(zones):
            problems.add(
                _key(project, "azCount"),
                f"{az_count} AZs requested but {region} offers {len(zones)} to this account "
                f"({', '.join(zones)}); set azCount to {len(zones)} or less.",
            )

    problems.raise_if_any()
    # raise_if_any() returned, so every value was read and is valid.
    assert region is not None
    assert vpc_cidr is not None
    assert az_count is not None
    assert endpoint_names is not None
    assert traffic_type is not None
    assert retention is not None
    assert protect is not None
    return StackConfig(
        project=project,
        stack=stack,
        region=region,
        vpc_cidr=vpc_cidr,
        availability_zones=tuple(zones[:az_count]),
        interface_endpoints=endpoint_names,
        flow_log_traffic_type=traffic_type,
        log_retention_days=retention,
        protect_stateful_resources=protect,
    )


def _json_or_text(value: str) -> object:
    """A structured setting, or the raw text when it is not JSON (its checker says what is wrong)."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _key(project: str, name: str) -> str:
    return f"{project}:{name}"


def declared_config_keys() -> dict[str, Any]:
    """The `config:` block of Pulumi.yaml: the single declaration of every program setting."""
    import yaml

    project_file = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
    declared = yaml.safe_load(project_file.read_text(encoding="utf-8")).get("config", {})
    return {key: value for key, value in declared.items() if ":" not in key}


def _check_unknown_keys(project: str, problems: _Problems) -> None:
    """A misspelt key would otherwise be ignored silently and its default used instead."""
    declared = declared_config_keys()
    for full_key in sorted(pulumi.runtime.get_config_env()):
        namespace, _, name = full_key.partition(":")
        if namespace != project or name in declared:
            continue
        close = difflib.get_close_matches(name, declared, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.add(
            full_key, f"is not a setting of this project.{hint} Known: {', '.join(sorted(declared))}."
        )


def _check_region(region: str, problems: _Problems) -> None:
    if region in BEDROCK_AGENT_REGIONS:
        return
    close = difflib.get_close_matches(region, BEDROCK_AGENT_REGIONS, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    problems.add(
        "aws:region",
        f"'{region}' does not offer Amazon Bedrock Agents.{hint} Use one of "
        f"{', '.join(sorted(BEDROCK_AGENT_REGIONS))} (`pulumi config set aws:region <region>`).",
    )


def _check_vpc_cidr(project: str, text: str, problems: _Problems) -> ipaddress.IPv4Network | None:
    key = _key(project, "vpcCidr")
    try:
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        problems.add(key, f"'{text}' is not a valid IPv4 CIDR block ({error}); use e.g. 10.4.0.0/16.")
        return None
    if not any(network.subnet_of(block) for block in RFC1918_BLOCKS):
        problems.add(
            key,
            f"{network} is not a private (RFC 1918) range; use a block inside 10.0.0.0/8, "
            "172.16.0.0/12 or 192.168.0.0/16, e.g. 10.4.0.0/16.",
        )
        return None
    largest_prefix = SMALLEST_SUBNET_PREFIX - SUBNET_PREFIX_BITS
    if not 16 <= network.prefixlen <= largest_prefix:
        problems.add(
            key,
            f"{network} has prefix /{network.prefixlen}; AWS VPCs are /16 to /28 and this program "
            f"carves one /{network.prefixlen + SUBNET_PREFIX_BITS} subnet per AZ (at least "
            f"/{SMALLEST_SUBNET_PREFIX}), so use a prefix between /16 and /{largest_prefix}.",
        )
        return None
    return network


def _endpoint_service_known(name: str) -> bool:
    return (_botocore_data_dir() / ENDPOINT_SERVICE_SDK_NAMES.get(name, name)).is_dir()


def _check_endpoints(project: str, value: object, problems: _Problems) -> tuple[str, ...] | None:
    key = _key(project, "interfaceEndpoints")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.add(key, 'must be a list of service names, e.g. ["bedrock-agent-runtime", "logs"].')
        return None
    names: list[str] = []
    for raw in value:
        # Accept the full form "com.amazonaws.<region>.<service>" but store the short name.
        name = raw.rsplit(".", 1)[-1] if raw.startswith("com.amazonaws.") else raw
        if name in names:
            problems.add(key, f"'{name}' is listed twice.")
        elif not _endpoint_service_known(name):
            known = sorted(os.listdir(_botocore_data_dir())) + sorted(ENDPOINT_SERVICE_SDK_NAMES)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.add(key, f"'{name}' is not a known AWS service endpoint name.{hint}")
        else:
            names.append(name)
    return tuple(names)


def _botocore_data_dir() -> Path:
    import botocore

    return Path(botocore.__file__).parent / "data"  # service models, one folder per SDK service name


def _provider_zones(region: str) -> Sequence[str]:
    import pulumi_aws as aws

    result = aws.get_availability_zones(
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        region=region,
    )
    return list(result.names)
