"""The agent's own customer-managed KMS key (agentKmsKey): its session data and resources, its
guardrail, and its knowledge base's documents, vectors and ingestion.

Who uses it and how they are allowed:
- the key policy keeps AWS's default statement (the account root, i.e. IAM policies of this account,
  administer and use the key), so the agent role, the knowledge-base role and the invoker are granted
  use by their own IAM policies, each scoped to its encryption context;
- Amazon S3 Vectors encrypts index data in the background with the service principal
  `indexing.s3vectors.amazonaws.com`, which can only be allowed in the key policy ("Data protection
  and encryption in S3 Vectors", Amazon S3 user guide): it gets kms:Decrypt for vector buckets of this
  account only.

Turning agentKmsKey off (or destroying the stack) does not delete the key: it is `retain_on_delete`.
Deleting a KMS key makes everything encrypted with it unreadable once the waiting period ends
(ScheduleKeyDeletion), and what the key encrypted outlives the resources that stop using it: the agent
versions taken while it was set (kept, see `python -m client.versions`), the documents already stored
in the knowledge-base bucket (default encryption applies to new objects only; the bucket itself is
retained). The key leaves the stack and stays enabled ($1/month); schedule its deletion yourself once
nothing needs it (README, "Turning features on and off").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.kms import create_rotating_key
from components.logs import KEY_ADMIN_SID

S3_VECTORS_INDEXING_PRINCIPAL = "indexing.s3vectors"


@dataclass
class AgentKeyArgs:
    context: AwsContext
    protect: bool = False


class AgentKey(pulumi.ComponentResource):
    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AgentKeyArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:AgentKey", name, None, opts)
        self.key = create_rotating_key(
            name,
            parent=self,
            description=(
                f"Encrypts the agent data of {pulumi.get_project()}/{pulumi.get_stack()}: "
                "sessions, guardrail, knowledge base"
            ),
            policy=agent_key_policy(args.context),
            alias_role="agent",
            protect=args.protect,
            retain_on_delete=True,
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})


def agent_key_policy(context: AwsContext) -> dict[str, Any]:
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
                "Sid": "AllowS3VectorsIndexingForThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal(S3_VECTORS_INDEXING_PRINCIPAL)},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": context.account_id},
                    "ArnLike": {"aws:SourceArn": context.arn("s3vectors", "bucket/*")},
                },
            },
        ],
    }


def key_use_statement(
    sid: str, key_arn: pulumi.Input[str], actions: list[str], condition: Optional[dict[str, Any]] = None
) -> dict[str, Any]:
    """An IAM statement allowing `actions` on one key, optionally only for one encryption context."""
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": key_arn}
    if condition:
        statement["Condition"] = condition
    return statement
