"""Property: through the whole AgentCore pipeline (botocore's parser, the guardrail's output check, the
citation stage), a buffered answer and a streamed one of the same harness stream have the same
completion and citations, wherever the stream cuts the answer into deltas. Its own module: the
harness is shared by every example (module scope), and so is its environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.functions.harness_fakes import make_guarded_agentcore_harness, stop, text
from tests.functions.invoker_fakes import Harness
from tests.functions.test_invoker_citations import (
    HOURS,
    REFUNDS,
    SEARCH,
    SESSION,
    SHIPPING,
    fragments,
    lines,
    run,
    search,
    stream,
)
from tests.fuzzing import examples

# A first sentence long enough that a streamed, guarded answer is cut into segments inside the
# fragments (at a space: possibly within "[S1a2b3c, Sdef456]" or before a marker).
LEAD = "According to the documents, this is what applies to your question about refunds and shipping, " * 2


@pytest.fixture(scope="module", params=["plain", "guarded"])
def core(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """One harness for every example (hypothesis runs many per test): AgentCore with the search tool;
    "guarded" adds a guardrail that passes everything (whole answer checked when buffered, segments when
    streamed), "plain" has none (the stream's deltas reach the citation stage as they are)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        harness, _ = make_guarded_agentcore_harness(monkeypatch)
        harness.set_env(RETRIEVAL_TOOL=SEARCH)
        if request.param == "plain":
            harness.set_env(GUARDRAIL_ID=None, GUARDRAIL_VERSION=None)
        yield harness


@examples(0.5)
@given(
    parts=st.lists(fragments, min_size=1, max_size=20),
    cuts=st.lists(st.integers(0, len(LEAD) + 200), max_size=10),
)
def test_buffered_and_streamed_answers_of_any_stream_agree_with_the_whole_text(
    core: Harness, parts: list[str], cuts: list[int]
) -> None:
    """The same completion and citations buffered and streamed, and both those of the whole text
    given to the citation stage at once, wherever the deltas (and the guardrail's segments) cut it."""
    whole = LEAD + "".join(parts)  # may end inside a possible marker: held to the end
    points = sorted({min(cut, len(whole)) for cut in cuts} - {0, len(whole)})
    deltas = [whole[start:end] for start, end in zip([0, *points], [*points, len(whole)], strict=True)]
    members = [*search("tooluse_s1", REFUNDS, SHIPPING, HOURS), *text(*deltas), stop("end_turn")]
    request = {"inputText": "what do the documents say?", "sessionId": SESSION}

    core.set_env(API_STREAMING="false")
    core.agent.stream(*members)
    buffered = core.chat(request).json()
    core.set_env(API_STREAMING="true")
    core.agent.stream(*members)
    events = lines(stream(core, request))

    assert events[-1]["type"] == "done"
    expected_completion, expected_citations = run([whole])
    assert (buffered["completion"], buffered["citations"]) == (expected_completion, expected_citations)
    assert "".join(e["text"] for e in events if e["type"] == "chunk") == expected_completion
    assert [c for e in events if e["type"] == "citation" for c in e["citations"]] == expected_citations
