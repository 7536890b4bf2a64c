"""The private network, as the dev and prod stacks register it (values and wiring, not existence)."""

from __future__ import annotations

import ipaddress

import pytest

from offline.engine import MOCK_ACCOUNT_ID, ProgramRun
from tests.program.conftest import RunProgram, policy_document

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

# Nothing in the program may give the VPC a way to the internet.
PUBLIC_PATH_TYPES = {
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/route:Route",
    "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
    "aws:ec2/vpnGateway:VpnGateway",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
}


@pytest.fixture
def dev(program: RunProgram) -> ProgramRun:
    return program("dev")


def test_one_vpc_with_the_configured_block_and_dns_on(dev: ProgramRun) -> None:
    vpc = dev.one(VPC)
    assert vpc.inputs["cidrBlock"] == "10.4.0.0/16"
    assert vpc.inputs["enableDnsSupport"] is True
    assert vpc.inputs["enableDnsHostnames"] is True
    assert dev.outputs["vpcId"] == vpc.outputs["id"]


@pytest.mark.parametrize(
    ("stack", "azs", "vpc_block"), [("dev", 1, "10.4.0.0/16"), ("prod", 3, "10.20.0.0/16")]
)
def test_one_private_subnet_per_distinct_az_disjoint_and_inside_the_vpc(
    program: RunProgram, stack: str, azs: int, vpc_block: str
) -> None:
    run = program(stack)
    vpc = run.one(VPC)
    subnets = run.of_type(SUBNET)
    assert len(subnets) == azs
    zones = [subnet.inputs["availabilityZone"] for subnet in subnets]
    assert sorted(zones) == [f"us-east-1{letter}" for letter in "abcdef"[:azs]]
    blocks = [ipaddress.IPv4Network(subnet.inputs["cidrBlock"]) for subnet in subnets]
    assert all(block.subnet_of(ipaddress.IPv4Network(vpc_block)) for block in blocks)
    assert all(not a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    assert all(block.prefixlen == 19 for block in blocks)
    for subnet in subnets:
        assert subnet.inputs["vpcId"] == vpc.outputs["id"]
        assert subnet.inputs["mapPublicIpOnLaunch"] is False
    assert sorted(run.outputs["privateSubnetIds"]) == sorted(s.outputs["id"] for s in subnets)


def test_adding_an_az_keeps_existing_subnet_blocks(program: RunProgram) -> None:
    def blocks(run: ProgramRun) -> dict[str, str]:
        return {s.inputs["availabilityZone"]: s.inputs["cidrBlock"] for s in run.of_type(SUBNET)}

    two, three = blocks(program("dev")), blocks(program("dev", azCount=3))
    assert {zone: three[zone] for zone in two} == two
    assert three["us-east-1c"] == "10.4.64.0/19"


def test_nothing_leads_out_of_the_vpc(dev: ProgramRun) -> None:
    assert not PUBLIC_PATH_TYPES & {resource.type for resource in dev.resources}
    subnet_ids = {subnet.outputs["id"] for subnet in dev.of_type(SUBNET)}
    tables = dev.of_type(ROUTE_TABLE)
    assert len(tables) == len(subnet_ids)
    for table in tables:
        # Only the implicit local route: no inline routes at all.
        assert not table.inputs.get("routes")
        assert not table.inputs.get("propagatingVgws")
    associations = dev.of_type(ASSOCIATION)
    assert {a.inputs["subnetId"] for a in associations} == subnet_ids
    assert {a.inputs["routeTableId"] for a in associations} == {t.outputs["id"] for t in tables}


def test_default_security_group_is_adopted_and_stripped(dev: ProgramRun) -> None:
    default = dev.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["vpcId"] == dev.one(VPC).outputs["id"]
    assert default.inputs.get("ingress", []) == []
    assert default.inputs.get("egress", []) == []


def test_shared_security_group_only_talks_https_to_itself(dev: ProgramRun) -> None:
    group = dev.one(SECURITY_GROUP)
    group_id = group.outputs["id"]
    assert dev.outputs["securityGroupId"] == group_id
    # No inline rules: every rule is a separate resource.
    assert not group.inputs.get("ingress")
    assert not group.inputs.get("egress")
    for rule_type in (INGRESS, EGRESS):
        rules = [rule for rule in dev.of_type(rule_type) if rule.inputs["securityGroupId"] == group_id]
        assert len(rules) == 1, rule_type
        rule = rules[0].inputs
        assert rule["referencedSecurityGroupId"] == group_id
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
        assert "cidrIpv4" not in rule
        assert "cidrIpv6" not in rule
        assert rule["description"]


def test_interface_endpoints_use_private_dns_all_subnets_and_the_shared_group(dev: ProgramRun) -> None:
    subnet_ids = sorted(subnet.outputs["id"] for subnet in dev.of_type(SUBNET))
    group_id = dev.one(SECURITY_GROUP).outputs["id"]
    endpoints = {e.inputs["serviceName"]: e for e in dev.of_type(ENDPOINT)}
    # Nothing in the VPC calls the CloudWatch Logs API, so logs is not a default endpoint.
    assert set(endpoints) == {"com.amazonaws.us-east-1.bedrock-agent-runtime"}
    for endpoint in endpoints.values():
        assert endpoint.inputs["vpcEndpointType"] == "Interface"
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert endpoint.inputs["vpcId"] == dev.one(VPC).outputs["id"]
        assert sorted(endpoint.inputs["subnetIds"]) == subnet_ids
        assert endpoint.inputs["securityGroupIds"] == [group_id]
    assert dev.outputs["endpointIds"] == {
        "bedrock-agent-runtime": endpoints["com.amazonaws.us-east-1.bedrock-agent-runtime"].outputs["id"],
    }


def test_endpoint_policy_admits_only_this_account(program: RunProgram) -> None:
    run = program("dev", interfaceEndpoints=["logs", "sts"])
    for endpoint in run.of_type(ENDPOINT):
        (statement,) = policy_document(endpoint.inputs["policy"])["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": MOCK_ACCOUNT_ID}}


