"""The agent definition hash covers every input an agent version freezes (issue #10 item 20).

The list is derived from the installed pulumi_aws: every parameter of `AgentAgentArgs` and
`AgentAgentActionGroupArgs` is either frozen into a version - then the component passes it from the
dict it hashes, and changing it changes the hash - or listed below with the reason it is not. A field a
new pulumi-aws adds fails `test_every_input_is_hashed_or_exempt` until someone decides which it is.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import pulumi_aws as aws
import pytest

from components.agent.classic import (
    ActionGroupSpec,
    action_group_version_inputs,
    agent_version_inputs,
    definition_hash,
)
from components.config import AgentSettings
from tests.programs import shared_run

# Inputs that are not part of what a version answers with, and why.
AGENT_NOT_FROZEN = {
    "agent_name": "the agent's name in the console; an alias routes to a version, whatever the name",
    "agent_resource_role_arn": "an Output (the role's ARN); the role is autonamed and replaced only when "
    "its name or path changes, and what it may do is its policy, which versions do not snapshot",
    "prepare_agent": "how the provider deploys (prepare the DRAFT after each change), not the agent",
    "region": "a region change replaces the agent itself, and with it every alias",
    "skip_resource_in_use_check": "a deletion option of the provider",
    "tags": "metadata: tags are not part of a version",
    "timeouts": "provider operation timeouts",
}
ACTION_GROUP_NOT_FROZEN = {
    "agent_id": "which agent the group belongs to, not what it does",
    "agent_version": "always DRAFT: versions are snapshots of the DRAFT",
    "prepare_agent": "how the provider deploys, not the group",
    "region": "a region change replaces the agent itself",
    "skip_resource_in_use_check": "a deletion option of the provider",
    "timeouts": "provider operation timeouts",
}


def _settings(**changes: Any) -> AgentSettings:
    fields = {f.name for f in dataclasses.fields(AgentSettings)}
    base: dict[str, Any] = {
        "foundation_model": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "instruction": "You are a careful assistant for engineers; use your tools for arithmetic.",
        "idle_session_ttl_seconds": 600,
        "guardrail_id": None,
        "guardrail_version": None,
        "customer_kms_key_arn": None,
    }
    # Fields other backends read (runtime, AgentCore limits...): a plain value of their type.
    plain = {"int": 1, "float": 1.0, "bool": False, "str": "classic"}
    for field in dataclasses.fields(AgentSettings):
        if field.name not in base and field.default is dataclasses.MISSING:
            kind = str(field.type)
            base[field.name] = None if "None" in kind else plain.get(kind.split(" ")[0], "classic")
    return AgentSettings(**{key: value for key, value in {**base, **changes}.items() if key in fields})


def _group(**changes: Any) -> ActionGroupSpec:
    spec = ActionGroupSpec(
        name="tools",
        description="Calculator",
        function_schema={"member_functions": {"functions": [{"name": "calculate", "description": "d"}]}},
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:tools",
        executor_key="stack-tools",
    )
    return dataclasses.replace(spec, **changes)


def _args_fields(args_type: type) -> set[str]:
    parameters = inspect.signature(args_type.__init__).parameters  # type: ignore[misc]
    return {name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _hash(
    settings: AgentSettings | None = None,
    groups: list[ActionGroupSpec] | None = None,
    agent: dict[str, Any] | None = None,
) -> str:
    inputs = {**agent_version_inputs(settings or _settings(), "d"), **(agent or {})}
    specs = [_group()] if groups is None else groups
    return definition_hash(inputs, [action_group_version_inputs(s, hashable=True) for s in specs])


def test_every_input_is_hashed_or_exempt() -> None:
    agent_fields = _args_fields(aws.bedrock.AgentAgentArgs)
    group_fields = _args_fields(aws.bedrock.AgentAgentActionGroupArgs)
    assert len(agent_fields) > 10  # really read from pulumi_aws
    assert len(group_fields) > 10
    frozen_agent = set(agent_version_inputs(_settings(), "d"))
    frozen_group = set(action_group_version_inputs(_group()))
    assert frozen_agent.isdisjoint(AGENT_NOT_FROZEN)
    assert frozen_group.isdisjoint(ACTION_GROUP_NOT_FROZEN)
    assert frozen_agent | set(AGENT_NOT_FROZEN) == agent_fields, "decide: frozen into a version, or exempt?"
    assert frozen_group | set(ACTION_GROUP_NOT_FROZEN) == group_fields, "decide: frozen, or exempt?"
    # The ones the issue names are among the frozen.
    assert {
        "instruction",
        "foundation_model",
        "idle_session_ttl_in_seconds",
        "guardrail_configurations",
        "customer_encryption_key_arn",
        "prompt_override_configurations",
        "memory_configurations",
    } <= frozen_agent
    assert {"function_schema", "action_group_executor", "action_group_state", "description"} <= frozen_group


@pytest.mark.parametrize("field", sorted(_args_fields(aws.bedrock.AgentAgentArgs) - set(AGENT_NOT_FROZEN)))
def test_each_frozen_agent_input_changes_the_hash(field: str) -> None:
    assert _hash(agent={field: {"changed": field}}) != _hash()


@pytest.mark.parametrize(
    "field", sorted(_args_fields(aws.bedrock.AgentAgentActionGroupArgs) - set(ACTION_GROUP_NOT_FROZEN))
)
def test_each_frozen_action_group_input_changes_the_hash(field: str) -> None:
    base = action_group_version_inputs(_group(), hashable=True)
    changed = {**base, field: {"changed": field}}
    assert definition_hash(agent_version_inputs(_settings(), "d"), [changed]) != definition_hash(
        agent_version_inputs(_settings(), "d"), [base]
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"instruction": "You are a terse assistant for engineers; use your tools for arithmetic."},
        {"foundation_model": "anthropic.claude-3-haiku-20240307-v1:0"},
        {"idle_session_ttl_seconds": 900},
    ],
)
def test_each_agent_setting_changes_the_hash(changes: dict[str, Any]) -> None:
    assert _hash(_settings(**changes)) != _hash()
    assert _hash(_settings(**changes)) == _hash(_settings(**changes))  # stable


def test_the_guardrail_definition_and_the_agent_key_change_the_hash() -> None:
    """The guardrail enters by the digest of its definition, the key by its identity (both are
    attached by __main__.py: the stack's own guardrail and key, or the ones agent* settings name)."""
    from components.agent.base import AgentKeySpec
    from components.guardrail import GuardrailAttachment

    def frozen(guardrail: GuardrailAttachment | None = None, key: AgentKeySpec | None = None) -> str:
        inputs = agent_version_inputs(_settings(), "d", guardrail, key, hashable=True)
        return definition_hash(inputs, [action_group_version_inputs(_group(), hashable=True)])

    arn = "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123"
    one, two = (
        GuardrailAttachment("abc123", "1", arn, "digest-1"),
        GuardrailAttachment("abc123", "2", arn, "digest-2"),
    )
    key = AgentKeySpec(arn="arn:aws:kms:us-east-1:123456789012:key/" + "0" * 36, key="stack:agent-key")
    assert len({frozen(), frozen(one), frozen(two), frozen(key=key)}) == 4
    assert frozen(one) == frozen(
        GuardrailAttachment("other-id", "9", arn, "digest-1")
    )  # the definition counts


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "tools_v2"},
        {"description": "Calculator and unit conversion"},
        {"function_schema": {"member_functions": {"functions": [{"name": "convert", "description": "d"}]}}},
        {"executor_key": "stack-tools-v2"},
        {"function_arn": None, "executor_key": "RETURN_CONTROL"},
    ],
)
def test_each_action_group_setting_changes_the_hash(changes: dict[str, Any]) -> None:
    assert _hash(groups=[_group(**changes)]) != _hash()


