"""Graph questions several stack rules ask: which VPC a Lambda lives in, whether a route leaves the
VPC, whether a security group admits HTTPS from another group."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from . import tokens
from .framework import Resource, Stack, is_unknown, number, strings

OPEN_CIDRS: Final = ("0.0.0.0/0", "::/0")
# Route targets that only ever lead out of the VPC, by the property that names them.
_EXIT_TARGETS: Final = {
    "natGatewayId": "a NAT gateway",
    "egressOnlyGatewayId": "an egress-only internet gateway",
    "carrierGatewayId": "a carrier gateway",
}
_DESTINATIONS: Final = ("cidrBlock", "ipv6CidrBlock", "destinationCidrBlock", "destinationIpv6CidrBlock")
_INTERNET_GATEWAYS: Final = (tokens.INTERNET_GATEWAY, tokens.EGRESS_ONLY_INTERNET_GATEWAY, tokens.NAT_GATEWAY)


def is_open_cidr(value: Any) -> bool:
    """0.0.0.0/0, ::/0 or any other prefix of length 0 (e.g. "0.0.0.0/0 " or "::0/0")."""
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_network(value.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def route_exits(route: Mapping[str, Any]) -> list[str]:
    """Why one route (inline entry or aws:ec2/route:Route props) sends traffic out of the VPC."""
    return list(_literal_reasons(route).values())


def _literal_reasons(route: Mapping[str, Any]) -> dict[str, str]:
    """{property: why} for the properties of one route that lead out of the VPC."""
    reasons = {key: f"has destination {route[key]}" for key in _DESTINATIONS if is_open_cidr(route.get(key))}
    reasons.update(
        {key: f"targets {what}" for key, what in _EXIT_TARGETS.items() if route.get(key) is not None}
    )
    gateway = route.get("gatewayId")
    if isinstance(gateway, str) and gateway.startswith("igw-"):
        reasons["gatewayId"] = f"targets internet gateway {gateway}"
    return reasons


def _route_reasons(stack: Stack, holder: Resource, top: str | None, route: Mapping[str, Any]) -> list[str]:
    """Every reason one route leaves the VPC, once: a gateway the stack manages is named instead of the
    generic "a NAT gateway" (one fault, one finding)."""
    reasons = _literal_reasons(route)
    for key in ("gatewayId", *_EXIT_TARGETS):
        value = route.get(key)
        if value is None:
            continue
        found = stack.resolve(holder, top or key, value, _INTERNET_GATEWAYS).found
        if found:
            reasons[key] = "targets " + ", ".join(gateway.label for gateway in found)
    return list(reasons.values())


def exit_routes(stack: Stack, table: Resource) -> list[tuple[Resource, str]]:
    """(resource to blame, reason) for every route of `table` that leaves the VPC: one entry per route."""
    found: list[tuple[Resource, str]] = []
    inline = table.get("routes")
    for entry in inline if isinstance(inline, list) else []:
        if isinstance(entry, Mapping):
            reasons = _route_reasons(stack, table, "routes", entry)
            if reasons:
                found.append((table, f"{table.label} has a route that {' and '.join(reasons)}"))
    for route in stack.referrers(table, (tokens.ROUTE,), "routeTableId"):
        reasons = _route_reasons(stack, route, None, route.props)
        if reasons:
            found.append((route, f"{route.label} in {table.label} {' and '.join(reasons)}"))
    return _dedupe(found)


def _dedupe(items: Iterable[tuple[Resource, str]]) -> list[tuple[Resource, str]]:
    out: list[tuple[Resource, str]] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def vpc_of(stack: Stack, res: Resource, path: str = "vpcId") -> list[Resource]:
    return list(stack.refs(res, path, (tokens.VPC,)).found)


def route_tables_of_subnet(stack: Stack, subnet: Resource) -> list[Resource]:
    """Explicitly associated route tables, else the VPC's main route table if the stack manages it."""
    tables = [
        table
        for assoc in stack.referrers(subnet, (tokens.ROUTE_TABLE_ASSOCIATION,), "subnetId")
        for table in stack.refs(assoc, "routeTableId", tokens.ROUTE_TABLES).found
    ]
    if tables:
        return tables
    for vpc in vpc_of(stack, subnet):
        for main in stack.referrers(vpc, (tokens.MAIN_ROUTE_TABLE_ASSOCIATION,), "vpcId"):
            tables += stack.refs(main, "routeTableId", tokens.ROUTE_TABLES).found
        tables += stack.referrers(vpc, (tokens.DEFAULT_ROUTE_TABLE,), "defaultRouteTableId")
    return tables


