"""AgentCore rules: each with the case that fires and the compliant one next to it."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, REGION, Graph, Node, allow, policy, trust
from tests.policies.conftest import Judge

HARNESS_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:harness/agent_x-abcdefghij"
RUNTIME_ARN = f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:runtime/harness_agent_x-abcdefghij"
MODEL_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
SCOPED = {
    "StringEquals": {"aws:SourceAccount": ACCOUNT},
    "ArnLike": {"aws:SourceArn": f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:harness/*"},
}


def _role(g: Graph, name: str, *, scoped: bool = True) -> Node:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "bedrock-agentcore.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    if scoped:
        statement["Condition"] = SCOPED
    return g.add(t.ROLE, name, assumeRolePolicy=policy(statement))


def _harness(g: Graph, name: str, role: Node, **inputs: Any) -> Node:
    defaults: dict[str, Any] = {
        "harnessName": name,
        "allowedTools": ["@tools", "get_local_time"],
        "maxIterations": 10,
        "maxTokens": 4096,
        "timeoutSeconds": 29,
        "environments": [
            {"agentcoreRuntimeEnvironments": [{"networkConfigurations": [{"networkMode": "PUBLIC"}]}]}
        ],
    }
    return g.add(t.AGENTCORE_HARNESS, name, executionRoleArn=role.arn, **{**defaults, **inputs})


def test_agentcore_gateway_authorizer(judge: Judge) -> None:
    g = Graph()
    role = _role(g, "gateway-role")
    open_gateway = g.add(t.AGENTCORE_GATEWAY, "open", authorizerType="NONE", roleArn=role.arn)
    g.add(t.AGENTCORE_GATEWAY, "iam", authorizerType="AWS_IAM", roleArn=role.arn)
    g.add(t.AGENTCORE_GATEWAY, "jwt", authorizerType="CUSTOM_JWT", roleArn=role.arn)
    outcome = judge(g)
    assert outcome.fired("agentcore-gateway-authorizer") == {open_gateway.urn}
    assert outcome.messages("agentcore-gateway-authorizer") == [
        "AgentcoreGateway 'open' authorizerType='NONE' lets unauthenticated callers use its tools"
    ]


def test_agentcore_execution_role_scoped(judge: Judge) -> None:
    g = Graph()
    good_role, loose_trust, broad_grant = _role(g, "good"), _role(g, "loose", scoped=False), _role(g, "broad")
    for role, statement in (
        (good_role, allow(["bedrock:InvokeModel"], [MODEL_ARN])),
        (loose_trust, allow(["bedrock:InvokeModel"], [MODEL_ARN])),
        (broad_grant, allow("bedrock-agentcore:*", "*")),
    ):
        g.add(t.ROLE_POLICY, f"{role.name}-policy", role=role.id, policy=policy(statement))
    good = _harness(g, "good", good_role)
    loose = _harness(g, "loose", loose_trust)
    broad = _harness(g, "broad", broad_grant)
    outcome = judge(g)
    assert outcome.fired("agentcore-execution-role-scoped") == {loose.urn, broad.urn}
    assert good.urn not in outcome.fired("agentcore-execution-role-scoped")
    assert outcome.messages("agentcore-execution-role-scoped", broad.urn) == [
        "RolePolicy 'broad-policy' (the role of AgentcoreHarness 'broad') policy a statement allows "
        "bedrock-agentcore:*",
        "RolePolicy 'broad-policy' (the role of AgentcoreHarness 'broad') policy a statement applies to "
        "every resource",
    ]
    assert any("aws:sourcearn" in m for m in outcome.messages("agentcore-execution-role-scoped", loose.urn))


def _endpoint(g: Graph, name: str, service: str, document: Any) -> Node:
    return g.add(
        t.VPC_ENDPOINT,
        name,
        serviceName=f"com.amazonaws.{REGION}.{service}",
        vpcEndpointType="Interface",
        **({} if document is None else {"policy": document}),
    )


def test_agentcore_endpoint_policy_restricted(judge: Judge) -> None:
    g = Graph()
    invoker = g.add(t.ROLE, "invoker-role", assumeRolePolicy=trust("lambda.amazonaws.com"))
    own = {**allow("bedrock-agentcore:InvokeHarness", HARNESS_ARN), "Principal": {"AWS": invoker.arn}}
    good = _endpoint(g, "good", "bedrock-agentcore", policy(own))
    default = _endpoint(g, "default", "bedrock-agentcore", None)
    anyone = _endpoint(g, "anyone", "bedrock-agentcore", policy({**own, "Principal": "*"}))
    every_harness = _endpoint(
        g,
        "every-harness",
        "bedrock-agentcore",
        policy({**own, "Resource": f"arn:aws:bedrock-agentcore:{REGION}:{ACCOUNT}:harness/*"}),
    )
    _endpoint(g, "logs", "logs", None)  # another service: not this rule's concern
    outcome = judge(g)
    assert outcome.fired("agentcore-endpoint-policy-restricted") == {
        default.urn,
        anyone.urn,
        every_harness.urn,
    }
    assert good.urn not in outcome.fired("agentcore-endpoint-policy-restricted")


def test_agentcore_nothing_public(judge: Judge) -> None:
    g = Graph()
    role = _role(g, "role")
    private = _harness(g, "private", role)
    shell = _harness(g, "shell", role, allowedTools=["@tools", "shell"])
    everything = _harness(g, "everything", role, allowedTools=["*"])
    unset = _harness(g, "unset", role, allowedTools=None)
    in_vpc = _harness(
        g,
        "in-vpc",
        role,
        allowedTools=["*"],
        environments=[
            {"agentcoreRuntimeEnvironments": [{"networkConfigurations": [{"networkMode": "VPC"}]}]}
        ],
    )
    public_runtime = g.add(t.AGENTCORE_RUNTIME, "public", networkConfiguration={"networkMode": "PUBLIC"})
    g.add(t.AGENTCORE_RUNTIME, "vpc", networkConfiguration={"networkMode": "VPC"})
    open_policy = g.add(
        t.AGENTCORE_RESOURCE_POLICY,
        "open",
        resourceArn=RUNTIME_ARN,
        policy=policy({**allow("bedrock-agentcore:InvokeAgentRuntime", RUNTIME_ARN), "Principal": "*"}),
    )
    g.add(
        t.AGENTCORE_RESOURCE_POLICY,
        "from-vpc",
        resourceArn=RUNTIME_ARN,
        policy=policy(
            {
                **allow("bedrock-agentcore:InvokeAgentRuntime", RUNTIME_ARN),
                "Principal": "*",
                "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}},
            }
        ),
    )
    outcome = judge(g)
    fired = outcome.fired("agentcore-nothing-public")
    assert fired == {shell.urn, everything.urn, unset.urn, public_runtime.urn, open_policy.urn}
    assert private.urn not in fired
    assert in_vpc.urn not in fired
    assert outcome.messages("agentcore-nothing-public", shell.urn) == [
        "AgentcoreHarness 'shell' runs outside a VPC and lets the model use built-in tools (shell): a shell "
        "with a path to the internet"
    ]


def test_agentcore_harness_limits(judge: Judge) -> None:
    g = Graph()
    role = _role(g, "role")
    _harness(g, "bounded", role)
    unbounded = _harness(g, "unbounded", role, maxIterations=None, maxTokens=None)
    outcome = judge(g)
    assert outcome.fired("agentcore-harness-limits") == {unbounded.urn}
    assert outcome.messages("agentcore-harness-limits") == [
        "AgentcoreHarness 'unbounded' has no maxIterations",
        "AgentcoreHarness 'unbounded' has no maxTokens",
    ]


def _invoker(g: Graph, name: str, harness_arn: Any, granted: Any) -> Node:
    role = g.add(t.ROLE, f"{name}-role", assumeRolePolicy=trust("lambda.amazonaws.com"))
    g.add(
        t.ROLE_POLICY,
        f"{name}-permissions",
        role=role.id,
        policy=policy(allow("bedrock-agentcore:InvokeHarness", granted)),
    )
    return g.add(t.FUNCTION, name, role=role.arn, environment={"variables": {"HARNESS_ARN": harness_arn}})


def test_agentcore_invoker_own_harness(judge: Judge) -> None:
    g = Graph()
    harness = _harness(g, "own", _role(g, "role"))
    good = _invoker(g, "invoker", harness.arn, harness.arn)
    copied = _invoker(g, "copied", HARNESS_ARN, HARNESS_ARN)
    too_wide = _invoker(g, "too-wide", harness.arn, [harness.arn, HARNESS_ARN])
    outcome = judge(g)
    assert outcome.fired("agentcore-invoker-own-harness") == {copied.urn, too_wide.urn}
    assert good.urn not in outcome.fired("agentcore-invoker-own-harness")
    assert outcome.messages("agentcore-invoker-own-harness", copied.urn)[0] == (
        f"Function 'copied' targets a harness this stack does not define ({HARNESS_ARN})"
    )
    # During preview the ARN is unknown: the reference still resolves through the dependency.
    assert judge(g, preview=True).fired("agentcore-invoker-own-harness") == {copied.urn}


def _guarded_invoker(
    g: Graph, name: str, harness: Node, env: dict[str, Any], *, may_apply: bool = True
) -> Node:
    role = g.add(t.ROLE, f"{name}-role", assumeRolePolicy=trust("lambda.amazonaws.com"))
    statements = [allow("bedrock-agentcore:InvokeHarness", harness.arn)]
    if may_apply:
        statements.append(
            allow("bedrock:ApplyGuardrail", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc123")
        )
    g.add(t.ROLE_POLICY, f"{name}-permissions", role=role.id, policy=policy(*statements))
    variables = {"AGENT_BACKEND": "agentcore", "HARNESS_ARN": harness.arn, **env}
    return g.add(t.FUNCTION, name, role=role.arn, environment={"variables": variables})


GUARDED = {"GUARDRAIL_ID": "abc123", "GUARDRAIL_VERSION": "1"}


def test_agentcore_guardrail_is_mandatory_in_production_and_advisory_elsewhere(judge: Judge) -> None:
    prod = Graph(default_tags={"Project": "p", "Environment": "prod"})
    guarded = _harness(prod, "guarded", _role(prod, "role-a"))
    _guarded_invoker(prod, "guarded-invoker", guarded, GUARDED)
    bare = _harness(prod, "bare", _role(prod, "role-b"))
    _guarded_invoker(prod, "bare-invoker", bare, {"GUARDRAIL_ID": "abc123"})
    denied = _harness(prod, "denied", _role(prod, "role-c"))
    _guarded_invoker(prod, "denied-invoker", denied, GUARDED, may_apply=False)
    orphan = _harness(prod, "orphan", _role(prod, "role-d"))
    outcome = judge(prod)
    assert outcome.fired("agentcore-guardrail-production") == {bare.urn, denied.urn, orphan.urn}
    assert outcome.fired("agentcore-guardrail") == set()
    assert outcome.messages("agentcore-guardrail-production", bare.urn) == [
        "Function 'bare-invoker' invokes AgentcoreHarness 'bare' without a guardrail "
        "(GUARDRAIL_VERSION unset)"
    ]
    assert outcome.messages("agentcore-guardrail-production", denied.urn) == [
        "Function 'denied-invoker' names guardrail abc123 but its role may not apply it "
        "(bedrock:ApplyGuardrail on that guardrail's ARN)"
    ]
    # During preview the harness ARN is unknown: the invoker is still found through the dependency
    # (its role's policy names the harness, so it is unknown too: a grant cannot be judged yet).
    assert judge(prod, preview=True).fired("agentcore-guardrail-production") == {bare.urn, orphan.urn}

    dev = Graph(default_tags={"Project": "p", "Environment": "dev"})
    dev_bare = _harness(dev, "bare", _role(dev, "role"))
    _guarded_invoker(dev, "invoker", dev_bare, {})
    outcome = judge(dev)
    assert outcome.fired("agentcore-guardrail") == {dev_bare.urn}
    assert outcome.fired("agentcore-guardrail-production") == set()


def test_agentcore_invoker_may_apply_exactly_the_guardrail_its_environment_names(judge: Judge) -> None:
    prod = Graph(default_tags={"Project": "p", "Environment": "prod"})
    by_id = _harness(prod, "by-id", _role(prod, "role-a"))
    _guarded_invoker(prod, "by-id-invoker", by_id, GUARDED)  # grants guardrail/abc123
    by_arn = _harness(prod, "by-arn", _role(prod, "role-b"))
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abc123"
    _guarded_invoker(prod, "by-arn-invoker", by_arn, {**GUARDED, "GUARDRAIL_ID": arn})
    other = _harness(prod, "other", _role(prod, "role-c"))
    _guarded_invoker(prod, "other-invoker", other, {**GUARDED, "GUARDRAIL_ID": "zzz999"})
    suffix = _harness(prod, "suffix", _role(prod, "role-d"))
    _guarded_invoker(prod, "suffix-invoker", suffix, {**GUARDED, "GUARDRAIL_ID": "123"})
    other_arn = _harness(prod, "other-arn", _role(prod, "role-e"))
    _guarded_invoker(prod, "other-arn-invoker", other_arn, {**GUARDED, "GUARDRAIL_ID": arn + "x"})

    outcome = judge(prod)

    assert outcome.fired("agentcore-guardrail-production") == {other.urn, suffix.urn, other_arn.urn}
    assert outcome.messages("agentcore-guardrail-production", other.urn) == [
        "Function 'other-invoker' names guardrail zzz999 but its role may not apply it "
        "(bedrock:ApplyGuardrail on that guardrail's ARN)"
    ]
