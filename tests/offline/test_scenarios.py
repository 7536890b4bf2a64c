"""Step-plan scenarios: each plan matches its expected steps and is hazard-free (see scenarios.py)."""

from __future__ import annotations

import pytest

from offline import hazards
from offline.plan import CREATE, DELETE, REPLACE, UPDATE, render
from tests.offline.scenarios import (
    ProgramState,
    Scenario,
    append_to_file,
    edit_file,
    expected_steps,
    steps_by_name,
)

DEV = ProgramState()
INSTRUCTION = "You are a careful assistant. Answer briefly and say when you do not know."
NEW_TOOL = """

@app.tool(description="Returns the text it is given, unchanged. Use it to check that tools reach the agent.")
def echo(text: Annotated[str, "The text to return, at most 200 characters."]) -> str:
    return text[:200]
"""
CLIENT_TOOLS_DISABLED = edit_file(
    "__main__.py", r"name=client_tool_group,", "name=client_tool_group, enabled=False,"
)
WITHOUT_CLIENT_TOOLS = edit_file(
    "__main__.py", r"\n\s*ToolGroup\(\s*name=client_tool_group,.*?\),(?=\s*\])", ""
)


def fixed_by(*fixes: tuple[str, str]) -> pytest.MarkDecorator:
    """Today's design has each (Part A item of issue #9, hazard); remove the mark once the items land."""
    reason = "; ".join(f"{hazard} on today's design, fixed by #9 A{item}" for item, hazard in fixes)
    return pytest.mark.xfail(strict=True, reason=reason)


