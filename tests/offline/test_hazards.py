"""The hazard checks find today's defects in recorded graphs of today's design, and stop finding each
once the graph is changed the way the fix changes it (tests/offline/fixtures/design-2026-12-01, recorded
with `python -m offline.snapshots record` before the Part A fixes of issue #9)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from offline import hazards
from offline.engine_plan import read_engine_plan
from offline.model import ResourceSnapshot
from offline.plan import Plan, plan, plan_destroy
from offline.snapshots import read

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DESIGN = FIXTURES / "design-2026-12-01"


def graph(name: str) -> list[ResourceSnapshot]:
    return read(DESIGN / f"{name}.json")


def found(step_plan: Plan, rule: str) -> list[tuple[str, ...]]:
    """The resource names of each hazard of `rule`."""
    names = {s.urn: s.name for s in step_plan.steps}
    return sorted(tuple(names[u] for u in h.urns) for h in hazards.check(step_plan) if h.rule == rule)


def edited(resources: list[ResourceSnapshot], name: str, **changes: object) -> list[ResourceSnapshot]:
    return [dataclasses.replace(r, **changes) if r.name == name else r for r in resources]  # type: ignore[arg-type]


def urn(resources: list[ResourceSnapshot], name: str) -> str:
    return next(r.urn for r in resources if r.name == name)


# --- concurrent-prepare (#9 A1) -------------------------------------------------------------------


def test_two_action_groups_without_an_order_prepare_the_agent_at_once() -> None:
    dev = graph("dev")
    assert found(plan([], dev), "concurrent-prepare") == [("agent-client-tools", "agent-tools")]


def test_serialised_action_groups_are_not_a_hazard() -> None:
    dev = graph("dev")
    tools = next(r for r in dev if r.name == "agent-tools")
    serial = edited(dev, "agent-tools", dependencies=(*tools.dependencies, urn(dev, "agent-client-tools")))
    assert found(plan([], serial), "concurrent-prepare") == []


def test_two_updated_action_groups_in_one_wave_are_found() -> None:
    dev = graph("dev")
    new = [
        dataclasses.replace(r, inputs={**r.inputs, "description": r.inputs["description"] + "!"})
        if r.type == hazards.ACTION_GROUP
        else r
        for r in dev
    ]
    step_plan = plan(dev, new)
    groups = [s for s in step_plan.steps if s.type == hazards.ACTION_GROUP]
    assert len({s.wave for s in groups}) == 1
    assert found(step_plan, "concurrent-prepare") == [("agent-client-tools", "agent-tools")]


# --- grant-narrowed-before-move (#9 A3) -----------------------------------------------------------


def test_the_alias_move_window_is_found_in_the_invoker_policy_and_the_endpoint_policy() -> None:
    step_plan = plan(graph("dev"), graph("dev-instruction-changed"))
    assert found(step_plan, "grant-narrowed-before-move") == [
        ("endpoints-bedrock-agent-runtime", "invoker-function"),
        ("invoker-permissions", "invoker-function"),
    ]


def _grant_every_alias(resources: list[ResourceSnapshot]) -> list[ResourceSnapshot]:
    """The fix's shape: both policies name agent-alias/<agentId>/* instead of one alias ARN."""
    out = []
    for r in resources:
        policy = r.inputs.get("policy")
        if isinstance(policy, str) and "agent-alias/" in policy:
            document = json.loads(policy)
            for statement in document["Statement"]:
                if str(statement.get("Resource", "")).count("agent-alias/"):
                    statement["Resource"] = statement["Resource"].rsplit("/", 1)[0] + "/*"
            deps = {k: v for k, v in r.property_dependencies.items() if k != "policy"}
            r = dataclasses.replace(
                r, inputs={**r.inputs, "policy": json.dumps(document)}, property_dependencies=deps
            )
        out.append(r)
    return out


def test_a_grant_on_every_alias_of_the_agent_closes_the_window() -> None:
    step_plan = plan(_grant_every_alias(graph("dev")), _grant_every_alias(graph("dev-instruction-changed")))
    assert {s.name for s in step_plan.steps} == {"agent-agent", "agent-alias", "invoker-function"}
    assert found(step_plan, "grant-narrowed-before-move") == []


def test_the_engine_s_plan_with_unknown_policies_is_checked_the_same_way() -> None:
    document = json.loads((FIXTURES / "pulumi-preview-instruction-change.json").read_text())
    engine_plan = read_engine_plan(document)
    policy = next(s for s in engine_plan.steps if s.name == "invoker-permissions")
    assert policy.changes[0].new == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # unknown in a real preview
    alias = next(s for s in engine_plan.steps if s.name == "agent-alias")
    assert alias.op == "replace"
    assert not alias.delete_before_replace
    assert alias.delete_wave > max(s.wave for s in engine_plan.steps)
    assert found(engine_plan, "grant-narrowed-before-move") == [
        ("endpoints-bedrock-agent-runtime", "invoker-function"),
        ("invoker-permissions", "invoker-function"),
    ]


