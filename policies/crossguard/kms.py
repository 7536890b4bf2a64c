"""KMS keys: automatic rotation and key policies that are not open to everyone."""

from __future__ import annotations

from collections.abc import Iterator

from . import tokens
from .documents import statements
from .framework import Config, Resource, RuleSet, is_unknown

rules = RuleSet()


@rules.resource(
    "kms-key-rotation",
    types=(tokens.KMS_KEY,),
    description=(
        "Symmetric KMS keys must rotate automatically: rotation limits how much data one key version "
        "protects and is required by most compliance baselines."
    ),
    remediation="Set enable_key_rotation=True (asymmetric and HMAC keys cannot rotate and are skipped).",
)
def kms_key_rotation(res: Resource, _: Config) -> Iterator[str]:
    usage, spec = res.get("keyUsage"), res.get("customerMasterKeySpec")
    if usage not in (None, "ENCRYPT_DECRYPT") or spec not in (None, "SYMMETRIC_DEFAULT"):
        return
    rotation = res.get("enableKeyRotation")
    if not is_unknown(rotation) and rotation is not True:
        yield f"{res.label} does not enable automatic key rotation"


@rules.resource(
    "kms-key-policy-no-public-access",
    types=(tokens.KMS_KEY, tokens.KMS_KEY_POLICY),
    description=(
        "Key policies must not allow Principal '*' without conditions: the key (kms:* in the worst case) "
        "would be usable by any AWS account."
    ),
    remediation=(
        "Grant the account root (arn:aws:iam::<account>:root) and named service principals, or add "
        "conditions such as kms:CallerAccount / kms:ViaService to the '*' statement."
    ),
)
def kms_key_policy_no_public_access(res: Resource, _: Config) -> Iterator[str]:
    for statement in statements(res.get("policy")) or []:
        if (
            statement.allow
            and (statement.public_principal or statement.has_not_principal)
            and not statement.conditions
        ):
            actions = ", ".join(statement.actions or statement.not_actions) or "actions"
            yield f"{res.label} key policy {statement.label} grants {actions} to anyone, unconditionally"
