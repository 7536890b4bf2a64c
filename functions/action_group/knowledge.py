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

``id`` is ``S`` + 6 lowercase hex digits of SHA-256 over the passage's source uri (``""`` when it has
none), a newline and its text as retrieved (before the length cap below): stable for the same passage
across searches and turns (the function is stateless), so two searches in one turn never give two
passages the same id. ``source`` is ``{"type", "uri"}`` exactly as docs/api.md's ``references[]``
(the location-type -> address mapping of functions/invoker/classic.py ``_LOCATION_ADDRESS``; a SQL
location has no address, so its uri is null). ``score`` is present when Retrieve gives one. The model
is told (tool description and ``instructions``) to cite a passage by writing its id in square
brackets after the sentence it supports, e.g. ``[S1a2b3c]``. No match: ``{"passages": [],
"instructions": "No passage matched ..."}``.

The search:

* ``Retrieve(knowledgeBaseId, retrievalQuery={"text": query}, retrievalConfiguration=
  {"vectorSearchConfiguration": {"numberOfResults": n}})``, n = ``max_results`` (1-10, 5 when
  omitted). ``nextToken`` is never followed: numberOfResults already bounds the answer.
* Items without text (images, table rows, audio or video: ``RetrievalResultContent``) are skipped;
  passages with the same id are given once (the first, best-ranked, wins). Each passage's text is cut
  at ``MAX_PASSAGE_CHARS`` and all of them at ``MAX_TOTAL_CHARS``, saying so in the text, so one huge
  chunk cannot fill the model's context; passages beyond the total are left out and counted in
  ``instructions``.
* Time: AWS documents no gateway-side limit for a Lambda target's call, only that the function's own
  timeout must cover the tool's work ("AWS Lambda function targets", AgentCore developer guide,
  gateway-add-target-lambda.html, key considerations). What bounds the call is this function's
  timeout (30 s, components/function.py) and the harness turn (``timeout_seconds``, the API's
  integration timeout: 29 s when buffered). So a socket connect waits at most ``CONNECT_TIMEOUT_S``,
  a read ``READ_TIMEOUT_S``, and botocore's standard retry mode makes ``TOTAL_ATTEMPTS`` attempts in
  all: ``worst_case_seconds()`` (attempts, first backoff of at most 1 s for throttling, and the 5 s
  botocore may add for an ``x-amz-retry-after`` header) stays well inside both.

Outcomes (the dispatcher turns them into Bedrock's ``responseState``; the gateway into
``{"error", "retry"}``):

* no ``KNOWLEDGE_BASE_ID``: FAILURE "no knowledge base is configured for this agent";
* a ``KNOWLEDGE_BASE_ID`` that is no knowledge base identifier (``KNOWLEDGE_BASE_IDENTIFIER``):
  FAILURE naming the deployment problem, before any request;
* a query that is empty or longer than ``MAX_QUERY_CHARS``, ``max_results`` outside 1-10:
  ``ToolInputError`` -> REPROMPT, telling the model what to fix;
* throttling, a service quota, a server error or a timeout after the retries: REPROMPT "the search is
  busy", the model may try once more (gateway ``retry: true``);
* access denied, the knowledge base not found, a validation error, a failed dependency, anything
  else: FAILURE, with a message naming no ARN, account id or query (upstream messages are dropped).

The handler logs names, outcome and latency only; this tool adds counts and the AWS error code
(``log_field``), never the query or passage text.

