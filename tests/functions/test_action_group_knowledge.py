"""The knowledge base's search tool (``knowledge___search_documents``) against a real
bedrock-agent-runtime client: botocore's Stubber for Retrieve's answers and errors, botocore's own
retry loop for timeouts, through the real handler with a gateway context and directly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from components.config import MAX_BUFFERED_TIMEOUT_MS
from components.function import VpcFunctionArgs
from functions.action_group import handler as handler_module
from functions.action_group import knowledge
from functions.action_group.dispatch import dispatch, serialize_body
from functions.invoker import classic
from tests.functions.test_action_group_gateway import GatewayContext
from tests.functions.test_action_group_support import bedrock_event, captured_logs, invoke, param, state_of
from tests.fuzzing import examples

KB_ID = "KB12345678"
TOOL = "knowledge___search_documents"
# Upstream messages carry ARNs and account ids; none of it may reach the model or the log.
ARN = f"arn:aws:bedrock:eu-west-1:210987654321:knowledge-base/{KB_ID}"
SECRET_QUERY = "SECRET-QUERY-4b1d refund policy"
SECRET_TEXT = "SECRET-PASSAGE-77c2: refunds are due within 14 days."

_SESSION = botocore.session.get_session()


def new_client() -> Any:
    return _SESSION.create_client(
        "bedrock-agent-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """A Stubber on the client the tool uses; every queued answer must be consumed."""
    client = new_client()
    monkeypatch.setenv(knowledge.KNOWLEDGE_BASE_ENV, KB_ID)
    monkeypatch.setattr(knowledge, "retrieve_client", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expected(query: str, count: int = 5) -> dict[str, Any]:
    return {
        "knowledgeBaseId": KB_ID,
        "retrievalQuery": {"text": query},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": count}},
    }


def item(text: str | None, location: dict[str, Any] | None, score: float | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"content": {"type": "TEXT", "text": text} if text is not None else {}}
    if location is not None:
        result["location"] = location
    if score is not None:
        result["score"] = score
    return result


def s3(key: str) -> dict[str, Any]:
    return {"type": "S3", "s3Location": {"uri": f"s3://docs-bucket/{key}"}}


def sha_id(uri: str, text: str) -> str:
    return "S" + hashlib.sha256(f"{uri}\n{text}".encode()).hexdigest()[:6]


def call(arguments: Any, tool: str = TOOL) -> dict[str, Any]:
    return handler_module.handler(arguments, GatewayContext(tool))  # type: ignore[arg-type]


def search(arguments: Any) -> dict[str, Any]:
    """A successful gateway call's parsed body."""
    response = call(arguments)
    assert set(response) == {"result"}, response
    body: dict[str, Any] = response["result"]
    assert isinstance(body, dict), "a structured result is the object, not its JSON text"
    return body


# --------------------------------------------------------------------------- the search itself


def test_a_gateway_search_sends_exactly_these_params_and_answers_with_the_contract(stub: Stubber) -> None:
    results = [
        item("Refunds take 14 days.", s3("policy/refunds.md"), 0.83),
        item("Opening hours are 9 to 5.", {"type": "WEB", "webLocation": {"url": "https://example.com/h"}}),
        item("Custom text.", {"type": "CUSTOM", "customDocumentLocation": {"id": "doc-42"}}, 0.5),
        item("total: 17", {"type": "SQL", "sqlLocation": {"query": "SELECT count(*) FROM orders"}}, 0.4),
        {"content": {"type": "IMAGE", "byteContent": "data:image/png;base64,AAAA"}, "location": s3("a.png")},
        {"content": {"type": "ROW", "row": [{"columnName": "c", "columnValue": "v", "type": "STRING"}]}},
        item("   ", s3("blank.md")),
    ]
    stub.add_response("retrieve", {"retrievalResults": results}, expected("refund policy", 3))

    body = search({"query": "  refund policy \n", "max_results": 3})

    first = sha_id("s3://docs-bucket/policy/refunds.md", "Refunds take 14 days.")
    assert body == {
        "passages": [
            {
                "id": first,
                "text": "Refunds take 14 days.",
                "source": {"type": "S3", "uri": "s3://docs-bucket/policy/refunds.md"},
                "score": 0.83,
            },
            {
                "id": sha_id("https://example.com/h", "Opening hours are 9 to 5."),
                "text": "Opening hours are 9 to 5.",
                "source": {"type": "WEB", "uri": "https://example.com/h"},
            },
            {
                "id": sha_id("doc-42", "Custom text."),
                "text": "Custom text.",
                "source": {"type": "CUSTOM", "uri": "doc-42"},
                "score": 0.5,
            },
            {
                "id": sha_id("", "total: 17"),
                "text": "total: 17",
                "source": {"type": "SQL", "uri": None},
                "score": 0.4,
            },
        ],
        "instructions": knowledge.INSTRUCTIONS.format(example=first),
    }
    assert f"[{first}]" in body["instructions"]