SCENARIOS = [
    # Hazard-free since #9 A1 (chained action groups) and A2 (grant, wait, agent).
    Scenario("first deploy", None, DEV, others=CREATE),
    pytest.param(
        Scenario(
            "instruction change",
            DEV,
            ProgramState(overrides={"agentInstruction": INSTRUCTION}),
            {
                "agent-agent": UPDATE,
                "agent-alias": REPLACE,
                "invoker-function": UPDATE,
                # The dashboard names the live alias ARN, so it follows every alias replacement.
                "monitoring-dashboard": UPDATE,
            },
        ),
    ),
    pytest.param(
        Scenario(
            "tool added",
            DEV,
            ProgramState(edit=append_to_file("functions/action_group/tools.py", NEW_TOOL)),
            {
                "action-group-function": UPDATE,
                "agent-tools": UPDATE,
                "agent-alias": REPLACE,
                "invoker-function": UPDATE,
                "monitoring-dashboard": UPDATE,
            },
        ),
    ),
    # Removing a group takes two deployments (#9 A4, README "Changing the agent"): disabled, then deleted.
    Scenario(
        "action group removed, 1: disabled",
        DEV,
        ProgramState(edit=CLIENT_TOOLS_DISABLED),
        {
            "agent-client-tools": UPDATE,
            "agent-alias": REPLACE,
            "invoker-function": UPDATE,
            "monitoring-dashboard": UPDATE,
        },
    ),
    Scenario(
        "action group removed, 2: deleted",
        ProgramState(edit=CLIENT_TOOLS_DISABLED),
        ProgramState(edit=WITHOUT_CLIENT_TOOLS),
        {"agent-client-tools": DELETE},
    ),
    pytest.param(
        Scenario(
            "model change",
            DEV,
            ProgramState(overrides={"agentFoundationModel": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}),
            {
                # Replaced create-before-delete: the old model stays granted until the alias moved.
                "agent-model-access": REPLACE,
                "agent-permissions-propagation": REPLACE,
                "agent-agent": UPDATE,
                "agent-alias": REPLACE,
                "invoker-function": UPDATE,
                "monitoring-dashboard": UPDATE,
            },
        ),
    ),
    Scenario(
        "auth change",
        ProgramState(overrides={"webUi": False}),  # the page needs apiAuth iam
        ProgramState(overrides={"apiAuth": "api-key", "webUi": False}),
        {
            "api-key": CREATE,
            "api-usage-plan": CREATE,
            "api-usage-plan-key": CREATE,
            "api-chat-post": UPDATE,
            "api-session-delete": UPDATE,
            "api-deployment": REPLACE,
            "api-stage": UPDATE,
        },
    ),
    Scenario(
        "AZ added",
        DEV,
        ProgramState(overrides={"azCount": 2}),
        {
            "network-private-us-east-1b": CREATE,
            "network-private-us-east-1b-rt": CREATE,
            "network-private-us-east-1b-rta": CREATE,
            "endpoints-bedrock-agent-runtime": UPDATE,
            "action-group-function": UPDATE,
            "invoker-function": UPDATE,
        },
    ),
    Scenario("destroy", DEV, None, others=DELETE),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_scenario(scenario: Scenario) -> None:
    step_plan = scenario.plan()
    print("\n".join(render(step_plan)))  # shown when the scenario fails
    assert steps_by_name(step_plan) == expected_steps(scenario, step_plan)
    assert [f"{h.rule}: {h.message}" for h in hazards.check(step_plan)] == []


# --- a change of agent backend ----------------------------------------------------------------------

TO_AGENTCORE = ProgramState(
    # bedrock-runtime: the AgentCore invoker applies the guardrail itself (ApplyGuardrail)
    # no knowledge base: the harness has no retrieval tool (components/config.py refuses one on agentcore)
    overrides={
        "agentRuntime": "agentcore",
        "interfaceEndpoints": '["bedrock-agentcore", "bedrock-runtime"]',
        "knowledgeBaseEnabled": False,
    }
)


def test_classic_to_agentcore_builds_the_new_agent_switches_the_invoker_then_deletes_the_old_one() -> None:
    step_plan = Scenario("classic to agentcore", DEV, TO_AGENTCORE).plan()
    print("\n".join(render(step_plan)))
    steps = {(s.type.rsplit(":", 1)[-1], s.name, s.op): s for s in step_plan.steps if s.custom}
    created = {name for kind, name, op in steps if op == CREATE}
    deleted = {(kind, name) for kind, name, op in steps if op == DELETE and not name.startswith("knowledge-")}
    # The knowledge base goes with the move (agentcore refuses one).
    knowledge = {name for kind, name, op in steps if op == DELETE and name.startswith("knowledge-")}
    assert {"knowledge-kb", "knowledge-index", "knowledge-vectors", "knowledge-documents-source"} <= knowledge
    updated = {name for kind, name, op in steps if op == UPDATE}
    assert created == {
        "agent-gateway-role",
        "agent-role",
        "agent-gateway-invoke-tools",
        "agent-tools-invoke",
        "agent-gateway",
        "agent-tools",
        "agent-gateway-policy",
        "agent-model-access",
        "agent-harness",
        "endpoints-bedrock-agentcore",
        "endpoints-bedrock-runtime",
    }
    assert deleted == {
        ("VpcEndpoint", "endpoints-bedrock-agent-runtime"),
        ("Permission", "agent-tools-invoke"),
        ("AgentAgentAlias", "agent-alias"),
        ("AgentAgentActionGroup", "agent-client-tools"),
        ("AgentAgentActionGroup", "agent-tools"),
        ("AgentAgentKnowledgeBaseAssociation", "agent-knowledge"),
        ("AgentAgent", "agent-agent"),
        ("RolePolicy", "agent-model-access"),
        ("Sleep", "agent-permissions-propagation"),
        ("Role", "agent-role"),
    }
    # The dashboard follows the agent (its widgets name the live alias).
    # The guardrail loses its grounding check with the knowledge base: a new pinned version.
    assert updated == {"invoker-function", "monitoring-dashboard", "guardrail-guardrail"}
    # The invoker's policy is written beside the old one, which goes at the end (after the move).
    assert {name for kind, name, op in steps if op == REPLACE} == {"invoker-permissions", "guardrail-version"}
    harness = steps[("AgentcoreHarness", "agent-harness", CREATE)]
    endpoint = steps[("VpcEndpoint", "endpoints-bedrock-agentcore", CREATE)]
    invoker = steps[("Function", "invoker-function", UPDATE)]
    classic = steps[("AgentAgent", "agent-agent", DELETE)]
    old_endpoint = steps[("VpcEndpoint", "endpoints-bedrock-agent-runtime", DELETE)]
    # The invoker moves only once the harness and its endpoint exist; the Classic agent and its
    # endpoint go only after the invoker has moved.
    assert harness.wave < invoker.wave
    assert endpoint.wave <= invoker.wave
    assert steps[("VpcEndpoint", "endpoints-bedrock-runtime", CREATE)].wave <= invoker.wave
    assert invoker.wave < old_endpoint.delete_wave <= classic.delete_wave


# Hazard-free since #9 A1 (chained groups) and A3 (the invoker grants this agent's aliases).
def test_classic_to_agentcore_is_hazard_free() -> None:
    step_plan = Scenario("classic to agentcore", DEV, TO_AGENTCORE).plan()
    assert [f"{h.rule}: {h.message}" for h in hazards.check(step_plan)] == []


def test_removing_a_group_in_one_deployment_is_flagged() -> None:
    """The shortcut the two-step procedure avoids: the alias snapshots the DRAFT before the deletion."""
    step_plan = Scenario("removed at once", DEV, ProgramState(edit=WITHOUT_CLIENT_TOOLS)).plan()
    assert [h.rule for h in hazards.check(step_plan) if h.rule == "snapshot-before-delete"] == [
        "snapshot-before-delete"
    ]
