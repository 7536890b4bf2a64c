"""Small ResourceSnapshot graphs for the policy tests, shaped like the engine reports them.

    g = Graph()
    vpc = g.add(VPC, "vpc", cidrBlock="10.0.0.0/16")
    subnet = g.add(SUBNET, "a", vpcId=vpc.id)

A `Ref` (`vpc.id`, `role.arn`, `fn.ref("name")`) becomes the referenced resource's value and records
the property dependency, as the SDK does for an Output input. `Json(...)` is a policy document
serialized after its refs are resolved. `snapshots(preview=True)` turns every ref into the engine's
unknown marker (dependencies stay), which is what a preview of a fresh stack looks like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from offline.analyzer import UNKNOWN
from offline.model import ProviderSnapshot, ResourceSnapshot
from policies.crossguard import tokens as t

STACK, PROJECT = "test", "bedrock-vpc-agent"
REGION, ACCOUNT = "us-east-1", "123456789012"
DEFAULT_TAGS = {"Project": "bedrock-vpc-agent", "Environment": "test"}

_ID_PREFIX = {
    t.VPC: "vpc-",
    t.SUBNET: "subnet-",
    t.ROUTE_TABLE: "rtb-",
    t.INTERNET_GATEWAY: "igw-",
    t.NAT_GATEWAY: "nat-",
    t.EGRESS_ONLY_INTERNET_GATEWAY: "eigw-",
    t.SECURITY_GROUP: "sg-",
    t.DEFAULT_SECURITY_GROUP: "sg-",
    t.VPC_ENDPOINT: "vpce-",
    t.EIP: "eipalloc-",
}


def provider(default_tags: dict[str, str] | None = DEFAULT_TAGS) -> ProviderSnapshot:
    # An explicit aws.Provider sends non-string config JSON-encoded, defaultTags included.
    props: dict[str, Any] = {"region": REGION}
    if default_tags is not None:
        props["defaultTags"] = json.dumps({"tags": default_tags})
    return ProviderSnapshot(
        urn=f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:aws::aws",
        type="pulumi:providers:aws",
        name="aws",
        properties=props,
    )


@dataclass(frozen=True)
class Ref:
    node: Node
    attr: str
    template: str = "{}"

    def value(self) -> str:
        return self.template.format(self.node.output(self.attr))


@dataclass(frozen=True)
class Json:
    """A JSON policy document; refs inside are resolved before serialisation."""

    doc: Any


@dataclass(eq=False)
class Node:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: Node | None = None
    extra_outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False

    @property
    def id(self) -> Ref:
        return Ref(self, "id")

    @property
    def arn(self) -> Ref:
        return Ref(self, "arn")

    def ref(self, attr: str, template: str = "{}") -> Ref:
        return Ref(self, attr, template)

    @property
    def physical_name(self) -> str:
        name = self.inputs.get("name")
        return name if isinstance(name, str) else self.name

    def output(self, attr: str) -> str:
        if attr in self.extra_outputs:
            return str(self.extra_outputs[attr])
        if attr == "id":
            return f"{_ID_PREFIX.get(self.type, '')}{self.name}"
        if attr == "name":
            return self.physical_name
        if isinstance(self.inputs.get(attr), str):
            return str(self.inputs[attr])
        if attr == "arn":
            service, kind = self.type.split(":")[1].split("/")
            region = "" if service == "iam" else REGION
            return f"arn:aws:{service}:{region}:{ACCOUNT}:{kind}/{self.physical_name}"
        raise KeyError(f"{self.name} has no output {attr!r}; pass it in extra_outputs")


class Graph:
    def __init__(self, default_tags: dict[str, str] | None = DEFAULT_TAGS) -> None:
        self.nodes: list[Node] = []
        self.provider = provider(default_tags)

    def add(
        self,
        type_: str,
        logical: str,
        /,
        *,
        parent: Node | None = None,
        outputs: dict[str, Any] | None = None,
        protect: bool = False,
        **inputs: Any,
    ) -> Node:
        """Register `type_` named `logical`; keyword arguments are its inputs (`name` included)."""
        qualified = type_ if parent is None else f"{_qualified_type(parent)}${type_}"
        urn = f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{logical}"
        node = Node(type_, logical, urn, inputs, parent, outputs or {}, protect)
        self.nodes.append(node)
        return node

    def remove(self, *nodes: Node) -> None:
        for node in nodes:
            self.nodes.remove(node)

    def snapshots(self, *, preview: bool = False) -> list[ResourceSnapshot]:
        return [self._snapshot(node, preview) for node in self.nodes]

    def _snapshot(self, node: Node, preview: bool) -> ResourceSnapshot:
        deps: dict[str, list[str]] = {}
        inputs = {
            key: _resolve(value, preview, deps.setdefault(key, [])) for key, value in node.inputs.items()
        }
        property_dependencies = {key: tuple(dict.fromkeys(urns)) for key, urns in deps.items() if urns}
        dependencies = tuple(dict.fromkeys(u for urns in property_dependencies.values() for u in urns))
        outputs = (
            {}
            if preview
            else {"id": node.output("id"), "arn": node.output("arn"), "name": node.physical_name}
        )
        if not preview:
            outputs.update(node.extra_outputs)
        return ResourceSnapshot(
            urn=node.urn,
            type=node.type,
            name=node.name,
            inputs=inputs,
            parent=node.parent.urn if node.parent else None,
            dependencies=dependencies,
            property_dependencies=property_dependencies,
            provider=self.provider,
            outputs=outputs,
            protect=node.protect,
        )


def _qualified_type(node: Node) -> str:
    return node.type if node.parent is None else f"{_qualified_type(node.parent)}${node.type}"


def _resolve(value: Any, preview: bool, deps: list[str]) -> Any:
    if isinstance(value, Ref):
        deps.append(value.node.urn)
        return UNKNOWN if preview else value.value()
    if isinstance(value, Json):
        before = len(deps)
        resolved = _resolve(value.doc, preview, deps)
        return UNKNOWN if preview and len(deps) > before else json.dumps(resolved)
    if isinstance(value, dict):
        return {k: _resolve(v, preview, deps) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve(v, preview, deps) for v in value]
    return value


def policy(*statements: dict[str, Any]) -> Json:
    return Json({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(service: str, **condition: Any) -> Json:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return policy(statement)