def test_endpoint_list_is_configurable_and_accepts_full_service_names(program: RunProgram) -> None:
    run = program("dev", interfaceEndpoints=["com.amazonaws.us-east-1.logs", "ecr.api", "sts"])
    assert sorted(e.inputs["serviceName"] for e in run.of_type(ENDPOINT)) == [
        "com.amazonaws.us-east-1.ecr.api",
        "com.amazonaws.us-east-1.logs",
        "com.amazonaws.us-east-1.sts",
    ]


def test_flow_logs_go_to_an_encrypted_retained_log_group(dev: ProgramRun) -> None:
    key = dev.one(KMS_KEY)
    group = dev.one(LOG_GROUP, "network-flow-logs")
    assert group.inputs["name"] == "/bedrock-vpc-agent-dev/vpc-flow-logs"
    assert group.inputs["retentionInDays"] == 30  # Pulumi.yaml default
    assert group.inputs["kmsKeyId"] == key.outputs["arn"]
    flow_log = dev.one(FLOW_LOG)
    assert flow_log.inputs["vpcId"] == dev.one(VPC).outputs["id"]
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow_log.inputs["logDestination"] == group.outputs["arn"]
    role = dev.one(ROLE, "network-flow-logs-role")
    assert flow_log.inputs["iamRoleArn"] == role.outputs["arn"]


def test_flow_log_role_is_for_this_accounts_flow_logs_and_writes_only_its_group(dev: ProgramRun) -> None:
    role = dev.one(ROLE, "network-flow-logs-role")
    (trust,) = policy_document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{MOCK_ACCOUNT_ID}:vpc-flow-log/*"},
    }
    policy = dev.one(ROLE_POLICY, "network-flow-logs-delivery")
    assert policy.inputs["role"] == role.outputs["id"]
    (statement,) = policy_document(policy.inputs["policy"])["Statement"]
    group_arn = dev.one(LOG_GROUP, "network-flow-logs").outputs["arn"]
    assert statement["Resource"] == [group_arn, f"{group_arn}:log-stream:*"]
    assert sorted(statement["Action"]) == [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ]


def test_logs_key_rotates_and_lets_only_this_stacks_log_groups_use_it(dev: ProgramRun) -> None:
    key = dev.one(KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in policy_document(key.inputs["policy"])["Statement"]}
    admin = statements["EnableIamPoliciesOfThisAccount"]
    assert admin["Principal"] == {"AWS": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:root"}
    logs = statements["AllowCloudWatchLogsForThisStackOnly"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert "kms:*" not in logs["Action"]
    prefix = f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:log-group:"
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": [
                f"{prefix}/bedrock-vpc-agent-dev/*",
                f"{prefix}/aws/lambda/bedrock-vpc-agent-dev-*",
            ]
        }
    }
    # Every log group of the stack is covered by the key policy's patterns.
    for group in dev.of_type(LOG_GROUP):
        assert group.inputs["name"].startswith(
            ("/bedrock-vpc-agent-dev/", "/aws/lambda/bedrock-vpc-agent-dev-")
        )


def test_prod_protects_stateful_resources_and_keeps_logs_a_year(program: RunProgram) -> None:
    prod = program("prod")
    assert dev_protected(prod) == {KMS_KEY: True, LOG_GROUP: True}
    assert {group.inputs["retentionInDays"] for group in prod.of_type(LOG_GROUP)} == {365}
    assert dev_protected(program("dev")) == {KMS_KEY: False, LOG_GROUP: False}


def dev_protected(run: ProgramRun) -> dict[str, bool]:
    return {type_: all(r.protect for r in run.of_type(type_)) for type_ in (KMS_KEY, LOG_GROUP)}


def test_components_parent_their_children(dev: ProgramRun) -> None:
    network = dev.one("bedrock-vpc-agent:index:PrivateNetwork")
    assert network.parent == dev.stack_urn
    assert dev.one(VPC).parent == network.urn
    assert {s.parent for s in dev.of_type(SUBNET)} == {network.urn}
    endpoints = dev.one("bedrock-vpc-agent:index:InterfaceEndpoints")
    assert {e.parent for e in dev.of_type(ENDPOINT)} == {endpoints.urn}
