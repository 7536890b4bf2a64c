"""Property-based tests of the invoker's fault classes (issue #10 items 1-8, #9 item 9).

Whatever the agent sends (well-formed or broken messages, truncated bodies, HTTP errors with any body
and type header, slow streams) the handler answers with a documented code and never a 500; the same
class rules as the example tests in test_invoker_faults.py, over generated inputs.
"""

from __future__ import annotations

import base64
import json
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from hypothesis import assume, event, given
from hypothesis import strategies as st

from functions.invoker import classic
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import API_REQUEST_ID, Harness, ScriptedRaw, api_event, make_harness
from tests.fuzzing import examples

PROFILE = examples(1.0)
SESSION = "sess-fuzz"
AGENT_STATUSES = {200, 400, 409, 429, 502, 503, 504}


@pytest.fixture(scope="module")
def h() -> Iterator[Harness]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield make_harness(monkeypatch)


def fresh(h: Harness) -> None:
    h.agent.script.clear()
    h.agent.requests.clear()
    h.agent.fallback = None


def envelope(response: Any) -> tuple[int, str]:
    """(status, code) of an error envelope; asserts its shape and that nothing internal leaked."""
    event(f"status {response.status}")
    assert response.status in AGENT_STATUSES - {200}
    error = response.json()["error"]
    assert error["requestId"] == API_REQUEST_ID
    assert "Traceback" not in error["message"]
    event(error["code"])
    return response.status, error["code"]


# --- messages: valid, broken, and arbitrary ------------------------------------------------------

texts = st.text(max_size=12)
answer_chunks = st.text(min_size=1, max_size=12).map(es.chunk)
reasoning = texts.map(lambda t: es.trace({"orchestrationTrace": {"rationale": {"text": t, "traceId": "t"}}}))
valid_messages = answer_chunks | reasoning

