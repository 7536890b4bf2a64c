"""Citations on AgentCore, end to end through botocore's real event-stream parser: the search tool's
result in InvokeHarness's stream (a gateway tool the harness ran itself), the answer's ``[Sxxxxxx]``
markers turned into the API's ``citations`` (buffered JSON and NDJSON), and the stage itself under
random chunkings (hypothesis)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

import botocore.session
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from functions.action_group import handler as action_group_handler
from functions.action_group import knowledge as knowledge_tool
from functions.action_group.dispatch import serialize_body
from functions.invoker import agentcore, streaming
from functions.invoker.citations import MAX_HOLD, CitationStage
from functions.invoker.config import load_settings
from functions.invoker.errors import ApiError, ConfigError
from functions.invoker.events import Citations, Event, StreamStats, TextChunk
from functions.invoker.retrieval import Passage, Retrieved, read_result
from functions.invoker.runtime import StreamedResponse
from tests.functions import eventstream as es
from tests.functions.harness_fakes import AGENTCORE_ENV, make_agentcore_harness, stop, text, tool_use, usage
from tests.functions.invoker_fakes import BASE_ENV, Harness, api_event
from tests.functions.test_action_group_gateway import GatewayContext
from tests.fuzzing import examples

SESSION = "sess-cite"
NDJSON = {"Content-Type": "application/json", "Accept": "application/x-ndjson"}
SEARCH = "knowledge___search_documents"
REFUND_TEXT = "Refunds are paid back within five working days of the return."
SHIPPING_TEXT = "Shipping is free for orders over 50 euros."
HOURS_TEXT = "The support desk is open from 9 to 17 on weekdays."


def passage(uri: str, body: str, kind: str = "S3") -> dict[str, Any]:
    """A passage as the search tool returns it (functions/action_group/knowledge.py's contract)."""
    passage_id = "S" + hashlib.sha256(f"{uri}\n{body}".encode()).hexdigest()[:6]
    return {"id": passage_id, "text": body, "source": {"type": kind, "uri": uri}, "score": 0.8}


REFUNDS = passage("s3://docs/refunds.md", REFUND_TEXT)
SHIPPING = passage("s3://docs/shipping.md", SHIPPING_TEXT)
HOURS = passage("https://example.com/hours", HOURS_TEXT, kind="WEB")
PASSAGE_TEXTS = (REFUND_TEXT, SHIPPING_TEXT, HOURS_TEXT)
A, B, C = REFUNDS["id"], SHIPPING["id"], HOURS["id"]
UNKNOWN = "S000000" if "S000000" not in (A, B, C) else "S000001"


def result_body(*passages: dict[str, Any]) -> str:
    return json.dumps({"passages": list(passages), "instructions": "Cite each passage by its id."})


def search_result(
    tool_use_id: str, *pieces: dict[str, Any], status: str = "success", index: int = 0
) -> list[bytes]:
    """The harness's user message carrying a tool's result: one delta per content piece."""
    return [
        es.event("messageStart", {"role": "user"}),
        es.event(
            "contentBlockStart",
            {
                "contentBlockIndex": index,
                "start": {"toolResult": {"toolUseId": tool_use_id, "status": status}},
            },
        ),
        *(
            es.event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolResult": [piece]}})
            for piece in pieces
        ),
        es.event("contentBlockStop", {"contentBlockIndex": index}),
    ]


def search(tool_use_id: str, *passages: dict[str, Any], name: str = SEARCH) -> list[bytes]:
    """The model calls the search tool; the harness runs it through the gateway and streams its result
    (the JSON text split across two deltas, as a long result may be)."""
    body = result_body(*passages)
    return [
        *tool_use(tool_use_id, name, '{"query": "refunds"}', index=1),
        stop("tool_use"),
        *search_result(tool_use_id, {"text": body[:40]}, {"text": body[40:]}),
    ]


def reference(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item["source"])


def stream(h: Harness, body: object) -> StreamedResponse:
    return streaming.handler(api_event("POST", "/chat", body, NDJSON), cast(LambdaContext, h.context))


def lines(response: StreamedResponse) -> list[dict[str, Any]]:
    return [json.loads(line) for line in b"".join(response.body).decode().splitlines()]


def assert_no_passage_text(h: Harness) -> None:
    for body in PASSAGE_TEXTS:
        assert body not in h.logs.text


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    harness = make_agentcore_harness(monkeypatch)
    harness.set_env(RETRIEVAL_TOOL=SEARCH)
    return harness


# The model's answer, cut by the stream inside two markers; "five days [A]." loses the space too.
ANSWER_PARTS = (
    f"Refunds take five days [{A[:3]}",
    f"{A[3:]}]. Shipping is free. [{B}] Ask the desk",
    f" [{UNKNOWN}] for more.",
)
# A well-formed id this turn did not retrieve ([UNKNOWN]) is removed, without a citation.
COMPLETION = "Refunds take five days. Shipping is free. Ask the desk for more."
CITATIONS = [
    {"text": "Refunds take five days", "span": {"start": 0, "end": 22}, "references": [reference(REFUNDS)]},
    {"text": "Shipping is free.", "span": {"start": 24, "end": 41}, "references": [reference(SHIPPING)]},
]


def answer_turn(h: Harness) -> None:
    h.agent.stream(
        *search("tooluse_s1", REFUNDS, SHIPPING), *text(*ANSWER_PARTS), stop("end_turn"), usage(90, 30)
    )


def test_buffered_markers_of_retrieved_passages_become_citations_and_leave_the_completion(h: Harness) -> None:
    answer_turn(h)

    response = h.chat({"inputText": "how long do refunds take?", "sessionId": SESSION})

    assert response.status == 200
    body = response.json()
    assert body["completion"] == COMPLETION
    assert body["citations"] == CITATIONS
    for citation in body["citations"]:
        span = citation["span"]
        assert body["completion"][span["start"] : span["end"]] == citation["text"]
    assert "returnControl" not in body  # the harness answered the search tool itself
    summary = h.logs.summary()
    assert (summary["citations"], summary["retrievals"], summary["retrieved_passages"]) == (2, 1, 2)
    assert summary["retrievals_ignored"] == 0
    assert_no_passage_text(h)


def test_streamed_answer_has_the_same_completion_and_citations_as_the_buffered_one(h: Harness) -> None:
    h.set_env(API_STREAMING="true")
    answer_turn(h)

    events = lines(stream(h, {"inputText": "how long do refunds take?", "sessionId": SESSION}))

    assert "".join(e["text"] for e in events if e["type"] == "chunk") == COMPLETION
    assert [c for e in events if e["type"] == "citation" for c in e["citations"]] == CITATIONS
    # Each citation line follows the text it cites.
    kinds = [e["type"] for e in events]
    first = kinds.index("citation")
    assert "".join(e["text"] for e in events[:first] if e["type"] == "chunk") == "Refunds take five days"
    assert events[-1] == {
        "type": "done",
        "sessionId": SESSION,
        "usage": {"inputTokens": 90, "outputTokens": 30},
    }
    assert h.logs.summary()["citations"] == 2
    assert_no_passage_text(h)


def test_without_a_search_well_formed_markers_are_removed_and_other_brackets_stay(h: Harness) -> None:
    """A follow-up turn re-cites an earlier turn's passage: its id cannot be resolved, so it goes."""
    h.agent.stream(
        *text(f"Refunds take five days [{A}]. See [S1A2B3C] and [note] [{A}, x]."), stop("end_turn")
    )

    body = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert body["completion"] == f"Refunds take five days. See [S1A2B3C] and [note] [{A}, x]."
    assert body["citations"] == []


def test_without_retrieval_tool_setting_a_search_is_not_read(h: Harness) -> None:
    h.set_env(RETRIEVAL_TOOL=None)
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(f"Five days [{A}]."), stop("end_turn"))

    body = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert (body["completion"], body["citations"]) == (f"Five days [{A}].", [])
    assert h.logs.summary()["retrievals"] == 0