def test_max_results_defaults_to_five_and_is_sent_as_given(stub: Stubber) -> None:
    stub.add_response("retrieve", {"retrievalResults": []}, expected("hours"))
    stub.add_response("retrieve", {"retrievalResults": []}, expected("hours", 10))
    stub.add_response("retrieve", {"retrievalResults": []}, expected("hours", 1))

    search({"query": "hours"})
    search({"query": "hours", "max_results": 10})
    search({"query": "hours", "max_results": "1"})  # the gateway may pass JSON numbers or text


def test_next_token_is_not_followed(stub: Stubber) -> None:
    stub.add_response(
        "retrieve",
        {"retrievalResults": [item("One.", s3("one.md"))], "nextToken": "more-results"},
        expected("one"),
    )
    assert [p["text"] for p in search({"query": "one"})["passages"]] == ["One."]
    # The fixture asserts no further call was queued or made (Stubber raises on an unqueued call).


@pytest.mark.parametrize(
    "results",
    [
        [],
        [{"content": {"type": "IMAGE", "byteContent": "data:image/png;base64,AAAA"}}],
    ],
    ids=["nothing", "nothing-readable"],
)
def test_no_readable_match_is_an_empty_list_with_instructions(stub: Stubber, results: list[Any]) -> None:
    stub.add_response("retrieve", {"retrievalResults": results}, expected("zebras"))
    assert search({"query": "zebras"}) == {"passages": [], "instructions": knowledge.NO_MATCH}


def test_the_same_passage_is_given_once_the_best_ranked_copy(stub: Stubber) -> None:
    results = [
        item("Same text.", s3("a.md"), 0.9),
        item("Same text.", s3("a.md"), 0.7),
        item("Same text.", s3("b.md"), 0.6),  # another document: another passage
        item("Same text.", None, 0.5),
        item("Same text.", {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}}, 0.4),  # uri null too
    ]
    stub.add_response("retrieve", {"retrievalResults": results}, expected("same"))

    passages = search({"query": "same"})["passages"]

    assert [(p["source"]["uri"], p.get("score")) for p in passages] == [
        ("s3://docs-bucket/a.md", 0.9),
        ("s3://docs-bucket/b.md", 0.6),
        (None, 0.5),
    ]
    assert len({p["id"] for p in passages}) == 3


def test_ids_are_stable_across_searches_and_independent_of_rank(stub: Stubber) -> None:
    a, b = item("Alpha.", s3("a.md"), 0.9), item("Beta.", s3("b.md"), 0.8)
    stub.add_response("retrieve", {"retrievalResults": [a, b]}, expected("x"))
    stub.add_response("retrieve", {"retrievalResults": [b, a]}, expected("y"))

    first = {p["text"]: p["id"] for p in search({"query": "x"})["passages"]}
    second = {p["text"]: p["id"] for p in search({"query": "y"})["passages"]}

    assert (
        first
        == second
        == {
            "Alpha.": sha_id("s3://docs-bucket/a.md", "Alpha."),
            "Beta.": sha_id("s3://docs-bucket/b.md", "Beta."),
        }
    )


