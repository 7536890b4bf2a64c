"""Network isolation: nothing in the stack reaches or is reachable from the internet, and the private
path (interface endpoints) is complete and locked down."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from . import tokens
from .documents import Statement, is_wildcard_action, statements
from .framework import (
    ADVISORY,
    Config,
    Resource,
    RuleSet,
    Setting,
    Stack,
    as_list,
    each,
    has_unknown,
    is_unknown,
    number,
    strings,
)
from .graph import (
    exit_routes,
    function_vpcs,
    interface_endpoints,
    is_open_cidr,
    sg_allows_https,
)

rules = RuleSet()

_PUBLIC_GATEWAYS: Final = {
    tokens.INTERNET_GATEWAY: "an internet gateway",
    tokens.INTERNET_GATEWAY_ATTACHMENT: "an internet gateway attachment",
    tokens.EGRESS_ONLY_INTERNET_GATEWAY: "an egress-only internet gateway",
    tokens.NAT_GATEWAY: "a NAT gateway",
    tokens.EIP: "an Elastic IP",
    tokens.EIP_ASSOCIATION: "an Elastic IP association",
}


@rules.resource(
    "no-internet-gateways",
    types=_PUBLIC_GATEWAYS,
    description=(
        "Internet, egress-only and NAT gateways and Elastic IPs are forbidden: the workload reaches AWS "
        "only through interface endpoints, so any path to the internet is an exfiltration route."
    ),
    remediation=(
        "Delete the gateway/EIP. Reach AWS services through interface VPC endpoints "
        "(com.amazonaws.<region>.<service>) with private DNS instead."
    ),
)
def no_internet_gateways(res: Resource, _: Config) -> Iterator[str]:
    yield f"{res.label} creates {_PUBLIC_GATEWAYS[res.type]} in a stack that must have no internet path"


@rules.resource(
    "no-public-ip-on-launch",
    types=(tokens.SUBNET, tokens.DEFAULT_SUBNET, tokens.INSTANCE, tokens.LAUNCH_TEMPLATE),
    description=(
        "Subnets must not auto-assign public IPs and instances/launch templates must not request one: "
        "a public address makes a workload addressable from the internet."
    ),
    remediation="Set mapPublicIpOnLaunch / associatePublicIpAddress to false (aws.ec2.Subnet's default).",
)
def no_public_ip_on_launch(res: Resource, _: Config) -> Iterator[str]:
    # aws:ec2/defaultSubnet defaults mapPublicIpOnLaunch to true, so absence is a violation there.
    mapped = res.get("mapPublicIpOnLaunch")
    if mapped is True or (res.type == tokens.DEFAULT_SUBNET and mapped is None):
        yield f"{res.label} sets mapPublicIpOnLaunch (instances get public IPv4 addresses)"
    if res.get("assignIpv6AddressOnCreation") is True:
        yield f"{res.label} assigns globally routable IPv6 addresses on creation"
    if res.get("associatePublicIpAddress") is True:
        yield f"{res.label} associates a public IP address"
    interfaces = res.get("networkInterfaces")
    for i, nic in enumerate(interfaces if isinstance(interfaces, list) else []):
        if isinstance(nic, Mapping) and nic.get("associatePublicIpAddress") in (True, "true"):
            yield f"{res.label} networkInterfaces[{i}] associates a public IP address"


@rules.stack(
    "no-route-out-of-vpc",
    description=(
        "No route may leave the VPC: default routes (0.0.0.0/0, ::/0) and routes to internet, NAT, "
        "egress-only or carrier gateways give private workloads a path to the internet."
    ),
    remediation=(
        "Remove the route. Route tables of a private VPC keep only the implicit local route; AWS "
        "services are reached through interface endpoints."
    ),
)
def no_route_out_of_vpc(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    for table in stack.of_type(*tokens.ROUTE_TABLES):
        for blamed, why in exit_routes(stack, table):
            yield blamed.urn, why


def _rule_cidrs(rule: Mapping[str, Any]) -> list[str]:
    keys = ("cidrBlocks", "ipv6CidrBlocks", "cidrIpv4", "cidrIpv6")
    return [c for key in keys for c in strings(rule.get(key)) if is_open_cidr(c)]


@rules.resource(
    "no-open-security-group-rules",
    types=(
        tokens.SECURITY_GROUP,
        tokens.DEFAULT_SECURITY_GROUP,
        tokens.SECURITY_GROUP_RULE,
        tokens.SG_INGRESS_RULE,
        tokens.SG_EGRESS_RULE,
    ),
    description=(
        "Security-group rules must not allow traffic to or from 0.0.0.0/0 or ::/0: an open ingress "
        "exposes the workload, an open egress lets it talk to the internet."
    ),
    remediation=(
        "Reference a security group (referencedSecurityGroupId) or a specific internal CIDR / prefix "
        "list instead of the whole internet."
    ),
)
def no_open_security_group_rules(res: Resource, _: Config) -> Iterator[str]:
    if res.type in tokens.SECURITY_GROUPS:
        for direction in ("ingress", "egress"):
            entries = res.get(direction)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(entry, Mapping):
                    for cidr in _rule_cidrs(entry):
                        yield f"{res.label} {direction}[{i}] is open to {cidr}"
        return
    kind = {tokens.SG_INGRESS_RULE: "ingress", tokens.SG_EGRESS_RULE: "egress"}.get(res.type, res.get("type"))
    for cidr in _rule_cidrs(res.props):
        yield f"{res.label} ({kind}) is open to {cidr}"


ALLOWED_TCP_PORTS = Setting(
    "allowedTcpPorts",
    {"type": "array", "items": {"type": "integer"}, "minItems": 1},
    [443],
    "TCP ports security-group rules may open (the Lambdas and interface endpoints speak HTTPS only).",
)
_SG_RULE_FORMS: Final = {
    tokens.SECURITY_GROUP_RULE: "protocol",
    tokens.SG_INGRESS_RULE: "ipProtocol",
    tokens.SG_EGRESS_RULE: "ipProtocol",
}


def _protocol_problem(rule: Mapping[str, Any], protocol_key: str, ports: list[float]) -> str | None:
    """Why one rule (inline entry or rule resource props) opens more than TCP on the allowed ports."""
    protocol, low, high = rule.get(protocol_key), rule.get("fromPort"), rule.get("toPort")
    if is_unknown(protocol) or is_unknown(low) or is_unknown(high):
        return None
    name = str(protocol).lower()
    if name in ("-1", "all"):
        return "allows all traffic (protocol -1: every protocol and port)"
    if name not in ("tcp", "6"):
        return f"allows protocol {protocol}"
    first, last = number(low), number(high)
    if first is None or last is None or first != last or first not in ports:
        return f"opens TCP ports {low}-{high}; only {', '.join(f'{p:g}' for p in ports)} may be open"
    return None


@rules.resource(
    "security-group-rules-https-only",
    types=(tokens.SECURITY_GROUP, *_SG_RULE_FORMS),
    settings=[ALLOWED_TCP_PORTS],
    description=(
        "Security-group rules may carry only TCP on the allowed ports (443 by default): the Lambdas and the "
        "interface endpoints speak HTTPS only, so a rule for all traffic (protocol -1) - even a "
        "self-referencing one - opens every port of everything in the group to every member."
    ),
    remediation=(
        "Use ip_protocol='tcp', from_port=443, to_port=443 on the rule (one rule per direction and peer); "
        "config 'allowedTcpPorts' lists other ports a stack really needs."
    ),
)
def security_group_rules_https_only(res: Resource, config: Config) -> Iterator[str]:
    ports = [p for p in (number(v) for v in as_list(config["allowedTcpPorts"])) if p is not None]
    if res.type == tokens.SECURITY_GROUP:
        for direction in ("ingress", "egress"):
            entries = res.get(direction)
            for i, entry in enumerate(entries if isinstance(entries, list) else []):
                problem = _protocol_problem(entry, "protocol", ports) if isinstance(entry, Mapping) else None
                if problem:
                    yield f"{res.label} {direction}[{i}] {problem}"
        return
    problem = _protocol_problem(res.props, _SG_RULE_FORMS[res.type], ports)
    kind = {tokens.SG_INGRESS_RULE: "ingress", tokens.SG_EGRESS_RULE: "egress"}.get(res.type, res.get("type"))
    if problem:
        yield f"{res.label} ({kind}) {problem}"


def _interface(res: Resource) -> bool:
    return res.get("vpcEndpointType") == "Interface"


@rules.resource(
    "interface-endpoint-private-dns",
    types=(tokens.VPC_ENDPOINT,),
    description=(
        "Interface endpoints must enable private DNS: without it the AWS SDK keeps resolving the public "
        "service endpoint, which a private subnet cannot reach, so calls time out."
    ),
    remediation=(
        "Set privateDnsEnabled=True on the aws.ec2.VpcEndpoint (and enable DNS support/hostnames on the VPC)."
    ),
)
def interface_endpoint_private_dns(res: Resource, _: Config) -> Iterator[str]:
    enabled = res.get("privateDnsEnabled")
    if _interface(res) and not is_unknown(enabled) and enabled is not True:
        yield f"{res.label} ({res.get('serviceName')}) does not enable private DNS"


@rules.resource(
    "interface-endpoint-placement",
    types=(tokens.VPC_ENDPOINT,),
    description=(
        "Interface endpoints must name their subnets and security groups: without subnets no ENI is "
        "created, and without a group AWS attaches the VPC default group, which admits nothing here."
    ),
    remediation="Pass subnetIds (one private subnet per AZ) and securityGroupIds (the endpoint group).",
)
def interface_endpoint_placement(res: Resource, _: Config) -> Iterator[str]:
    if not _interface(res):
        return
    for key in ("subnetIds", "securityGroupIds"):
        value = res.get(key)
        if not has_unknown(value) and not strings(value):
            yield f"{res.label} has no {key}"


@rules.resource(
    "vpc-endpoint-policy-restricted",
    types=(tokens.VPC_ENDPOINT, tokens.VPC_ENDPOINT_POLICY),
    level=ADVISORY,
    description=(
        "VPC endpoints should carry a policy that allows only the actions the workload needs: the "
        "default endpoint policy allows every action on every resource, for any principal."
    ),
    remediation=(
        "Set `policy` to a JSON document allowing only the needed actions (e.g. bedrock:InvokeAgent on "
        "the agent alias ARN, logs:CreateLogStream/PutLogEvents on the log groups)."
    ),
)
def vpc_endpoint_policy_restricted(res: Resource, _: Config) -> Iterator[str]:
    raw = res.get("policy")
    if is_unknown(raw):
        return
    parsed = statements(raw)
    if parsed is None:
        yield f"{res.label} has no (readable) endpoint policy, so AWS applies the full-access default"
        return
    for statement in parsed:
        wild = [a for a in statement.actions if is_wildcard_action(a)]
        if statement.allow and (wild or statement.not_actions):
            shown = ", ".join(wild) or "NotAction"
            yield f"{res.label} endpoint policy {statement.label} allows {shown}"


# Condition keys that tie a request to who makes it. aws:SourceVpc/aws:SourceVpce do not: every
# principal whose traffic crosses the endpoint carries them.
PRINCIPAL_KEYS: Final = frozenset(
    {"aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:userid"}
)


def _narrows_principal(statement: Statement) -> bool:
    """A positive condition (…Equals/…Like, no IfExists) binds a principal key to specific values."""
    for operator, block in statement.conditions.items():
        op = str(operator).lower()
        if "not" in op or op.endswith("ifexists") or op.startswith(("null", "bool", "numeric", "date")):
            continue
        if not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            values = [str(v) for v in as_list(value)]
            if str(key).lower() in PRINCIPAL_KEYS and values and all(v.strip("*?") for v in values):
                return True
    return False


@rules.resource(
    "endpoint-policy-principal-scoped",
    types=(tokens.VPC_ENDPOINT, tokens.VPC_ENDPOINT_POLICY),
    description=(
        "An endpoint policy statement that allows Principal '*' (or uses NotPrincipal) must narrow the "
        "principal with a condition (aws:PrincipalAccount, aws:PrincipalArn, aws:PrincipalOrgID ...): "
        "otherwise credentials of any AWS account - stolen or an attacker's own - work through the endpoint, "
        "which is the exfiltration path a private VPC exists to close. (An endpoint without a policy gets "
        "AWS's full-access default: see vpc-endpoint-policy-restricted.)"
    ),
    remediation=(
        "Name the principals (Principal {'AWS': <role ARN>}) or add Condition "
        "{'StringEquals': {'aws:PrincipalAccount': '<account id>'}} to the statement."
    ),
)
def endpoint_policy_principal_scoped(res: Resource, _: Config) -> Iterator[str]:
    raw = res.get("policy")
    if is_unknown(raw):
        return
    for statement in statements(raw) or []:
        public = statement.public_principal or statement.has_not_principal
        if statement.allow and public and not _narrows_principal(statement):
            yield f"{res.label} endpoint policy {statement.label} allows any principal of any account"


@rules.stack(
    "endpoint-sg-self-referencing-https",
    description=(
        "The security group of every interface endpoint must admit TCP 443 from itself (a self-"
        "referencing rule): members of the group - the Lambdas - reach the endpoint, nothing else does."
    ),
    remediation=(
        "Add aws.vpc.SecurityGroupIngressRule(security_group_id=sg.id, referenced_security_group_id=sg.id, "
        "ip_protocol='tcp', from_port=443, to_port=443)."
    ),
)
def endpoint_sg_self_referencing_https(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    for endpoint in stack.of_type(tokens.VPC_ENDPOINT):
        if not _interface(endpoint):
            continue
        for group in stack.refs(endpoint, "securityGroupIds", tokens.SECURITY_GROUPS).found:
            if not sg_allows_https(stack, group, [group], "ingress"):
                yield (
                    group.urn,
                    f"{group.label} (used by {endpoint.label}) has no self-referencing TCP 443 ingress",
                )


def _endpoint_reach_problems(stack: Stack, function: Resource) -> Iterator[str]:
    vpcs = function_vpcs(stack, function)
    endpoint_groups = list(
        dict.fromkeys(
            group
            for vpc in vpcs
            for endpoint in interface_endpoints(stack, vpc)
            for group in stack.refs(endpoint, "securityGroupIds", tokens.SECURITY_GROUPS).found
        )
    )
    own = list(stack.refs(function, "vpcConfig.securityGroupIds", tokens.SECURITY_GROUPS).found)
    if not endpoint_groups or not own:
        return  # nothing to reach, or groups outside the stack: other rules report those
    # A rule for a CIDR inside the VPC admits the endpoint ENIs / Lambda ENIs as well.
    networks = [str(v.get("cidrBlock")) for v in vpcs if isinstance(v.get("cidrBlock"), str)]
    if not any(sg_allows_https(stack, group, endpoint_groups, "egress", networks) for group in own):
        yield f"the security groups of {function.label} allow no TCP 443 egress to the endpoints' group"
    for group in endpoint_groups:
        if not sg_allows_https(stack, group, own, "ingress", networks):
            yield f"{group.label} (an endpoint group) admits no TCP 443 from the groups of {function.label}"


@rules.stack(
    "lambda-reaches-endpoints",
    description=(
        "A VPC Lambda must be able to open TCP 443 to the interface endpoints: its security group needs "
        "egress to the endpoints' group and that group needs ingress from it (with one shared group, both "
        "are self-references). A group created without such rules blocks the call and the function times out."
    ),
    remediation=(
        "Add aws.vpc.SecurityGroupEgressRule(security_group_id=<lambda sg>, referenced_security_group_id="
        "<endpoint sg>, ...443) and the matching SecurityGroupIngressRule on the endpoint group."
    ),
)
def lambda_reaches_endpoints(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.FUNCTION), lambda fn: _endpoint_reach_problems(stack, fn))


CLASSIC_ENDPOINT = "bedrock-agent-runtime"
AGENTCORE_ENDPOINT = "bedrock-agentcore"
REQUIRED_ENDPOINTS = Setting(
    "requiredServices",
    {"type": "array", "items": {"type": "string"}, "minItems": 1},
    # Not logs: Lambda, flow logs and API Gateway deliver logs through their services, not the VPC.
    ["bedrock-agent-runtime"],
    "Service suffixes (com.amazonaws.<region>.<suffix>) that every VPC hosting Lambdas needs an "
    "interface endpoint for.",
)


def _missing_endpoints(stack: Stack, vpc: Resource, required: list[str]) -> Iterator[str]:
    endpoints = interface_endpoints(stack, vpc)
    names = [e.get("serviceName") for e in endpoints]
    if any(is_unknown(n) for n in names):
        return  # a service name is still unknown: cannot prove anything is missing
    for service in required:
        if not any(isinstance(n, str) and n.endswith(f".{service}") for n in names):
            yield f"{vpc.label} hosts Lambdas but has no interface endpoint for '{service}'"


def _searches_knowledge_base(function: Resource) -> bool:
    variables = function.get("environment.variables")
    return isinstance(variables, Mapping) and "KNOWLEDGE_BASE_ID" in variables


@rules.stack(
    "vpc-required-endpoints",
    settings=[REQUIRED_ENDPOINTS],
    description=(
        "A VPC that hosts Lambdas must have interface endpoints for every service they call (by default "
        "bedrock-agent-runtime; bedrock-agentcore instead when the agent runs on AgentCore, and "
        "bedrock-agent-runtime too where a function there searches a knowledge base): with no internet "
        "path, a missing endpoint means a failed call."
    ),
    remediation="Add an Interface aws.ec2.VpcEndpoint for com.amazonaws.<region>.<service> in that VPC.",
)
def vpc_required_endpoints(stack: Stack, config: Config) -> Iterator[tuple[str, str]]:
    required = [str(s) for s in as_list(config["requiredServices"])]
    if stack.of_type(*tokens.AGENTCORE_AGENTS) and not stack.of_type(tokens.AGENT):
        # An AgentCore stack's invoker calls bedrock-agentcore, not the Classic agent runtime; the
        # Classic runtime's endpoint stays required where a function searches a knowledge base
        # (KNOWLEDGE_BASE_ID: its Retrieve is a bedrock-agent-runtime call).
        required = [AGENTCORE_ENDPOINT if s == CLASSIC_ENDPOINT else s for s in required]
        if CLASSIC_ENDPOINT not in required and any(
            _searches_knowledge_base(fn) for fn in stack.of_type(tokens.FUNCTION)
        ):
            required.append(CLASSIC_ENDPOINT)
    hosting: list[Resource] = []
    for function in stack.of_type(tokens.FUNCTION):
        hosting += [v for v in function_vpcs(stack, function) if v not in hosting]
    yield from each(hosting, lambda vpc: _missing_endpoints(stack, vpc, required))


@rules.stack(
    "vpc-flow-logs-enabled",
    description=(
        "Every VPC must have a flow log: it is the only record of what talked to what inside a private "
        "network, needed for incident response."
    ),
    remediation="Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', log_destination=<log group arn>).",
)
def vpc_flow_logs_enabled(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    for vpc in stack.of_type(tokens.VPC):
        if not stack.referrers(vpc, (tokens.FLOW_LOG,), "vpcId"):
            yield vpc.urn, f"{vpc.label} has no flow log"


@rules.resource(
    "flow-log-captures-all-traffic",
    types=(tokens.FLOW_LOG,),
    level=ADVISORY,
    description=(
        "Flow logs should capture ALL traffic: ACCEPT-only hides probes, REJECT-only hides what actually "
        "got through."
    ),
    remediation="Set trafficType='ALL'.",
)
def flow_log_captures_all_traffic(res: Resource, _: Config) -> Iterator[str]:
    traffic = res.get("trafficType")
    if not is_unknown(traffic) and traffic != "ALL":
        yield f"{res.label} captures trafficType={traffic!r}, not ALL"


@rules.resource(
    "default-security-group-no-rules",
    types=(tokens.DEFAULT_SECURITY_GROUP,),
    description=(
        "The VPC default security group must have no rules: anything launched without an explicit group "
        "lands in it, so any rule there silently opens new resources."
    ),
    remediation="Declare aws.ec2.DefaultSecurityGroup(vpc_id=...) with no ingress and no egress.",
)
def default_security_group_no_rules(res: Resource, _: Config) -> Iterator[str]:
    for direction in ("ingress", "egress"):
        value = res.get(direction)
        if is_unknown(value) or (isinstance(value, list) and value):
            yield f"{res.label} declares {direction} rules"


@rules.stack(
    "vpc-default-security-group-managed",
    description=(
        "Every VPC must adopt its default security group (aws.ec2.DefaultSecurityGroup with no rules): "
        "left alone, AWS's default group allows all traffic between members and all egress."
    ),
    remediation="Add aws.ec2.DefaultSecurityGroup(vpc_id=vpc.id) with no ingress/egress (revokes defaults).",
)
def vpc_default_security_group_managed(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    for vpc in stack.of_type(tokens.VPC):
        if not stack.referrers(vpc, (tokens.DEFAULT_SECURITY_GROUP,), "vpcId"):
            yield vpc.urn, f"{vpc.label} leaves its default security group with AWS's allow rules"


@rules.resource(
    "vpc-dns-enabled",
    types=(tokens.VPC,),
    description=(
        "VPCs must enable DNS support and DNS hostnames: interface-endpoint private DNS only resolves "
        "when both are on (enableDnsHostnames defaults to false)."
    ),
    remediation="Set enable_dns_support=True and enable_dns_hostnames=True on the aws.ec2.Vpc.",
)
def vpc_dns_enabled(res: Resource, _: Config) -> Iterator[str]:
    # Provider defaults: enableDnsSupport true, enableDnsHostnames false.
    for key, default in (("enableDnsSupport", True), ("enableDnsHostnames", False)):
        value = res.get(key)
        if not is_unknown(value) and (default if value is None else value) is not True:
            yield f"{res.label} has {key} off"
