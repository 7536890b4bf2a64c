"""A complete stack that satisfies every rule of the pack: the shape the program is expected to have.

Stack-rule tests break one thing in it and assert the exact rule fires on the exact URN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, REGION, Graph, Node, allow, policy, trust

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
MODEL_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{MODEL}"
SOURCE = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@dataclass
class Baseline:
    graph: Graph
    key: Node
    vpc: Node
    default_sg: Node
    subnets: list[Node]
    route_table: Node
    sg: Node
    ingress: Node
    egress: Node
    endpoints: dict[str, Node]
    flow_log: Node
    functions: dict[str, Node]
    log_groups: dict[str, Node]
    roles: dict[str, Node]
    agent_role_policy: Node
    agent: Node
    alias: Node
    api: Node
    methods: dict[str, Node]
    stage: Node
    method_settings: Node


def _log_group(g: Graph, name: str, key: Node, days: int = 30) -> Node:
    return g.add(
        t.LOG_GROUP, name.strip("/").replace("/", "-"), name=name, retentionInDays=days, kmsKeyId=key.arn
    )


def _function(
    g: Graph, name: str, role: Node, subnets: list[Node], sg: Node, group: Node, **env: Any
) -> Node:
    return g.add(
        t.FUNCTION,
        name,
        name=name,
        role=role.arn,
        runtime="python3.13",
        timeout=30,
        handler=f"functions.{name}.handler.handler",
        vpcConfig={"subnetIds": [s.id for s in subnets], "securityGroupIds": [sg.id]},
        loggingConfig={"logGroup": group.ref("name"), "logFormat": "JSON"},
        environment={"variables": {"POWERTOOLS_SERVICE_NAME": name, **env}},
        tracingConfig={"mode": "Active"},
    )


def build() -> Baseline:
    g = Graph()
    key = g.add(
        t.KMS_KEY,
        "logs-key",
        enableKeyRotation=True,
        policy=policy(
            allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
            allow(
                ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
                "*",
                Principal={"Service": f"logs.{REGION}.amazonaws.com"},
                Condition={
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"}
                },
            ),
        ),
    )
    vpc = g.add(t.VPC, "vpc", cidrBlock="10.0.0.0/16", enableDnsSupport=True, enableDnsHostnames=True)
    default_sg = g.add(t.DEFAULT_SECURITY_GROUP, "default-sg", vpcId=vpc.id)
    subnets = [
        g.add(t.SUBNET, f"private-{az}", vpcId=vpc.id, cidrBlock=f"10.0.{i}.0/24", mapPublicIpOnLaunch=False)
        for i, az in enumerate("ab")
    ]
    route_table = g.add(t.ROUTE_TABLE, "private-rt", vpcId=vpc.id)
    for subnet in subnets:
        g.add(
            t.ROUTE_TABLE_ASSOCIATION, f"{subnet.name}-rta", subnetId=subnet.id, routeTableId=route_table.id
        )
    sg = g.add(t.SECURITY_GROUP, "endpoints-sg", vpcId=vpc.id, description="Lambdas and interface endpoints")
    https: dict[str, Any] = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
    ingress = g.add(
        t.SG_INGRESS_RULE, "sg-https-in", securityGroupId=sg.id, referencedSecurityGroupId=sg.id, **https
    )
    egress = g.add(
        t.SG_EGRESS_RULE, "sg-https-out", securityGroupId=sg.id, referencedSecurityGroupId=sg.id, **https
    )

    flow_group = _log_group(g, "/vpc/flow-logs", key, 90)
    flow_role = g.add(
        t.ROLE, "flow-log-role", assumeRolePolicy=trust("vpc-flow-logs.amazonaws.com", **SOURCE)
    )
    g.add(
        t.ROLE_POLICY,
        "flow-log-policy",
        role=flow_role.id,
        policy=policy(allow(["logs:CreateLogStream", "logs:PutLogEvents"], [flow_group.arn])),
    )
    flow_log = g.add(
        t.FLOW_LOG,
        "flow-log",
        vpcId=vpc.id,
        trafficType="ALL",
        logDestination=flow_group.arn,
        iamRoleArn=flow_role.arn,
    )

    agent_role = g.add(
        t.ROLE,
        "agent-role",
        assumeRolePolicy=trust(
            "bedrock.amazonaws.com",
            StringEquals={"aws:SourceAccount": ACCOUNT},
            ArnLike={"aws:SourceArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/*"},
        ),
    )
    agent_role_policy = g.add(
        t.ROLE_POLICY,
        "agent-model",
        role=agent_role.id,
        policy=policy(allow(["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], [MODEL_ARN])),
    )
    agent = g.add(
        t.AGENT,
        "agent",
        agentName="agent",
        agentResourceRoleArn=agent_role.arn,
        foundationModel=MODEL,
        idleSessionTtlInSeconds=600,
        guardrailConfigurations=[{"guardrailIdentifier": "gr-123", "guardrailVersion": "1"}],
        customerEncryptionKeyArn=key.arn,
        outputs={"agentId": "AGENT12345", "agentArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent/AGENT12345"},
    )
    alias = g.add(
        t.AGENT_ALIAS,
        "agent-live",
        agentAliasName="live",
        agentId=agent.ref("agentId"),
        outputs={
            "agentAliasId": "ALIAS12345",
            "agentAliasArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:agent-alias/AGENT12345/ALIAS12345",
        },
    )

    roles, log_groups, functions = {"agent": agent_role, "flow-log": flow_role}, {"flow": flow_group}, {}
    for name in ("invoker", "action_group"):
        group = log_groups[name] = _log_group(g, f"/aws/lambda/{name}", key)
        role = roles[name] = g.add(t.ROLE, f"{name}-role", assumeRolePolicy=trust("lambda.amazonaws.com"))
        statements = [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], [group.arn]),
            allow(["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"], "*"),
        ]
        if name == "invoker":
            statements.append(allow("bedrock:InvokeAgent", [alias.ref("agentAliasArn")]))
        g.add(t.ROLE_POLICY, f"{name}-policy", role=role.id, policy=policy(*statements))
        env = (
            {
                "AGENT_ID": agent.ref("agentId"),
                "AGENT_ALIAS_ID": alias.ref("agentAliasId"),
                "ALLOWED_ORIGINS": '["https://app.example.com"]',
            }
            if name == "invoker"
            else {}
        )
        functions[name] = _function(g, name, role, subnets, sg, group, **env)

    g.add(
        t.AGENT_ACTION_GROUP,
        "tools",
        actionGroupName="tools",
        agentId=agent.ref("agentId"),
        agentVersion="DRAFT",
        actionGroupExecutor={"lambda": functions["action_group"].arn},
    )
    g.add(
        t.PERMISSION,
        "bedrock-invokes-tools",
        action="lambda:InvokeFunction",
        function=functions["action_group"].ref("name"),
        principal="bedrock.amazonaws.com",
        sourceArn=agent.ref("agentArn"),
        sourceAccount=ACCOUNT,
    )

    endpoints = {
        service: g.add(
            t.VPC_ENDPOINT,
            f"{service}-endpoint",
            vpcId=vpc.id,
            serviceName=f"com.amazonaws.{REGION}.{service}",
            vpcEndpointType="Interface",
            privateDnsEnabled=True,
            subnetIds=[s.id for s in subnets],
            securityGroupIds=[sg.id],
            policy=policy(
                allow(
                    actions,
                    resources,
                    Principal="*",
                    Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
                )
            ),
        )
        for service, actions, resources in (
            ("bedrock-agent-runtime", "bedrock:InvokeAgent", [alias.ref("agentAliasArn")]),
            ("logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [lg.arn for lg in log_groups.values()]),
        )
    }

    api = g.add(
        t.REST_API,
        "api",
        name="agent-api",
        outputs={"executionArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api"},
    )
    # Someone is told when the API fails (api-has-alarms).
    alarms = g.add("aws:sns/topic:Topic", "alarms", outputs={"arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"})
    g.add("aws:cloudwatch/metricAlarm:MetricAlarm", "api-5xx", alarmActions=[alarms.arn])
    resource = g.add(t.API_RESOURCE, "chat", restApi=api.id, parentId="root", pathPart="chat")
    methods = {
        verb: g.add(
            t.METHOD,
            f"chat-{verb.lower()}",
            restApi=api.id,
            resourceId=resource.id,
            httpMethod=verb,
            authorization=auth,
        )
        for verb, auth in (("POST", "AWS_IAM"), ("OPTIONS", "NONE"))
    }
    g.add(
        t.INTEGRATION,
        "chat-post-integration",
        restApi=api.id,
        resourceId=resource.id,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=functions["invoker"].arn,
    )
    deployment = g.add(t.DEPLOYMENT, "deployment", restApi=api.id)
    api_group = _log_group(g, "/aws/apigateway/agent-api", key, 90)
    stage = g.add(
        t.STAGE,
        "stage",
        restApi=api.id,
        deployment=deployment.id,
        stageName="v1",
        accessLogSettings={"destinationArn": api_group.arn, "format": '{"requestId":"$context.requestId"}'},
        xrayTracingEnabled=True,
    )
    method_settings = g.add(
        t.METHOD_SETTINGS,
        "throttle",
        restApi=api.id,
        stageName=stage.ref("stageName"),
        methodPath="*/*",
        settings={"throttlingRateLimit": 5, "throttlingBurstLimit": 10, "metricsEnabled": True},
    )
    g.add(
        t.PERMISSION,
        "apigw-invokes-invoker",
        action="lambda:InvokeFunction",
        function=functions["invoker"].ref("name"),
        principal="apigateway.amazonaws.com",
        sourceArn=api.ref("executionArn", "{}/v1/POST/chat"),
    )
    return Baseline(
        graph=g,
        key=key,
        vpc=vpc,
        default_sg=default_sg,
        subnets=subnets,
        route_table=route_table,
        sg=sg,
        ingress=ingress,
        egress=egress,
        endpoints=endpoints,
        flow_log=flow_log,
        functions=functions,
        log_groups=log_groups,
        roles=roles,
        agent_role_policy=agent_role_policy,
        agent=agent,
        alias=alias,
        api=api,
        methods=methods,
        stage=stage,
        method_settings=method_settings,
    )
