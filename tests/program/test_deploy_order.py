"""Order the engine sees: what is created before what, and so what `pulumi destroy` deletes after what.

The engine creates a resource after everything it depends on (explicit `depends_on`, the resources
its inputs come from, its parent) and deletes it before them. These tests read those edges from the
registered resources.
"""

from __future__ import annotations

import json

import pytest

from offline.engine import ProgramRun, run_program
from tests.program.conftest import RunProgram

FUNCTION = "aws:lambda/function:Function"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SUBNET = "aws:ec2/subnet:Subnet"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


def direct_dependencies(run: ProgramRun, urn: str) -> set[str]:
    if urn == run.stack_urn:
        return set()
    resource = run.by_urn(urn)
    found = set(resource.dependencies)
    for urns in resource.property_dependencies.values():
        found.update(urns)
    if resource.parent:
        found.add(resource.parent)
    return found


def depends_on(run: ProgramRun, dependent: str, dependency: str) -> bool:
    """True when `dependent` (transitively) waits for `dependency`: created after it, deleted before it."""
    seen: set[str] = set()
    todo = [dependent]
    while todo:
        for urn in direct_dependencies(run, todo.pop()):
            if urn == dependency:
                return True
            if urn not in seen and urn.startswith("urn:"):
                seen.add(urn)
                todo.append(urn)
    return False


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_program("prod", {})


@pytest.mark.parametrize("role", ["invoker", "action-group"])
def test_eni_grant_outlives_subnets_and_security_group_on_destroy(prod: ProgramRun, role: str) -> None:
    grant = prod.one(ROLE_POLICY, f"{role}-vpc-access")
    function = prod.one(FUNCTION, f"{role}-function")
    network = [*prod.of_type(SUBNET), *prod.of_type(SECURITY_GROUP)]
    assert len(network) == 4  # three subnets and the shared group
    for resource in network:
        # Subnets and group are deleted before the grant: Lambda can still remove the function's ENIs.
        assert depends_on(prod, resource.urn, grant.urn), resource.name
        assert not depends_on(prod, grant.urn, resource.urn), resource.name
    # The function is created after the grant and deleted before it.
    assert depends_on(prod, function.urn, grant.urn)
    statements = json.loads(grant.inputs["policy"])["Statement"]
    assert [s["Action"] for s in statements] == [
        [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ]
    ]


def test_no_other_policy_of_the_functions_carries_eni_actions(program: RunProgram) -> None:
    run = program("dev")
    for role in ("invoker", "action-group"):
        policy = json.loads(run.one(ROLE_POLICY, f"{role}-permissions").inputs["policy"])
        actions = [a for s in policy["Statement"] for a in s["Action"]]
        assert not [a for a in actions if a.startswith("ec2:")]
