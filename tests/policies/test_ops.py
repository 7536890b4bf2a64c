"""Guardrail, knowledge-base and operations rules (policies/crossguard/ops.py): each fires on the
fault it names and stays quiet on the compliant shape the program builds."""

from __future__ import annotations

from typing import Any

from policies.crossguard import ops
from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, Graph, allow, policy
from tests.policies.conftest import Judge

GUARDRAIL_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}:guardrail/abc123"
ATTACHED = [{"guardrailIdentifier": "abc123", "guardrailVersion": "1"}]


def test_guardrail_is_mandatory_in_production_and_advisory_elsewhere(judge: Judge) -> None:
    prod = Graph(default_tags={"Project": "p", "Environment": "prod"})
    bare = prod.add(t.AGENT, "bare", foundationModel="m")
    prod.add(t.AGENT, "guarded", foundationModel="m", guardrailConfigurations=ATTACHED)
    outcome = judge(prod)
    assert outcome.fired("bedrock-agent-guardrail-production") == {bare.urn}
    assert outcome.fired("bedrock-agent-guardrail") == set()  # one finding per fault, at its level
    assert outcome.messages("bedrock-agent-guardrail-production") == ["AgentAgent 'bare' has no guardrail"]

    dev = Graph(default_tags={"Project": "p", "Environment": "dev"})
    bare_dev = dev.add(t.AGENT, "bare", foundationModel="m")
    dev.add(t.AGENT, "guarded", foundationModel="m", guardrailConfigurations=ATTACHED)
    outcome = judge(dev)
    assert outcome.fired("bedrock-agent-guardrail") == {bare_dev.urn}
    assert outcome.fired("bedrock-agent-guardrail-production") == set()


def test_apply_guardrail_only_on_a_named_guardrail(judge: Judge) -> None:
    g = Graph()
    wide = g.add(
        t.ROLE,
        "wide",
        assumeRolePolicy="{}",
        inlinePolicies=[{"name": "p", "policy": policy(allow(ops.APPLY_GUARDRAIL, "*"))}],
    )
    pattern = g.add(
        t.ROLE,
        "pattern",
        assumeRolePolicy="{}",
        inlinePolicies=[
            {
                "name": "p",
                "policy": policy(
                    allow(ops.APPLY_GUARDRAIL, f"arn:aws:bedrock:us-east-1:{ACCOUNT}:guardrail/*")
                ),
            }
        ],
    )
    g.add(
        t.ROLE,
        "scoped",
        assumeRolePolicy="{}",
        inlinePolicies=[{"name": "p", "policy": policy(allow(ops.APPLY_GUARDRAIL, GUARDRAIL_ARN))}],
    )
    assert judge(g).fired("bedrock-apply-guardrail-scoped") == {wide.urn, pattern.urn}


def _knowledge_base(g: Graph, *, private: bool, encrypted: bool, read: str) -> tuple[str, str]:
    bucket = g.add(ops.BUCKET_TYPES[0], "docs", outputs={"arn": "arn:aws:s3:::docs", "id": "docs"})
    flags: dict[str, Any] = dict.fromkeys(ops.PUBLIC_ACCESS_FLAGS, True)
    if not private:
        flags["restrictPublicBuckets"] = False
    g.add(ops.PUBLIC_ACCESS_BLOCK, "docs-pab", bucket=bucket.id, **flags)
    if encrypted:
        g.add(
            ops.BUCKET_ENCRYPTION[0],
            "docs-sse",
            bucket=bucket.id,
            rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
        )
    role = g.add(t.ROLE, "kb-role", assumeRolePolicy="{}")
    g.add(t.ROLE_POLICY, "kb-access", role=role.id, policy=policy(allow("s3:GetObject", read)))
    kb = g.add(ops.KNOWLEDGE_BASE, "kb", roleArn=role.arn)
    source = g.add(
        ops.DATA_SOURCE,
        "source",
        knowledgeBaseId=kb.id,
        dataSourceConfiguration={"type": "S3", "s3Configuration": {"bucketArn": bucket.arn}},
    )
    return kb.urn, source.urn


def test_knowledge_base_documents_are_private_and_encrypted(judge: Judge) -> None:
    compliant = Graph()
    _knowledge_base(compliant, private=True, encrypted=True, read="arn:aws:s3:::docs/documents/*")
    outcome = judge(compliant)
    assert outcome.fired("knowledge-base-documents-private-and-encrypted") == set()
    assert outcome.fired("knowledge-base-role-scoped") == set()

    faulty = Graph()
    kb, source = _knowledge_base(faulty, private=False, encrypted=False, read="*")
    outcome = judge(faulty)
    assert outcome.fired("knowledge-base-documents-private-and-encrypted") == {source}
    assert sorted(outcome.messages("knowledge-base-documents-private-and-encrypted")) == [
        "Bucket 'docs' (documents of AgentDataSource 'source') has no public access block with all four "
        "settings on",
        "Bucket 'docs' (documents of AgentDataSource 'source') sets no default encryption",
    ]
    assert outcome.fired("knowledge-base-role-scoped") == {kb}


def test_a_stack_with_an_api_has_alarms(judge: Judge) -> None:
    g = Graph()
    api = g.add(ops.REST_API, "api", name="chat")
    assert judge(g).fired("api-has-alarms") == {api.urn}
    topic = g.add("aws:sns/topic:Topic", "alarms", outputs={"arn": "arn:aws:sns:us-east-1:1:alarms"})
    g.add(ops.METRIC_ALARM, "errors", alarmActions=[topic.arn])
    assert judge(g).fired("api-has-alarms") == set()
