"""Interface VPC endpoints: the only way out of the private subnets, and only to AWS services.

Each endpoint sits in every private subnet with private DNS on, so the SDK's default hostnames (e.g.
bedrock-agent-runtime.<region>.amazonaws.com) resolve to the endpoint's private addresses inside the
VPC, and carries the shared security group. Its endpoint policy admits only principals of this
account unless the caller passes a narrower one for that service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.context import AwsContext


@dataclass
class InterfaceEndpointsArgs:
    context: AwsContext
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    services: Sequence[str]
    # Per-service endpoint policy documents (plain dicts, may contain Outputs); others get
    # `account_only_policy`.
    policies: Mapping[str, Any] = field(default_factory=dict)


class InterfaceEndpoints(pulumi.ComponentResource):
    endpoints: dict[str, aws.ec2.VpcEndpoint]
    ids: dict[str, pulumi.Output[str]]
    dns_names: dict[str, pulumi.Output[list[str]]]

    def __init__(
        self, name: str, args: InterfaceEndpointsArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:InterfaceEndpoints", name, None, opts)
        unknown = set(args.policies) - set(args.services)
        if unknown:
            raise ValueError(f"Endpoint policies given for services without an endpoint: {sorted(unknown)}")
        self.endpoints = {service: self._create_endpoint(name, service, args) for service in args.services}
        self.ids = {service: endpoint.id for service, endpoint in self.endpoints.items()}
        self.dns_names = {
            service: endpoint.dns_entries.apply(lambda entries: [entry.dns_name or "" for entry in entries])
            for service, endpoint in self.endpoints.items()
        }
        self.register_outputs({"ids": self.ids, "dns_names": self.dns_names})

    def _create_endpoint(self, name: str, service: str, args: InterfaceEndpointsArgs) -> aws.ec2.VpcEndpoint:
        role = service.replace(".", "-")
        policy = args.policies.get(service) or account_only_policy(args.context)
        return aws.ec2.VpcEndpoint(
            f"{name}-{role}",
            vpc_id=args.vpc_id,
            service_name=args.context.endpoint_service_name(service),
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=args.subnet_ids,
            security_group_ids=args.security_group_ids,
            policy=pulumi.Output.json_dumps(policy),
            tags={"Name": f"{name}-{role}"},
            opts=pulumi.ResourceOptions(parent=self),
        )


def account_only_policy(context: AwsContext) -> dict[str, Any]:
    """Any action through the endpoint, but only by principals of this account (so stolen credentials
    of another account cannot use the endpoint to move data out of the VPC)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PrincipalsOfThisAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": context.account_id}},
            }
        ],
    }