def test_several_searches_one_marker_citing_both_and_repeated_ids(h: Harness) -> None:
    h.agent.stream(
        *search("tooluse_s1", REFUNDS, SHIPPING),
        *search("tooluse_s2", HOURS, REFUNDS, name=f"gateway___{SEARCH}"),  # prefixed by its server
        *text(f"Call us in office hours [{C}, {A}; {C}]. Refunds follow [{A}][{B}]."),
        stop("end_turn"),
    )

    body = h.chat({"inputText": "when?", "sessionId": SESSION}).json()

    assert body["completion"] == "Call us in office hours. Refunds follow."
    office, follow = {"start": 0, "end": 23}, {"start": 25, "end": 39}
    assert body["citations"] == [
        # in marker order, each source once
        {
            "text": "Call us in office hours",
            "span": office,
            "references": [reference(HOURS), reference(REFUNDS)],
        },
        {"text": "Refunds follow", "span": follow, "references": [reference(REFUNDS)]},
        # a marker right after another supports the same text
        {"text": "Refunds follow", "span": follow, "references": [reference(SHIPPING)]},
    ]
    summary = h.logs.summary()
    assert (summary["retrievals"], summary["retrieved_passages"], summary["citations"]) == (2, 4, 3)


def test_failed_and_unreadable_search_results_are_counted_not_cited(h: Harness) -> None:
    h.agent.stream(
        *tool_use("tooluse_s1", SEARCH, "{}", index=1),
        stop("tool_use"),
        *search_result("tooluse_s1", {"text": result_body(REFUNDS)}, status="error"),
        *tool_use("tooluse_s2", SEARCH, "{}", index=1),
        stop("tool_use"),
        *search_result("tooluse_s2", {"text": "the knowledge base is not reachable"}),
        *text(f"Five days [{A}]."),
        stop("end_turn"),
    )

    body = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert (body["completion"], body["citations"]) == ("Five days.", [])
    summary = h.logs.summary()
    assert (summary["retrievals"], summary["retrievals_ignored"]) == (0, 2)
    assert "not reachable" not in h.logs.text
    assert_no_passage_text(h)