def test_adding_or_removing_a_group_changes_the_hash() -> None:
    assert _hash(groups=[]) != _hash()
    assert _hash(groups=[_group(), _group(name="more")]) != _hash()


def test_the_executor_arn_itself_does_not_decide_the_hash() -> None:
    # The ARN is an Output at deploy time; the executor's stable key stands for it.
    other_arn = _group(function_arn="arn:aws:lambda:us-east-1:123456789012:function:renamed")
    assert _hash(groups=[other_arn]) == _hash()


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def test_the_agent_is_created_with_exactly_the_hashed_inputs() -> None:
    run = shared_run("dev")
    agent = run.one("aws:bedrock/agentAgent:AgentAgent")
    alias = run.one("aws:bedrock/agentAgentAlias:AgentAgentAlias")
    digest = re.fullmatch(r"live-([0-9a-f]{12})", alias.inputs["agentAliasName"])
    assert digest is not None
    assert alias.replacement_trigger is not None
    settings_inputs = {
        "foundationModel": agent.inputs["foundationModel"],
        "instruction": agent.inputs["instruction"],
        "idleSessionTtlInSeconds": agent.inputs["idleSessionTtlInSeconds"],
    }
    frozen = {_camel(key) for key in agent_version_inputs(_settings(), "d")}
    # Every frozen input the agent carries is one the component hashed (nothing set around the dict).
    carried = set(agent.inputs) - {_camel(key) for key in AGENT_NOT_FROZEN}
    assert carried <= frozen, carried - frozen
    assert all(value not in (None, "") for value in settings_inputs.values())
    for group in run.of_type("aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"):
        carried = set(group.inputs) - {_camel(key) for key in ACTION_GROUP_NOT_FROZEN}
        assert carried <= {_camel(key) for key in action_group_version_inputs(_group())}, carried
