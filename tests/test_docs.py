"""The README's generated blocks match their sources (refresh with `python -m offline.docs`)."""

from __future__ import annotations

import pytest

from offline.docs import GENERATORS, README, block


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_readme_block_is_current(name: str) -> None:
    assert block(README.read_text(encoding="utf-8"), name) == GENERATORS[name](), (
        f"README block '{name}' is stale: run `python -m offline.docs`"
    )


def test_every_setting_is_documented_with_its_default() -> None:
    table = block(README.read_text(encoding="utf-8"), "config-table")
    assert "| `vpcCidr` | string | `10.4.0.0/16` |" in table
    assert '| `interfaceEndpoints` | array | `["bedrock-agent-runtime"]` |' in table
    assert "| `powertoolsLayerArn` | string | (unset) |" in table
    assert "| `agentGuardrailId` | string | (unset) |" in table


def test_refresh_keeps_everything_around_a_block_even_when_it_was_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import offline.docs as docs

    monkeypatch.setattr(docs, "GENERATORS", {"t": lambda: "| a |"})
    for inner in ("", "old\n"):
        text = f"head\n<!-- t:start -->\n{inner}<!-- t:end -->\n## Tail\nmore\n"
        assert docs.refresh(text) == "head\n<!-- t:start -->\n| a |\n<!-- t:end -->\n## Tail\nmore\n"


def test_the_cost_summary_has_every_stack_and_its_model_total() -> None:
    from offline.cost_docs import README_STACKS, stack_estimates

    rows = block(README.read_text(encoding="utf-8"), "idle-cost-summary").splitlines()[2:]
    costs = stack_estimates(README_STACKS)
    assert [row.split(" | ")[:2] for row in rows] == [
        [f"| {stack}", f"**${costs[stack].monthly_usd:,.2f}**"] for stack in README_STACKS
    ]
    assert sorted(README_STACKS) == sorted(
        path.name.split(".")[1] for path in README.parent.glob("Pulumi.*.yaml")
    )


def test_the_agentcore_knowledge_base_steps_warn_that_live_sessions_may_keep_the_old_tools() -> None:
    # Whether a live harness session lists the gateway's tools again is undocumented: the steps say so
    # and name the real way out (the session's idle timeout setting, the API's DELETE route).
    import re

    text = " ".join(README.read_text(encoding="utf-8").split())
    steps = text[text.index("**On AgentCore** there is no association") :]
    steps = steps[: steps.index("In production the vector bucket")]
    assert "sessions opened before any of these changes may keep the tool list they started with" in steps
    assert "unverified" in steps
    assert "(`agentIdleSessionTtlSeconds`)" in steps
    assert "`DELETE /chat/{sessionId}`" in steps
    root = README.parent
    assert re.search(r"^  agentIdleSessionTtlSeconds:$", (root / "Pulumi.yaml").read_text(), re.MULTILINE)
    assert "## DELETE /chat/{sessionId}" in (root / "docs/api.md").read_text(encoding="utf-8")
