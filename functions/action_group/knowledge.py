"""The knowledge base's search tool, for runtimes that cannot search a knowledge base themselves.

A Classic agent searches its associated knowledge base natively. The AgentCore harness has no
knowledge-base setting (botocore bedrock-agentcore-control CreateHarness; its tool types are
remote_mcp, agentcore_browser, agentcore_gateway, inline_function, agentcore_code_interpreter), so on
AgentCore the agent searches through this tool: a gateway target ``knowledge`` whose one tool,
``search_documents``, calls bedrock-agent-runtime ``Retrieve`` on the stack's knowledge base
(``KNOWLEDGE_BASE_ID``) through the VPC's interface endpoint. The model sees it as
``knowledge___search_documents`` (``${target}___${tool}``, "Gateway tool naming", AgentCore guide).

The result body is the contract the invoker reads back from the harness's stream (functions/invoker
agentcore.py turns cited passage ids into the API's ``citations``, and sends the passages to the
guardrail's grounding check). It is JSON text:

    {"passages": [{"id": "S1a2b3c", "text": "...", "source": {"type": "S3", "uri": "s3://..."},
                   "score": 0.83}],
     "instructions": "..."}

``id`` is ``S`` + 6 lowercase hex digits of SHA-256 over the passage's source uri, a newline and its
text: stable for the same passage across searches and turns (the function is stateless), so two
searches in one turn never give two passages the same id. ``source`` is ``{"type", "uri"}`` exactly as
docs/api.md's ``references[]``. The model is told (tool description and ``instructions``) to cite a
passage by writing its id in square brackets after the sentence it supports, e.g. ``[S1a2b3c]``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver

from functions.action_group.tools import _serialize

# The gateway target (and tool group) the search tool is published under; the invoker matches the
# harness's tool uses against f"{KNOWLEDGE_TARGET}___{SEARCH_TOOL}".
KNOWLEDGE_TARGET: Final = "knowledge"
SEARCH_TOOL: Final = "search_documents"
DEFAULT_RESULTS: Final = 5
MAX_RESULTS: Final = 10
MAX_QUERY_CHARS: Final = 1000

knowledge_app = BedrockAgentFunctionResolver(serializer=_serialize)


@knowledge_app.tool(
    name=SEARCH_TOOL,
    description=(
        "Searches the user's own documents (the stack's knowledge base) and returns the passages "
        "that best match the query, each with an id such as S1a2b3c. Use it for any question the "
        "documents may answer, and answer from the passages only. After each sentence that uses a "
        "passage, cite it by its id in square brackets, e.g. [S1a2b3c]. If no passage answers the "
        "question, say that the documents do not cover it."
    ),
)
def search_documents(
    query: Annotated[str, f"What to look for, in plain words; at most {MAX_QUERY_CHARS} characters."],
    max_results: Annotated[
        int | None, f"How many passages to return (1-{MAX_RESULTS}); omit for {DEFAULT_RESULTS}."
    ] = None,
) -> dict[str, Any]:
    """Retrieve on the stack's knowledge base (implementation: see the module docstring)."""
    raise NotImplementedError("search_documents is declared; its implementation lands next")
