"""The guardrail's contextual grounding check on AgentCore: after the turn searched the knowledge base,
each OUTPUT ``ApplyGuardrail`` carries the passages (``grounding_source``), the user's text (``query``)
and the answer segment (``guard_content``), as botocore serialises them on the wire; a grounding
intervention is reported like any other, and the citation stage runs on the text the guardrail let out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.invoker.agentcore import Handoff, InlineCall, encode_invocation_id, runtime_session_id
from functions.invoker.citations import MARKER, restore_markers, strip_markers
from functions.invoker.guardrail import (
    GROUNDING_CONTENT_CHARS,
    GROUNDING_QUERY_CHARS,
    GROUNDING_SOURCE_CHARS,
    Grounding,
    grounding_content,
)
from tests.functions.harness_fakes import (
    GUARDRAIL_ID,
    GUARDRAIL_VERSION,
    FakeGuardrail,
    intervened,
    make_guarded_agentcore_harness,
    passed,
    stop,
    text,
    tool_use,
)
from tests.functions.invoker_fakes import Harness
from tests.functions.test_invoker_citations import (
    ANSWER_PARTS,
    CITATIONS,
    COMPLETION,
    PASSAGE_TEXTS,
    REFUND_TEXT,
    REFUNDS,
    SEARCH,
    SESSION,
    SHIPPING,
    SHIPPING_TEXT,
    UNKNOWN,
    A,
    B,
    assert_no_passage_text,
    lines,
    passage,
    reference,
    search,
    stream,
)
from tests.fuzzing import examples

QUESTION = "how long do refunds take?"
BLOCKED_OUTPUT = "Sorry, I cannot answer that."
UNGROUNDED = {
    "contextualGroundingPolicy": {
        "filters": [
            {"type": "GROUNDING", "threshold": 0.75, "score": 0.12, "action": "BLOCKED", "detected": True},
            {"type": "RELEVANCE", "threshold": 0.5, "score": 0.9, "action": "NONE", "detected": False},
        ]
    }
}
PII_MASKED = {
    "sensitiveInformationPolicy": {
        "piiEntities": [{"match": "x@y.example", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}]
    }
}


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> tuple[Harness, FakeGuardrail]:
    h, guardrail = make_guarded_agentcore_harness(monkeypatch)
    h.set_env(RETRIEVAL_TOOL=SEARCH)
    return h, guardrail


def grounded(answer: str, *sources: str, query: str = QUESTION) -> dict[str, Any]:
    """An OUTPUT ApplyGuardrail request body with the grounding check's inputs."""
    return {
        "source": "OUTPUT",
        "content": [
            *({"text": {"text": source, "qualifiers": ["grounding_source"]}} for source in sources),
            {"text": {"text": query, "qualifiers": ["query"]}},
            {"text": {"text": answer, "qualifiers": ["guard_content"]}},
        ],
    }


