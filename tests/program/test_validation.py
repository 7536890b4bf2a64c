"""Program inputs Bedrock would reject at deploy time fail the program first, naming the input."""

from __future__ import annotations

import pytest

import client.tools
from components.function_schema import FunctionSchemaError, check_action_group_name
from offline.engine import ProgramError
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


def _registered_besides_the_stack(error: ProgramError) -> list[str]:
    return [f"{r.type} {r.name}" for r in error.resources if r.type != "pulumi:pulumi:Stack"]


def test_the_program_stops_on_a_bad_action_group_name_before_any_resource(
    program: RunProgram, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(client.tools, "CLIENT_ACTION_GROUP", "client tools")
    with pytest.raises(ProgramError) as caught:
        program("dev")
    assert isinstance(caught.value.cause, FunctionSchemaError)
    assert "Action group 'client tools'" in str(caught.value.cause)
    # On a real `pulumi up` whatever was registered before the error would be created.
    assert _registered_besides_the_stack(caught.value) == []


def test_the_program_stops_on_a_tool_schema_error_before_any_resource(
    program: RunProgram, monkeypatch: pytest.MonkeyPatch
) -> None:
    import components.function_schema

    # Room for the client's tools only: the Lambda's tools no longer fit the agent's budget.
    monkeypatch.setattr(components.function_schema, "DEFAULT_MAX_FUNCTIONS", len(client.tools.CLIENT_TOOLS))
    with pytest.raises(ProgramError) as caught:
        program("dev")
    assert isinstance(caught.value.cause, FunctionSchemaError)
    assert _registered_besides_the_stack(caught.value) == []
