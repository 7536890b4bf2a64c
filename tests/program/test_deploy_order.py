"""Order the engine sees: what is created before what, and so what `pulumi destroy` deletes after what.

The engine creates a resource after everything it depends on (explicit `depends_on`, the resources
its inputs come from, its parent) and deletes it before them. These tests read those edges from the
registered resources.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.agent.classic import ActionGroupSpec, action_group_version_inputs, version_hash
from offline.engine import ProgramRun
from tests.program.conftest import RunProgram
from tests.programs import shared_run

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
    return shared_run("prod")


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


AGENT = "aws:bedrock/agentAgent:AgentAgent"
ACTION_GROUP = "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"
ALIAS = "aws:bedrock/agentAgentAlias:AgentAgentAlias"
SLEEP = "time:index/sleep:Sleep"
PERMISSION = "aws:lambda/permission:Permission"


def test_action_groups_prepare_the_agent_one_at_a_time(prod: ProgramRun) -> None:
    groups = prod.of_type(ACTION_GROUP)
    assert len(groups) == 2
    assert all(group.inputs["prepareAgent"] is True for group in groups)
    agent = prod.one(AGENT)
    # Every preparing step is ordered against every other: never two PrepareAgent calls at once.
    preparing = [agent, *groups]
    for i, first in enumerate(preparing):
        for second in preparing[i + 1 :]:
            assert depends_on(prod, second.urn, first.urn) or depends_on(prod, first.urn, second.urn), (
                first.name,
                second.name,
            )
    # The Lambda group is created after its executor may be invoked by this agent.
    assert depends_on(
        prod, prod.one(ACTION_GROUP, "agent-tools").urn, prod.one(PERMISSION, "agent-tools-invoke").urn
    )


def test_model_permission_is_in_force_before_the_agent_is_created_or_updated(prod: ProgramRun) -> None:
    agent, grant, wait = prod.one(AGENT), prod.one(ROLE_POLICY, "agent-model-access"), prod.one(SLEEP)
    role = prod.one("aws:iam/role:Role", "agent-role")
    assert grant.inputs["role"] == role.outputs["id"]
    # grant -> propagation wait -> agent (CreateAgent/UpdateAgent/PrepareAgent validate the grant).
    assert depends_on(prod, wait.urn, grant.urn)
    assert depends_on(prod, agent.urn, wait.urn)
    assert wait.inputs["createDuration"] == "20s"
    # The wait runs again whenever the grant or the role changes (its triggers force replacement)...
    assert wait.inputs["triggers"] == {"role": role.outputs["arn"], "policy": grant.inputs["policy"]}
    assert wait.replace_on_changes == ("triggers",)
    # ...and the grant is replaced create-before-delete, so the old model stays granted until the end.
    assert grant.replace_on_changes == ("policy",)
    assert grant.delete_before_replace is False


def test_a_model_change_reruns_the_wait(program: RunProgram) -> None:
    before = program("dev").one(SLEEP).inputs["triggers"]
    after = program("dev", agentFoundationModel="anthropic.claude-3-5-haiku-20241022-v1:0").one(SLEEP)
    assert after.inputs["triggers"]["policy"] != before["policy"]


def test_a_disabled_group_leaves_the_version_and_its_removal_keeps_the_alias() -> None:
    schema: Any = {"member_functions": {"functions": [{"name": "f", "description": "d"}]}}
    keep = ActionGroupSpec("keep", "kept", schema)
    leaving = ActionGroupSpec("leaving", "on its way out", schema)
    disabled = ActionGroupSpec("leaving", "on its way out", schema, enabled=False)
    agent = {"instruction": "i" * 40, "foundation_model": "m"}
    step_1 = version_hash(agent, [keep, disabled])
    # Step 1, disable: the alias moves to a version in which the group is disabled.
    assert step_1 != version_hash(agent, [keep, leaving])
    # Step 2, remove: nothing a version holds changes, so no alias is replaced before the deletion.
    assert step_1 == version_hash(agent, [keep])
    # The group itself is registered DISABLED; an enabled one leaves the provider's default (ENABLED).
    assert action_group_version_inputs(disabled)["action_group_state"] == "DISABLED"
    assert action_group_version_inputs(leaving)["action_group_state"] is None
