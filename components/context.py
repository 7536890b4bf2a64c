"""Where the stack runs: account, partition and region, looked up once and passed to components.

Components take this instead of calling invokes themselves, so no account id, partition or region is
ever hard-coded and every ARN in a policy document is built the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws


@dataclass(frozen=True)
class AwsContext:
    account_id: str
    partition: str
    region: str
    dns_suffix: str  # amazonaws.com, amazonaws.com.cn, ...

    @classmethod
    def lookup(cls, region: str) -> AwsContext:
        identity = aws.get_caller_identity()
        partition = aws.get_partition()
        return cls(
            account_id=identity.account_id,
            partition=partition.partition,
            region=region,
            dns_suffix=partition.dns_suffix,
        )

    def arn(
        self, service: str, resource: str, *, region: str | None = None, account: str | None = None
    ) -> str:
        """An ARN in this stack's partition; region and account default to the stack's own."""
        return (
            f"arn:{self.partition}:{service}:{self.region if region is None else region}:"
            f"{self.account_id if account is None else account}:{resource}"
        )

    @property
    def account_root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def service_principal(self, service: str) -> str:
        return f"{service}.{self.dns_suffix}"

    def service_trust_policy(self, service: str, source_resources: str) -> dict[str, Any]:
        """A role trust policy: only ``service``, acting for its ``source_resources`` (e.g.
        ``"agent/*"``) of this account in this region, may assume the role (the confused-deputy
        guard: aws:SourceAccount and aws:SourceArn)."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": self.service_principal(service)},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": self.account_id},
                        "ArnLike": {"aws:SourceArn": self.arn(service, source_resources)},
                    },
                }
            ],
        }

    def regional_service_principal(self, service: str) -> str:
        return f"{service}.{self.region}.{self.dns_suffix}"

    def endpoint_service_name(self, service: str) -> str:
        """The VPC endpoint service name, e.g. com.amazonaws.us-east-1.logs."""
        reversed_suffix = ".".join(reversed(self.dns_suffix.split(".")))
        return f"{reversed_suffix}.{self.region}.{service}"