def test_a_huge_passage_is_cut_and_says_so_but_keeps_the_id_of_its_full_text(stub: Stubber) -> None:
    huge = "word " * 3000  # 15,000 characters
    stub.add_response("retrieve", {"retrievalResults": [item(huge, s3("huge.md"))]}, expected("huge"))

    (passage,) = search({"query": "huge"})["passages"]

    assert len(passage["text"]) <= knowledge.MAX_PASSAGE_CHARS
    assert len(passage["text"]) > knowledge.MAX_PASSAGE_CHARS - len(knowledge.CUT_NOTE) - 5
    assert passage["text"].endswith(knowledge.CUT_NOTE)
    assert huge.startswith(passage["text"].removesuffix(knowledge.CUT_NOTE))
    assert passage["id"] == sha_id("s3://docs-bucket/huge.md", huge)


def test_the_total_is_capped_the_last_fitting_passage_cut_and_the_rest_counted(stub: Stubber) -> None:
    sizes = [4000, 4000, 4000, 4000, 3500, 2000, 1000, 50]
    results = [item(chr(ord("a") + n) * size, s3(f"{n}.md"), 1 - n / 10) for n, size in enumerate(sizes)]
    stub.add_response("retrieve", {"retrievalResults": results}, expected("all", 10))

    body = search({"query": "all", "max_results": 10})

    texts = [p["text"] for p in body["passages"]]
    assert [len(t) for t in texts] == [4000, 4000, 4000, 4000, 3500, 500]
    assert texts[5].endswith(knowledge.CUT_NOTE)
    assert texts[5].startswith("f")
    assert not any(t.endswith(knowledge.CUT_NOTE) for t in texts[:5])
    assert sum(map(len, texts)) <= knowledge.MAX_TOTAL_CHARS
    assert body["instructions"].endswith(knowledge.LEFT_OUT.format(count=2))


def test_a_score_that_is_not_a_finite_number_is_left_out() -> None:
    body = knowledge.search_result([item("Text.", s3("t.md"), math_nan()), item("More.", s3("m.md"))])
    assert [("score" in p) for p in body["passages"]] == [False, False]
    serialize_body(body)  # JSON without NaN: would raise otherwise


retrieved_items = st.lists(
    st.fixed_dictionaries(
        {"content": st.one_of(st.fixed_dictionaries({"text": st.text(max_size=9000)}), st.just({}))},
        optional={
            "location": st.one_of(
                st.builds(s3, st.sampled_from(["a.md", "b.md"])),
                st.just({"type": "SQL", "sqlLocation": {"query": "SELECT 1"}}),
                st.just({"type": "WEB", "webLocation": {"url": "https://w"}}),
            ),
            "score": st.floats(allow_nan=True, allow_infinity=True),
        },
    ),
    max_size=12,
)


@examples(0.5)
@given(retrieved_items)
def test_any_retrieval_gives_unique_ids_within_the_caps_as_json(items: list[dict[str, Any]]) -> None:
    body = knowledge.search_result(items)

    passages = body["passages"]
    assert len({p["id"] for p in passages}) == len(passages)
    assert all(len(p["text"]) <= knowledge.MAX_PASSAGE_CHARS for p in passages)
    assert sum(len(p["text"]) for p in passages) <= knowledge.MAX_TOTAL_CHARS
    assert all(p["text"].strip() for p in passages)
    assert isinstance(body["instructions"], str)
    assert json.loads(serialize_body(body)) == body


def math_nan() -> float:
    return float("nan")


def test_sources_use_the_invoker_s_location_mapping_for_every_location_type() -> None:
    assert knowledge.LOCATION_ADDRESS == classic._LOCATION_ADDRESS
    locations = [
        s3("k.md"),
        {"type": "WEB", "webLocation": {"url": "https://w"}},
        {"type": "CONFLUENCE", "confluenceLocation": {"url": "https://c"}},
        {"type": "SALESFORCE", "salesforceLocation": {"url": "https://sf"}},
        {"type": "SHAREPOINT", "sharePointLocation": {"url": "https://sp"}},
        {"type": "KENDRA", "kendraDocumentLocation": {"uri": "https://k"}},
        {"type": "CUSTOM", "customDocumentLocation": {"id": "c-1"}},
        {"type": "GOOGLEDRIVE", "googleDriveLocation": {"url": "https://g"}},
        {"type": "ONEDRIVE", "oneDriveLocation": {"url": "https://o"}},
        {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}},
        {"type": "S3"},
    ]
    for location in locations:
        assert knowledge.source(location) == classic._reference({"location": location})
    sql = {"type": "SQL", "sqlLocation": {"query": "SELECT 1"}}
    assert knowledge.source(sql) == {"type": "SQL", "uri": None}


