"""Streaming rules: STREAM only on regional/private APIs, URIs that match the mode, deadlines that agree."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, REGION, Graph, Node
from tests.policies.conftest import Judge

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:invoker"
BUFFERED_URI = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"
STREAMING_URI = (
    f"arn:aws:apigateway:{REGION}:lambda:path/2021-11-15/functions/{FUNCTION_ARN}"
    "/response-streaming-invocations"
)


def _function(g: Graph, name: str = "invoker", **inputs: Any) -> Node:
    return g.add(
        t.FUNCTION,
        name,
        name=name,
        outputs={"invokeArn": BUFFERED_URI, "responseStreamingInvokeArn": STREAMING_URI},
        **inputs,
    )


def _integration(g: Graph, name: str, api: Node, fn: Node, **inputs: Any) -> Node:
    streaming = inputs.get("responseTransferMode") == "STREAM"
    inputs.setdefault("uri", fn.ref("responseStreamingInvokeArn" if streaming else "invokeArn"))
    return g.add(
        t.INTEGRATION,
        name,
        restApi=api.id,
        resourceId="res",
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        **inputs,
    )


def _api(g: Graph, kind: str) -> Node:
    config: dict[str, Any] = {"endpointConfiguration": {"types": kind}} if kind else {}
    return g.add(t.REST_API, f"api-{kind.lower() or 'default'}", **config)


def test_api_stream_regional_or_private(judge: Judge) -> None:
    g = Graph()
    fn = _function(g, timeout=121)
    apis = {kind: _api(g, kind) for kind in ("REGIONAL", "PRIVATE", "EDGE", "")}
    compliant = {
        _integration(g, "regional", apis["REGIONAL"], fn, responseTransferMode="STREAM").urn,
        _integration(g, "private", apis["PRIVATE"], fn, responseTransferMode="STREAM").urn,
        _integration(g, "edge-buffered", apis["EDGE"], fn, responseTransferMode="BUFFERED").urn,
    }
    edge = _integration(g, "edge", apis["EDGE"], fn, responseTransferMode="STREAM")
    default = _integration(g, "default-edge", apis[""], fn, responseTransferMode="STREAM")
    outcome = judge(g)
    assert outcome.fired("api-stream-regional-or-private") == {edge.urn, default.urn}
    assert not compliant & outcome.fired("api-stream-regional-or-private")
    assert outcome.messages("api-stream-regional-or-private", default.urn) == [
        "Integration 'default-edge' streams (responseTransferMode STREAM) on RestApi 'api-default', whose "
        "endpoint is EDGE: an edge-optimized API cuts a stream idle for 30 s"
    ]
    # A preview of a fresh stack (every id unknown) neither crashes nor guesses.
    assert judge(g, preview=True).fired("api-stream-regional-or-private") <= {edge.urn, default.urn}


def test_api_stream_integration_uri(judge: Judge) -> None:
    g = Graph()
    api = _api(g, "REGIONAL")
    fn = _function(g, timeout=121)
    _integration(g, "stream", api, fn, responseTransferMode="STREAM")
    _integration(g, "buffered", api, fn, responseTransferMode="BUFFERED")
    _integration(g, "default-buffered", api, fn)
    old_uri = _integration(
        g, "stream-old-uri", api, fn, responseTransferMode="STREAM", uri=fn.ref("invokeArn")
    )
    stream_uri = _integration(
        g,
        "buffered-stream-uri",
        api,
        fn,
        responseTransferMode="BUFFERED",
        uri=fn.ref("responseStreamingInvokeArn"),
    )
    outcome = judge(g)
    assert outcome.fired("api-stream-integration-uri") == {old_uri.urn, stream_uri.urn}
    assert sorted(outcome.messages("api-stream-integration-uri")) == [
        "Integration 'buffered-stream-uri' is BUFFERED but calls the response-streaming invocation",
        "Integration 'stream-old-uri' streams but calls the buffered invocation (.../invocations)",
    ]
    assert judge(g, preview=True).fired("api-stream-integration-uri") == set()  # URIs unknown


def test_api_function_deadline_within_integration(judge: Judge) -> None:
    g = Graph()
    api = _api(g, "REGIONAL")
    streaming = _function(
        g, "streaming", timeout=121, environment={"variables": {"API_DEADLINE_MS": "120000"}}
    )
    _integration(g, "ok", api, streaming, responseTransferMode="STREAM", timeoutMilliseconds=120000)
    late = _function(g, "late", timeout=61, environment={"variables": {"API_DEADLINE_MS": "60000"}})
    keeps_running = _integration(g, "keeps-running", api, late)  # default 29 s
    outcome = judge(g)
    assert outcome.fired("api-function-deadline-within-integration") == {keeps_running.urn}
    assert outcome.messages("api-function-deadline-within-integration") == [
        "Function 'late' API_DEADLINE_MS is 60000 ms, beyond the 29000 ms timeout of Integration "
        "'keeps-running': it keeps working (and billing) after API Gateway gave up"
    ]


def test_a_stream_outliving_its_function_is_caught_in_stream_mode_too(judge: Judge) -> None:
    # The integration-vs-function timeout rule (api.py) holds for STREAM integrations' long timeouts.
    g = Graph()
    api = _api(g, "REGIONAL")
    fn = _function(g, timeout=121)
    ok = _integration(g, "ok", api, fn, responseTransferMode="STREAM", timeoutMilliseconds=120000)
    too_long = _integration(g, "too-long", api, fn, responseTransferMode="STREAM", timeoutMilliseconds=600000)
    fired = judge(g).fired("api-integration-timeout-within-function-timeout")
    assert too_long.urn in fired
    assert ok.urn not in fired