def subnet_public_reasons(stack: Stack, subnet: Resource) -> list[str]:
    reasons = []
    if subnet.get("mapPublicIpOnLaunch") is True:
        reasons.append(f"{subnet.label} assigns public IPs on launch")
    for table in route_tables_of_subnet(stack, subnet):
        reasons += [why for _, why in exit_routes(stack, table)]
    return reasons


def function_vpcs(stack: Stack, function: Resource) -> list[Resource]:
    vpcs: list[Resource] = []
    for subnet in stack.refs(function, "vpcConfig.subnetIds", tokens.SUBNETS).found:
        vpcs += [v for v in vpc_of(stack, subnet) if v not in vpcs]
    return vpcs


def interface_endpoints(stack: Stack, vpc: Resource) -> list[Resource]:
    return [
        e
        for e in stack.referrers(vpc, (tokens.VPC_ENDPOINT,), "vpcId")
        if e.get("vpcEndpointType") == "Interface" or is_unknown(e.get("vpcEndpointType"))
    ]


def covers_https(protocol: Any, from_port: Any, to_port: Any) -> bool:
    """Does a rule with this protocol/port range admit TCP 443? Unknown values count as yes."""
    if is_unknown(protocol) or is_unknown(from_port) or is_unknown(to_port):
        return True
    proto = str(protocol).lower()
    if proto in ("-1", "all"):
        return True
    if proto not in ("tcp", "6"):
        return False
    low, high = number(from_port), number(to_port)
    return low is not None and high is not None and low <= 443 <= high


@dataclass(frozen=True)
class SgRule:
    """One security-group rule in any of its three pulumi-aws forms (inline, ec2 rule, vpc rule)."""

    protocol: Any
    from_port: Any
    to_port: Any
    peers: tuple[Resource, ...]  # security groups on the other side
    cidrs: tuple[str, ...]


def sg_rules(stack: Stack, group: Resource, direction: str) -> list[SgRule]:
    """Every `direction` ("ingress"/"egress") rule of `group`, whatever resource declares it."""
    found: list[SgRule] = []
    standalone = tokens.SG_INGRESS_RULE if direction == "ingress" else tokens.SG_EGRESS_RULE
    for rule in stack.referrers(group, (standalone,), "securityGroupId"):
        peers = stack.refs(rule, "referencedSecurityGroupId", tokens.SECURITY_GROUPS).found
        cidrs = strings(rule.get("cidrIpv4")) + strings(rule.get("cidrIpv6"))
        found.append(
            SgRule(rule.get("ipProtocol"), rule.get("fromPort"), rule.get("toPort"), peers, tuple(cidrs))
        )
    for rule in stack.referrers(group, (tokens.SECURITY_GROUP_RULE,), "securityGroupId"):
        if rule.get("type") == direction:
            peers = (group,) if rule.get("self") is True else ()
            peers += stack.refs(rule, "sourceSecurityGroupId", tokens.SECURITY_GROUPS).found
            cidrs = strings(rule.get("cidrBlocks")) + strings(rule.get("ipv6CidrBlocks"))
            found.append(
                SgRule(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), peers, tuple(cidrs))
            )
    inline = group.get(direction)
    for entry in inline if isinstance(inline, list) else []:
        if isinstance(entry, Mapping):
            peers = (group,) if entry.get("self") is True else ()
            peers += stack.resolve(
                group, direction, entry.get("securityGroups"), tokens.SECURITY_GROUPS
            ).found
            cidrs = strings(entry.get("cidrBlocks")) + strings(entry.get("ipv6CidrBlocks"))
            found.append(
                SgRule(entry.get("protocol"), entry.get("fromPort"), entry.get("toPort"), peers, tuple(cidrs))
            )
    return found


def _overlaps(cidr: str, networks: Sequence[str]) -> bool:
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
        return any(net.overlaps(ipaddress.ip_network(n, strict=False)) for n in networks if n)
    except (TypeError, ValueError):
        return False


def sg_allows_https(
    stack: Stack, group: Resource, peers: Sequence[Resource], direction: str, networks: Sequence[str] = ()
) -> bool:
    """True if `group` has a `direction` rule for TCP 443 whose other side is a security group in
    `peers` (the group itself for a self-reference) or a CIDR overlapping one of `networks`."""
    return any(
        covers_https(rule.protocol, rule.from_port, rule.to_port)
        and (any(peer in rule.peers for peer in peers) or any(_overlaps(c, networks) for c in rule.cidrs))
        for rule in sg_rules(stack, group, direction)
    )
