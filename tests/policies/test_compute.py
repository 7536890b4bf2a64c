"""Lambda rules."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.baseline import Baseline
from tests.policies.builder import ACCOUNT, REGION, Graph, Node
from tests.policies.conftest import Judge

AGENT_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/AGENT12345"


def _fn(g: Graph, name: str, **props: Any) -> Node:
    return g.add(t.FUNCTION, name, **{"name": name, "runtime": "python3.13", **props})


def test_lambda_in_vpc(judge: Judge) -> None:
    g = Graph()
    sg, subnet = g.add(t.SECURITY_GROUP, "sg"), g.add(t.SUBNET, "subnet", vpcId="vpc-1")
    bad = {
        _fn(g, "outside").urn,
        _fn(g, "no-sg", vpcConfig={"subnetIds": [subnet.id], "securityGroupIds": []}).urn,
    }
    _fn(g, "inside", vpcConfig={"subnetIds": [subnet.id], "securityGroupIds": [sg.id]})
    assert judge(g).fired("lambda-in-vpc") == bad
    assert judge(g, preview=True).fired("lambda-in-vpc") == bad


def test_lambda_private_subnets_only_public_ip(judge: Judge, base: Baseline) -> None:
    base.subnets[0].inputs["mapPublicIpOnLaunch"] = True
    outcome = judge(base.graph)
    assert outcome.fired("lambda-private-subnets-only") == {fn.urn for fn in base.functions.values()}
    assert outcome.messages("lambda-private-subnets-only", base.functions["invoker"].urn) == [
        "Function 'invoker' runs in a subnet that is not private: "
        "Subnet 'private-a' assigns public IPs on launch"
    ]


def test_lambda_private_subnets_only_internet_route(judge: Judge, base: Baseline) -> None:
    g = base.graph
    igw = g.add(t.INTERNET_GATEWAY, "igw", vpcId=base.vpc.id)
    g.add(
        t.ROUTE,
        "to-igw",
        routeTableId=base.route_table.id,
        destinationCidrBlock="198.51.100.0/24",
        gatewayId=igw.id,
    )
    # During preview the gateway id is unknown; the route is traced through its dependency on the gateway.
    assert judge(g, preview=True).fired("lambda-private-subnets-only") == {
        fn.urn for fn in base.functions.values()
    }


def test_lambda_private_subnets_only_main_route_table_and_unmanaged_subnet(
    judge: Judge, base: Baseline
) -> None:
    g = base.graph
    lonely = g.add(t.SUBNET, "no-association", vpcId=base.vpc.id, cidrBlock="10.0.9.0/24")
    public_rt = g.add(
        t.ROUTE_TABLE,
        "public-rt",
        vpcId=base.vpc.id,
        routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}],
    )
    g.add(t.MAIN_ROUTE_TABLE_ASSOCIATION, "main", vpcId=base.vpc.id, routeTableId=public_rt.id)
    vpc_config = {"securityGroupIds": [base.sg.id]}
    via_main = _fn(g, "via-main", vpcConfig={**vpc_config, "subnetIds": [lonely.id]})
    external = _fn(g, "external", vpcConfig={**vpc_config, "subnetIds": ["subnet-0123456789abcdef0"]})
    outcome = judge(g)
    assert outcome.fired("lambda-private-subnets-only") == {via_main.urn, external.urn}
    assert outcome.messages("lambda-private-subnets-only", external.urn) == [
        "Function 'external' uses subnet subnet-0123456789abcdef0, unmanaged here: cannot prove it private"
    ]


def test_lambda_explicit_log_group(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.log_groups["invoker"])
    base.log_groups["action_group"].inputs["retentionInDays"] = 0
    outcome = judge(g)
    assert outcome.fired("lambda-explicit-log-group") == {fn.urn for fn in base.functions.values()}
    assert outcome.messages("lambda-explicit-log-group", base.functions["invoker"].urn) == [
        "Function 'invoker' has no explicit log group '/aws/lambda/invoker' in the stack; "
        "Lambda would create one itself, unencrypted and never expiring"
    ]


def test_lambda_explicit_log_group_for_autonamed_function_in_preview(judge: Judge) -> None:
    g = Graph()
    named = g.add(t.FUNCTION, "autonamed", runtime="python3.13")  # name assigned by the provider
    group = g.add(t.LOG_GROUP, "autonamed-logs", name=named.ref("name", "/aws/lambda/{}"), retentionInDays=30)
    assert judge(g, preview=True).fired("lambda-explicit-log-group") == set()
    group.inputs["retentionInDays"] = 0
    assert judge(g, preview=True).fired("lambda-explicit-log-group") == {named.urn}
    g.remove(group)
    orphan = _fn(g, "orphan")
    assert judge(g).fired("lambda-explicit-log-group") == {named.urn, orphan.urn}


def test_lambda_no_plaintext_secrets(judge: Judge) -> None:
    g = Graph()

    def env(name: str, **variables: str) -> Node:
        return _fn(g, name, environment={"variables": variables})

    bad = [
        env("password", DB_PASSWORD="hunter2"),
        env("api-key", OPENAI_API_KEY="abc"),
        env("access-key", CONFIG="AKIAABCDEFGHIJKLMNOP"),
        env("pem", CERT="-----BEGIN RSA PRIVATE KEY-----\nMIIE..."),
    ]
    env(
        "pointers",
        DB_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
        API_KEY_PARAMETER="/app/key",
    )
    env("not-secret", MAX_TOKENS="512", TOKENIZER="cl100k", AGENT_ALIAS_ID="ALIAS12345")
    outcome = judge(g)
    assert outcome.fired("lambda-no-plaintext-secrets") == {n.urn for n in bad}
    assert all(
        "AKIA" not in m and "hunter2" not in m for m in outcome.messages("lambda-no-plaintext-secrets")
    )


def test_lambda_supported_runtime(judge: Judge) -> None:
    g = Graph()
    bad = {_fn(g, "old", runtime="python3.9").urn, _fn(g, "node", runtime="nodejs22.x").urn}
    _fn(g, "current", runtime="python3.13")
    _fn(g, "image", runtime=None, packageType="Image", imageUri="123.dkr.ecr.us-east-1.amazonaws.com/x:1")
    assert judge(g).fired("lambda-supported-runtime") == bad


def test_lambda_permission_scoped(judge: Judge) -> None:
    g = Graph()

    def permission(name: str, **props: Any) -> Node:
        return g.add(t.PERMISSION, name, action="lambda:InvokeFunction", function="fn", **props)

    bad = [
        permission("public", principal="*"),
        permission("bedrock-no-account", principal="bedrock.amazonaws.com", sourceArn=AGENT_ARN),
        permission("apigw-no-arn", principal="apigateway.amazonaws.com"),
        permission(
            "any-account", principal="events.amazonaws.com", sourceArn="arn:aws:events:us-east-1:*:rule/x"
        ),
        permission("url", principal="123456789012", functionUrlAuthType="NONE"),
        # Wildcard callers: every agent of the account, every stage and method of an API.
        permission(
            "any-agent",
            principal="bedrock.amazonaws.com",
            sourceArn=f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/*",
            sourceAccount=ACCOUNT,
        ),
        permission(
            "apigw-any-stage",
            principal="apigateway.amazonaws.com",
            sourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api/*/*",
        ),
        permission(
            "apigw-any-method",
            principal="apigateway.amazonaws.com",
            sourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api/v1/*/chat",
        ),
        permission(
            "agent-prefix",
            principal="bedrock.amazonaws.com",
            sourceArn=f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/AB?CD*",
            sourceAccount=ACCOUNT,
        ),
    ]
    permission("bedrock", principal="bedrock.amazonaws.com", sourceArn=AGENT_ARN, sourceAccount=ACCOUNT)
    for name, route in (("apigw-post", "POST/chat"), ("apigw-delete", "DELETE/chat/*")):
        # A path parameter ({sessionId}) is `*` in the ARN: the API, stage and method stay literal.
        permission(
            name,
            principal="apigateway.amazonaws.com",
            sourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api/v1/{route}",
        )
    permission("account", principal=ACCOUNT)
    assert judge(g).fired("lambda-permission-scoped") == {n.urn for n in bad}


def test_lambda_url_requires_auth(judge: Judge) -> None:
    g = Graph()
    bad = g.add(t.FUNCTION_URL, "public-url", functionName="fn", authorizationType="NONE")
    g.add(t.FUNCTION_URL, "iam-url", functionName="fn", authorizationType="AWS_IAM")
    assert judge(g).fired("lambda-url-requires-auth") == {bad.urn}


def test_lambda_tracing_active(judge: Judge) -> None:
    g = Graph()
    bad = {_fn(g, "untraced").urn, _fn(g, "passthrough", tracingConfig={"mode": "PassThrough"}).urn}
    _fn(g, "traced", tracingConfig={"mode": "Active"})
    assert judge(g).fired("lambda-tracing-active") == bad
