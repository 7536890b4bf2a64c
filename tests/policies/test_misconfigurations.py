"""Misconfigurations an independent campaign applied to the program that the pack used to let through
(issue #10, items 11-19). Each rule gets firing and compliant cases through the real analyzer, built
on the compliant baseline so that only the one change can explain a violation."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.baseline import Baseline
from tests.policies.builder import ACCOUNT, REGION, Graph, allow, policy
from tests.policies.conftest import Judge

HTTPS: dict[str, Any] = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
AGENT_ID = "AGENT12345"
ALIAS_PREFIX = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent-alias/{AGENT_ID}"
LIVE_ALIAS = f"{ALIAS_PREFIX}/ALIAS12345"
DRAFT = f"{ALIAS_PREFIX}/TSTALIASID"


# --- 11: the shared group carries TCP 443 only -------------------------------------------------------


def test_security_group_rules_https_only(judge: Judge, base: Baseline) -> None:
    g, sg = base.graph, base.sg
    all_traffic_self = g.add(
        t.SG_INGRESS_RULE,
        "all-from-self",
        securityGroupId=sg.id,
        referencedSecurityGroupId=sg.id,
        ipProtocol="-1",
    )
    all_out = g.add(
        t.SECURITY_GROUP_RULE,
        "classic-all-out",
        type="egress",
        securityGroupId=sg.id,
        protocol="all",
        fromPort=0,
        toPort=0,
        self=True,
    )
    wide = g.add(
        t.SG_EGRESS_RULE,
        "tcp-range",
        securityGroupId=sg.id,
        referencedSecurityGroupId=sg.id,
        ipProtocol="tcp",
        fromPort=0,
        toPort=65535,
    )
    udp = g.add(
        t.SG_EGRESS_RULE, "dns", securityGroupId=sg.id, cidrIpv4="10.0.0.2/32", ipProtocol="udp", fromPort=53
    )
    inline = g.add(
        t.SECURITY_GROUP,
        "inline",
        vpcId=base.vpc.id,
        ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
        egress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443, "self": True}],
    )
    # Compliant: TCP 443 between the group's members, in every form.
    g.add(t.SECURITY_GROUP, "inline-https", vpcId=base.vpc.id, ingress=[{**HTTPS, "protocol": "tcp"}])
    outcome = judge(g)
    assert outcome.fired("security-group-rules-https-only") == {
        r.urn for r in (all_traffic_self, all_out, wide, udp, inline)
    }
    assert outcome.messages("security-group-rules-https-only", all_traffic_self.urn) == [
        "SecurityGroupIngressRule 'all-from-self' (ingress) allows all traffic "
        "(protocol -1: every protocol and port)"
    ]
    assert outcome.messages("security-group-rules-https-only", inline.urn) == [
        "SecurityGroup 'inline' ingress[0] allows all traffic (protocol -1: every protocol and port)"
    ]
    # The baseline's own rules (TCP 443 self-references) are compliant.
    assert base.ingress.urn not in outcome.fired("security-group-rules-https-only")


def test_security_group_rules_https_only_other_ports_by_config(judge: Judge, analyzer: Any) -> None:
    g = Graph()
    postgres = g.add(
        t.SG_INGRESS_RULE, "pg", securityGroupId="sg-1", ipProtocol="tcp", fromPort=5432, toPort=5432
    )
    assert judge(g).fired("security-group-rules-https-only") == {postgres.urn}
    try:
        analyzer.configure({"security-group-rules-https-only": {"allowedTcpPorts": [443, 5432]}})
        assert judge(g).fired("security-group-rules-https-only") == set()
    finally:
        analyzer.configure()


# --- 12: endpoint policies never allow any principal of any account ----------------------------------


def test_endpoint_policy_principal_scoped(judge: Judge, base: Baseline) -> None:
    g = base.graph
    alias = base.alias.ref("agentAliasArn")

    def endpoint(name: str, *statements: dict[str, Any]) -> Any:
        return g.add(t.VPC_ENDPOINT_POLICY, name, vpcEndpointId="vpce-1", policy=policy(*statements))

    bad = [
        endpoint("open", allow("bedrock:InvokeAgent", [alias], Principal="*")),
        endpoint("open-aws", allow("bedrock:InvokeAgent", [alias], Principal={"AWS": "*"})),
        # Conditions that do not narrow who calls: the VPC, a negative operator, IfExists, a wildcard.
        endpoint(
            "vpc-only",
            allow(
                "bedrock:InvokeAgent",
                [alias],
                Principal="*",
                Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}},
            ),
        ),
        endpoint(
            "not-equals",
            allow(
                "bedrock:InvokeAgent",
                [alias],
                Principal="*",
                Condition={"StringNotEquals": {"aws:PrincipalAccount": "999999999999"}},
            ),
        ),
        endpoint(
            "if-exists",
            allow(
                "bedrock:InvokeAgent",
                [alias],
                Principal="*",
                Condition={"StringEqualsIfExists": {"aws:PrincipalAccount": ACCOUNT}},
            ),
        ),
        endpoint(
            "wildcard-arn",
            allow(
                "bedrock:InvokeAgent",
                [alias],
                Principal="*",
                Condition={"ArnLike": {"aws:PrincipalArn": "*"}},
            ),
        ),
        endpoint(
            "not-principal",
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "s3:*",
                "Resource": "*",
            },
        ),
    ]
    endpoint(
        "named-role", allow("bedrock:InvokeAgent", [alias], Principal={"AWS": base.roles["invoker"].arn})
    )
    endpoint(
        "org",
        allow(
            "s3:GetObject", "*", Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}
        ),
    )
    endpoint(
        "role-pattern",
        allow(
            "s3:GetObject",
            "*",
            Principal="*",
            Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
        ),
    )
    endpoint("deny-all-others", {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"})
    outcome = judge(g)
    assert outcome.fired("endpoint-policy-principal-scoped") == {n.urn for n in bad}
    assert outcome.messages("endpoint-policy-principal-scoped", bad[0].urn) == [
        "VpcEndpointPolicy 'open' endpoint policy a statement allows any principal of any account"
    ]


# --- 13: invoke permissions name one caller ------------------------------------------------------------
# (wildcard sourceArn cases: tests/policies/test_compute.py::test_lambda_permission_scoped)


def test_wildcard_source_arn_of_the_api_permission(judge: Judge, base: Baseline) -> None:
    permission = next(n for n in base.graph.nodes if n.name == "apigw-invokes-invoker")
    permission.inputs["sourceArn"] = base.api.ref("executionArn", "{}/*/*")
    outcome = judge(base.graph)
    assert outcome.fired("lambda-permission-scoped") == {permission.urn}
    assert outcome.messages("lambda-permission-scoped") == [
        "Permission 'apigw-invokes-invoker' grants apigateway.amazonaws.com for a sourceArn that matches any "
        f"stage and any method (arn:aws:execute-api:{REGION}:{ACCOUNT}:api/*/*)"
    ]


# --- 14: no data trace ---------------------------------------------------------------------------------


def test_api_no_data_trace(judge: Judge, base: Baseline) -> None:
    g = base.graph
    stage_wide = base.method_settings
    stage_wide.inputs["settings"]["dataTraceEnabled"] = True
    one_method = g.add(
        t.METHOD_SETTINGS,
        "post-trace",
        restApi=base.api.id,
        stageName="v1",
        methodPath="chat/POST",
        settings={"dataTraceEnabled": True, "loggingLevel": "INFO"},
    )
    g.add(
        t.METHOD_SETTINGS,
        "post-errors",
        restApi=base.api.id,
        stageName="v1",
        methodPath="chat/POST",
        settings={"dataTraceEnabled": False, "loggingLevel": "ERROR"},
    )
    http_stage = g.add(t.APIGWV2_STAGE, "ws", apiId="ws-1", defaultRouteSettings={"dataTraceEnabled": True})
    route = g.add(
        t.APIGWV2_STAGE,
        "ws-route",
        apiId="ws-1",
        routeSettings=[{"routeKey": "$default", "dataTraceEnabled": True}],
    )
    g.add(t.APIGWV2_STAGE, "ws-quiet", apiId="ws-1", defaultRouteSettings={"dataTraceEnabled": False})
    outcome = judge(g)
    assert outcome.fired("api-no-data-trace") == {stage_wide.urn, one_method.urn, http_stage.urn, route.urn}
    assert outcome.messages("api-no-data-trace", stage_wide.urn) == [
        "MethodSettings 'throttle' enables data trace (methodPath '*/*'): prompts and answers would be logged"
    ]


# --- 15: reserved concurrency 0 ------------------------------------------------------------------------


def test_lambda_reserved_concurrency_not_zero(judge: Judge, base: Baseline) -> None:
    invoker, tools = base.functions["invoker"], base.functions["action_group"]
    invoker.inputs["reservedConcurrentExecutions"] = 0
    tools.inputs["reservedConcurrentExecutions"] = 5
    outcome = judge(base.graph)
    assert outcome.fired("lambda-reserved-concurrency-not-zero") == {invoker.urn}
    base.functions["invoker"].inputs["reservedConcurrentExecutions"] = -1  # unreserved
    assert judge(base.graph).fired("lambda-reserved-concurrency-not-zero") == set()


# --- 16: production stacks protect what holds data -----------------------------------------------------


def test_stateful_resources_protected_in_production(judge: Judge) -> None:
    prod = Graph(default_tags={"Project": "p", "Environment": "prod"})
    unprotected = prod.add(t.LOG_GROUP, "logs", name="/app", retentionInDays=30)
    key = prod.add(t.KMS_KEY, "key", enableKeyRotation=True)
    protected = prod.add(t.LOG_GROUP, "kept", name="/kept", retentionInDays=30, protect=True)
    prod.add(t.ROLE, "stateless", assumeRolePolicy="{}")  # not stateful: never needs protect
    outcome = judge(prod)
    assert outcome.fired("stateful-resources-protected") == {unprotected.urn, key.urn}
    assert protected.urn not in outcome.fired("stateful-resources-protected")
    assert outcome.messages("stateful-resources-protected", key.urn) == [
        "Key 'key' is not protected in a production stack (Environment=prod)"
    ]
    # The same resources in a dev stack (the Environment tag comes from the stack's aws:defaultTags).
    dev = Graph(default_tags={"Project": "p", "Environment": "dev"})
    dev.add(t.LOG_GROUP, "logs", name="/app", retentionInDays=30)
    assert judge(dev).fired("stateful-resources-protected") == set()
    # A resource's own tag wins over the provider's default tags.
    tagged = dev.add(t.KMS_KEY, "prod-key", enableKeyRotation=True, tags={"Environment": "Production"})
    assert judge(dev).fired("stateful-resources-protected") == {tagged.urn}


# --- 17: the invoker targets an alias ------------------------------------------------------------------


def test_bedrock_invoker_targets_alias(judge: Judge, base: Baseline) -> None:
    g = base.graph
    agent_arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/{AGENT_ID}"
    grant = g.add(
        t.ROLE_POLICY,
        "agent-arn-grant",
        role=base.roles["invoker"].id,
        policy=policy(allow("bedrock:InvokeAgent", [agent_arn])),
    )
    endpoint = base.endpoints["bedrock-agent-runtime"]
    endpoint.inputs["policy"] = policy(
        allow("bedrock:InvokeAgent", [agent_arn], Principal={"AWS": base.roles["invoker"].arn})
    )
    invoker = base.functions["invoker"]
    invoker.inputs["environment"]["variables"]["AGENT_ALIAS_ID"] = base.agent.ref("agentId")
    outcome = judge(g)
    assert outcome.fired("bedrock-invoker-targets-alias") == {grant.urn, endpoint.urn, invoker.urn}
    assert outcome.messages("bedrock-invoker-targets-alias", invoker.urn) == [
        "Function 'invoker' environment variable AGENT_ALIAS_ID is an identifier of AgentAgent 'agent', "
        "not an alias"
    ]


def test_bedrock_invoker_targets_alias_compliant(judge: Judge, base: Baseline) -> None:
    # The baseline grants and configures the live alias (AGENT_ID holding the agent id is expected).
    assert judge(base.graph).fired("bedrock-invoker-targets-alias") == set()


# --- 18: the test alias, with IAM's pattern and Deny semantics -----------------------------------------


def _invoker_grant(base: Baseline, *statements: dict[str, Any]) -> Any:
    return base.graph.add(
        t.ROLE_POLICY, "alias-grant", role=base.roles["invoker"].id, policy=policy(*statements)
    )


def _deny(resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": "bedrock:InvokeAgent", "Resource": resource, **extra}


def test_draft_alias_pattern_without_deny_fires(judge: Judge, base: Baseline) -> None:
    for pattern in (
        f"{ALIAS_PREFIX}/*",
        f"{ALIAS_PREFIX}/TST*",
        f"{ALIAS_PREFIX}/??????????",
        f"arn:aws:bedrock:*:{ACCOUNT}:agent-alias/*",
        "arn:aws:bedrock:*",
        "*",
    ):
        grant = _invoker_grant(base, allow("bedrock:InvokeAgent", [pattern]))
        outcome = judge(base.graph)
        assert outcome.fired("bedrock-no-draft-alias") == {grant.urn}, pattern
        base.graph.remove(grant)


def test_draft_alias_pattern_with_explicit_deny_passes(judge: Judge, base: Baseline) -> None:
    # The invoker grant the deploy change makes: every alias of the agent, minus the test alias.
    _invoker_grant(base, allow("bedrock:InvokeAgent", [f"{ALIAS_PREFIX}/*"]), _deny(DRAFT))
    assert judge(base.graph).fired("bedrock-no-draft-alias") == set()


def test_draft_alias_deny_in_another_policy_of_the_role_counts(judge: Judge, base: Baseline) -> None:
    _invoker_grant(base, allow("bedrock:InvokeAgent", [f"{ALIAS_PREFIX}/*"]))
    base.graph.add(
        t.ROLE_POLICY,
        "deny-draft",
        role=base.roles["invoker"].id,
        policy=policy(_deny(f"{ALIAS_PREFIX}/TSTALIAS??")),
    )
    assert judge(base.graph).fired("bedrock-no-draft-alias") == set()


def test_draft_alias_deny_that_does_not_cover_fires(judge: Judge, base: Baseline) -> None:
    cases = [
        # a Deny of another agent's test alias, or with a condition that may not hold
        _deny(f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent-alias/OTHER/TSTALIASID"),
        _deny(DRAFT, Condition={"StringEquals": {"aws:RequestedRegion": REGION}}),
        # a Deny of a different action
        {"Effect": "Deny", "Action": "bedrock:GetAgentAlias", "Resource": DRAFT},
    ]
    for deny in cases:
        grant = _invoker_grant(base, allow("bedrock:InvokeAgent", [f"{ALIAS_PREFIX}/*"]), deny)
        assert judge(base.graph).fired("bedrock-no-draft-alias") == {grant.urn}, deny
        base.graph.remove(grant)
    # A Deny in a policy of another role does not protect this one.
    other = base.graph.add(
        t.ROLE_POLICY, "deny-elsewhere", role=base.roles["agent"].id, policy=policy(_deny(DRAFT))
    )
    grant = _invoker_grant(base, allow("bedrock:InvokeAgent", [f"{ALIAS_PREFIX}/*"]))
    assert judge(base.graph).fired("bedrock-no-draft-alias") == {grant.urn}
    assert other.urn not in judge(base.graph).fired("bedrock-no-draft-alias")


def test_draft_alias_not_resource_allow(judge: Judge, base: Baseline) -> None:
    grant = _invoker_grant(
        base, {"Effect": "Allow", "Action": "bedrock:InvokeAgent", "NotResource": f"{ALIAS_PREFIX}/LIVE*"}
    )
    assert judge(base.graph).fired("bedrock-no-draft-alias") == {grant.urn}
    base.graph.remove(grant)
    _invoker_grant(
        base,
        {
            "Effect": "Allow",
            "Action": "bedrock:InvokeAgent",
            "NotResource": "arn:aws:bedrock:*:*:agent-alias/*/TSTALIASID",
        },
        allow("bedrock:InvokeAgent", [LIVE_ALIAS]),
    )
    assert judge(base.graph).fired("bedrock-no-draft-alias") == set()


def test_exact_live_alias_passes(judge: Judge, base: Baseline) -> None:
    _invoker_grant(base, allow("bedrock:InvokeAgent", [LIVE_ALIAS]), allow("bedrock:GetAgent", [DRAFT]))
    assert judge(base.graph).fired("bedrock-no-draft-alias") == set()


# --- 19: settings AWS rejects at deploy time ----------------------------------------------------------


def test_bedrock_agent_settings_accepted(judge: Judge, base: Baseline) -> None:
    g = base.graph
    base.agent.inputs["idleSessionTtlInSeconds"] = 59
    good = [
        g.add(t.AGENT_ACTION_GROUP, name, actionGroupName=name, agentId="A", agentVersion="DRAFT")
        for name in ("client_tools", "client-tools", "a1-b2_c3")
    ]
    bad = [
        g.add(t.AGENT_ACTION_GROUP, f"bad-{i}", actionGroupName=name, agentId="A", agentVersion="DRAFT")
        for i, name in enumerate(("client tools", "tools__x", "-tools", "x" * 101, "tools.v2", "tools\n"))
    ]
    outcome = judge(g)
    assert outcome.fired("bedrock-agent-settings-accepted") == {base.agent.urn, *(n.urn for n in bad)}
    assert not {n.urn for n in good} & outcome.fired("bedrock-agent-settings-accepted")
    base.agent.inputs["idleSessionTtlInSeconds"] = 60
    assert base.agent.urn not in judge(g).fired("bedrock-agent-settings-accepted")


def test_api_integration_timeout_within_function_timeout(judge: Judge, base: Baseline) -> None:
    integration = next(n for n in base.graph.nodes if n.type == t.INTEGRATION)
    invoker = base.functions["invoker"]
    integration.inputs["timeoutMilliseconds"] = 29000
    invoker.inputs["timeout"] = 10
    outcome = judge(base.graph)
    assert outcome.fired("api-integration-timeout-within-function-timeout") == {integration.urn}
    assert outcome.messages("api-integration-timeout-within-function-timeout") == [
        "Integration 'chat-post-integration' waits 29000 ms but Function 'invoker' is stopped after 10 s: "
        "Lambda kills the function mid-answer and API Gateway returns a bare 502"
    ]
    del invoker.inputs["timeout"]  # Lambda's default: 3 s, against API Gateway's default 29 s
    del integration.inputs["timeoutMilliseconds"]
    assert judge(base.graph).fired("api-integration-timeout-within-function-timeout") == {integration.urn}
    invoker.inputs["timeout"] = 29
    assert judge(base.graph).fired("api-integration-timeout-within-function-timeout") == set()


# --- messages: a deprecated runtime is named as one ------------------------------------------------------


def test_a_deprecated_runtime_is_reported_as_deprecated(judge: Judge, base: Baseline) -> None:
    invoker, tools = base.functions["invoker"], base.functions["action_group"]
    invoker.inputs["runtime"] = "python3.9"
    tools.inputs["runtime"] = "nodejs22.x"
    outcome = judge(base.graph)
    assert outcome.fired("lambda-supported-runtime") == {invoker.urn, tools.urn}
    assert outcome.messages("lambda-supported-runtime", invoker.urn) == [
        "Function 'invoker' uses the deprecated runtime 'python3.9' (deprecated by AWS Lambda on 2025-12-15: "
        "no security patches, then no creates and updates); use one of python3.12, python3.13, python3.14"
    ]
    assert outcome.messages("lambda-supported-runtime", tools.urn) == [
        "Function 'action_group' uses runtime 'nodejs22.x'; allowed: python3.12, python3.13, python3.14"
    ]
