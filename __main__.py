"""An Amazon Bedrock Agent inside a private VPC.

Reads the stack configuration once (failing with every problem listed before anything is created),
then wires the components and exports what operators and the chat client need.
"""

from __future__ import annotations

import pulumi

from components.config import load_config
from components.context import AwsContext
from components.endpoints import InterfaceEndpoints, InterfaceEndpointsArgs
from components.logs import LogsKey, LogsKeyArgs
from components.naming import Naming
from components.network import PrivateNetwork, PrivateNetworkArgs, SubnetSpec

config = load_config()
context = AwsContext.lookup(config.region)
naming = Naming(config.name_prefix)

logs_key = LogsKey(
    "logs",
    LogsKeyArgs(
        context=context,
        log_group_arn_patterns=naming.log_group_arn_patterns(context),
        protect=config.protect_stateful_resources,
    ),
)

network = PrivateNetwork(
    "network",
    PrivateNetworkArgs(
        context=context,
        cidr_block=str(config.vpc_cidr),
        subnets=[
            SubnetSpec(availability_zone=zone, cidr_block=str(cidr))
            for zone, cidr in config.private_subnets()
        ],
        flow_log_group_name=naming.stack_log_group("vpc-flow-logs"),
        flow_log_traffic_type=config.flow_log_traffic_type,
        log_retention_days=config.log_retention_days,
        log_kms_key_arn=logs_key.arn,
        protect_stateful=config.protect_stateful_resources,
    ),
)

endpoints = InterfaceEndpoints(
    "endpoints",
    InterfaceEndpointsArgs(
        context=context,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        security_group_ids=[network.security_group_id],
        services=config.interface_endpoints,
    ),
)

pulumi.export("region", config.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("securityGroupId", network.security_group_id)
pulumi.export("endpointIds", endpoints.ids)
pulumi.export("endpointDnsNames", endpoints.dns_names)
pulumi.export("flowLogGroupName", network.flow_log_group.name)
pulumi.export("logsKeyArn", logs_key.arn)