Retrieve's optional ``guardrailConfiguration`` is not used. The API reference documents it only as
"Guardrail settings" and the response's ``guardrailAction`` as "Specifies if there is a guardrail
intervention in the response" (botocore bedrock-agent-runtime 2023-07-26 model, API_agent-runtime_
Retrieve): it does not say which content is evaluated, nor what happens to the results when it
intervenes. Knowledge-base guardrails are documented for RetrieveAndGenerate, where they filter the
generated response (AWS ML blog, "Introducing guardrails in Knowledge Bases for Amazon Bedrock",
2024). The prompt-attack filter is documented for user prompts, and AWS's own input-tagging guidance
names "search results from trusted documentation sources" as content to leave unevaluated
(guardrails-prompt-attack.html, guardrails-tagging.html): no documented screening of retrieved
passages for indirect injection. The stack's guardrail already checks the user's input and every
answer on AgentCore, with these passages as the grounding source (RETRIEVAL-SPEC.md, the invoker's
``_checked_output``), so a harmful or sensitive passage that reaches an answer is caught there; a
second, undocumented check here would add ApplyGuardrail charges per search and a grant on the
guardrail (and its key) for this function's role.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import BedrockAgentFunctionResolver, BedrockFunctionResponse

from functions.action_group.dispatch import log_field, serialize_body
from functions.action_group.toolspec import ToolInputError

# The gateway target (and tool group) the search tool is published under; the invoker matches the
# harness's tool uses against f"{KNOWLEDGE_TARGET}___{SEARCH_TOOL}".
KNOWLEDGE_TARGET: Final = "knowledge"
SEARCH_TOOL: Final = "search_documents"
DEFAULT_RESULTS: Final = 5
MAX_RESULTS: Final = 10
MAX_QUERY_CHARS: Final = 1000
MAX_PASSAGE_CHARS: Final = 4000
MAX_TOTAL_CHARS: Final = 20_000
# A passage the total budget would cut to fewer characters than this is left out instead.
MIN_PASSAGE_CHARS: Final = 200
CUT_NOTE: Final = " [… passage cut here; the source document continues]"

KNOWLEDGE_BASE_ENV: Final = "KNOWLEDGE_BASE_ID"
# RetrieveRequest.knowledgeBaseId's shape KnowledgeBaseIdentifier (botocore bedrock-agent-runtime
# 2023-07-26): a 10-character id or the knowledge base's ARN. Checked here because botocore's
# ParamValidator checks only its minimum length (10), never the pattern or the maximum: an id such as
# "bad/id!!!!!" would otherwise reach the service (a ValidationException, or a 404 for another path).
KNOWLEDGE_BASE_IDENTIFIER: Final = re.compile(
    r"[0-9a-zA-Z]{10}|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}",
    re.ASCII,
)
SERVICE: Final = "bedrock-agent-runtime"
CONNECT_TIMEOUT_S: Final = 1.0
READ_TIMEOUT_S: Final = 4.0
TOTAL_ATTEMPTS: Final = 2
# botocore standard mode: the first retry waits rand(0, 1) s for a throttling error (50 ms scale
# otherwise), raised to an x-amz-retry-after header's value, at most 5 s more (retries/standard.py).
_FIRST_BACKOFF_S: Final = 1.0
_RETRY_AFTER_EXTRA_S: Final = 5.0

# Retrieve's location member -> the member holding its address, exactly as the invoker's
# classic._LOCATION_ADDRESS (tests assert the two are equal); sqlLocation has only the SQL query.
LOCATION_ADDRESS: Final = {
    "s3Location": "uri",
    "webLocation": "url",
    "confluenceLocation": "url",
    "salesforceLocation": "url",
    "sharePointLocation": "url",
    "kendraDocumentLocation": "uri",
    "customDocumentLocation": "id",
    "googleDriveLocation": "url",
    "oneDriveLocation": "url",
}

