"""Network rules: each case builds violating and compliant resources side by side and asserts the
rule reports exactly the violating URNs."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.baseline import Baseline
from tests.policies.builder import Graph, allow, policy
from tests.policies.conftest import Judge

HTTPS: dict[str, Any] = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
CLASSIC_HTTPS: dict[str, Any] = {"protocol": "tcp", "fromPort": 443, "toPort": 443}


def test_no_internet_gateways(judge: Judge) -> None:
    g = Graph()
    vpc = g.add(t.VPC, "vpc", cidrBlock="10.0.0.0/16")
    igw = g.add(t.INTERNET_GATEWAY, "igw", vpcId=vpc.id)
    bad = [
        igw,
        g.add(t.INTERNET_GATEWAY_ATTACHMENT, "igw-attach", vpcId=vpc.id, internetGatewayId=igw.id),
        g.add(t.EGRESS_ONLY_INTERNET_GATEWAY, "eigw", vpcId=vpc.id),
        g.add(t.NAT_GATEWAY, "nat", subnetId="subnet-1", connectivityType="private"),
        g.add(t.EIP, "eip", domain="vpc"),
    ]
    g.add(t.VPC_ENDPOINT, "endpoint", vpcId=vpc.id, serviceName="com.amazonaws.us-east-1.logs")
    assert judge(g).fired("no-internet-gateways") == {n.urn for n in bad}


def test_no_public_ip_on_launch(judge: Judge) -> None:
    g = Graph()
    bad = [
        g.add(t.SUBNET, "public", vpcId="vpc-1", cidrBlock="10.0.0.0/24", mapPublicIpOnLaunch=True),
        g.add(t.SUBNET, "ipv6", vpcId="vpc-1", cidrBlock="10.0.1.0/24", assignIpv6AddressOnCreation=True),
        g.add(t.DEFAULT_SUBNET, "default-subnet", availabilityZone="us-east-1a"),  # AWS default: public
        g.add(t.INSTANCE, "bastion", ami="ami-1", associatePublicIpAddress=True),
        g.add(t.LAUNCH_TEMPLATE, "lt", networkInterfaces=[{"associatePublicIpAddress": "true"}]),
    ]
    g.add(t.SUBNET, "private", vpcId="vpc-1", cidrBlock="10.0.2.0/24", mapPublicIpOnLaunch=False)
    g.add(t.SUBNET, "implicit", vpcId="vpc-1", cidrBlock="10.0.3.0/24")
    g.add(t.DEFAULT_SUBNET, "closed-default", availabilityZone="us-east-1b", mapPublicIpOnLaunch=False)
    g.add(t.LAUNCH_TEMPLATE, "lt-private", networkInterfaces=[{"associatePublicIpAddress": "false"}])
    assert judge(g).fired("no-public-ip-on-launch") == {n.urn for n in bad}


def test_no_route_out_of_vpc(judge: Judge, base: Baseline) -> None:
    g, vpc = base.graph, base.vpc
    igw = g.add(t.INTERNET_GATEWAY, "igw", vpcId=vpc.id)
    inline = g.add(
        t.ROUTE_TABLE, "public-rt", vpcId=vpc.id, routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": igw.id}]
    )
    v6 = g.add(
        t.ROUTE,
        "v6-default",
        routeTableId=base.route_table.id,
        destinationIpv6CidrBlock="::/0",
        vpcEndpointId="vpce-1",
    )
    nat = g.add(
        t.ROUTE,
        "via-nat",
        routeTableId=base.route_table.id,
        destinationCidrBlock="10.9.0.0/16",
        natGatewayId="nat-1",
    )
    # A narrow route to the internet gateway is only recognisable through the graph during preview.
    narrow = g.add(
        t.ROUTE,
        "narrow-igw",
        routeTableId=base.route_table.id,
        destinationCidrBlock="203.0.113.0/24",
        gatewayId=igw.id,
    )
    g.add(
        t.ROUTE,
        "peering",
        routeTableId=base.route_table.id,
        destinationCidrBlock="10.1.0.0/16",
        vpcPeeringConnectionId="pcx-1",
    )
    expected = {inline.urn, v6.urn, nat.urn, narrow.urn}
    assert judge(g).fired("no-route-out-of-vpc") == expected
    assert judge(g, preview=True).fired("no-route-out-of-vpc") == expected


def test_no_open_security_group_rules(judge: Judge) -> None:
    g = Graph()
    bad = [
        g.add(
            t.SECURITY_GROUP,
            "inline-in",
            ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}],
        ),
        g.add(
            t.SECURITY_GROUP,
            "inline-out",
            egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}],
        ),
        g.add(
            t.DEFAULT_SECURITY_GROUP,
            "default",
            vpcId="vpc-1",
            egress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
        ),
        g.add(
            t.SECURITY_GROUP_RULE,
            "classic",
            type="ingress",
            securityGroupId="sg-1",
            protocol="tcp",
            fromPort=443,
            toPort=443,
            cidrBlocks=["0.0.0.0/0"],
        ),
        g.add(t.SG_INGRESS_RULE, "v4-in", securityGroupId="sg-1", cidrIpv4="0.0.0.0/0", **HTTPS),
        g.add(t.SG_EGRESS_RULE, "v6-out", securityGroupId="sg-1", cidrIpv6="::/0", **HTTPS),
    ]
    g.add(
        t.SECURITY_GROUP,
        "internal",
        ingress=[{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/8"]}],
    )
    g.add(t.SG_INGRESS_RULE, "vpc-in", securityGroupId="sg-1", cidrIpv4="10.0.0.0/16", **HTTPS)
    g.add(t.SG_EGRESS_RULE, "sg-out", securityGroupId="sg-1", referencedSecurityGroupId="sg-2", **HTTPS)
    outcome = judge(g)
    assert outcome.fired("no-open-security-group-rules") == {n.urn for n in bad}
    assert outcome.messages("no-open-security-group-rules", bad[0].urn) == [
        "SecurityGroup 'inline-in' ingress[0] is open to 0.0.0.0/0"
    ]


def _endpoint(g: Graph, name: str, **props: Any) -> str:
    base = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-1.logs", "vpcEndpointType": "Interface"}
    return g.add(t.VPC_ENDPOINT, name, **{**base, **props}).urn


def test_interface_endpoint_private_dns(judge: Judge) -> None:
    g = Graph()
    bad = {_endpoint(g, "unset"), _endpoint(g, "off", privateDnsEnabled=False)}
    _endpoint(g, "on", privateDnsEnabled=True)
    _endpoint(g, "gateway", vpcEndpointType="Gateway", serviceName="com.amazonaws.us-east-1.s3")
    assert judge(g).fired("interface-endpoint-private-dns") == bad


def test_interface_endpoint_placement(judge: Judge) -> None:
    g = Graph()
    sg = g.add(t.SECURITY_GROUP, "sg")
    bad = {_endpoint(g, "nowhere"), _endpoint(g, "no-sg", subnetIds=["subnet-1"], securityGroupIds=[])}
    _endpoint(g, "placed", subnetIds=["subnet-1"], securityGroupIds=[sg.id])
    _endpoint(g, "gateway", vpcEndpointType="Gateway", serviceName="com.amazonaws.us-east-1.s3")
    assert judge(g).fired("interface-endpoint-placement") == bad
    assert judge(g, preview=True).fired("interface-endpoint-placement") == bad  # unknown ids still count


def test_vpc_endpoint_policy_restricted(judge: Judge) -> None:
    g = Graph()
    alias_arn = "arn:aws:bedrock:us-east-1:123456789012:agent-alias/A/B"
    bad = {
        _endpoint(g, "default-policy"),
        _endpoint(g, "star", policy=policy(allow("*", "*", Principal="*"))),
        _endpoint(g, "service-star", policy=policy(allow("bedrock:*", alias_arn, Principal="*"))),
        _endpoint(
            g,
            "not-action",
            policy=policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*", "Principal": "*"}),
        ),
    }
    _endpoint(g, "scoped", policy=policy(allow("bedrock:InvokeAgent", alias_arn, Principal="*")))
    g.add(
        t.VPC_ENDPOINT_POLICY,
        "standalone",
        vpcEndpointId="vpce-1",
        policy=policy(allow("logs:PutLogEvents", "*", Principal="*")),
    )
    assert judge(g).fired("vpc-endpoint-policy-restricted") == bad


def test_endpoint_sg_self_referencing_https(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.ingress)
    assert judge(g).fired("endpoint-sg-self-referencing-https") == {base.sg.urn}
    other = g.add(t.SECURITY_GROUP, "clients", vpcId=base.vpc.id)
    g.add(
        t.SG_INGRESS_RULE,
        "from-clients",
        securityGroupId=base.sg.id,
        referencedSecurityGroupId=other.id,
        **HTTPS,
    )
    g.add(
        t.SG_INGRESS_RULE,
        "self-http",
        securityGroupId=base.sg.id,
        referencedSecurityGroupId=base.sg.id,
        ipProtocol="tcp",
        fromPort=80,
        toPort=80,
    )
    assert judge(g).fired("endpoint-sg-self-referencing-https") == {base.sg.urn}


def test_endpoint_sg_accepts_other_self_rule_forms(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.ingress)
    rule = g.add(
        t.SECURITY_GROUP_RULE,
        "classic-self",
        type="ingress",
        securityGroupId=base.sg.id,
        self=True,
        protocol="tcp",
        fromPort=0,
        toPort=65535,
    )
    assert "endpoint-sg-self-referencing-https" not in judge(g).rules
    g.remove(rule)
    base.sg.inputs["ingress"] = [{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}]
    assert "endpoint-sg-self-referencing-https" not in judge(g, preview=True).rules


def test_lambda_reaches_endpoints_egress(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.egress)
    outcome = judge(g)
    assert outcome.fired("lambda-reaches-endpoints") == {fn.urn for fn in base.functions.values()}
    assert outcome.rules == {"lambda-reaches-endpoints"}
    rule = g.add(
        t.SECURITY_GROUP_RULE,
        "classic-egress",
        type="egress",
        securityGroupId=base.sg.id,
        self=True,
        **CLASSIC_HTTPS,
    )
    assert judge(g).fired("lambda-reaches-endpoints") == set()
    g.remove(rule)
    g.add(t.SG_EGRESS_RULE, "to-vpc-cidr", securityGroupId=base.sg.id, cidrIpv4="10.0.0.0/16", **HTTPS)
    assert judge(g).fired("lambda-reaches-endpoints") == set()


def test_lambda_reaches_endpoints_through_a_separate_group(judge: Judge, base: Baseline) -> None:
    g = base.graph
    lambda_sg = g.add(
        t.SECURITY_GROUP, "lambda-sg", vpcId=base.vpc.id, egress=[{**CLASSIC_HTTPS, "securityGroups": []}]
    )
    for fn in base.functions.values():
        fn.inputs["vpcConfig"]["securityGroupIds"] = [lambda_sg.id]
    outcome = judge(g)
    assert outcome.fired("lambda-reaches-endpoints") == {fn.urn for fn in base.functions.values()}
    assert sorted(outcome.messages("lambda-reaches-endpoints", base.functions["invoker"].urn)) == [
        "SecurityGroup 'endpoints-sg' (an endpoint group) admits no TCP 443 from the groups of "
        "Function 'invoker'",
        "the security groups of Function 'invoker' allow no TCP 443 egress to the endpoints' group",
    ]
    lambda_sg.inputs["egress"] = [{**CLASSIC_HTTPS, "securityGroups": [base.sg.id]}]
    g.add(
        t.SG_INGRESS_RULE,
        "from-lambdas",
        securityGroupId=base.sg.id,
        referencedSecurityGroupId=lambda_sg.id,
        **HTTPS,
    )
    assert judge(g).fired("lambda-reaches-endpoints") == set()
    assert judge(g, preview=True).fired("lambda-reaches-endpoints") == set()


def test_vpc_required_endpoints(judge: Judge, base: Baseline) -> None:
    g = base.graph
    # Nothing in the VPC calls the CloudWatch Logs API: a VPC without a logs endpoint is compliant.
    g.remove(base.endpoints["logs"])
    assert judge(g).fired("vpc-required-endpoints") == set()
    base.endpoints["bedrock-agent-runtime"].inputs["vpcEndpointType"] = "Gateway"
    g.add(t.VPC, "no-lambdas", cidrBlock="10.1.0.0/16", enableDnsHostnames=True)  # needs no endpoints
    outcome = judge(g)
    assert outcome.fired("vpc-required-endpoints") == {base.vpc.urn}
    assert sorted(outcome.messages("vpc-required-endpoints")) == [
        "Vpc 'vpc' hosts Lambdas but has no interface endpoint for 'bedrock-agent-runtime'",
    ]


def test_vpc_flow_logs_enabled(judge: Judge, base: Baseline) -> None:
    g = base.graph
    other = g.add(t.VPC, "other", cidrBlock="10.1.0.0/16", enableDnsHostnames=True)
    g.add(t.DEFAULT_SECURITY_GROUP, "other-default-sg", vpcId=other.id)
    outcome = judge(g)
    assert outcome.fired("vpc-flow-logs-enabled") == {other.urn}
    assert outcome.rules == {"vpc-flow-logs-enabled"}
    g.remove(base.flow_log)
    assert judge(g, preview=True).fired("vpc-flow-logs-enabled") == {other.urn, base.vpc.urn}


def test_flow_log_captures_all_traffic(judge: Judge) -> None:
    g = Graph()
    bad = g.add(t.FLOW_LOG, "rejects", vpcId="vpc-1", trafficType="REJECT")
    g.add(t.FLOW_LOG, "all", vpcId="vpc-1", trafficType="ALL")
    assert judge(g).fired("flow-log-captures-all-traffic") == {bad.urn}


def test_default_security_group_no_rules(judge: Judge) -> None:
    g = Graph()
    bad = g.add(
        t.DEFAULT_SECURITY_GROUP,
        "open",
        vpcId="vpc-1",
        ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
    )
    g.add(t.DEFAULT_SECURITY_GROUP, "closed", vpcId="vpc-2", ingress=[], egress=[])
    assert judge(g).fired("default-security-group-no-rules") == {bad.urn}


def test_vpc_default_security_group_managed(judge: Judge, base: Baseline) -> None:
    g = base.graph
    g.remove(base.default_sg)
    outcome = judge(g)
    assert outcome.fired("vpc-default-security-group-managed") == {base.vpc.urn}
    assert outcome.rules == {"vpc-default-security-group-managed"}


def test_vpc_dns_enabled(judge: Judge) -> None:
    g = Graph()
    bad = {
        g.add(t.VPC, "no-hostnames", cidrBlock="10.0.0.0/16").urn,  # enableDnsHostnames defaults to false
        g.add(t.VPC, "no-dns", cidrBlock="10.1.0.0/16", enableDnsSupport=False, enableDnsHostnames=True).urn,
    }
    g.add(t.VPC, "dns", cidrBlock="10.2.0.0/16", enableDnsHostnames=True)
    assert judge(g).fired("vpc-dns-enabled") == bad
