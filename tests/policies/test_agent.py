"""Bedrock agent rules."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.baseline import MODEL, MODEL_ARN, Baseline
from tests.policies.builder import ACCOUNT, REGION, Graph, Node, allow, policy, trust
from tests.policies.conftest import Judge

ALIAS_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent-alias/AGENT12345"


def test_bedrock_invoke_model_scoped(judge: Judge) -> None:
    g = Graph()

    def grant(name: str, statement: dict[str, Any]) -> Node:
        return g.add(t.ROLE_POLICY, name, role="agent-role", policy=policy(statement))

    bad = {
        grant("any-resource", allow("bedrock:InvokeModel", "*")).urn,
        grant("any-model", allow("bedrock:InvokeModel", "arn:aws:bedrock:*::foundation-model/*")).urn,
        grant(
            "model-family", allow("bedrock:*", f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.*")
        ).urn,
        grant(
            "not-resource", {"Effect": "Allow", "Action": "bedrock:InvokeModel*", "NotResource": MODEL_ARN}
        ).urn,
    }
    grant("one-model", allow(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], MODEL_ARN))
    grant(
        "profile",
        allow(
            "bedrock:InvokeModel",
            [
                f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.{MODEL}",
                f"arn:aws:bedrock:*::foundation-model/{MODEL}",
            ],
        ),
    )
    grant("other-service", allow("bedrock:InvokeAgent", "*"))  # another rule's concern
    assert judge(g).fired("bedrock-invoke-model-scoped") == bad


def test_bedrock_agent_role_can_invoke_model(judge: Judge, base: Baseline) -> None:
    g = base.graph
    other_model = f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-lite-v1:0"
    base.agent_role_policy.inputs["policy"] = policy(allow("bedrock:InvokeModel", other_model))
    outcome = judge(g)
    assert outcome.fired("bedrock-agent-role-can-invoke-model") == {base.agent.urn}
    assert outcome.messages("bedrock-agent-role-can-invoke-model") == [
        f"Role 'agent-role' (the role of AgentAgent 'agent') cannot bedrock:InvokeModel on {MODEL}"
    ]
    assert judge(g, preview=True).fired("bedrock-agent-role-can-invoke-model") == {base.agent.urn}  # literal
    # A document built from outputs is unknown during preview: no verdict until `pulumi up`.
    base.agent_role_policy.inputs["policy"] = policy(allow("bedrock:InvokeModel", base.key.arn))
    assert judge(g, preview=True).fired("bedrock-agent-role-can-invoke-model") == set()
    assert judge(g).fired("bedrock-agent-role-can-invoke-model") == {base.agent.urn}


def test_bedrock_agent_role_permission_through_managed_policy(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.agent_role_policy)
    assert judge(g).fired("bedrock-agent-role-can-invoke-model") == {base.agent.urn}
    managed = g.add(t.MANAGED_POLICY, "agent-managed", policy=policy(allow("bedrock:InvokeModel", MODEL_ARN)))
    g.add(
        t.ROLE_POLICY_ATTACHMENT,
        "agent-managed-attach",
        role=base.roles["agent"].ref("name"),
        policyArn=managed.arn,
    )
    assert judge(g).fired("bedrock-agent-role-can-invoke-model") == set()


def _agent(g: Graph, name: str, **props: Any) -> Node:
    role = g.add(
        t.ROLE,
        f"{name}-role",
        assumeRolePolicy=trust("bedrock.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT}),
    )
    return g.add(t.AGENT, name, agentName=name, agentResourceRoleArn=role.arn, foundationModel=MODEL, **props)


def test_bedrock_agent_idle_session_ttl(judge: Judge) -> None:
    g = Graph()
    bad = {_agent(g, "two-hours", idleSessionTtlInSeconds=4000).urn}
    _agent(g, "ten-minutes", idleSessionTtlInSeconds=600)
    _agent(g, "aws-default")
    # Values AWS rejects are the mandatory rule's (one fault, one violation).
    rejected = {
        _agent(g, "too-short", idleSessionTtlInSeconds=30).urn,
        _agent(g, "too-long", idleSessionTtlInSeconds=7200).urn,
    }
    outcome = judge(g)
    assert outcome.fired("bedrock-agent-idle-session-ttl") == bad
    assert outcome.fired("bedrock-agent-settings-accepted") == rejected


def test_bedrock_agent_guardrail(judge: Judge) -> None:
    g = Graph()
    bad = {
        _agent(g, "unguarded").urn,
        _agent(g, "no-version", guardrailConfigurations=[{"guardrailIdentifier": "gr-1"}]).urn,
    }
    _agent(g, "guarded", guardrailConfigurations=[{"guardrailIdentifier": "gr-1", "guardrailVersion": "2"}])
    assert judge(g).fired("bedrock-agent-guardrail") == bad


def test_bedrock_agent_customer_kms_key(judge: Judge) -> None:
    g = Graph()
    key = g.add(t.KMS_KEY, "agent-key", enableKeyRotation=True)
    bad = _agent(g, "aws-owned-key")
    _agent(g, "cmk", customerEncryptionKeyArn=key.arn)
    assert judge(g).fired("bedrock-agent-customer-kms-key") == {bad.urn}
    assert judge(g, preview=True).fired("bedrock-agent-customer-kms-key") == {bad.urn}


def test_bedrock_no_draft_alias(judge: Judge, base: Baseline) -> None:
    g = base.graph
    invoker = base.functions["invoker"]
    invoker.inputs["environment"]["variables"]["AGENT_ALIAS_ID"] = "TSTALIASID"
    draft_grant = g.add(
        t.ROLE_POLICY,
        "draft-grant",
        role=base.roles["invoker"].id,
        policy=policy(allow("bedrock:InvokeAgent", f"{ALIAS_ARN}/TSTALIASID")),
    )
    outcome = judge(g)
    assert outcome.fired("bedrock-no-draft-alias") == {invoker.urn, draft_grant.urn}
    assert outcome.messages("bedrock-no-draft-alias", invoker.urn) == [
        "Function 'invoker' environment variable AGENT_ALIAS_ID targets the test alias TSTALIASID"
    ]