NOT_CONFIGURED: Final = (
    "The document search is not available: no knowledge base is configured for this agent. Tell the "
    "user their documents cannot be searched here; retrying will not help."
)
BUSY: Final = (
    "The document search is busy right now or did not answer in time. You may call "
    f"{SEARCH_TOOL} once more; if it fails again, tell the user the documents cannot be searched at "
    "the moment."
)
UNAVAILABLE: Final = (
    "The document search failed: {why}. Tell the user their documents cannot be searched right now; "
    "retrying will not help."
)
# Fixed texts per AWS error code: upstream messages may carry ARNs, account ids or the query.
_FAILURE_REASONS: Final = {
    "AccessDeniedException": "this agent is not allowed to search its knowledge base (a deployment problem)",
    "ResourceNotFoundException": "the knowledge base no longer exists (a deployment problem)",
    "ValidationException": "the knowledge base rejected the search request",
    "DependencyFailedException": "the knowledge base could not reach its vector store or embedding model",
    "ConflictException": "the knowledge base is being changed",
}
# Checked before the request (KNOWLEDGE_BASE_IDENTIFIER), like the query and the count, so botocore's
# ParamValidationError is no configuration problem here: it stays "an unexpected error".
MALFORMED_ID_REASON: Final = (
    "the knowledge base id this agent is configured with is malformed (a deployment problem)"
)
_DEFAULT_FAILURE_REASON: Final = "an unexpected error"
_ERROR_CODE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,63}", re.ASCII)
_BUSY_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "ServiceQuotaExceededException",
        "InternalServerException",
        "BadGatewayException",
    }
)

INSTRUCTIONS: Final = (
    "Answer from these passages only. After each sentence that uses a passage, cite it by its id in "
    "square brackets, e.g. [{example}]; cite several as [{example}, Sdef456]. If the passages do not "
    "answer the question, say that the documents do not cover it."
)
LEFT_OUT: Final = " {count} more matching passage(s) were left out to keep the result short."
NO_MATCH: Final = (
    "No passage matched the query. Search once more with other words if that may help; otherwise tell "
    "the user the documents do not cover it."
)

knowledge_app = BedrockAgentFunctionResolver(serializer=serialize_body)


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
) -> dict[str, Any] | BedrockFunctionResponse:
    """Retrieve on the stack's knowledge base (see the module docstring)."""
    knowledge_base_id = os.environ.get(KNOWLEDGE_BASE_ENV, "").strip()
    if not knowledge_base_id:
        log_field("retrieve_error", "not_configured")
        return BedrockFunctionResponse(body=NOT_CONFIGURED, response_state="FAILURE")
    if not KNOWLEDGE_BASE_IDENTIFIER.fullmatch(knowledge_base_id):
        # A deployment problem: no better query can fix it, so it is answered before the query's checks.
        log_field("retrieve_error", "malformed_knowledge_base_id")
        return BedrockFunctionResponse(
            body=UNAVAILABLE.format(why=MALFORMED_ID_REASON), response_state="FAILURE"
        )
    text = _query(query)
    count = _count(max_results)
    from botocore.exceptions import BotoCoreError, ClientError  # lazily, as boto3 (retrieve_client)

    try:
        response = retrieve_client().retrieve(**retrieve_params(knowledge_base_id, text, count))
    except (ClientError, BotoCoreError) as error:
        return _failure(error)
    results = response.get("retrievalResults") if isinstance(response, Mapping) else None
    items = results if isinstance(results, list) else []
    return search_result(items)


def retrieve_params(knowledge_base_id: str, query: str, count: int) -> dict[str, Any]:
    return {
        "knowledgeBaseId": knowledge_base_id,
        "retrievalQuery": {"text": query},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": count}},
    }


def search_result(items: list[Any]) -> dict[str, Any]:
    """The contract's body for Retrieve's ``retrievalResults``: capped, de-duplicated passages."""
    passages: list[dict[str, Any]] = []
    seen: set[str] = set()
    budget = MAX_TOTAL_CHARS
    left_out = cut = 0
    for item in items:
        passage = _passage(item)
        if passage is None or passage["id"] in seen:
            continue
        seen.add(passage["id"])
        limit = min(MAX_PASSAGE_CHARS, budget)
        if limit < min(MIN_PASSAGE_CHARS, len(passage["text"])):
            left_out += 1
            continue
        if len(passage["text"]) > limit:
            passage["text"] = passage["text"][: max(limit - len(CUT_NOTE), 0)].rstrip() + CUT_NOTE
            cut += 1
        budget -= len(passage["text"])
        passages.append(passage)
    log_field("results", len(items))
    log_field("passages", len(passages))
    log_field("passages_cut", cut)
    log_field("passages_left_out", left_out)
    if not passages:
        return {"passages": [], "instructions": NO_MATCH}
    instructions = INSTRUCTIONS.format(example=passages[0]["id"])
    if left_out:
        instructions += LEFT_OUT.format(count=left_out)
    return {"passages": passages, "instructions": instructions}