def test_a_json_document_result_is_read_like_its_text(h: Harness) -> None:
    h.agent.stream(
        *tool_use("tooluse_s1", SEARCH, "{}", index=1),
        stop("tool_use"),
        *search_result("tooluse_s1", {"json": json.loads(result_body(SHIPPING))}),
        *text(f"It is free [{B}]."),
        stop("end_turn"),
    )

    body = h.chat({"inputText": "shipping?", "sessionId": SESSION}).json()

    assert body["completion"] == "It is free."
    assert body["citations"] == [
        {"text": "It is free", "span": {"start": 0, "end": 10}, "references": [reference(SHIPPING)]}
    ]


def test_another_gateway_tools_result_is_not_a_search(h: Harness) -> None:
    h.agent.stream(
        *tool_use("tooluse_t1", "tools___get_order", "{}", index=1),
        stop("tool_use"),
        *search_result("tooluse_t1", {"text": result_body(REFUNDS)}),
        *text(f"Five days [{A}]."),
        stop("end_turn"),
    )

    body = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert (body["completion"], body["citations"]) == ("Five days.", [])


def test_a_returned_control_turn_releases_held_text_and_citations_before_it(h: Harness) -> None:
    h.set_env(API_STREAMING="true")
    parts = (f"Refunds take five days [{A}]. Let me check your order [", "S")
    stream_members = [
        *search("tooluse_s1", REFUNDS),
        *text(*parts),
        *tool_use("tooluse_c1", "get_local_time", '{"timezone": "UTC"}', index=1),
        stop("tool_use"),
    ]
    h.agent.stream(*stream_members)
    buffered = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()
    h.agent.stream(*stream_members)

    events = lines(stream(h, {"inputText": "refunds?", "sessionId": SESSION}))

    completion = "Refunds take five days. Let me check your order [S"
    assert buffered["completion"] == completion
    assert buffered["citations"] == [
        {
            "text": "Refunds take five days",
            "span": {"start": 0, "end": 22},
            "references": [reference(REFUNDS)],
        }
    ]
    assert buffered["returnControl"]["invocationInputs"][0]["function"] == "get_local_time"
    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["returnControl", "done"]
    before = events[: kinds.index("returnControl")]
    assert "".join(e["text"] for e in before if e["type"] == "chunk") == completion
    assert [c for e in before if e["type"] == "citation" for c in e["citations"]] == buffered["citations"]


def unclosed_search_result(tool_use_id: str, body: str, index: int = 0) -> list[bytes]:
    """A search's result block the harness never closes with ``contentBlockStop``."""
    return search_result(tool_use_id, {"text": body[:30]}, {"text": body[30:]}, index=index)[:-1]


