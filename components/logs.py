"""Encrypted, retained CloudWatch log groups for the whole stack.

`LogsKey` is the customer-managed KMS key every log group of the stack is encrypted with; its key
policy lets CloudWatch Logs use it only for this stack's log groups. It also encrypts the alarm topic
(components/monitoring.py): CloudWatch, publishing alarm notifications, may generate and decrypt data
keys for SNS, so the stack's telemetry needs one key, not two. `create_log_group` is the one
way components create a log group, so retention, encryption and protection are never forgotten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.kms import create_rotating_key

# kms:* for the account root is AWS's default key statement: it delegates key administration to
# IAM policies in this account and keeps the key manageable. Without it a key can become unmanageable.
KEY_ADMIN_SID = "EnableIamPoliciesOfThisAccount"
LOGS_SID = "AllowCloudWatchLogsForThisStackOnly"
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
ALARMS_SID = "AllowCloudWatchAlarmsToPublishToEncryptedTopics"
# What a publisher to an SSE-KMS topic needs (SNS developer guide, "Enable compatibility between event
# sources from AWS services and encrypted topics"). SNS only asks KMS for its topics.
ALARM_KEY_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"]


@dataclass
class LogsKeyArgs:
    context: AwsContext
    log_group_arn_patterns: Sequence[str]
    protect: bool = False
    alarm_notifications: bool = False  # the key also encrypts the stack's alarm topic


class LogsKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: LogsKeyArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:LogsKey", name, None, opts)
        self.key = create_rotating_key(
            name,
            parent=self,
            description=f"Encrypts the CloudWatch log groups of {pulumi.get_project()}/{pulumi.get_stack()}",
            policy=logs_key_policy(args.context, args.log_group_arn_patterns, args.alarm_notifications),
            alias_role="logs",
            protect=args.protect,
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})


def logs_key_policy(
    context: AwsContext, log_group_arn_patterns: Sequence[str], alarm_notifications: bool = False
) -> dict[str, Any]:
    alarms: list[dict[str, Any]] = [
        {
            "Sid": ALARMS_SID,
            "Effect": "Allow",
            "Principal": {"Service": context.service_principal("cloudwatch")},
            "Action": ALARM_KEY_ACTIONS,
            # The documented statement has no condition; the topic policy admits only this account's alarms.
            "Resource": "*",
        }
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": KEY_ADMIN_SID,
                "Effect": "Allow",
                "Principal": {"AWS": context.account_root_arn},
                "Action": "kms:*",
                "Resource": "*",  # in a key policy "*" means this key
            },
            {
                "Sid": LOGS_SID,
                "Effect": "Allow",
                "Principal": {"Service": context.regional_service_principal("logs")},
                "Action": LOGS_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": list(log_group_arn_patterns)}
                },
            },
            *(alarms if alarm_notifications else []),
        ],
    }


def create_log_group(
    resource_name: str,
    *,
    log_group_name: str,
    retention_days: int,
    kms_key_arn: pulumi.Input[str],
    protect: bool,
    parent: pulumi.Resource,
    depends_on: Optional[Sequence[pulumi.Resource]] = None,
) -> aws.cloudwatch.LogGroup:
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=log_group_name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=list(depends_on or [])),
    )
