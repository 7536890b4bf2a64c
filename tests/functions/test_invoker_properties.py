"""Property-based tests: whatever a client sends, the answer is a 2xx/4xx JSON envelope, never a 5xx.

The handler runs for real (Powertools decorator, real botocore client answered by scripted bytes);
requests that pass validation reach the fake agent, which answers with a one-chunk stream.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from functions.invoker import classic as agent
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import API_REQUEST_ID, ORIGIN, Harness, api_event, make_harness
from tests.fuzzing import examples

PROFILE = examples(1.0)  # the profile's count (tests/fuzzing.py)
CLIENT_STATUSES = {200, 204, 400, 404, 405, 413, 415}
SESSION = "sess-prop"


@pytest.fixture(scope="module")
def h() -> Iterator[Harness]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        harness = make_harness(monkeypatch)
        harness.agent.always(es.chunk("answer"))
        yield harness


def assert_client_outcome(response: Any) -> None:
    """A status from the client-error set; errors are the JSON envelope with the request id."""
    event(f"status {response.status}")
    assert response.status in CLIENT_STATUSES
    assert response.headers["Vary"] == "Origin"
    if response.status == 204:
        assert response.raw["body"] == ""
        return
    body = response.json()
    if response.status >= 400:
        assert set(body) == {"error"}
        error = body["error"]
        assert set(error) == {"code", "message", "requestId"}
        assert error["requestId"] == API_REQUEST_ID
        assert isinstance(error["code"], str)
        assert error["code"].isupper()
        assert isinstance(error["message"], str)
        assert "Traceback" not in error["message"]
    else:
        assert set(body) >= {"sessionId", "completion", "citations"}


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-16",
        "text/plain",
        "application/xml",
        "",
        "application/json; charset",
        'application/json; charset="utf-8"; q=1',
        "multipart/form-data; boundary=x",
    ]
) | st.text(max_size=40)
json_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/Json"])
header_names = st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE", "cOnTeNt-TyPe"])
valid_bodies = st.fixed_dictionaries(
    {"inputText": st.text(min_size=1, max_size=50)},
    optional={"sessionId": st.from_regex(r"\A[0-9a-zA-Z._:-]{2,20}\Z"), "enableTrace": st.booleans()},
).map(json.dumps)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.dictionaries(
        st.sampled_from(["inputText", "sessionId", "enableTrace", "returnControlResults", "other"]),
        json_values,
        max_size=5,
    ).map(json.dumps),
)


@PROFILE
@given(
    method=st.sampled_from(["POST", "DELETE", "OPTIONS", "GET", "PUT", "PATCH", "HEAD"])
    | st.text(max_size=8),
    path=st.sampled_from(["/chat", "/chat/sess-1", "/chat/", "/", "/chat/a/b", "/chat/%2F", "/chat/sess-1/"])
    | st.text(max_size=30).map(lambda s: "/chat/" + s)
    | st.text(max_size=30),
    resource=st.none() | st.sampled_from(["/chat", "/chat/{sessionId}", "/{proxy+}"]),
)
def test_arbitrary_routes_never_yield_a_5xx(h: Harness, method: str, path: str, resource: str | None) -> None:
    event = api_event(method, path, None, {"Origin": ORIGIN}, resource=resource)
    if resource == "/chat/{sessionId}":
        event["pathParameters"] = {"sessionId": path.rpartition("/")[2]}

    response = h.call(event)

    assert_client_outcome(response)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    if response.status == 405:
        assert response.headers["Allow"] in {"POST, OPTIONS", "DELETE, OPTIONS"}


@PROFILE
@given(
    content_type=st.none() | content_types | json_types | json_types,
    header_name=header_names,
    body=bodies | bodies | valid_bodies,
    is_base64=st.booleans(),
    encode=st.booleans(),
)
def test_arbitrary_chat_posts_never_yield_a_5xx(
    h: Harness, content_type: str | None, header_name: str, body: str | None, is_base64: bool, encode: bool
) -> None:
    if is_base64 and encode and body is not None:
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    headers = {"Origin": ORIGIN} if content_type is None else {header_name: content_type, "Origin": ORIGIN}

    response = h.call(api_event("POST", "/chat", body, headers, is_base64=is_base64))

    assert_client_outcome(response)
    assert response.status in {200, 400, 415}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@PROFILE
@given(payload=st.binary(max_size=300) | valid_bodies.map(str.encode), valid_alphabet=st.booleans())
def test_arbitrary_base64_payloads_never_yield_a_5xx(
    h: Harness, payload: bytes, valid_alphabet: bool
) -> None:
    text = base64.b64encode(payload).decode() if valid_alphabet else payload.decode("latin-1")

    response = h.call(api_event("POST", "/chat", text, {"Content-Type": "application/json"}, is_base64=True))

    assert_client_outcome(response)
    assert response.status in {200, 400}


names = st.text(max_size=12) | st.sampled_from(["billing", "f", "/p", "GET"])
ok_names = st.sampled_from(["billing", "issue_refund", "/orders/{id}", "GET"])
# Each field is valid, absent or (less often) arbitrary JSON, so both outcomes are well explored.
function_results = st.fixed_dictionaries(
    {"actionGroup": ok_names, "function": ok_names},
    optional={
        "body": st.text(max_size=50) | st.text(max_size=50) | json_values,
        "responseState": st.sampled_from(["FAILURE", "REPROMPT"]) | json_values,
        "confirmationState": st.sampled_from(["CONFIRM", "DENY"]) | json_values,
        "agentId": st.sampled_from(["AGENT1", "COLLAB0001"]) | json_values,
    },
)
api_results = st.fixed_dictionaries(
    {"actionGroup": ok_names, "apiPath": ok_names, "httpMethod": ok_names},
    optional={
        "httpStatusCode": st.integers(100, 599) | st.integers(-1000, 1000) | json_values,
        "body": st.text(max_size=50) | json_values,
        "extra": json_values,
    },
)
any_results = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(("actionGroup", "function", "apiPath", "httpMethod", "body"), names | json_values),
)
results = function_results | function_results | api_results | any_results
return_control_results = st.fixed_dictionaries(
    {"invocationId": ok_names | names, "results": st.lists(results, min_size=1, max_size=6)},
) | st.fixed_dictionaries(
    {},
    optional={
        "invocationId": names | json_values,
        "results": st.lists(results, max_size=7) | json_values,
        "extra": json_values,
    },
)
texts = st.text(min_size=1, max_size=60)
sessions = st.sampled_from([SESSION, "ok.id:1-2_3"])
chat_bodies = st.one_of(
    st.fixed_dictionaries(
        {"inputText": texts},
        optional={
            "sessionId": sessions | json_values,
            "enableTrace": st.booleans() | st.booleans() | json_values,
        },
    ),
    st.fixed_dictionaries(
        {"sessionId": sessions, "returnControlResults": return_control_results},
        optional={"inputText": st.just("") | texts, "enableTrace": st.booleans()},
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "inputText": st.text(max_size=60) | json_values,
            "sessionId": st.sampled_from([SESSION, "a", "x" * 101]) | st.text(max_size=8) | json_values,
            "enableTrace": st.booleans() | json_values,
            "returnControlResults": return_control_results | json_values,
            "extra": json_values,
        },
    ),
)


@PROFILE
@given(body=chat_bodies)
def test_arbitrary_field_values_never_yield_a_5xx(h: Harness, body: dict[str, Any]) -> None:
    h.agent.requests.clear()

    response = h.chat(body)

    assert_client_outcome(response)
    assert response.status in {200, 400}
    if response.status == 200:
        (sent,) = h.agent.requests
        if "returnControlResults" in body:
            assert "inputText" not in sent.body
            assert sent.body["sessionState"]["invocationId"] == body["returnControlResults"]["invocationId"]
            results = sent.body["sessionState"]["returnControlInvocationResults"]
            assert len(results) == len(body["returnControlResults"]["results"])
        else:
            assert sent.body["inputText"] == body["inputText"]
    else:
        assert h.agent.requests == []


@PROFILE
@given(text=st.text(min_size=1, max_size=3_000), trace=st.booleans())
def test_valid_input_text_reaches_the_agent_verbatim(h: Harness, text: str, trace: bool) -> None:
    h.agent.requests.clear()

    response = h.chat({"inputText": text, "sessionId": SESSION, "enableTrace": trace})

    assert response.status == 200
    (sent,) = h.agent.requests
    assert sent.body == {"inputText": text, "enableTrace": trace}


@examples(0.2)
@given(extra=st.integers(1, 5_000), wide=st.booleans())
def test_oversized_input_text_is_a_400_and_never_reaches_the_agent(
    h: Harness, extra: int, wide: bool
) -> None:
    h.agent.requests.clear()
    char = "𝄞" if wide else "a"  # code points, not UTF-16 units or bytes, are counted

    response = h.chat({"inputText": char * (25_000 + extra)})

    assert response.status == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert h.agent.requests == []


stream_exceptions = sorted(set(agent.UPSTREAM_ERRORS) | set(agent.THROTTLING_ERRORS) | {"NewException"})
stream_events = st.one_of(
    st.text(max_size=20).map(es.chunk),
    st.text(alphabet=string.ascii_letters, max_size=10).map(
        lambda t: es.trace({"orchestrationTrace": {"rationale": {"text": t, "traceId": "t"}}})
    ),
    st.sampled_from(stream_exceptions).map(lambda name: es.exception(name[0].lower() + name[1:])),
    st.just(es.return_control("inv", [{"functionInvocationInput": {"actionGroup": "g", "function": "f"}}])),
)
AGENT_CODES = (
    {spec.code for spec in agent.UPSTREAM_ERRORS.values()}
    | set(agent.THROTTLING_ERRORS.values())
    | {agent.UNKNOWN_UPSTREAM.code, agent.INTERRUPTED_CODE, "AGENT_INCOMPLETE_RESPONSE"}
)


@PROFILE
@given(events=st.lists(stream_events, max_size=6), split=st.none() | st.integers(1, 64))
def test_any_agent_stream_yields_a_mapped_answer_or_error(
    h: Harness, events: list[bytes], split: int | None
) -> None:
    h.agent.script.clear()
    h.agent.stream(*events, split=split)

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    event(f"status {response.status}")
    if response.status == 200:
        body = response.json()
        assert body["sessionId"] == SESSION
        assert isinstance(body["completion"], str)
    else:
        error = response.json()["error"]
        assert error["requestId"] == API_REQUEST_ID
        assert error["code"] in AGENT_CODES
        assert response.status in {400, 409, 429, 502, 503}
        assert ("Retry-After" in response.headers) == (response.status == 429)
