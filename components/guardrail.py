"""The stack's Bedrock guardrail and the one version of it the agent uses.

A guardrail's working copy (DRAFT) changes as soon as the guardrail is updated; an agent version
freezes a guardrail *version*, a numbered snapshot. So the guardrail is created from the settings and
a `GuardrailVersion` is pinned to it; the version carries a digest of every setting in its description
and as its `replacement_trigger`, so a change to any filter creates a new version (CreateGuardrailVersion
takes a snapshot of the DRAFT, after the update, because the version depends on the guardrail) and the
digest moves the agent's definition hash, so the alias moves to an agent version with the new guardrail
version. The old guardrail version is deleted only after the alias moved (create-before-delete).
Source: CloudFormation's AWS::Bedrock::GuardrailVersion schema lists Description and
GuardrailIdentifier as create-only (a new version), as does the Terraform provider's
aws_bedrock_guardrail_version (RequiresReplace on both).

Attachment: Agents Classic take `guardrailConfiguration` (identifier and version) on CreateAgent/
UpdateAgent ("Use cases for Amazon Bedrock Guardrails", Bedrock user guide); the agent's role needs
bedrock:ApplyGuardrail on exactly this guardrail.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

import pulumi
import pulumi_aws as aws

from components.config import GuardrailSettings

if TYPE_CHECKING:
    from pulumi_aws.bedrock import (
        GuardrailContentPolicyConfigArgsDict,
        GuardrailContentPolicyConfigFiltersConfigArgsDict,
        GuardrailContextualGroundingPolicyConfigArgsDict,
        GuardrailSensitiveInformationPolicyConfigArgsDict,
        GuardrailTopicPolicyConfigArgsDict,
        GuardrailWordPolicyConfigArgsDict,
    )

# Prompt attacks are judged on prompts only: the API requires outputStrength NONE for PROMPT_ATTACK.
INPUT_ONLY_CATEGORIES = frozenset({"PROMPT_ATTACK"})


@dataclass(frozen=True)
class GuardrailAttachment:
    """What an agent needs to apply a guardrail: its identifier, version, ARN and a stable digest
    of its definition (known before anything is created: it goes into the agent's definition hash)."""

    identifier: pulumi.Input[str]
    version: pulumi.Input[str]
    arn: pulumi.Input[str]
    digest: str
    kms_key_arn: Optional[pulumi.Input[str]] = None

    @classmethod
    def existing(cls, identifier: str, version: str, arn: str) -> GuardrailAttachment:
        """A guardrail the stack does not manage (agentGuardrailId / agentGuardrailVersion)."""
        return cls(identifier=identifier, version=version, arn=arn, digest=f"{identifier}:{version}")

    @property
    def invoker_environment(self) -> dict[str, pulumi.Input[str]]:
        """What tells the invoker which guardrail the agent applies (functions/invoker/config.py)."""
        return {"GUARDRAIL_ID": self.identifier, "GUARDRAIL_VERSION": self.version}

    def apply_statement(self) -> dict[str, Any]:
        """bedrock:ApplyGuardrail on exactly this guardrail ("Set up permissions to use guardrails",
        Bedrock user guide: the ApplyGuardrail statement names the guardrail's ARN)."""
        return {
            "Sid": "ApplyTheGuardrail",
            "Effect": "Allow",
            "Action": "bedrock:ApplyGuardrail",
            "Resource": self.arn,
        }


@dataclass
class AgentGuardrailArgs:
    settings: GuardrailSettings
    guardrail_name: str
    with_grounding: bool  # contextual grounding only makes sense when answers cite retrieved passages
    kms_key_arn: Optional[pulumi.Input[str]] = None


class AgentGuardrail(pulumi.ComponentResource):
    guardrail: aws.bedrock.Guardrail
    version: aws.bedrock.GuardrailVersion
    digest: str
    guardrail_id: pulumi.Output[str]
    guardrail_arn: pulumi.Output[str]
    version_number: pulumi.Output[str]
    attachment: GuardrailAttachment

    def __init__(
        self, name: str, args: AgentGuardrailArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:AgentGuardrail", name, None, opts)
        settings = args.settings
        self.digest = guardrail_digest(settings, args.with_grounding, args.kms_key_arn is not None)
        self.guardrail = aws.bedrock.Guardrail(
            f"{name}-guardrail",
            name=args.guardrail_name,
            description=f"Filters the agent of {pulumi.get_project()}/{pulumi.get_stack()}",
            blocked_input_messaging=settings.blocked_message,
            blocked_outputs_messaging=settings.blocked_message,
            content_policy_config=content_policy(settings),
            sensitive_information_policy_config=sensitive_information_policy(settings),
            topic_policy_config=topic_policy(settings),
            word_policy_config=word_policy(settings),
            contextual_grounding_policy_config=grounding_policy(settings) if args.with_grounding else None,
            kms_key_arn=args.kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.version = aws.bedrock.GuardrailVersion(
            f"{name}-version",
            guardrail_arn=self.guardrail.guardrail_arn,
            description=f"Guardrail definition {self.digest}",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.guardrail],
                replacement_trigger=self.digest,
            ),
        )
        self.guardrail_id = self.guardrail.guardrail_id
        self.guardrail_arn = self.guardrail.guardrail_arn
        self.version_number = self.version.version
        self.attachment = GuardrailAttachment(
            identifier=self.guardrail_id,
            version=self.version_number,
            arn=self.guardrail_arn,
            digest=self.digest,
            kms_key_arn=args.kms_key_arn,
        )
        self.register_outputs(
            {"guardrail_id": self.guardrail_id, "version": self.version_number, "digest": self.digest}
        )


def guardrail_digest(settings: GuardrailSettings, with_grounding: bool, encrypted: bool) -> str:
    """A short digest of everything a guardrail version freezes."""
    frozen: dict[str, Any] = {**asdict(settings), "grounding": with_grounding, "customerKey": encrypted}
    if not with_grounding:
        frozen.pop("grounding_threshold")
        frozen.pop("relevance_threshold")
    return hashlib.sha256(json.dumps(frozen, sort_keys=True).encode()).hexdigest()[:12]


def content_policy(settings: GuardrailSettings) -> GuardrailContentPolicyConfigArgsDict | None:
    filters: list[GuardrailContentPolicyConfigFiltersConfigArgsDict] = [
        {
            "type": category,
            "input_strength": strength,
            "output_strength": "NONE" if category in INPUT_ONLY_CATEGORIES else strength,
        }
        for category, strength in settings.content_filters.items()
        if strength != "NONE"
    ]
    return {"filters_configs": filters} if filters else None


def sensitive_information_policy(
    settings: GuardrailSettings,
) -> GuardrailSensitiveInformationPolicyConfigArgsDict | None:
    if not settings.pii_entities:
        return None
    return {
        "pii_entities_configs": [
            {"type": entity, "action": action} for entity, action in settings.pii_entities.items()
        ]
    }


def topic_policy(settings: GuardrailSettings) -> GuardrailTopicPolicyConfigArgsDict | None:
    if not settings.denied_topics:
        return None
    return {
        "topics_configs": [
            {
                "name": topic.name,
                "definition": topic.definition,
                "examples": list(topic.examples),
                "type": "DENY",
            }
            for topic in settings.denied_topics
        ]
    }


def word_policy(settings: GuardrailSettings) -> GuardrailWordPolicyConfigArgsDict | None:
    if not settings.blocked_words and not settings.profanity_filter:
        return None
    policy: GuardrailWordPolicyConfigArgsDict = {}
    if settings.blocked_words:
        policy["words_configs"] = [{"text": word} for word in settings.blocked_words]
    if settings.profanity_filter:
        policy["managed_word_lists_configs"] = [{"type": "PROFANITY"}]
    return policy


def grounding_policy(settings: GuardrailSettings) -> GuardrailContextualGroundingPolicyConfigArgsDict:
    return {
        "filters_configs": [
            {"type": "GROUNDING", "threshold": settings.grounding_threshold},
            {"type": "RELEVANCE", "threshold": settings.relevance_threshold},
        ]
    }