def test_the_answer_is_checked_against_the_passages_and_the_question(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    h, guardrail = core
    h.agent.stream(*search("tooluse_s1", REFUNDS, SHIPPING), *text(*ANSWER_PARTS), stop("end_turn"))

    body = h.chat({"inputText": QUESTION, "sessionId": SESSION}).json()

    assert [request["body"] for request in guardrail.requests] == [
        {"source": "INPUT", "content": [{"text": {"text": QUESTION}}]},
        # the answer without its markers (no passage contains them); the released text keeps them
        grounded(MARKER.sub("", "".join(ANSWER_PARTS)), REFUND_TEXT, SHIPPING_TEXT),
    ]
    assert (body["completion"], body["citations"]) == (COMPLETION, CITATIONS)
    assert body["guardrailInterventions"] == []
    assert_no_passage_text(h)


def test_an_ungrounded_answer_is_blocked_and_reported_as_a_grounding_intervention(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    h, guardrail = core
    guardrail.answer(passed(), intervened(BLOCKED_OUTPUT, **UNGROUNDED))
    h.agent.stream(
        *search("tooluse_s1", REFUNDS), *text(f"Refunds take ten minutes [{A}]."), stop("end_turn")
    )

    response = h.chat({"inputText": QUESTION, "sessionId": SESSION})

    assert response.status == 200
    body = response.json()
    assert body["completion"] == BLOCKED_OUTPUT
    assert body["citations"] == []
    assert body["guardrailInterventions"] == [
        {
            "source": "OUTPUT",
            "action": "BLOCKED",
            "policies": ["contextualGrounding"],
            "guardrailId": GUARDRAIL_ID,
            "guardrailVersion": GUARDRAIL_VERSION,
        }
    ]
    assert "ten minutes" not in json.dumps(body)
    summary = h.logs.summary()
    assert (summary["guardrail_intervened"], summary["citations"], summary["retrievals"]) == (True, 0, 1)
    assert_no_passage_text(h)


def test_a_masked_answer_is_cited_as_masked_and_no_masked_passage_becomes_the_answer(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    h, guardrail = core
    masked = "Write to {EMAIL}."  # the guardrail saw the answer without its marker
    # Whatever the service returns for the grounding blocks, only the guarded block's output is used.
    response_body = intervened(masked, **PII_MASKED)
    response_body["outputs"] = [{"text": "{EMAIL} " + REFUND_TEXT}, {"text": QUESTION}, {"text": masked}]
    guardrail.answer(passed(), response_body)
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(f"Write to x@y.example [{A}]."), stop("end_turn"))

    body = h.chat({"inputText": QUESTION, "sessionId": SESSION}).json()

    assert guardrail.requests[1]["body"]["content"][-1]["text"]["text"] == "Write to x@y.example."
    # the marker is put back after the same words of the masked text, so the citation survives
    assert body["completion"] == "Write to {EMAIL}."
    assert body["citations"] == [
        {"text": "Write to {EMAIL}", "span": {"start": 0, "end": 16}, "references": [reference(REFUNDS)]}
    ]
    assert body["guardrailInterventions"][0]["action"] == "ANONYMIZED"
    assert REFUND_TEXT not in json.dumps(body)
    assert "x@y.example" not in json.dumps(body)
    assert_no_passage_text(h)


def test_a_streamed_answer_after_a_search_is_checked_whole_never_a_closing_line_alone(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    """Relevance is judged per ApplyGuardrail call: a short off-topic closing line (or a 200-character
    opening) checked alone would fail it, so after a search the answer is held and checked whole."""
    h, guardrail = core
    h.set_env(API_STREAMING="true")
    masked_question = "how long for {EMAIL}?"
    guardrail.answer(intervened(masked_question, **PII_MASKED))
    preamble = "I will look that up in the documents for you, one moment please. " * 2  # 130: held
    sentence = f"Refunds take five working days [{A}]. "
    closing = "Let me know if you need anything else."
    answer = sentence * 40 + closing  # past 200 and 1,000 characters: three segments before the fix
    h.agent.stream(
        *text(preamble[:100], preamble[100:]),
        *search("tooluse_s1", REFUNDS),
        *text(answer[:150], answer[150:1100], answer[1100:]),
        stop("end_turn"),
    )

    events = lines(stream(h, {"inputText": "how long for x@y.example?", "sessionId": SESSION}))

    outputs = [request["body"] for request in guardrail.requests[1:]]
    # text held from before the search is checked as before, without grounding (not with the answer)
    assert outputs[0] == {"source": "OUTPUT", "content": [{"text": {"text": preamble}}]}
    # the answer after it: one check, the whole of it, with the passages and the masked question
    assert outputs[1:] == [grounded(MARKER.sub("", answer), REFUND_TEXT, query=masked_question)]
    assert not any(body["content"][-1]["text"]["text"].strip() == closing for body in outputs)
    completion = "".join(e["text"] for e in events if e["type"] == "chunk")
    assert completion == preamble + "Refunds take five working days. " * 40 + closing
    citations = [c for e in events if e["type"] == "citation" for c in e["citations"]]
    assert len(citations) == 40
    assert citations[1] == {
        "text": "Refunds take five working days",
        "span": {"start": len(preamble) + 32, "end": len(preamble) + 62},
        "references": [reference(REFUNDS)],
    }
    assert events[-1]["type"] == "done"
    assert_no_passage_text(h)


def test_a_blocked_closing_line_cannot_happen_alone_the_whole_grounded_answer_is_the_verdict(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    """Streaming after a search: a block replaces the whole held answer; nothing of it was sent."""
    h, guardrail = core
    h.set_env(API_STREAMING="true")
    guardrail.answer(passed(), intervened(BLOCKED_OUTPUT, **UNGROUNDED))
    answer = f"Refunds take five working days [{A}]. " * 20 + "Anything else?"
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(answer[:300], answer[300:]), stop("end_turn"))

    events = lines(stream(h, {"inputText": QUESTION, "sessionId": SESSION}))

    assert "".join(e["text"] for e in events if e["type"] == "chunk") == BLOCKED_OUTPUT
    assert [e for e in events if e["type"] == "citation"] == []
    assert len(guardrail.requests) == 2


def test_a_returned_control_turn_has_no_query_so_no_grounding(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(f"Five days [{A}]."), stop("end_turn"))
    call = InlineCall("tooluse_a", "get_local_time", {"timezone": "UTC"})
    results = {
        "sessionId": SESSION,
        "returnControlResults": {
            "invocationId": encode_invocation_id(runtime_session_id(SESSION), Handoff(call)),
            "results": [{"actionGroup": "client_tools", "function": "get_local_time", "body": "12:00"}],
        },
    }

    body = h.chat(results).json()

    assert [request["body"] for request in guardrail.requests] == [
        {"source": "INPUT", "content": [{"text": {"text": "12:00"}}]},
        {"source": "INPUT", "content": [{"text": {"text": '{"timezone": "UTC"}'}}]},  # the echoed input
        {"source": "OUTPUT", "content": [{"text": {"text": f"Five days [{A}]."}}]},
    ]
    assert body["completion"] == "Five days."  # still cited: the passages were retrieved this turn
    assert len(body["citations"]) == 1


def test_without_a_search_the_output_check_has_no_grounding(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    h.agent.stream(
        *tool_use("tooluse_t1", "tools___get_order", "{}", index=1),
        stop("tool_use"),
        *text("Your order shipped."),
        stop("end_turn"),
    )

    h.chat({"inputText": QUESTION, "sessionId": SESSION})

    assert guardrail.requests[1]["body"] == {
        "source": "OUTPUT",
        "content": [{"text": {"text": "Your order shipped."}}],
    }


def test_a_long_buffered_answer_is_checked_in_pieces_within_the_grounding_limit(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    h, guardrail = core
    sentence = "Refunds are paid within five working days of the return, every time. "  # 69 characters
    answer = sentence * 150  # 10,350 characters
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(answer), stop("end_turn"))

    body = h.chat({"inputText": QUESTION, "sessionId": SESSION}).json()

    pieces = [request["body"]["content"][-1]["text"]["text"] for request in guardrail.requests[1:]]
    assert [len(piece) for piece in pieces] == [4968, 4968, 414]  # 72 sentences fit in 5,000
    assert "".join(pieces) == answer == body["completion"]


def test_a_blocked_piece_replaces_the_whole_buffered_answer(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    guardrail.answer(passed(), passed(), intervened(BLOCKED_OUTPUT, **UNGROUNDED))
    answer = "Grounded words here. " * 300  # 6,300 characters: two pieces
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(answer), stop("end_turn"))

    body = h.chat({"inputText": QUESTION, "sessionId": SESSION}).json()

    assert body["completion"] == BLOCKED_OUTPUT
    assert [i["policies"] for i in body["guardrailInterventions"]] == [["contextualGrounding"]]
    assert len(guardrail.requests) == 3


def test_grounding_sources_and_query_are_cut_to_the_documented_limits() -> None:
    first, second, third = "a" * 60_000, "b" * 60_000, "c" * 10
    query = "q" * 1_500

    content = grounding_content("answer", Grounding((first, second, third), query))

    assert content == [
        {"text": {"text": first, "qualifiers": ["grounding_source"]}},
        {"text": {"text": "b" * 40_000, "qualifiers": ["grounding_source"]}},
        {"text": {"text": "q" * 1_000, "qualifiers": ["query"]}},
        {"text": {"text": "answer", "qualifiers": ["guard_content"]}},
    ]
    sources = sum(len(b["text"]["text"]) for b in content if b["text"]["qualifiers"] == ["grounding_source"])
    assert sources == GROUNDING_SOURCE_CHARS
    assert (GROUNDING_QUERY_CHARS, GROUNDING_CONTENT_CHARS) == (1_000, 5_000)


def test_large_passages_reach_the_check_cut_and_never_the_logs(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    big = [passage(f"s3://docs/big{n}.md", f"{n}" * 45_000) for n in range(3)]
    h.agent.stream(*search("tooluse_s1", *big), *text(f"Big [{big[2]['id']}]."), stop("end_turn"))

    body = h.chat({"inputText": "q" * 1_200, "sessionId": SESSION}).json()

    content = guardrail.requests[1]["body"]["content"]
    assert [len(block["text"]["text"]) for block in content] == [
        45_000,
        45_000,
        10_000,
        1_000,
        len("Big."),
    ]
    assert body["citations"][0]["references"] == [reference(big[2])]
    for item in [*big, SHIPPING]:
        assert item["text"] not in h.logs.text
    assert all(text_ not in h.logs.text for text_ in PASSAGE_TEXTS)


# --- markers and the guardrail: stripped for the verdict, never cut or glued ---------------------


@examples(0.3)
@given(
    words=st.lists(
        st.sampled_from(["Refunds", " take", " x@y.example", " days", ".", " ", "\n"]), max_size=12
    ),
    places=st.lists(st.integers(min_value=0, max_value=60), max_size=4),
    ids=st.lists(st.sampled_from([A, B, UNKNOWN]), min_size=1, max_size=2),
)
def test_restored_markers_add_only_marker_text_to_the_masked_answer(
    words: list[str], places: list[int], ids: list[str]
) -> None:
    text = "".join(words)
    for place in sorted({min(p, len(text)) for p in places}, reverse=True):
        text = text[:place] + f" [{', '.join(ids)}]" + text[place:]
    stripped, markers = strip_markers(text)
    assert MARKER.search(stripped) is None
    masked = stripped.replace("x@y.example", "{EMAIL}")

    restored = restore_markers(masked, stripped, markers)

    assert MARKER.sub("", restored) == MARKER.sub("", masked)  # only markers were added
    assert len(MARKER.findall(restored)) == len(markers)
    assert restore_markers(stripped, stripped, markers) == text  # unmasked: the text as written


def test_a_marker_after_a_masked_word_follows_its_replacement() -> None:
    text = f"Mail x@y.example [{A}]. Or call us [{B}]."
    stripped, markers = strip_markers(text)
    assert stripped == "Mail x@y.example. Or call us."

    assert restore_markers("Mail {EMAIL}. Or call us.", stripped, markers) == (
        f"Mail {{EMAIL}} [{A}]. Or call us [{B}]."
    )


def test_a_held_marker_beginning_is_dropped_not_glued_to_the_blocked_message(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    h, guardrail = core
    h.set_env(API_STREAMING="true")
    guardrail.answer(passed(), passed(), intervened(BLOCKED_OUTPUT, **UNGROUNDED))
    preamble = f"Let me check the refund rules [{A},"  # the stream ends on a marker's beginning
    h.agent.stream(
        *text(preamble),
        *search("tooluse_s1", REFUNDS),
        *text("Refunds take ten minutes."),
        stop("end_turn"),
    )

    events = lines(stream(h, {"inputText": QUESTION, "sessionId": SESSION}))

    completion = "".join(e["text"] for e in events if e["type"] == "chunk")
    assert completion == "Let me check the refund rules" + BLOCKED_OUTPUT
    assert "[" not in completion


def test_a_streamed_segment_is_never_cut_inside_a_marker(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    h.set_env(API_STREAMING="true")
    words = "word " * 198  # 990 characters, no sentence end: the cut falls back to a space
    answer = f"{words}[{A}, {B}] and more words follow here"
    h.agent.stream(*text(answer), stop("end_turn"))

    lines(stream(h, {"inputText": QUESTION, "sessionId": SESSION}))

    segments = [r["body"]["content"][-1]["text"]["text"] for r in guardrail.requests[1:]]
    assert "".join(segments) == answer
    assert segments[0] == words[:-1]  # before the marker and its gap, not at the space inside it
    assert segments[1].startswith(f" [{A}, {B}]")


def test_the_log_line_counts_apply_guardrail_calls_and_sums_their_usage_units(
    core: tuple[Harness, FakeGuardrail],
) -> None:
    """What a grounded answer costs shows on the summary line (counts only, never text)."""
    h, guardrail = core
    units = {
        "topicPolicyUnits": 1,
        "contentPolicyUnits": 1,
        "wordPolicyUnits": 1,
        "sensitiveInformationPolicyUnits": 1,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 21,  # the passages may count: measure, do not assume
    }
    grounded_check = {"usage": units, "action": "NONE", "outputs": [], "assessments": [{}]}
    guardrail.answer(passed(), grounded_check, grounded_check)
    answer = "Refunds are paid within five working days of the return, every time. " * 100  # 2 pieces
    h.agent.stream(*search("tooluse_s1", REFUNDS), *text(answer), stop("end_turn"))

    h.chat({"inputText": QUESTION, "sessionId": SESSION})

    summary = h.logs.summary()
    assert summary["guardrail_calls"] == len(guardrail.requests) == 3
    assert summary["guardrail_units"] == {
        "topicPolicyUnits": 2,
        "contentPolicyUnits": 3,  # passed() reports one content unit
        "wordPolicyUnits": 2,
        "sensitiveInformationPolicyUnits": 2,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 42,
    }
    assert_no_passage_text(h)


def test_throttled_guardrail_calls_are_counted_too(core: tuple[Harness, FakeGuardrail]) -> None:
    h, guardrail = core
    guardrail.error(429, "ThrottlingException")
    h.agent.stream(*text("Hello."), stop("end_turn"))

    h.chat({"inputText": "hi", "sessionId": SESSION})

    summary = h.logs.summary()
    assert summary["guardrail_calls"] == len(guardrail.requests) == 3  # INPUT twice, OUTPUT once
    assert summary["guardrail_units"] == {"contentPolicyUnits": 2}
