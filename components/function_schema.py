"""Bedrock action-group function schemas generated from tool code, checked against Bedrock's limits.

Tools are plain functions whose parameters are ``Annotated[<type>, "<description>"]`` (see
``functions/action_group/toolspec.py``, which the Lambda shares so its argument coercion uses the
same declarations). This module turns them into Bedrock API ``FunctionDefinition`` dicts and fails
the Pulumi program, naming the tool, when a definition would be rejected by Bedrock at deploy time.

Generic over callables: RETURN_CONTROL tools that run client-side can reuse ``function_schema``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

from functions.action_group.toolspec import (
    BedrockType,
    ToolDefinitionError,
    ToolSpec,
    resolver_tool_specs,
    tool_spec,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver
    from pulumi_aws.bedrock import (
        AgentAgentActionGroupFunctionSchemaArgsDict,
        AgentAgentActionGroupFunctionSchemaMemberFunctionsFunctionArgsDict,
        AgentAgentActionGroupFunctionSchemaMemberFunctionsFunctionParameterArgsDict,
        AgentcoreGatewayTargetTargetConfigurationMcpLambdaToolSchemaInlinePayloadArgsDict,
    )

# Bedrock API reference, FunctionDefinition / ParameterDetail (also botocore's bedrock-agent model):
# function and parameter names match ^([0-9a-zA-Z][_-]?){1,100}$; a function description is 1-1200
# characters and a parameter description 1-500.
_NAME: Final = re.compile(r"([0-9a-zA-Z][_-]?){1,100}")  # used with fullmatch: "$" would allow a "\n"
MAX_FUNCTION_DESCRIPTION_CHARS: Final = 1200
MAX_PARAMETER_DESCRIPTION_CHARS: Final = 500
# Service quotas for Agents for Amazon Bedrock (defaults; both adjustable per account, so overridable):
# "Parameters per function" is 5, and "APIs per Agent" is 11, which also bounds one action group.
DEFAULT_MAX_PARAMETERS_PER_FUNCTION: Final = 5
DEFAULT_MAX_FUNCTIONS: Final = 11


class ParameterDefinition(TypedDict):
    type: BedrockType
    description: str
    required: bool


class FunctionDefinition(TypedDict):
    """One entry of ``functionSchema.functions`` in the Bedrock Agents API."""

    name: str
    description: str
    parameters: dict[str, ParameterDefinition]
    requireConfirmation: Literal["ENABLED", "DISABLED"]


class FunctionSchemaError(ValueError):
    """The tools cannot become a function schema Bedrock accepts; the message names each tool at fault."""


def function_schema(
    tools: Mapping[str, ToolSpec | Callable[..., Any]],
    *,
    max_parameters_per_function: int = DEFAULT_MAX_PARAMETERS_PER_FUNCTION,
    max_functions: int = DEFAULT_MAX_FUNCTIONS,
) -> list[FunctionDefinition]:
    """Function definitions for ``tools`` ({function name: ToolSpec or annotated callable}), in order.

    A callable's description is its docstring. Raises ``FunctionSchemaError`` listing every problem.
    """
    problems: list[str] = []
    specs: list[ToolSpec] = []
    for name, tool in tools.items():
        try:
            spec = tool if isinstance(tool, ToolSpec) else tool_spec(tool, name=name)
        except ToolDefinitionError as error:
            problems.append(str(error))
            continue
        if spec.name != name:
            problems.append(f"Tool '{name}' is registered under another name in its spec ('{spec.name}').")
        problems.extend(_limit_problems(spec, max_parameters_per_function))
        specs.append(spec)
    if not tools:
        problems.append("No tools are registered: an action group needs at least one function.")
    if len(tools) > max_functions:
        problems.append(
            f"{len(tools)} tools are registered but an agent allows {max_functions} functions "
            "(quota 'APIs per Agent'): split them across agents or raise the quota and pass max_functions."
        )
    if problems:
        raise FunctionSchemaError("Invalid Bedrock function schema:\n- " + "\n- ".join(problems))
    return [_definition(spec) for spec in specs]


def function_schema_for_resolver(
    resolver: BedrockAgentFunctionResolver,
    *,
    max_parameters_per_function: int = DEFAULT_MAX_PARAMETERS_PER_FUNCTION,
    max_functions: int = DEFAULT_MAX_FUNCTIONS,
) -> list[FunctionDefinition]:
    """Function definitions for every tool registered with ``@resolver.tool(...)``."""
    try:
        specs = resolver_tool_specs(resolver)
    except ToolDefinitionError as error:
        raise FunctionSchemaError(f"Invalid Bedrock function schema:\n- {error}") from error
    return function_schema(
        specs, max_parameters_per_function=max_parameters_per_function, max_functions=max_functions
    )


def pulumi_aws_function_schema(
    definitions: Sequence[FunctionDefinition],
) -> AgentAgentActionGroupFunctionSchemaArgsDict:
    """The same definitions in the input shape of ``aws.bedrock.AgentAgentActionGroup(function_schema=...)``.

    pulumi-aws (7.x) spells parameters as a list with ``map_block_key`` and has no
    ``requireConfirmation``, so a definition that asks for confirmation cannot be expressed there.
    """
    functions: list[AgentAgentActionGroupFunctionSchemaMemberFunctionsFunctionArgsDict] = []
    for definition in definitions:
        if definition["requireConfirmation"] != "DISABLED":
            raise FunctionSchemaError(
                f"Tool '{definition['name']}' requires confirmation, which pulumi-aws's action group "
                "cannot express."
            )
        parameters: list[AgentAgentActionGroupFunctionSchemaMemberFunctionsFunctionParameterArgsDict] = [
            {
                "map_block_key": name,
                "type": p["type"],
                "description": p["description"],
                "required": p["required"],
            }
            for name, p in definition["parameters"].items()
        ]
        functions.append(
            {"name": definition["name"], "description": definition["description"], "parameters": parameters}
        )
    return {"member_functions": {"functions": functions}}


def check_action_group_name(name: str) -> str:
    """`name` if Bedrock accepts it as an action group name (CreateAgentActionGroup's actionGroupName,
    shape Name: the same pattern as function names); else FunctionSchemaError saying what to change."""
    if not _NAME.fullmatch(name):
        raise FunctionSchemaError(
            f"Action group '{name}': the name must be 1-100 letters or digits, each optionally followed by "
            "one '_' or '-' (Bedrock pattern ^([0-9a-zA-Z][_-]?){1,100}$), e.g. 'client-tools'."
        )
    return name


def _limit_problems(spec: ToolSpec, max_parameters: int) -> list[str]:
    tool = f"Tool '{spec.name}'"
    problems = []
    if not _NAME.fullmatch(spec.name):
        problems.append(
            f"{tool}: the name must be 1-100 letters or digits, each optionally followed by one '_' or '-' "
            "(Bedrock pattern ^([0-9a-zA-Z][_-]?){1,100}$); rename it or register it with name=..."
        )
    if len(spec.description) > MAX_FUNCTION_DESCRIPTION_CHARS:
        problems.append(
            f"{tool}: the description has {len(spec.description)} characters; Bedrock allows "
            f"{MAX_FUNCTION_DESCRIPTION_CHARS}."
        )
    if len(spec.parameters) > max_parameters:
        problems.append(
            f"{tool} has {len(spec.parameters)} parameters; Bedrock allows {max_parameters} per function "
            "(quota 'Parameters per function'): split the tool, or raise the quota and pass "
            "max_parameters_per_function."
        )
    for param in spec.parameters:
        if not _NAME.fullmatch(param.name):
            problems.append(
                f"{tool}: parameter '{param.name}' must be 1-100 letters or digits, each optionally followed "
                "by one '_' or '-' (Bedrock pattern ^([0-9a-zA-Z][_-]?){1,100}$)."
            )
        if len(param.description) > MAX_PARAMETER_DESCRIPTION_CHARS:
            problems.append(
                f"{tool}: the description of parameter '{param.name}' has {len(param.description)} "
                f"characters; Bedrock allows {MAX_PARAMETER_DESCRIPTION_CHARS}."
            )
    return problems


def _definition(spec: ToolSpec) -> FunctionDefinition:
    return {
        "name": spec.name,
        "description": spec.description,
        "parameters": {
            p.name: {"type": p.bedrock_type, "description": p.description, "required": p.required}
            for p in spec.parameters
        },
        "requireConfirmation": "DISABLED",
    }


def json_schema(definition: FunctionDefinition) -> dict[str, Any]:
    """A definition's parameters as a JSON Schema object: the ``inputSchema`` of an AgentCore harness
    inline function (botocore bedrock-agentcore-control ``HarnessInlineFunctionConfig``)."""
    parameters = definition["parameters"]
    return {
        "type": "object",
        "properties": {
            name: {"type": p["type"], "description": p["description"]} for name, p in parameters.items()
        },
        "required": [name for name, p in parameters.items() if p["required"]],
    }


def gateway_tool_schema(
    definitions: Sequence[FunctionDefinition],
) -> list[AgentcoreGatewayTargetTargetConfigurationMcpLambdaToolSchemaInlinePayloadArgsDict]:
    """The same definitions as the inline tool schema of an AgentCore Gateway Lambda target.

    botocore's ``ToolDefinition`` (name, description, inputSchema of ``SchemaType`` string, number,
    integer, boolean, array, object) takes every Bedrock parameter type as is; pulumi-aws spells the
    input schema's properties as a list with ``name`` and ``required``.
    """
    return [
        {
            "name": definition["name"],
            "description": definition["description"],
            "input_schema": {
                "type": "object",
                "properties": [
                    {
                        "name": name,
                        "type": p["type"],
                        "description": p["description"],
                        "required": p["required"],
                    }
                    for name, p in definition["parameters"].items()
                ],
            },
        }
        for definition in definitions
    ]