# --------------------------------------------------------------------------- the model's input


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": " \n\t "}, "query is empty"),
        ({"query": "x" * (knowledge.MAX_QUERY_CHARS + 1)}, "longer than 1000 characters"),
        ({"query": "hours", "max_results": 0}, "max_results must be between 1 and 10"),
        ({"query": "hours", "max_results": 11}, "max_results must be between 1 and 10"),
        ({"query": "hours", "max_results": -3}, "max_results must be between 1 and 10"),
        ({"query": "hours", "max_results": "many"}, "must be a whole number"),
        ({}, "missing required parameter(s): query"),
    ],
)
def test_unusable_input_asks_the_model_to_retry_without_searching(
    stub: Stubber, arguments: dict[str, Any], fragment: str
) -> None:
    response = call(arguments)
    assert response["retry"] is True
    assert fragment in response["error"]


def test_a_query_of_exactly_the_limit_is_searched_stripped(stub: Stubber) -> None:
    query = "q" * knowledge.MAX_QUERY_CHARS
    stub.add_response("retrieve", {"retrievalResults": []}, expected(query))
    search({"query": f"  {query}  "})


def test_without_a_knowledge_base_the_search_fails_for_good_without_a_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_client() -> Any:
        raise AssertionError("no client may be created without a knowledge base")

    monkeypatch.setattr(knowledge, "retrieve_client", no_client)
    for value in (None, "", "   "):
        if value is None:
            monkeypatch.delenv(knowledge.KNOWLEDGE_BASE_ENV, raising=False)
        else:
            monkeypatch.setenv(knowledge.KNOWLEDGE_BASE_ENV, value)
        assert call({"query": "anything"}) == {"error": knowledge.NOT_CONFIGURED, "retry": False}
        # even a wrong call: nothing the model does can make it work
        assert call({"query": ""}) == {"error": knowledge.NOT_CONFIGURED, "retry": False}
    assert "no knowledge base is configured for this agent" in knowledge.NOT_CONFIGURED


# --------------------------------------------------------------------------- AWS errors


@pytest.mark.parametrize(
    ("code", "status", "retry", "fragment"),
    [
        ("ThrottlingException", 429, True, "busy"),
        ("ServiceQuotaExceededException", 400, True, "busy"),
        ("InternalServerException", 500, True, "busy"),
        ("BadGatewayException", 502, True, "busy"),
        ("AccessDeniedException", 403, False, "not allowed to search its knowledge base"),
        ("ResourceNotFoundException", 404, False, "no longer exists"),
        ("ValidationException", 400, False, "rejected the search request"),
        ("DependencyFailedException", 424, False, "vector store or embedding model"),
        ("ConflictException", 409, False, "being changed"),
        ("SomethingNewException", 400, False, "failed: an unexpected error"),
    ],
)
def test_each_aws_error_has_a_fixed_answer_naming_no_arn_account_or_query(
    stub: Stubber, code: str, status: int, retry: bool, fragment: str
) -> None:
    stub.add_client_error(
        "retrieve",
        service_error_code=code,
        service_message=f"{code} on {ARN} for query {SECRET_QUERY!r}",
        http_status_code=status,
        expected_params=expected(SECRET_QUERY),
    )

    with captured_logs() as records:
        response = call({"query": SECRET_QUERY})

    assert response["retry"] is retry
    assert fragment in response["error"]
    for leaked in (ARN, "210987654321", KB_ID, SECRET_QUERY, "SECRET-QUERY"):
        assert leaked not in response["error"]
        assert leaked not in json.dumps(records)
    (record,) = records
    assert record["tool"] == {"retrieve_error": code}
    assert (record["function"], record["outcome"]) == (
        "search_documents",
        "reprompt" if retry else "failure",
    )


