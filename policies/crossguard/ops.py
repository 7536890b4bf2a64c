"""Guardrails, knowledge bases and operations: a production agent has a guardrail its role may apply
(and no other) on either backend (Classic: on the agent; AgentCore: applied by the harness's invoker),
a knowledge base keeps its documents private and encrypted and its role scoped, and a stack with an
API has alarms."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from . import tokens
from .documents import allow_statements, role_statements
from .framework import ADVISORY, Config, Resource, RuleSet, Stack, as_list, each, is_unknown
from .lifecycle import ENVIRONMENT_TAG, PRODUCTION
from .tags import merged_tags

rules = RuleSet()

APPLY_GUARDRAIL: Final = "bedrock:ApplyGuardrail"
DATA_SOURCE: Final = "aws:bedrock/agentDataSource:AgentDataSource"
KNOWLEDGE_BASE: Final = "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase"
BUCKET_TYPES: Final = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION: Final = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
REST_API: Final = "aws:apigateway/restApi:RestApi"
METRIC_ALARM: Final = "aws:cloudwatch/metricAlarm:MetricAlarm"
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
# Actions a knowledge-base role needs, each only on named resources (never "*").
KB_SCOPED_ACTIONS: Final = ("s3:GetObject", "s3:ListBucket", "s3vectors:*", "bedrock:InvokeModel")


def is_production(res: Resource, config: Config) -> bool | None:
    """True/False from the environment tag, None while the tags are unknown."""
    tags = merged_tags(res)
    if tags is None:
        return None
    environment = tags.get(str(config["environmentTagKey"])) if isinstance(tags, Mapping) else None
    production = {str(value).lower() for value in as_list(config["productionEnvironments"])}
    return isinstance(environment, str) and environment.lower() in production


def guardrail_problems(res: Resource) -> list[str]:
    configs = res.get("guardrailConfigurations")
    if is_unknown(configs):
        return []
    entries = [c for c in configs if isinstance(c, Mapping)] if isinstance(configs, list) else []
    if not entries:
        return [f"{res.label} has no guardrail"]
    return [
        f"{res.label} guardrail configuration has no {key}"
        for entry in entries
        for key in ("guardrailIdentifier", "guardrailVersion")
        if entry.get(key) in (None, "")
    ]


@rules.resource(
    "bedrock-agent-guardrail-production",
    types=(tokens.AGENT,),
    settings=[ENVIRONMENT_TAG, PRODUCTION],
    description=(
        "A production agent must have a Bedrock guardrail (identifier and a pinned version): without one, "
        "harmful content, prompt attacks and personal data pass straight to the model and back to users. "
        "Elsewhere the advisory bedrock-agent-guardrail says the same."
    ),
    remediation=(
        "Keep guardrailEnabled true (this program creates and pins one), or attach an existing guardrail "
        "with agentGuardrailId and agentGuardrailVersion."
    ),
)
def bedrock_agent_guardrail_production(res: Resource, config: Config) -> Iterator[str]:
    if is_production(res, config):
        yield from guardrail_problems(res)


def harness_guardrail_problems(stack: Stack, harness: Resource) -> Iterator[str]:
    """A harness has no guardrail setting: its invokers must apply one (ApplyGuardrail), i.e. name it
    (GUARDRAIL_ID, GUARDRAIL_VERSION) and be allowed to apply it on a named guardrail ARN."""
    invokers = stack.referrers(harness, (tokens.FUNCTION,), "environment.variables.HARNESS_ARN")
    if not invokers:
        yield f"{harness.label} has no invoker that applies a guardrail (no function names it in HARNESS_ARN)"
    for function in invokers:
        variables = function.get("environment.variables")
        variables = variables if isinstance(variables, Mapping) else {}
        missing = [key for key in ("GUARDRAIL_ID", "GUARDRAIL_VERSION") if variables.get(key) in (None, "")]
        if missing:
            yield f"{function.label} invokes {harness.label} without a guardrail ({', '.join(missing)} unset)"
            continue
        identifier = variables["GUARDRAIL_ID"]
        if not _may_apply_guardrail(stack, function, identifier):
            yield (
                f"{function.label} names guardrail {identifier} but its role may not apply it "
                "(bedrock:ApplyGuardrail on that guardrail's ARN)"
            )


def _may_apply_guardrail(stack: Stack, function: Resource, identifier: object) -> bool:
    """Whether the function's role allows ApplyGuardrail on the guardrail it names in GUARDRAIL_ID
    (an id or an ARN; ApplyGuardrail's guardrailIdentifier takes either). True while the id or one of
    the role's policies is still unknown, during preview: nothing can be told yet."""
    if is_unknown(identifier):
        return True
    granted = role_statements(stack, function)
    if granted is None:
        return True
    return any(
        statement.allow
        and statement.grants(APPLY_GUARDRAIL)
        and any(_is_guardrail(arn, str(identifier)) for arn in statement.resources)
        for statement in granted
    )


def _is_guardrail(arn: str, identifier: str) -> bool:
    """``arn`` is the guardrail ``identifier`` names: that ARN, or the ARN ending in ``guardrail/<id>``."""
    return arn == identifier or (":" not in identifier and arn.endswith(f":guardrail/{identifier}"))


def _harness_guardrails(stack: Stack, config: Config, *, production: bool) -> Iterator[tuple[str, str]]:
    harnesses = [h for h in stack.of_type(tokens.AGENTCORE_HARNESS) if is_production(h, config) is production]
    yield from each(harnesses, lambda harness: harness_guardrail_problems(stack, harness))


@rules.stack(
    "agentcore-guardrail-production",
    settings=[ENVIRONMENT_TAG, PRODUCTION],
    description=(
        "A production AgentCore harness must be guarded: it has no guardrail setting, so the function that "
        "invokes it must apply one (GUARDRAIL_ID and GUARDRAIL_VERSION, and bedrock:ApplyGuardrail on it), "
        "as bedrock-agent-guardrail-production requires of a Classic agent. Elsewhere the advisory "
        "agentcore-guardrail says the same."
    ),
    remediation=(
        "Keep guardrailEnabled true (or set agentGuardrailId and agentGuardrailVersion): the program passes "
        "the guardrail to the invoker, which calls ApplyGuardrail on the input and the answer."
    ),
)
def agentcore_guardrail_production(stack: Stack, config: Config) -> Iterator[tuple[str, str]]:
    yield from _harness_guardrails(stack, config, production=True)


@rules.stack(
    "agentcore-guardrail",
    level=ADVISORY,
    settings=[ENVIRONMENT_TAG, PRODUCTION],
    description=(
        "An AgentCore harness should be guarded by a guardrail its invoker applies (GUARDRAIL_ID, "
        "GUARDRAIL_VERSION, bedrock:ApplyGuardrail): the harness itself has no guardrail setting."
    ),
    remediation="Keep guardrailEnabled true, or attach an existing guardrail with agentGuardrailId/Version.",
)
def agentcore_guardrail(stack: Stack, config: Config) -> Iterator[tuple[str, str]]:
    yield from _harness_guardrails(stack, config, production=False)


@rules.resource(
    "bedrock-apply-guardrail-scoped",
    types=tokens.IDENTITY_POLICY_HOLDERS,
    description=(
        "bedrock:ApplyGuardrail may only be allowed on named guardrail ARNs: a wildcard lets the role "
        "apply (and so probe) every guardrail of the account."
    ),
    remediation="Use Resource 'arn:aws:bedrock:<region>:<account>:guardrail/<id>' (the agent's one).",
)
def bedrock_apply_guardrail_scoped(res: Resource, _: Config) -> Iterator[str]:
    for label, statement in allow_statements(res):
        if not statement.grants(APPLY_GUARDRAIL):
            continue
        for arn in statement.resources:
            if "*" in arn or "?" in arn or ":guardrail/" not in arn:
                yield f"{res.label} {label} {statement.label} grants {APPLY_GUARDRAIL} on {arn!r}"


def _bucket_problems(stack: Stack, source: Resource) -> Iterator[str]:
    for bucket in stack.refs(source, "dataSourceConfiguration.s3Configuration.bucketArn", BUCKET_TYPES).found:
        blocks = stack.referrers(bucket, (PUBLIC_ACCESS_BLOCK,), "bucket")
        if not any(all(block.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS) for block in blocks):
            yield (
                f"{bucket.label} (documents of {source.label}) has no public access block with all four "
                "settings on"
            )
        encryption = stack.referrers(bucket, BUCKET_ENCRYPTION, "bucket")
        if not encryption and not bucket.get("serverSideEncryptionConfiguration"):
            yield f"{bucket.label} (documents of {source.label}) sets no default encryption"


@rules.stack(
    "knowledge-base-documents-private-and-encrypted",
    description=(
        "The bucket a knowledge base ingests must block every kind of public access and encrypt what it "
        "stores by default: it holds the user's documents."
    ),
    remediation=(
        "Add an aws.s3.BucketPublicAccessBlock with all four flags true and an "
        "aws.s3.BucketServerSideEncryptionConfiguration (aws:kms with the agent key, or AES256)."
    ),
)
def knowledge_base_documents_private(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(DATA_SOURCE), lambda source: _bucket_problems(stack, source))


def _role_problems(stack: Stack, kb: Resource) -> Iterator[str]:
    for role in stack.refs(kb, "roleArn", (tokens.ROLE,)).found:
        for policy in [role, *stack.referrers(role, (tokens.ROLE_POLICY,), "role")]:
            for label, statement in allow_statements(policy):
                for action in KB_SCOPED_ACTIONS:
                    if statement.grants(action) and any(
                        r == "*" or r.endswith(":*") for r in statement.resources
                    ):
                        yield f"{policy.label} {label} {statement.label} grants {action} on every resource"
                if statement.grants("s3:*") and statement.grants("s3:DeleteObject"):
                    yield f"{policy.label} {label} {statement.label} grants s3:* (it only reads documents)"


@rules.stack(
    "knowledge-base-role-scoped",
    description=(
        "A knowledge base's role may read its documents, invoke its embedding model and write its vector "
        "index, each on named resources: a wildcard lets ingestion read or overwrite anything."
    ),
    remediation="Scope s3:GetObject to the bucket's documents prefix, s3vectors:* to the index ARN, "
    "bedrock:InvokeModel to the embedding model's ARN.",
)
def knowledge_base_role_scoped(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(KNOWLEDGE_BASE), lambda kb: _role_problems(stack, kb))


@rules.stack(
    "api-has-alarms",
    level=ADVISORY,
    description=(
        "A stack that serves an API should have CloudWatch alarms with actions, so that someone is told "
        "when it fails."
    ),
    remediation="Add aws.cloudwatch.MetricAlarm resources (errors, throttles, 5xx) with alarm_actions.",
)
def api_has_alarms(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    apis = stack.of_type(REST_API)
    if not apis:
        return
    alarms = [
        a for a in stack.of_type(METRIC_ALARM) if is_unknown(a.get("alarmActions")) or a.get("alarmActions")
    ]
    if not alarms:
        for api in apis:
            yield api.urn, f"{api.label} has no CloudWatch alarm that notifies anyone"
