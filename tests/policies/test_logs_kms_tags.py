"""Log group, KMS key and tagging rules."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, Graph, Node, allow, policy
from tests.policies.conftest import Judge


def _group(g: Graph, name: str, **props: Any) -> Node:
    return g.add(t.LOG_GROUP, name, name=f"/app/{name}", **props)


def test_log_group_retention(judge: Judge) -> None:
    g = Graph()
    key = g.add(t.KMS_KEY, "key", enableKeyRotation=True)
    bad = {
        _group(g, "forever").urn,
        _group(g, "zero", retentionInDays=0).urn,
        _group(g, "week", retentionInDays=7).urn,
        _group(g, "invalid", retentionInDays=45).urn,
    }
    _group(g, "month", retentionInDays=30)
    _group(g, "year", retentionInDays=365)
    _group(g, "computed", retentionInDays=key.ref("id"))  # unknown during preview: judged at `up`
    outcome = judge(g, preview=True)
    assert outcome.fired("log-group-retention") == bad
    assert sorted(outcome.messages("log-group-retention")) == [
        "LogGroup 'forever' never expires (retentionInDays unset or 0)",
        "LogGroup 'invalid' retentionInDays=45 is not a value CloudWatch Logs accepts",
        "LogGroup 'week' keeps logs 7 days, less than the minimum 30",
        "LogGroup 'zero' never expires (retentionInDays unset or 0)",
    ]


def test_log_group_kms_encryption(judge: Judge) -> None:
    g = Graph()
    key = g.add(t.KMS_KEY, "key", enableKeyRotation=True)
    bad = _group(g, "plain", retentionInDays=30)
    _group(g, "encrypted", retentionInDays=30, kmsKeyId=key.arn)
    assert judge(g).fired("log-group-kms-encryption") == {bad.urn}
    assert judge(g, preview=True).fired("log-group-kms-encryption") == {bad.urn}


def test_kms_key_rotation(judge: Judge) -> None:
    g = Graph()
    bad = {g.add(t.KMS_KEY, "default").urn, g.add(t.KMS_KEY, "off", enableKeyRotation=False).urn}
    g.add(t.KMS_KEY, "rotating", enableKeyRotation=True)
    g.add(t.KMS_KEY, "signing", keyUsage="SIGN_VERIFY", customerMasterKeySpec="RSA_2048")  # cannot rotate
    assert judge(g).fired("kms-key-rotation") == bad


def test_kms_key_policy_no_public_access(judge: Judge) -> None:
    g = Graph()
    root = allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    public = allow("kms:*", "*", Principal="*")
    bad = {
        g.add(t.KMS_KEY, "public", enableKeyRotation=True, policy=policy(root, public)).urn,
        g.add(
            t.KMS_KEY_POLICY,
            "standalone",
            keyId="k",
            policy=policy(allow("kms:Decrypt", "*", Principal={"AWS": "*"})),
        ).urn,
    }
    g.add(t.KMS_KEY, "root-only", enableKeyRotation=True, policy=policy(root))
    conditioned = {**public, "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}}}
    g.add(t.KMS_KEY, "conditioned", enableKeyRotation=True, policy=policy(root, conditioned))
    assert judge(g).fired("kms-key-policy-no-public-access") == bad


def test_required_tags_with_provider_default_tags(judge: Judge) -> None:
    g = Graph(default_tags={"Project": "bedrock-vpc-agent"})
    bad = {
        g.add(t.VPC, "untagged", cidrBlock="10.0.0.0/16").urn,
        g.add(t.LOG_GROUP, "empty-value", name="/x", tags={"Environment": ""}).urn,
    }
    g.add(t.VPC, "tagged", cidrBlock="10.1.0.0/16", tags={"Environment": "prod"})
    g.add(t.ROLE_POLICY, "not-taggable", role="r", policy=policy(allow("s3:GetObject", "arn:aws:s3:::b/*")))
    outcome = judge(g)
    assert outcome.fired("required-tags") == bad
    assert outcome.messages("required-tags", sorted(bad)[-1]) == [
        "Vpc 'untagged' is missing tags: Environment"
    ]


def test_required_tags_are_satisfied_by_provider_default_tags(judge: Judge) -> None:
    g = Graph()  # the builder's provider carries Project and Environment as default tags
    vpc = g.add(t.VPC, "vpc", cidrBlock="10.0.0.0/16")
    g.add(t.LOG_GROUP, "computed-tags", name="/x", tags={"Environment": vpc.id})
    assert judge(g).fired("required-tags") == set()
    assert judge(g, preview=True).fired("required-tags") == set()