def passage_id(uri: str | None, text: str) -> str:
    return "S" + hashlib.sha256(f"{uri or ''}\n{text}".encode()).hexdigest()[:6]


def source(location: object) -> dict[str, Any]:
    """``{"type", "uri"}`` of a Retrieve location, as docs/api.md's ``references[]``."""
    fields = location if isinstance(location, Mapping) else {}
    kind = fields.get("type")
    uri = None
    for member, address in LOCATION_ADDRESS.items():
        container = fields.get(member)
        value = container.get(address) if isinstance(container, Mapping) else None
        if isinstance(value, str):
            uri = value
            break
    return {"type": kind if isinstance(kind, str) else None, "uri": uri}


@functools.cache
def retrieve_client() -> Any:
    """The process's one bedrock-agent-runtime client, created on first use (never at import).

    boto3 is imported here, keeping its import out of every cold start of the other tools. The
    region is Lambda's ``AWS_REGION``; the endpoint's private DNS sends the call through the VPC's
    interface endpoint.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        tcp_keepalive=True,
    )
    return boto3.session.Session().client(SERVICE, config=config)


def worst_case_seconds() -> float:
    """The longest one search can take: every attempt's connect and read, plus the one backoff."""
    return TOTAL_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + (TOTAL_ATTEMPTS - 1) * (
        _FIRST_BACKOFF_S + _RETRY_AFTER_EXTRA_S
    )


def _query(query: str) -> str:
    text = query.strip()
    if not text:
        raise ToolInputError(
            "query is empty: pass what to look for in the documents, in plain words, e.g. "
            "'refund policy for damaged items'."
        )
    if len(text) > MAX_QUERY_CHARS:
        raise ToolInputError(
            f"query is longer than {MAX_QUERY_CHARS} characters: shorten it to the key words of the "
            "question and search again."
        )
    return text


def _count(max_results: int | None) -> int:
    if max_results is None:
        return DEFAULT_RESULTS
    if not 1 <= max_results <= MAX_RESULTS:
        raise ToolInputError(
            f"max_results must be between 1 and {MAX_RESULTS}; omit it for {DEFAULT_RESULTS} passages."
        )
    return max_results


def _passage(item: object) -> dict[str, Any] | None:
    fields = item if isinstance(item, Mapping) else {}
    content = fields.get("content")
    text = content.get("text") if isinstance(content, Mapping) else None
    if not isinstance(text, str) or not text.strip():
        return None  # an image, a table row, audio or video: nothing the model can read or cite
    where = source(fields.get("location"))
    passage: dict[str, Any] = {"id": passage_id(where["uri"], text), "text": text, "source": where}
    score = fields.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        passage["score"] = score
    return passage


def _failure(error: Exception) -> BedrockFunctionResponse:
    """The fixed answer for a failed Retrieve; the error's own message is never used."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as EndpointUnreachable

    unreachable = isinstance(error, EndpointUnreachable | HTTPClientError)  # timeouts included
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
    else:
        code = type(error).__name__  # e.g. ReadTimeoutError, NoCredentialsError
    log_field("retrieve_error", code if _ERROR_CODE.fullmatch(code) else "Unknown")
    if unreachable or code in _BUSY_CODES:
        return BedrockFunctionResponse(body=BUSY, response_state="REPROMPT")
    why = _FAILURE_REASONS.get(code, _DEFAULT_FAILURE_REASON)
    return BedrockFunctionResponse(body=UNAVAILABLE.format(why=why), response_state="FAILURE")
