"""CloudWatch log groups: bounded retention, encryption at rest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from . import tokens
from .framework import ADVISORY, Config, Resource, RuleSet, Setting, is_unknown, number

rules = RuleSet()

# The only values CloudWatch Logs accepts for retentionInDays (0 = never expire).
VALID_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

MINIMUM_RETENTION = Setting(
    "minimumRetentionDays",
    {"type": "integer", "minimum": 1},
    30,
    "Shortest acceptable retention in days.",
)


@rules.resource(
    "log-group-retention",
    types=(tokens.LOG_GROUP,),
    settings=[MINIMUM_RETENTION],
    description=(
        "Log groups must set a retention CloudWatch accepts and at least the configured minimum: unset "
        "(or 0) means 'never expire' - unbounded cost and data kept forever - and too short a retention "
        "loses evidence before an incident is noticed."
    ),
    remediation="Set retention_in_days to an accepted value >= the minimum (e.g. 30, 90, 365).",
)
def log_group_retention(res: Resource, config: Config) -> Iterator[str]:
    raw = res.get("retentionInDays")
    if is_unknown(raw):
        return
    days = number(raw) or 0
    minimum = number(config["minimumRetentionDays"]) or 0
    if days <= 0:
        yield f"{res.label} never expires (retentionInDays unset or 0)"
    elif days not in VALID_RETENTION_DAYS:
        yield f"{res.label} retentionInDays={days:g} is not a value CloudWatch Logs accepts"
    elif days < minimum:
        yield f"{res.label} keeps logs {days:g} days, less than the minimum {minimum:g}"


@rules.resource(
    "log-group-kms-encryption",
    types=(tokens.LOG_GROUP,),
    level=ADVISORY,
    description=(
        "Log groups should be encrypted with a customer-managed KMS key: agent and API logs can carry "
        "user data, and a CMK lets you audit and revoke access to it."
    ),
    remediation="Set kms_key_id to a rotating aws.kms.Key whose policy allows logs.<region>.amazonaws.com.",
)
def log_group_kms_encryption(res: Resource, _: Config) -> Iterator[str]:
    if res.get("kmsKeyId") in (None, ""):
        yield f"{res.label} is not encrypted with a customer-managed KMS key"
