"""The private network the agent lives in: a VPC with no way out.

- DNS support and DNS hostnames on: interface endpoints with private DNS need both.
- One private subnet per AZ, one route table per subnet with only the implicit local route; no
  internet gateway, NAT gateway or Elastic IP exists anywhere in the program.
- The VPC's default security group is adopted and stripped of every rule, so nothing that falls
  back to it gets any access.
- One shared security group for the Lambdas and the interface endpoints: tcp/443 in from itself and
  out to itself only, each rule a separate resource.
- VPC flow logs to an encrypted, retained CloudWatch log group, delivered by a role that only the
  flow-logs service of this account can assume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.context import AwsContext
from components.logs import create_log_group

HTTPS_PORT = 443


@dataclass
class SubnetSpec:
    availability_zone: str
    cidr_block: str


@dataclass
class PrivateNetworkArgs:
    context: AwsContext
    cidr_block: pulumi.Input[str]
    subnets: Sequence[SubnetSpec]
    flow_log_group_name: str
    flow_log_traffic_type: pulumi.Input[str]
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    protect_stateful: bool = False
    # Resources that must outlive the subnets and the shared security group on destroy: the functions'
    # ENI grants (VpcFunction.vpc_access). Subnets and group depend on them, so the engine deletes the
    # subnets and group first.
    outlived_by: Sequence[pulumi.Resource] = ()


class PrivateNetwork(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    subnets: list[aws.ec2.Subnet]
    security_group: aws.ec2.SecurityGroup
    flow_log_group: aws.cloudwatch.LogGroup
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:PrivateNetwork", name, None, opts)
        self._name = name
        self._args = args

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"{name}-vpc"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.subnets = [self._create_private_subnet(spec) for spec in args.subnets]
        self._strip_default_security_group()
        self.security_group = self._create_shared_security_group()
        self.flow_log_group = self._create_flow_logs()

        self.vpc_id = self.vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in self.subnets])
        self.security_group_id = self.security_group.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "security_group_id": self.security_group_id,
                "flow_log_group_name": self.flow_log_group.name,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_private_subnet(self, spec: SubnetSpec) -> aws.ec2.Subnet:
        role = f"private-{spec.availability_zone}"
        subnet = aws.ec2.Subnet(
            f"{self._name}-{role}",
            vpc_id=self.vpc.id,
            cidr_block=spec.cidr_block,
            availability_zone=spec.availability_zone,
            map_public_ip_on_launch=False,
            tags={"Name": f"{self._name}-{role}", "Tier": "private"},
            opts=self._child(depends_on=list(self._args.outlived_by)),
        )
        # Its own route table with no routes: only the implicit local route, so traffic cannot leave
        # the VPC except through the interface endpoints (which are in the VPC).
        route_table = aws.ec2.RouteTable(
            f"{self._name}-{role}-rt",
            vpc_id=self.vpc.id,
            tags={"Name": f"{self._name}-{role}"},
            opts=self._child(),
        )
        aws.ec2.RouteTableAssociation(
            f"{self._name}-{role}-rta",
            subnet_id=subnet.id,
            route_table_id=route_table.id,
            opts=self._child(),
        )
        return subnet

    def _strip_default_security_group(self) -> None:
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg",
            vpc_id=self.vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"{self._name}-default-unused"},
            opts=self._child(),
        )

    def _create_shared_security_group(self) -> aws.ec2.SecurityGroup:
        group = aws.ec2.SecurityGroup(
            f"{self._name}-shared-sg",
            vpc_id=self.vpc.id,
            description="Lambdas and interface endpoints: HTTPS among themselves only",
            tags={"Name": f"{self._name}-shared"},
            # Rules are separate resources below; never inline rules here (the two fight each other).
            opts=self._child(depends_on=list(self._args.outlived_by)),
        )
        # Both directions reference the group itself: members talk HTTPS to members, and nothing else.
        rules: list[
            tuple[type[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule], str, str]
        ] = [
            (
                aws.vpc.SecurityGroupIngressRule,
                "in",
                "HTTPS from Lambdas to the interface endpoints (members of this group)",
            ),
            (
                aws.vpc.SecurityGroupEgressRule,
                "out",
                "HTTPS to the interface endpoints (members of this group) only",
            ),
        ]
        for rule_type, direction, description in rules:
            rule_type(
                f"{self._name}-shared-sg-https-{direction}",
                security_group_id=group.id,
                referenced_security_group_id=group.id,
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                description=description,
                opts=self._child(),
            )
        return group

    def _create_flow_logs(self) -> aws.cloudwatch.LogGroup:
        args, context = self._args, self._args.context
        log_group = create_log_group(
            f"{self._name}-flow-logs",
            log_group_name=args.flow_log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            protect=args.protect_stateful,
            parent=self,
        )
        role = aws.iam.Role(
            f"{self._name}-flow-logs-role",
            description="Lets VPC Flow Logs of this account deliver to the stack's flow log group",
            assume_role_policy=pulumi.Output.json_dumps(flow_logs_trust_policy(context)),
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs-delivery",
            role=role.id,
            policy=pulumi.Output.json_dumps(flow_logs_delivery_policy(log_group.arn)),
            opts=self._child(),
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type=args.flow_log_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": f"{self._name}-flow-log"},
            opts=self._child(),
        )
        return log_group


def flow_logs_trust_policy(context: AwsContext) -> dict[str, Any]:
    """Only the flow-logs service, acting for a flow log of this account, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("vpc-flow-logs")},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": context.account_id},
                    "ArnLike": {"aws:SourceArn": context.arn("ec2", "vpc-flow-log/*")},
                },
            }
        ],
    }


def flow_logs_delivery_policy(log_group_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Write to the flow log group's streams; nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverFlowLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [
                    log_group_arn,
                    pulumi.Output.concat(log_group_arn, ":log-stream:*"),
                ],
            }
        ],
    }