@pytest.mark.parametrize(
    "value",
    [
        "KB-9",  # botocore would refuse it (min length 10)
        "bad/id!!!!!!!!!!!!",  # botocore would send it: its ParamValidator checks no pattern
        "KB1234567",  # 9 characters
        "KB123456789",  # 11 characters
        "KB12345678 extra",
        "arn:aws:bedrock:eu-west-1:210987654321:knowledge-base/KB-9",
        "arn:aws:bedrock:eu-west-1:210987654321:agent/KB12345678",
    ],
)
def test_a_malformed_knowledge_base_id_fails_before_any_request(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    def no_client() -> Any:
        raise AssertionError("a malformed id must be answered before a client is made")

    monkeypatch.setattr(knowledge, "retrieve_client", no_client)
    monkeypatch.setenv(knowledge.KNOWLEDGE_BASE_ENV, value)
    with captured_logs() as records:
        response = call({"query": "hours"})
        # a deployment problem: the model's own mistakes are not asked about first
        assert call({"query": ""})["error"] == response["error"]
    assert response["retry"] is False
    assert (
        "knowledge base id this agent is configured with is malformed (a deployment problem)"
        in (response["error"])
    )
    assert value.strip() not in response["error"]
    assert [record["tool"] for record in records] == [{"retrieve_error": "malformed_knowledge_base_id"}] * 2


@pytest.mark.parametrize(
    "value", [KB_ID, ARN, "arn:aws-cn:bedrock:cn-north-1:210987654321:knowledge-base/0A1b2C3d4E"]
)
def test_an_id_or_arn_the_retrieve_model_allows_is_searched(
    stub: Stubber, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(knowledge.KNOWLEDGE_BASE_ENV, value)
    stub.add_response("retrieve", {"retrievalResults": []}, {**expected("hours"), "knowledgeBaseId": value})
    search({"query": "hours"})


def test_the_local_id_check_is_the_retrieve_models_pattern() -> None:
    shape = new_client().meta.service_model.operation_model("Retrieve").input_shape.members["knowledgeBaseId"]
    assert shape.name == "KnowledgeBaseIdentifier"
    alternatives = [f"^{part}$" for part in knowledge.KNOWLEDGE_BASE_IDENTIFIER.pattern.split("|")]
    assert "|".join(alternatives) == shape.metadata["pattern"]


@pytest.mark.parametrize(
    ("code", "state"),
    [("ThrottlingException", "REPROMPT"), ("AccessDeniedException", "FAILURE")],
)
def test_busy_is_reprompt_and_broken_is_failure_in_bedrock_terms(
    stub: Stubber, code: str, state: str
) -> None:
    stub.add_client_error("retrieve", service_error_code=code, expected_params=expected("hours"))
    event = bedrock_event("search_documents", [param("query", "hours")], action_group="knowledge")

    result = dispatch(event, handler_module.KNOWLEDGE_TOOLS, serialize_body)

    assert state_of(result.response) == state


def test_a_timeout_after_botocore_s_retries_asks_for_one_more_try(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client from ``retrieve_client``: its retry configuration decides the attempts."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        knowledge.KNOWLEDGE_BASE_ENV: KB_ID,
    }.items():
        monkeypatch.setenv(name, value)
    knowledge.retrieve_client.cache_clear()
    attempts: list[str] = []

    def time_out(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    try:
        client = knowledge.retrieve_client()
        client.meta.events.register("before-send.bedrock-agent-runtime.Retrieve", time_out)
        with captured_logs() as records:
            response = call({"query": SECRET_QUERY})
    finally:
        knowledge.retrieve_client.cache_clear()

    assert response == {"error": knowledge.BUSY, "retry": True}
    assert len(attempts) == knowledge.TOTAL_ATTEMPTS == 2
    assert (
        attempts[0]
        == f"https://bedrock-agent-runtime.eu-west-1.amazonaws.com/knowledgebases/{KB_ID}/retrieve"
    )
    assert records[0]["tool"] == {"retrieve_error": "ReadTimeoutError"}


# --------------------------------------------------------------------------- routing and logs


def test_only_the_knowledge_target_reaches_the_search_tool(stub: Stubber) -> None:
    assert list(handler_module.KNOWLEDGE_TOOLS) == ["search_documents"]
    assert handler_module.tools_for(TOOL) is handler_module.KNOWLEDGE_TOOLS
    assert handler_module.tools_for("tools___calculate") is handler_module.TOOLS
    assert handler_module.tools_for("search_documents") is handler_module.TOOLS
    assert handler_module.tools_for(None) is handler_module.TOOLS

    other_target = call({"query": "hours"}, tool="tools___search_documents")
    assert other_target["retry"] is False
    assert "Known functions: calculate, convert_units, business_days_between." in other_target["error"]
    calculate_here = call({"expression": "1 + 1"}, tool="knowledge___calculate")
    assert calculate_here == {
        "error": "Function 'calculate' does not exist in action group 'knowledge'. "
        "Known functions: search_documents.",
        "retry": False,
    }
    # A Bedrock (Classic) event never gets the search tool, whatever its action group is called.
    classic = bedrock_event("search_documents", [param("query", "hours")], action_group="knowledge")
    classic_event = invoke(classic)
    assert state_of(classic_event) == "FAILURE"


def test_a_search_is_logged_with_counts_but_no_query_or_passage_text(stub: Stubber) -> None:
    results = [item(SECRET_TEXT, s3("secret.md"), 0.9), item(SECRET_TEXT, s3("secret.md"), 0.8)]
    results.append({"content": {"type": "IMAGE", "byteContent": "data:image/png;base64,AAAA"}})
    stub.add_response("retrieve", {"retrievalResults": results}, expected(SECRET_QUERY, 3))

    with captured_logs() as records:
        body = search({"query": SECRET_QUERY, "max_results": 3})

    assert body["passages"][0]["text"] == SECRET_TEXT
    (record,) = records
    assert (record["action_group"], record["function"], record["outcome"]) == (
        "knowledge",
        "search_documents",
        "success",
    )
    assert record["parameter_names"] == ["query", "max_results"]
    assert record["tool"] == {"results": 3, "passages": 1, "passages_cut": 0, "passages_left_out": 0}
    logged = json.dumps(records)
    for secret in (SECRET_QUERY, "SECRET-QUERY", SECRET_TEXT, "SECRET-PASSAGE", "secret.md", KB_ID):
        assert secret not in logged


def test_tools_without_log_fields_log_no_tool_member() -> None:
    with captured_logs() as records:
        call({"expression": "6 * 7"}, tool="tools___calculate")
    assert "tool" not in records[0]


# --------------------------------------------------------------------------- the client


def test_the_client_is_made_once_per_process_with_bounded_timeouts_and_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    knowledge.retrieve_client.cache_clear()
    try:
        client = knowledge.retrieve_client()
        assert knowledge.retrieve_client() is client
    finally:
        knowledge.retrieve_client.cache_clear()
    config = client.meta.config
    assert client.meta.service_model.service_name == "bedrock-agent-runtime"
    assert (config.connect_timeout, config.read_timeout) == (1.0, 4.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_a_whole_search_fits_well_inside_the_function_and_the_shortest_turn() -> None:
    fields = dataclasses.fields(VpcFunctionArgs)
    (function_timeout,) = (f.default for f in fields if f.name == "timeout_seconds")
    assert isinstance(function_timeout, int)
    budget = min(function_timeout, MAX_BUFFERED_TIMEOUT_MS / 1000)
    assert knowledge.worst_case_seconds() == 2 * (1.0 + 4.0) + 1.0 + 5.0
    assert knowledge.worst_case_seconds() <= 0.6 * budget


def test_importing_the_handler_creates_no_client_and_imports_no_boto3() -> None:
    probe = (
        "import sys\n"
        "import functions.action_group.handler\n"
        "from functions.action_group import knowledge\n"
        "print(knowledge.retrieve_client.cache_info().currsize, 'boto3' in sys.modules)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert output.split() == ["0", "False"]