# --- snapshot-before-delete (#9 A4) ---------------------------------------------------------------


def test_removing_an_action_group_after_the_alias_snapshot_is_found() -> None:
    step_plan = plan(graph("dev"), graph("dev-client-tools-removed"))
    assert [s.name for s in step_plan.by_op("delete")] == ["agent-client-tools"]
    assert found(step_plan, "snapshot-before-delete") == [("agent-alias", "agent-client-tools")]


def test_disabling_the_group_instead_of_deleting_it_is_not_a_snapshot_hazard() -> None:
    dev = graph("dev")
    disabled = edited(
        graph("dev-client-tools-removed") + [r for r in dev if r.name == "agent-client-tools"],
        "agent-client-tools",
        inputs={
            **next(r for r in dev if r.name == "agent-client-tools").inputs,
            "actionGroupState": "DISABLED",
        },
    )
    assert found(plan(dev, disabled), "snapshot-before-delete") == []


# --- grant-not-in-force (#9 A2) -------------------------------------------------------------------


def test_the_model_policy_written_just_before_create_agent_is_found() -> None:
    assert ("agent-model-access", "agent-agent") in found(plan([], graph("dev")), "grant-not-in-force")


def test_the_model_policy_written_just_before_update_agent_is_found() -> None:
    step_plan = plan(graph("dev"), graph("dev-model-changed"))
    assert found(step_plan, "grant-not-in-force") == [("agent-model-access", "agent-agent")]


def test_a_propagation_wait_between_grant_and_agent_puts_the_grant_in_force() -> None:
    dev = graph("dev")
    policy, agent = urn(dev, "agent-model-access"), urn(dev, "agent-agent")
    role = urn(dev, "agent-role")
    wait = ResourceSnapshot(
        urn=agent.replace(
            "aws:bedrock/agentAgent:AgentAgent::agent-agent", "time:index/sleep:Sleep::agent-iam-wait"
        ),
        type="time:index/sleep:Sleep",
        name="agent-iam-wait",
        inputs={"createDuration": "20s"},
        dependencies=(policy, role),
    )
    waited = edited(dev, "agent-agent", dependencies=(wait.urn, role))
    waited.insert(waited.index(next(r for r in waited if r.name == "agent-agent")), wait)
    assert found(plan([], waited), "grant-not-in-force") == []


# --- eni-grant-deleted-first (#9 A8) --------------------------------------------------------------


def test_destroy_deletes_the_functions_eni_grants_before_their_network() -> None:
    hazards_found = found(plan_destroy(graph("dev")), "eni-grant-deleted-first")
    assert ("invoker-permissions", "invoker-function") in hazards_found
    assert ("action-group-permissions", "action-group-function") in hazards_found


def _eni_grant_kept_for_the_network(resources: list[ResourceSnapshot]) -> list[ResourceSnapshot]:
    """The fix's shape: each function's ENI actions in a policy of their own (on the role only), which
    the subnets and security groups depend on, so destroy deletes them after the network."""
    out, grants = [], []
    for r in resources:
        policy = r.inputs.get("policy")
        if (
            r.type == "aws:iam/rolePolicy:RolePolicy"
            and isinstance(policy, str)
            and "DeleteNetworkInterface" in policy
        ):
            document = json.loads(policy)
            eni = [s for s in document["Statement"] if "ec2:DeleteNetworkInterface" in s["Action"]]
            document["Statement"] = [s for s in document["Statement"] if s not in eni]
            r = dataclasses.replace(r, inputs={**r.inputs, "policy": json.dumps(document)})
            grant = dataclasses.replace(
                r,
                urn=r.urn + "-eni",
                name=r.name + "-eni",
                inputs={**r.inputs, "policy": json.dumps({"Version": "2012-10-17", "Statement": eni})},
                dependencies=r.property_dependencies["role"],
                property_dependencies={"role": r.property_dependencies["role"]},
            )
            grants.append(grant)
            out.append(grant)
        out.append(r)
    network_types = ("aws:ec2/subnet:Subnet", "aws:ec2/securityGroup:SecurityGroup")
    extra = tuple(g.urn for g in grants)
    return [
        dataclasses.replace(r, dependencies=(*r.dependencies, *extra)) if r.type in network_types else r
        for r in out
    ]


def test_a_grant_the_network_depends_on_outlives_it_on_destroy() -> None:
    fixed = _eni_grant_kept_for_the_network(graph("dev"))
    step_plan = plan_destroy(fixed)
    subnet = next(s for s in step_plan.steps if s.type == "aws:ec2/subnet:Subnet")
    assert step_plan.step(urn(fixed, "invoker-permissions-eni")).delete_wave > subnet.delete_wave
    assert found(step_plan, "eni-grant-deleted-first") == []
