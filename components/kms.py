"""The stack's customer-managed KMS keys: one shape (rotating, 30-day deletion window, an alias)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws


def create_rotating_key(
    name: str,
    *,
    parent: pulumi.Resource,
    description: str,
    policy: Any,
    alias_role: str,
    protect: bool,
    retain_on_delete: bool = False,
) -> aws.kms.Key:
    """`<name>-key` with yearly rotation and `<name>-alias` = alias/<project>-<stack>-<alias_role>.
    `retain_on_delete`: removing it from the program leaves the key enabled in the account (no
    ScheduleKeyDeletion), for data encrypted with it that outlives the resources that wrote it."""
    key = aws.kms.Key(
        f"{name}-key",
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=pulumi.Output.json_dumps(policy),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=retain_on_delete),
    )
    aws.kms.Alias(
        f"{name}-alias",
        name=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-{alias_role}",
        target_key_id=key.key_id,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return key