not_base64 = st.text(
    alphabet=string.ascii_letters + string.digits + "+/=!*-_ ", min_size=1, max_size=12
).filter(lambda t: re.fullmatch(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", t) is None)
CHUNK = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
# Messages whose CRCs are valid and whose content is certainly not what the model allows.
broken_messages = st.one_of(
    not_base64.map(lambda t: es.encode_message(CHUNK, json.dumps({"bytes": t}).encode())),
    st.binary(min_size=1, max_size=20)
    .filter(lambda b: not _json_object(b))
    .map(lambda b: es.encode_message(CHUNK, b)),
    json_values.filter(lambda v: not isinstance(v, dict) and v is not None).map(
        lambda v: es.encode_message(CHUNK, json.dumps(v).encode())
    ),
    (st.integers() | st.lists(st.integers(), max_size=2) | st.booleans()).map(
        lambda v: es.encode_message(CHUNK, json.dumps({"bytes": v}).encode())
    ),
    texts.filter(lambda t: t not in ("event", "exception", "error")).map(
        lambda t: es.encode_message({":message-type": t}, b"{}")
    ),
)
# Anything at all inside valid CRCs: header bytes and payload bytes drawn at random.
arbitrary_messages = st.builds(es.encode_raw, st.binary(max_size=24), st.binary(max_size=24))


def _json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


@PROFILE
@given(
    parts=st.lists(
        valid_messages | broken_messages | arbitrary_messages | st.binary(max_size=30), max_size=5
    ),
    cut=st.none() | st.integers(0, 400),
    split=st.none() | st.integers(1, 40),
)
def test_nothing_the_agent_sends_is_a_500(
    h: Harness, parts: list[bytes], cut: int | None, split: int | None
) -> None:
    fresh(h)
    body = b"".join(parts)
    h.agent.stream(body[:cut] if cut is not None else body, split=split)
    h.agent.fallback = lambda request: _stream(request, es.chunk("after a retry"))

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    if response.status != 200:
        envelope(response)
    else:
        assert isinstance(response.json()["completion"], str)


@PROFILE
@given(
    before=st.lists(valid_messages, max_size=3),
    broken=broken_messages,
    after=st.lists(valid_messages, max_size=2),
    split=st.none() | st.integers(1, 40),
)
def test_a_broken_message_anywhere_is_a_bad_response(
    h: Harness, before: list[bytes], broken: bytes, after: list[bytes], split: int | None
) -> None:
    fresh(h)
    raw = h.agent.stream(*before, broken, *after, split=split)

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert envelope(response) == (502, "AGENT_BAD_RESPONSE")
    assert raw.closed is True
    assert len(h.agent.requests) == 1


@PROFILE
@given(messages=st.lists(valid_messages, min_size=1, max_size=4), data=st.data())
def test_a_stream_is_a_success_only_when_it_ends_on_a_boundary_with_an_answer(
    h: Harness, messages: list[bytes], data: st.DataObject
) -> None:
    fresh(h)
    body = b"".join(messages)
    cut = data.draw(st.integers(0, len(body)), label="cut")
    boundaries = {sum(len(m) for m in messages[:n]) for n in range(len(messages) + 1)}
    kept = [m for n, m in enumerate(messages) if sum(len(x) for x in messages[: n + 1]) <= cut]
    h.agent.stream(body[:cut], split=data.draw(st.none() | st.integers(1, 40), label="split"))

    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    answered = any(m in kept for m in messages if _is_answer(m))
    if cut in boundaries and answered:
        assert response.status == 200
    else:
        assert envelope(response) == (502, "AGENT_INCOMPLETE_RESPONSE")


def _is_answer(message: bytes) -> bool:
    return b'"bytes"' in message and b'"bytes": ""' not in message


# --- HTTP errors -----------------------------------------------------------------------------------

MODELED = sorted(set(classic.UPSTREAM_ERRORS) | set(classic.THROTTLING_ERRORS))
error_types = st.none() | st.sampled_from([*MODELED, "FutureException", ""]) | texts
error_bodies = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.just(b"<html><body>Service Unavailable</body></html>"),
    texts.map(lambda t: json.dumps({"message": t}).encode()),
)


@PROFILE
@given(status=st.integers(400, 599), body=error_bodies, error_type=error_types)
def test_any_http_error_maps_by_its_type_or_status(
    h: Harness, status: int, body: bytes, error_type: str | None
) -> None:
    fresh(h)
    for _ in range(4):
        h.agent.script.append(_error(status, body, error_type))

    response = h.chat({"inputText": "hi"})

    code = envelope(response)[1]
    kind = (error_type or "").split(":", 1)[0].strip()
    kind = kind[:1].upper() + kind[1:]
    if kind in classic.THROTTLING_ERRORS or (not kind and status == 429):
        assert response.status == 429
        assert len(h.agent.requests) == 4  # throttling, retried whatever the body
    elif kind in classic.UPSTREAM_ERRORS:
        assert code == classic.UPSTREAM_ERRORS[kind].code
        assert len(h.agent.requests) == 1
    else:
        assert code == "AGENT_ERROR"
    text = body.decode("utf-8", "replace")
    if len(text) >= 6 and code != "AGENT_VALIDATION_ERROR":
        assert text not in response.raw["body"]


def _error(status: int, body: bytes, error_type: str | None) -> Any:
    def respond(request: AWSPreparedRequest) -> AWSResponse:
        headers = {"x-amzn-requestid": "upstream-1"}
        if error_type is not None:
            headers["x-amzn-errortype"] = error_type
        return AWSResponse(request.url, status, headers, ScriptedRaw([body]))

    return respond


def _stream(request: AWSPreparedRequest, *messages: bytes) -> AWSResponse:
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    return AWSResponse(request.url, 200, headers, ScriptedRaw(list(messages)))


# --- acting before a failure ---------------------------------------------------------------------

ACTING = [
    es.event("files", {"files": [{"name": "f.csv", "type": "text/csv", "bytes": "YQ=="}]}),
    es.trace({"orchestrationTrace": {"invocationInput": {"invocationType": "ACTION_GROUP"}}}),
    es.trace({"routingClassifierTrace": {"invocationInput": {"invocationType": "AGENT_COLLABORATOR"}}}),
    es.trace({"orchestrationTrace": {"invocationInput": {"invocationType": "KNOWLEDGE_BASE"}}}),
    es.trace({"customOrchestrationTrace": {"event": {"text": "x"}}}),
    es.chunk("part of an answer"),
    es.return_control("inv", [{"functionInvocationInput": {"actionGroup": "g", "function": "f"}}]),
]
QUIET = [
    es.trace({"orchestrationTrace": {"rationale": {"text": "thinking"}}}),
    es.trace({"preProcessingTrace": {"modelInvocationInput": {"text": "prompt"}}}),
    es.trace({"guardrailTrace": {"action": "NONE"}}),
    es.event("chunk", {}),  # a chunk without bytes is no answer, and no action
]
RETRYABLE = ["throttlingException", "serviceQuotaExceededException", "modelNotReadyException"]


@PROFILE
@given(prefix=st.lists(st.sampled_from(ACTING + QUIET), max_size=4), failure=st.sampled_from(RETRYABLE))
def test_a_retryable_failure_is_retryable_only_before_the_turn_acted(
    h: Harness, prefix: list[bytes], failure: str
) -> None:
    fresh(h)
    h.agent.stream(*prefix, es.exception(failure))
    h.agent.fallback = lambda request: _stream(request, es.chunk("retried"))

    response = h.chat({"inputText": "hi"})

    acted = any(part in ACTING for part in prefix)
    if acted:
        assert envelope(response) == (502, "AGENT_INTERRUPTED")
        assert "Retry-After" not in response.headers
        assert len(h.agent.requests) == 1
    elif failure == "modelNotReadyException":
        assert envelope(response) == (503, "AGENT_MODEL_NOT_READY")
    else:
        assert response.json()["completion"] == "retried"


# --- the budget ------------------------------------------------------------------------------------


@PROFILE
@given(delays=st.lists(st.floats(0, 12), min_size=1, max_size=4), tail=st.floats(0, 12))
def test_a_response_ending_after_the_budget_is_never_a_success(
    h: Harness, delays: list[float], tail: float
) -> None:
    fresh(h)
    steps: list[Any] = []
    for delay in delays:
        steps += [h.clock.advance(delay), es.chunk("x")]
    h.agent.stream(*steps, h.clock.advance(tail))
    ends_at = sum(delays) + tail
    assume(abs(ends_at - 28.0) > 1e-6)  # the exact boundary is the clock's float rounding

    response = h.chat({"inputText": "hi"})

    if ends_at < 28.0:
        assert response.status == 200
    else:
        assert envelope(response) == (504, "DEADLINE_EXCEEDED")


# --- messages and ids --------------------------------------------------------------------------------

arn_like = st.builds(
    lambda partition, service, region, account, resource: (
        f"arn:{partition}:{service}:{region}:{account}:{resource}"
    ),
    st.sampled_from(["aws", "aws-us-gov", "aws-cn", "AWS"]),
    st.sampled_from(["bedrock", "iam", "lambda", "kms"]),
    st.sampled_from(["", "us-east-1", "eu-west-1"]),
    st.from_regex(r"\A[0-9]{12}\Z"),
    st.from_regex(r"\A[A-Za-z0-9/_:.-]{0,30}\Z"),
)
secrets = st.one_of(
    arn_like,
    arn_like.map(lambda a: a.replace(":", "%3A")),
    arn_like.map(str.upper),
    st.from_regex(r"\A[0-9]{12,16}\Z"),
)
filler = st.text(alphabet=string.ascii_letters + string.punctuation + " ", max_size=20)


@PROFILE
@given(pieces=st.lists(st.tuples(filler, secrets), min_size=1, max_size=4), tail=filler)
def test_no_arn_or_account_id_survives_redaction(pieces: list[tuple[str, str]], tail: str) -> None:
    message = "".join(f"{text}{secret}" for text, secret in pieces) + tail

    redacted = classic.redact(message)

    assert len(redacted) <= classic.MAX_UPSTREAM_MESSAGE
    assert re.search(r"(?i)arn(:|%3a)", redacted) is None
    assert re.search(r"[0-9]{12}", redacted) is None


@PROFILE
@given(session=st.text(alphabet="._:-aZ9", min_size=1, max_size=8), in_path=st.booleans())
def test_a_session_id_is_never_a_dot_segment(h: Harness, session: str, in_path: bool) -> None:
    fresh(h)
    h.agent.fallback = lambda request: _stream(request, es.chunk("ok"))
    if in_path:
        response = h.call(api_event("DELETE", f"/chat/{session}", None, {}, resource="/{proxy+}"))
    else:
        response = h.chat({"inputText": "hi", "sessionId": session})

    if response.status in (200, 204):
        (sent,) = h.agent.requests
        segment = sent.url.split("/sessions/", 1)[1].rsplit("/text", 1)[0]
        assert segment not in (".", "..", "%2E", "%2E%2E")
        assert session.strip(".")
    else:
        assert envelope(response)[1] == "VALIDATION_ERROR" or response.status == 404


@PROFILE
@given(payload=st.binary(max_size=40), mutation=st.sampled_from(["pad", "unpad", "space", "newline", "bits"]))
def test_only_the_canonical_base64_encoding_is_accepted(h: Harness, payload: bytes, mutation: str) -> None:
    fresh(h)
    canonical = base64.b64encode(payload).decode()
    if mutation == "pad":
        variant = canonical + "="
    elif mutation == "unpad":
        assume(canonical.endswith("="))
        variant = canonical.rstrip("=")
    elif mutation in ("space", "newline"):
        assume(canonical)
        middle = len(canonical) // 2
        variant = canonical[:middle] + (" " if mutation == "space" else "\n") + canonical[middle:]
    else:  # set an unused low bit of the last character before the padding
        assume(canonical.endswith("="))
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
        body = canonical.rstrip("=")
        flipped = alphabet[alphabet.index(body[-1]) ^ 1]
        variant = body[:-1] + flipped + canonical[len(body) :]
    headers = {"Content-Type": "application/json"}

    accepted = h.call(api_event("POST", "/chat", canonical, headers, is_base64=True))
    rejected = h.call(api_event("POST", "/chat", variant, headers, is_base64=True))

    assert accepted.json().get("error", {}).get("code") != "INVALID_BASE64"
    assert envelope(rejected) == (400, "INVALID_BASE64")