@pytest.mark.parametrize(
    "after_result",
    [
        pytest.param([stop("tool_use")], id="messageStop"),
        pytest.param([es.event("messageStart", {"role": "assistant"})], id="messageStart"),
        # the next block (another gateway tool's call) reuses the result's index 0
        # (not closed either) and the answer follows in the same message: only that start reads it
        pytest.param(
            [
                es.event(
                    "contentBlockStart",
                    {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t2", "name": "tools___x"}}},
                ),
                *(
                    es.event("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": part}})
                    for part in (f"Refunds take five days [{A}].",)
                ),
                stop("end_turn"),
            ],
            id="next-block-same-index",
        ),
    ],
)
def test_a_search_result_block_that_is_never_closed_is_read_at_the_next_boundary(
    h: Harness, after_result: list[bytes]
) -> None:
    members = [
        *tool_use("tooluse_s1", SEARCH, '{"query": "refunds"}', index=1),
        stop("tool_use"),
        *unclosed_search_result("tooluse_s1", result_body(REFUNDS)),
        *after_result,
    ]
    answered = any(b"Refunds take" in raw for raw in after_result)
    h.agent.stream(
        *members, *([] if answered else [*text(f"Refunds take five days [{A}]."), stop("end_turn")])
    )

    body = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert body["completion"] == "Refunds take five days."
    assert [c["references"] for c in body["citations"]] == [[reference(REFUNDS)]]
    assert h.logs.summary()["retrievals"] == 1


def test_a_search_result_still_open_when_the_stream_ends_is_read_by_finish() -> None:
    """The translator alone (a stream ending inside a message is an error for the caller anyway)."""
    stats = StreamStats()
    knowledge = agentcore.Knowledge(SEARCH)
    translator = agentcore._Translator(stats, {}, "api-x", None, knowledge)
    members: list[dict[str, Any]] = [
        {
            "contentBlockStart": {
                "contentBlockIndex": 1,
                "start": {"toolUse": {"toolUseId": "t1", "name": SEARCH}},
            }
        },
        {"contentBlockStart": {"contentBlockIndex": 0, "start": {"toolResult": {"toolUseId": "t1"}}}},
        {
            "contentBlockDelta": {
                "contentBlockIndex": 0,
                "delta": {"toolResult": [{"text": result_body(REFUNDS)}]},
            }
        },
    ]
    for member in members:
        assert list(translator.events(member)) == []
    assert not knowledge.retrieved.passages

    with pytest.raises(ApiError, match="ended without"):
        list(translator.finish())

    assert list(knowledge.retrieved.passages) == [A]
    assert (stats.retrievals, stats.retrieved_passages) == (1, 1)


def resumed(control: dict[str, Any], body: str = "12:00") -> dict[str, Any]:
    (item,) = control["invocationInputs"]
    return {
        "sessionId": SESSION,
        "returnControlResults": {
            "invocationId": control["invocationId"],
            "results": [{"actionGroup": item["actionGroup"], "function": item["function"], "body": body}],
        },
    }


def decoded_handoff(control: dict[str, Any]) -> agentcore.Handoff:
    return agentcore.decode_invocation_id(
        control["invocationId"],
        agentcore.runtime_session_id(SESSION),
        json.loads(AGENTCORE_ENV["INLINE_TOOL_GROUPS"]),
    )


def test_a_turn_resumed_after_a_client_tool_cites_the_passages_searched_before_it(h: Harness) -> None:
    """Search, then a client tool, then the answer in the resumed request: one turn for the user."""
    h.agent.stream(
        *search("tooluse_s1", REFUNDS, SHIPPING),
        *tool_use("tooluse_c1", "get_local_time", '{"timezone": "UTC"}', index=1),
        stop("tool_use"),
    )
    control = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()["returnControl"]
    handoff = decoded_handoff(control)
    # ids and references only: no passage text travels in the id
    assert handoff.references == ((A, reference(REFUNDS)), (B, reference(SHIPPING)))
    assert handoff.searches == ()
    assert REFUND_TEXT not in json.dumps(control)
    h.agent.stream(*text(f"Refunds take five days [{A}]. Not [{C}]."), stop("end_turn"))

    body = h.chat(resumed(control)).json()

    assert body["completion"] == "Refunds take five days. Not."  # C was never retrieved: removed
    assert body["citations"] == [
        {
            "text": "Refunds take five days",
            "span": {"start": 0, "end": 22},
            "references": [reference(REFUNDS)],
        }
    ]


