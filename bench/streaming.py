"""Streaming benchmarks: how soon the client sees the agent's first words, and what streaming costs.

- first byte: the whole loopback chain of the loopback tests, real HTTP at every hop (client ->
  local streaming API Gateway -> local Runtime API -> the real runtime loop and streaming handler ->
  the function's real botocore client). The stubbed agent notes when it hands botocore the first
  chunk's bytes; the client notes when the first line of the answer reaches it.
- per chunk: the streaming renderer (handler, Classic backend, NDJSON lines, summary log line) read to
  its end in process, against a bare loop over the same InvokeAgent stream (`bench.handlers`).

Imported only by `bench.worker`, in a fresh interpreter.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from typing import Any, cast

from bench.handlers import (
    AGENT_ID,
    ALIAS_ID,
    CHUNK_TEXT,
    ENVIRONMENT,
    SESSION,
    _constant,
    _silence,
    _stub_client,
    compare,
)

NDJSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/x-ndjson"}


class _Clocked:
    """The agent's stream: notes when the first piece is handed to botocore."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.first_at: float | None = None

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        for piece in self.pieces:
            if self.first_at is None:
                self.first_at = time.perf_counter()
            yield piece

    def close(self) -> None:
        pass


def first_byte(requests: int, chunks: int = 20) -> dict[str, Any]:
    os.environ.update({**ENVIRONMENT, "API_STREAMING": "true", "API_DEADLINE_MS": "120000"})
    from botocore.awsrequest import AWSResponse

    from client.transport import HttpClientTransport, HttpRequest
    from functions.invoker import handler as handler_module
    from tests.client.fake_api import FakeApiGateway
    from tests.functions import eventstream
    from tests.functions.runtime_api import FakeRuntimeApi

    _silence(handler_module.logger)
    pieces = [eventstream.chunk(f"{index:04d} {CHUNK_TEXT}") for index in range(chunks)]
    client = _stub_client(pieces)
    streams: list[_Clocked] = []
    headers = {
        "x-amzn-requestid": "bench-request-0001",
        "content-type": "application/vnd.amazon.eventstream",
        "x-amzn-bedrock-agent-content-type": "application/json",
        "x-amz-bedrock-agent-session-id": SESSION,
    }

    def send(request: Any, **_: Any) -> Any:
        streams.append(_Clocked(pieces))
        return AWSResponse(request.url, 200, headers, streams[-1])

    client.meta.events.register_first("before-send.bedrock-agent-runtime.InvokeAgent", send)
    handler_module.RUNTIME = handler_module.Runtime(client=_constant(client))
    transport = HttpClientTransport()
    delays: list[float] = []
    lines: list[int] = []
    with FakeRuntimeApi() as runtime:
        gateway = FakeApiGateway(cast(Any, None), auth="none", lambda_runtime=runtime).start()
        try:
            body = b'{"inputText": "How many business days are there in March 2026?"}'
            for _ in range(requests + 3):  # 3 warm-up requests
                response = transport.open(HttpRequest("POST", gateway.url, dict(NDJSON_HEADERS), body), 30)
                first = next(response.lines)
                arrived = time.perf_counter()
                count = 1 + sum(1 for _ in response.lines)
                started = streams[-1].first_at
                if response.status != 200 or b'"chunk"' not in first or started is None:
                    raise RuntimeError(f"the streaming chain did not answer as expected: {first!r}")
                delays.append(arrived - started)
                lines.append(count)
        finally:
            gateway.stop()
    delays = delays[3:]
    return {"delays_s": delays, "median_s": statistics.median(delays), "lines": lines[3:], "chunks": chunks}


def per_chunk(chunk_counts: list[int], rounds: int) -> dict[str, Any]:
    os.environ.update({**ENVIRONMENT, "API_STREAMING": "true"})
    from functions.invoker import handler as handler_module
    from functions.invoker import streaming
    from tests.functions import eventstream
    from tests.functions.invoker_fakes import FakeContext, api_event

    _silence(handler_module.logger)
    context = FakeContext()
    event = api_event(
        "POST", "/chat", {"inputText": "How many business days are there in March 2026?"}, NDJSON_HEADERS
    )
    results: dict[str, Any] = {}
    for chunks in chunk_counts:
        pieces = [eventstream.chunk(f"{index:04d} {CHUNK_TEXT}") for index in range(chunks)]
        client = _stub_client(pieces)
        runtime = handler_module.Runtime(client=_constant(client))

        def subject(r: Any = runtime) -> int:
            return sum(len(line) for line in streaming.respond(event, context, r).body)

        def reference(c: Any = client) -> int:
            response = c.invoke_agent(
                agentId=AGENT_ID, agentAliasId=ALIAS_ID, sessionId=SESSION, inputText="hi"
            )
            return sum(len(part["chunk"]["bytes"]) for part in response["completion"] if "chunk" in part)

        lines = list(streaming.respond(event, context, runtime).body)
        if len(lines) != chunks + 1 or b'"done"' not in lines[-1]:
            raise RuntimeError(f"the streaming invoker did not answer the stub as expected: {lines[-1]!r}")
        comparison = compare(subject, reference, rounds=rounds)
        results[str(chunks)] = {
            **comparison.as_dict(),
            "per_chunk_overhead_s": statistics.median(comparison.overheads) / chunks,
        }
    return results
