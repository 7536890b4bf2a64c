"""Program inputs Bedrock would reject at deploy time fail the program first, naming the input."""

from __future__ import annotations

import pytest

from components.function_schema import FunctionSchemaError, check_action_group_name
from offline.engine import ProgramError
from policies.crossguard import tokens as t
from tests.program.conftest import RunProgram


@pytest.mark.parametrize(
    "name", ["client tools", "tools__v2", "-tools", "tools.v2", "x" * 101, "", "tools\n"]
)
def test_action_group_names_bedrock_rejects(name: str) -> None:
    with pytest.raises(FunctionSchemaError, match="Action group"):
        check_action_group_name(name)


@pytest.mark.parametrize("name", ["tools", "client_tools", "client-tools", "a1-b2_c3", "x" * 100])
def test_action_group_names_bedrock_accepts(name: str) -> None:
    assert check_action_group_name(name) == name


def test_the_program_stops_on_a_bad_action_group_name_before_the_agent(
    program: RunProgram, monkeypatch: pytest.MonkeyPatch
) -> None:
    import client.tools

    monkeypatch.setattr(client.tools, "CLIENT_ACTION_GROUP", "client tools")
    with pytest.raises(ProgramError) as caught:
        program("dev")
    assert isinstance(caught.value.cause, FunctionSchemaError)
    assert "Action group 'client tools'" in str(caught.value.cause)
    registered = {r.type for r in caught.value.resources}
    assert not registered & {t.AGENT, t.AGENT_ACTION_GROUP, t.AGENT_ALIAS}
