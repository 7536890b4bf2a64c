"""The offline step plan: diff, replace-forcing inputs, the engine's order, and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from offline import hazards, replacements
from offline.baseline import isolated_project_modules, run_at_revision
from offline.engine import REPO_ROOT, run_program
from offline.plan import CREATE, DELETE, REPLACE, UPDATE, Plan, fingerprint_assets, plan, plan_destroy
from offline.preview import main
from tests.programs import shared_run

INSTRUCTION = (
    "You are a careful assistant. Answer briefly, use the tools when they help, say when you do not know."
)


def state(stack: str = "dev", **overrides: object) -> list:
    return fingerprint_assets(shared_run(stack, overrides).resources)


def fresh_state(stack: str = "dev", **overrides: object) -> list:
    """A new run of the program, never one from the cache: for checks that two runs agree."""
    return fingerprint_assets(run_program(stack, overrides).resources)


def ops(step_plan: Plan) -> dict[str, str]:
    return {step.name: step.op for step in step_plan.steps if step.custom}


STACKS = sorted(path.name.split(".")[1] for path in REPO_ROOT.glob("Pulumi.*.yaml"))


@pytest.mark.parametrize("stack", STACKS)
def test_every_type_the_program_uses_is_in_the_replacement_table(stack: str) -> None:
    used = {r.type for r in shared_run(stack).resources if r.custom}
    missing = sorted(used - replacements.known_types())
    assert missing == [], (
        f"regenerate offline/replacements.json (python -m offline.replacements_gen): {missing}"
    )


def test_the_table_holds_the_provider_s_replace_forcing_inputs() -> None:
    # Spot checks against the Terraform AWS provider source (ForceNew / RequiresReplace).
    assert {"availabilityZone", "cidrBlock", "vpcId"} <= replacements.for_type(
        "aws:ec2/subnet:Subnet"
    ).replace
    assert {"serviceName", "vpcId", "vpcEndpointType"} <= replacements.for_type(
        "aws:ec2/vpcEndpoint:VpcEndpoint"
    ).replace
    assert "agentId" in replacements.for_type("aws:bedrock/agentAgentAlias:AgentAgentAlias").replace
    assert (
        "agentAliasName" not in replacements.for_type("aws:bedrock/agentAgentAlias:AgentAgentAlias").replace
    )
    function = replacements.for_type("aws:lambda/function:Function")
    assert "name" in function.replace
    assert "environment" not in function.replace
    assert function.autoname == "name"
    assert {"function", "principal", "sourceArn"} <= replacements.for_type(
        "aws:lambda/permission:Permission"
    ).replace
    with pytest.raises(replacements.UnknownResourceTypeError, match="replacements_gen"):
        replacements.for_type("aws:nothing/such:Thing")


def test_the_same_program_plans_no_change() -> None:
    base = fresh_state()
    step_plan = plan(base, fresh_state())
    assert step_plan.steps == []
    assert step_plan.unchanged == len(base)


def test_an_instruction_change_updates_the_agent_and_replaces_the_alias_only() -> None:
    step_plan = plan(state(), state(agentInstruction=INSTRUCTION))
    steps = ops(step_plan)
    assert steps["agent-agent"] == UPDATE
    assert steps["agent-alias"] == REPLACE
    assert steps["invoker-function"] == UPDATE  # it moves to the new alias id
    agent = step_plan.step(next(s.urn for s in step_plan.steps if s.name == "agent-agent"))
    assert agent.changed_paths == ("instruction",)
    alias = next(s for s in step_plan.steps if s.name == "agent-alias")
    assert alias.replace_reasons == ("replacementTrigger",)
    assert not alias.delete_before_replace
    # create-before-delete: the new alias first, the old one deleted after every other step
    assert alias.wave > agent.wave
    assert alias.delete_wave == max(wave for s in step_plan.steps for wave, _ in s.phases())
    assert not {s.type for s in step_plan.steps} & {
        "aws:ec2/vpc:Vpc",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/securityGroup:SecurityGroup",
    }


def test_a_replaced_resource_makes_its_dependents_change() -> None:
    # A new CIDR replaces the VPC (ForceNew cidr_block); everything built on its id follows.
    step_plan = plan(state(), state(vpcCidr="10.42.0.0/16"))
    assert ops(step_plan)["network-vpc"] == REPLACE
    subnet = next(s for s in step_plan.steps if s.type == "aws:ec2/subnet:Subnet")
    assert subnet.op == REPLACE
    assert "cidrBlock" in subnet.replace_reasons
    vpc = next(s for s in step_plan.steps if s.name == "network-vpc")
    assert subnet.wave > vpc.wave
    # deletions run last, dependents first: the old subnet goes before the old VPC
    assert subnet.delete_wave < vpc.delete_wave


def test_destroy_deletes_dependents_first() -> None:
    base = state()
    step_plan = plan_destroy(base)
    assert {s.op for s in step_plan.steps} == {DELETE}
    waves = {s.name: s.delete_wave for s in step_plan.steps}
    assert waves["invoker-function"] < waves["network-vpc"]
    assert waves["agent-alias"] < waves["agent-agent"]


def test_first_deploy_creates_everything() -> None:
    step_plan = plan([], state())
    assert {s.op for s in step_plan.steps} == {CREATE}
    vpc = next(s for s in step_plan.steps if s.name == "network-vpc")
    subnet = next(s for s in step_plan.steps if s.type == "aws:ec2/subnet:Subnet")
    assert vpc.wave < subnet.wave


def test_the_program_at_a_revision_runs_beside_the_working_tree() -> None:
    import components

    before = sys.modules["components"]
    base = run_at_revision("HEAD", "dev")
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert base.commit == head.stdout.strip()
    assert {r.type for r in base.resources} >= {"aws:ec2/vpc:Vpc", "aws:bedrock/agentAgent:AgentAgent"}
    # the program at the revision imported its own packages; the working tree's are back afterwards
    assert sys.modules["components"] is before is components
    # assets and archives are fingerprinted by content before the unpacked revision goes away
    codes = [json.dumps(r.inputs["code"]) for r in base.resources if r.type == "aws:lambda/function:Function"]
    assert codes
    assert all('"sha256"' in code and '"path"' not in code for code in codes)


def test_isolated_modules_come_back() -> None:
    before = dict(sys.modules)
    with isolated_project_modules(REPO_ROOT):
        assert "components" not in sys.modules
    assert sys.modules.get("components") is before.get("components")


def test_an_instruction_change_against_head_exits_0_and_leaves_the_network_alone(tmp_path: Path) -> None:
    """Issue #9's "done when": agentInstruction changed in Pulumi.dev.yaml, planned against HEAD."""
    stack_file = tmp_path / "Pulumi.dev.yaml"
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    stack_file.write_text(text.rstrip("\n") + f"\n  bedrock-vpc-agent:agentInstruction: {INSTRUCTION}\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--stack", "dev", "--base", "HEAD", "--stack-config-dir", str(tmp_path)], out, err)
    printed = out.getvalue()
    plan_text = printed[printed.index("Step plan against HEAD") :]
    assert "agent-agent  update" in plan_text
    assert "agent-alias  create replacement" in plan_text
    assert "agent-alias  delete replaced" in plan_text
    assert not [line for line in plan_text.splitlines() if "aws:ec2:" in line and "VpcEndpoint" not in line]
    assert code == 0, err.getvalue()


def test_an_unknown_revision_is_a_clear_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["--stack", "dev", "--base", "no-such-rev-xyz"], out, err) == 2
    assert "no-such-rev-xyz" in err.getvalue()


def test_the_cli_json_carries_the_steps_and_hazards(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    target = tmp_path / "preview.json"
    code = main(["--stack", "dev", "--destroy", "--json", str(target)], out, err)
    document = json.loads(target.read_text())
    steps = document["plan"]["steps"]
    assert {s["op"] for s in steps} == {"delete"}
    assert document["plan"]["destroy"] is True
    assert all(s["deleteWave"] for s in steps if s["type"].startswith("aws:"))
    assert code == (1 if document["plan"]["hazards"] else 0)
    assert [h["rule"] for h in document["plan"]["hazards"]] == [
        line.split("]  ", 1)[1]
        for line in out.getvalue().splitlines()
        if line.startswith("        - [mandatory]  ")
        and line.split("]  ", 1)[1] in {c.__name__.replace("_", "-") for c in hazards.CHECKS}
    ]