def test_a_search_result_streamed_only_after_the_resume_is_read_there(h: Harness) -> None:
    """The harness runs a search the model asked for with the client tool only after the handoff:
    its result arrives in the resumed stream without its toolUse."""
    h.agent.stream(
        *tool_use("tooluse_s1", SEARCH, '{"query": "hours"}', index=1),
        *tool_use("tooluse_c1", "get_local_time", '{"timezone": "UTC"}', index=2),
        stop("tool_use"),
    )
    control = h.chat({"inputText": "when?", "sessionId": SESSION}).json()["returnControl"]
    assert decoded_handoff(control).searches == ("tooluse_s1",)
    h.agent.stream(
        *search_result("tooluse_s1", {"text": result_body(HOURS)}),
        *text(f"Come in office hours [{C}]."),
        stop("end_turn"),
    )

    body = h.chat(resumed(control)).json()

    assert body["completion"] == "Come in office hours."
    assert [c["references"] for c in body["citations"]] == [[reference(HOURS)]]
    last = [line for line in h.logs.lines() if line.get("message") == "request completed"][-1]
    assert (last["retrievals"], last["retrievals_ignored"]) == (1, 0)


def test_references_that_do_not_fit_the_invocation_id_are_dropped_never_the_handoff(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h.agent.stream(
        *search("tooluse_s1", REFUNDS, SHIPPING, HOURS),
        *tool_use("tooluse_c1", "get_local_time", '{"timezone": "UTC"}', index=1),
        stop("tool_use"),
    )
    small = agentcore.encode_invocation_id(
        agentcore.runtime_session_id(SESSION),
        agentcore.Handoff(agentcore.InlineCall("tooluse_c1", "get_local_time", {"timezone": "UTC"})),
    )
    monkeypatch.setattr(agentcore, "MAX_INVOCATION_ID", len(small))  # room for the call alone

    control = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()["returnControl"]

    assert control["invocationId"] == small
    assert decoded_handoff(control).references == ()


def test_an_altered_reference_in_the_invocation_id_is_refused(h: Harness) -> None:
    call = agentcore.InlineCall("tooluse_c1", "get_local_time", {"timezone": "UTC"})
    for bad in ((("S12", {"type": "S3", "uri": "s3://x"}),), (("Sabcdef", {"type": 3, "uri": None}),)):
        invocation_id = agentcore.encode_invocation_id(
            agentcore.runtime_session_id(SESSION),
            agentcore.Handoff(call, (), bad),
        )
        control = {
            "invocationId": invocation_id,
            "invocationInputs": [{"actionGroup": "client_tools", "function": "get_local_time"}],
        }
        response = h.chat(resumed(control))
        assert response.status == 400
        assert "corrupted or was altered" in response.json()["error"]["message"]
    assert h.agent.requests == []


# --- the stage alone: any chunking gives the whole text's completion and citations ----------------

KNOWN = (A, B, C)
RETRIEVED = Retrieved()
RETRIEVED.add(Passage(item["id"], item["text"], item["source"]) for item in (REFUNDS, SHIPPING, HOURS))


def run(chunks: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The stage fed ``chunks``: the completion and citations it released."""
    stats = StreamStats()
    stage = CitationStage(RETRIEVED, stats)
    events: list[Event] = []
    for chunk in chunks:
        events.extend(stage.feed(chunk))
        held = sum(len(chunk) for chunk in chunks) - sum(
            len(e.text) for e in events if isinstance(e, TextChunk)
        )
        assert held >= 0
    events.extend(stage.flush())
    completion = "".join(e.text for e in events if isinstance(e, TextChunk))
    citations = [item for e in events if isinstance(e, Citations) for item in e.items]
    assert stats.citations == len(citations)
    return completion, citations


def marker(ids: list[str], separator: str) -> str:
    return "[" + separator.join(ids) + "]"


fragments = st.one_of(
    st.sampled_from(["Refunds", " take", " five days", ".", " ", "  ", "\t", "\n", "!", " e.g.", "Mr. X"]),
    st.sampled_from(["[", "]", "[S", "[see below]", "[S12", ", ", "S1a2b3c", "[x]"]),
    st.builds(
        marker,
        st.lists(st.sampled_from([*KNOWN, UNKNOWN, A.upper()]), min_size=1, max_size=3),
        st.sampled_from([",", ", ", ";", "; "]),
    ),
    st.text(alphabet="ab [],;S0123456789. ", max_size=6),
)


@examples(1.0)
@given(
    parts=st.lists(fragments, max_size=25),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_chunking_gives_the_same_completion_and_citations(parts: list[str], cuts: list[int]) -> None:
    whole = "".join(parts)
    points = sorted({min(cut, len(whole)) for cut in cuts})
    chunks = [whole[start:end] for start, end in zip([0, *points], [*points, len(whole)], strict=True)]

    completion, citations = run([whole])

    assert run(chunks) == (completion, citations)
    for citation in citations:
        span = citation["span"]
        assert completion[span["start"] : span["end"]] == citation["text"]
        assert citation["text"] == citation["text"].strip()
        assert citation["references"]
    # a marker of well-formed ids none of which can be resolved is removed, not shown
    assert completion.count(f"[{UNKNOWN}]") <= whole.count(f"[{UNKNOWN}]")


def test_a_stray_bracket_is_held_no_longer_than_a_marker_could_be() -> None:
    stats = StreamStats()
    stage = CitationStage(RETRIEVED, stats)
    released = list(stage.feed("Options [S"))
    assert "".join(e.text for e in released if isinstance(e, TextChunk)) == "Options"
    released = list(stage.feed("ee below] and more " + " " * 10))
    # "[See" cannot be a marker: everything but the trailing spaces (a possible gap) goes out.
    assert "".join(e.text for e in released if isinstance(e, TextChunk)) == " [See below] and more" + " " * 8
    held = list(stage.feed("[" + A[:-1]))
    assert held == []  # the gap and a marker's beginning are held
    assert len(stage._pending) <= MAX_HOLD


RETRIEVE_ITEMS = [
    {
        "content": {"type": "TEXT", "text": REFUND_TEXT},
        "location": {"type": "S3", "s3Location": {"uri": "s3://docs/refunds.md"}},
        "score": 0.91,
    },
    {
        "content": {"type": "TEXT", "text": HOURS_TEXT},
        "location": {"type": "WEB", "webLocation": {"url": "https://example.com/hours"}},
        "score": 0.55,
    },
]


def gateway_lambda_output(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the action-group Lambda returns to the gateway for one search: the real handler on a
    gateway-shaped event and context, Retrieve answered by botocore's Stubber."""
    client = botocore.session.get_session().create_client(
        "bedrock-agent-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    monkeypatch.setenv(knowledge_tool.KNOWLEDGE_BASE_ENV, "KB12345678")
    monkeypatch.setattr(knowledge_tool, "retrieve_client", lambda: client)
    with Stubber(client) as stubber:
        stubber.add_response("retrieve", {"retrievalResults": RETRIEVE_ITEMS})
        output: dict[str, Any] = action_group_handler.handler(
            {"query": "refunds"},
            GatewayContext(SEARCH),  # type: ignore[arg-type]
        )
        stubber.assert_no_pending_responses()
    assert "error" not in output, output
    return output


def result_member_parsed(output: dict[str, Any]) -> dict[str, Any]:
    """The gateway's ``{"result": ...}`` with the body as an object, not JSON text (either may come)."""
    inner = output["result"]
    return {**output, "result": json.loads(inner) if isinstance(inner, str) else inner}


@pytest.mark.parametrize(
    "content",
    [
        # The gateway hands the Lambda's whole JSON response to the harness as the result's text ...
        pytest.param(lambda output: [{"text": json.dumps(output)}], id="text"),
        pytest.param(
            lambda output: [{"text": json.dumps(output)[:25]}, {"text": json.dumps(output)[25:]}], id="split"
        ),
        # ... or as a json member; and gateway_response may carry the body parsed under "result".
        pytest.param(lambda output: [{"json": output}], id="json"),
        pytest.param(lambda output: [{"text": json.dumps(result_member_parsed(output))}], id="text-parsed"),
        pytest.param(lambda output: [{"json": result_member_parsed(output)}], id="json-parsed"),
    ],
)
def test_the_search_lambdas_real_gateway_output_round_trips_into_citations(
    h: Harness, monkeypatch: pytest.MonkeyPatch, content: Callable[[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    """The action-group Lambda's own answer to the gateway, streamed as the search's toolResult."""
    output = gateway_lambda_output(monkeypatch)
    h.agent.stream(
        *tool_use("tooluse_s1", SEARCH, '{"query": "refunds"}', index=1),
        stop("tool_use"),
        *search_result("tooluse_s1", *content(output)),
        *text(f"Refunds take five days [{A}]. The desk opens at nine [{C}]."),
        stop("end_turn"),
    )

    reply = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert reply["completion"] == "Refunds take five days. The desk opens at nine."
    assert [c["references"] for c in reply["citations"]] == [[reference(REFUNDS)], [reference(HOURS)]]
    assert [c["text"] for c in reply["citations"]] == ["Refunds take five days", "The desk opens at nine"]
    summary = h.logs.summary()
    assert (summary["retrievals"], summary["retrieved_passages"], summary["retrievals_ignored"]) == (1, 2, 0)


def test_the_search_tools_own_body_round_trips_into_citations(h: Harness) -> None:
    """The body functions/action_group/knowledge.py builds from Retrieve, unwrapped."""
    body = serialize_body(knowledge_tool.search_result(RETRIEVE_ITEMS))
    ids = [p["id"] for p in json.loads(body)["passages"]]
    assert ids == [A, C]  # the tool's ids are the ones the invoker's tests compute
    h.agent.stream(
        *tool_use("tooluse_s1", SEARCH, '{"query": "refunds"}', index=1),
        stop("tool_use"),
        *search_result("tooluse_s1", {"text": body}),
        *text(f"Refunds take five days [{A}]. The desk opens at nine [{C}]."),
        stop("end_turn"),
    )

    reply = h.chat({"inputText": "refunds?", "sessionId": SESSION}).json()

    assert reply["completion"] == "Refunds take five days. The desk opens at nine."
    assert [c["references"] for c in reply["citations"]] == [[reference(REFUNDS)], [reference(HOURS)]]


def test_read_result_takes_the_contract_and_skips_malformed_passages() -> None:
    good = REFUNDS
    bad_id = {**SHIPPING, "id": "S12"}
    no_source = {"id": B, "text": "x"}
    sql = passage("", "row", kind="SQL") | {"source": {"type": "SQL", "uri": None}}
    untyped = passage("", "other") | {"source": {"type": None, "uri": None}}
    bad_type = passage("", "third") | {"source": {"type": 3, "uri": None}}
    document = {"passages": [good, bad_id, no_source, sql, "junk", untyped, bad_type]}

    passages = read_result([{"text": json.dumps(document)}])

    assert passages is not None
    assert [(p.passage_id, dict(p.reference)) for p in passages] == [
        (A, {"type": "S3", "uri": "s3://docs/refunds.md"}),
        (sql["id"], {"type": "SQL", "uri": None}),
        (untyped["id"], {"type": None, "uri": None}),
    ]
    assert read_result([{"text": "{not json"}]) is None
    assert read_result([{"text": json.dumps({"error": "x"})}]) is None
    # the gateway's wrapper, one level only; its error answer is never the contract
    assert read_result([{"text": json.dumps({"result": json.dumps(document)})}]) == passages
    assert read_result([{"json": {"result": document}}]) == passages
    assert read_result([{"json": {"result": {"result": document}}}]) is None
    assert read_result([{"json": {"result": "{not json"}}]) is None
    assert read_result([{"json": {"error": "busy", "retry": True, "result": document}}]) is None
    assert read_result([{"json": {"error": "no knowledge base is configured", "retry": False}}]) is None
    assert read_result([{"json": document}, {"json": document}]) is None
    assert read_result([]) is None


# --- the RETRIEVAL_TOOL setting -------------------------------------------------------------------


def test_retrieval_tool_setting_is_read_on_agentcore_only_and_validated(h: Harness) -> None:
    agentcore = {**AGENTCORE_ENV, "RETRIEVAL_TOOL": f" {SEARCH} "}
    assert load_settings(agentcore).retrieval_tool == SEARCH
    assert load_settings({**agentcore, "RETRIEVAL_TOOL": ""}).retrieval_tool == ""
    assert load_settings({**BASE_ENV, "RETRIEVAL_TOOL": "not a tool!"}).retrieval_tool == ""  # classic
    for bad in ("knowledge search", "k" * 65, "tool/name"):
        with pytest.raises(ConfigError, match="RETRIEVAL_TOOL must be a tool name"):
            load_settings({**agentcore, "RETRIEVAL_TOOL": bad})

    h.set_env(RETRIEVAL_TOOL="knowledge search")
    response = h.chat({"inputText": "hi", "sessionId": SESSION})

    assert response.status == 500
    assert response.json()["error"]["code"] == "CONFIG_ERROR"
    assert h.agent.requests == []
