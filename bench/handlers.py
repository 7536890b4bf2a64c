"""Warm per-request cost of the two Lambda handlers, measured against minimal references.

The invoker: the real handler (Powertools logger, validation, the Classic backend, the JSON envelope and
the summary log line) against a reference that only calls InvokeAgent and joins the chunks. Both use
the SAME real botocore `bedrock-agent-runtime` client (the function's own `create_client`: SigV4
signing, rest-json serialisation, event-stream parsing) whose `before-send` hook answers with
event-stream bytes encoded once per chunk count (`tests.functions.eventstream`, the tests' encoder).
Short batches of the two alternate (ABBA), so a disturbance tends to hit both halves of a round; the
ratio is computed per round and summarised by its median and interquartile range.

The action group: the real handler (dispatch, validation, Powertools response, log line) against
calling the tool function directly.

Log lines go to /dev/null (in Lambda they are written to stdout, so they are part of the cost).
This module is imported only by `bench.worker`, in a fresh interpreter.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

AGENT_ID, ALIAS_ID, SESSION = "AGENT12345", "ALIAS12345", "bench-session-0001"
# A chunk of a typical size: Bedrock streams the completion in pieces of a sentence or so.
CHUNK_TEXT = "The agent streams its answer in pieces like this one, about 80 bytes of UTF-8 text. "
ENVIRONMENT = {
    "AGENT_ID": AGENT_ID,
    "AGENT_ALIAS_ID": ALIAS_ID,
    "ALLOWED_ORIGINS": "[]",
    "API_DEADLINE_MS": "29000",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Comparison:
    """Per-call seconds of the subject and the reference, per round, measured alternately."""

    subject: list[float]
    reference: list[float]

    @property
    def ratios(self) -> list[float]:
        """subject / reference per round: the two batches of a round ran back to back."""
        return [s / r for s, r in zip(self.subject, self.reference, strict=True)]

    @property
    def overheads(self) -> list[float]:
        """subject - reference seconds per call, per round."""
        return [s - r for s, r in zip(self.subject, self.reference, strict=True)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_s": self.subject,
            "reference_s": self.reference,
            "ratios": self.ratios,
            "overheads_s": self.overheads,
            "median_ratio": statistics.median(self.ratios),
        }


class _Raw:
    """Stands in for urllib3's response: `stream()` yields the prepared event-stream messages."""

    def __init__(self, pieces: list[bytes]) -> None:
        self._pieces = pieces

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        yield from self._pieces

    def close(self) -> None:
        pass


def _stub_client(pieces: list[bytes]) -> Any:
    """The function's own botocore client, answering every InvokeAgent with `pieces`."""
    import boto3
    from botocore.awsrequest import AWSResponse

    from functions.invoker.classic import create_client

    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",  # noqa: S106 (a documented example key)
        region_name="us-east-1",
    )
    client: Any = create_client(read_timeout_s=28.0, session=session)
    headers = {
        "x-amzn-requestid": "bench-request-0001",
        "content-type": "application/vnd.amazon.eventstream",
        "x-amzn-bedrock-agent-content-type": "application/json",
        "x-amz-bedrock-agent-session-id": SESSION,
    }

    def send(request: Any, **_: Any) -> Any:
        return AWSResponse(request.url, 200, headers, _Raw(pieces))

    client.meta.events.register("before-send.bedrock-agent-runtime.InvokeAgent", send)
    return client


def _constant(client: Any) -> Callable[[Any, float], Any]:
    """The handler's client factory, answering with the stubbed client."""

    def factory(settings: Any, read_timeout_s: float) -> Any:
        return client

    return factory


def _time_batch(call: Callable[[], object], iterations: int) -> float:
    """Seconds per call over a batch, with the collector off during the batch (as timeit does)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(iterations):
            call()
        return (time.perf_counter() - started) / iterations
    finally:
        gc.enable()


def compare(
    subject: Callable[[], object],
    reference: Callable[[], object],
    *,
    rounds: int,
    batch_s: float = 0.02,
    warmup: int = 20,
) -> Comparison:
    """Alternate batches of `subject` and `reference` (ABBA order), `rounds` times."""
    for _ in range(warmup):
        subject()
        reference()
    single = max(_time_batch(subject, 3), _time_batch(reference, 3))
    iterations = max(3, int(batch_s / single))
    subject_s, reference_s = [], []
    for index in range(rounds):
        if index % 2:
            reference_s.append(_time_batch(reference, iterations))
            subject_s.append(_time_batch(subject, iterations))
        else:
            subject_s.append(_time_batch(subject, iterations))
            reference_s.append(_time_batch(reference, iterations))
    return Comparison(subject_s, reference_s)


def _silence(logger: Any) -> None:
    """Send a Powertools logger's lines to /dev/null (they are still formatted and written)."""
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    logger.registered_handler.setStream(sink)


def invoker(chunk_counts: list[int], rounds: int) -> dict[str, Any]:
    os.environ.update(ENVIRONMENT)
    from functions.invoker import handler as handler_module
    from tests.functions import eventstream
    from tests.functions.invoker_fakes import FakeContext, api_event

    _silence(handler_module.logger)
    context = FakeContext()
    event = api_event("POST", "/chat", {"inputText": "How many business days are there in March 2026?"})
    results: dict[str, Any] = {}
    for chunks in chunk_counts:
        pieces = [eventstream.chunk(f"{index:04d} {CHUNK_TEXT}") for index in range(chunks)]
        client = _stub_client(pieces)
        handler_module.RUNTIME = handler_module.Runtime(client=_constant(client))

        def subject() -> dict[str, Any]:
            return handler_module.handler(event, context)  # type: ignore[arg-type]

        def reference(c: Any = client) -> bytes:
            response = c.invoke_agent(
                agentId=AGENT_ID, agentAliasId=ALIAS_ID, sessionId=SESSION, inputText="hello"
            )
            return b"".join(part["chunk"]["bytes"] for part in response["completion"] if "chunk" in part)

        # Both paths see the same stream and agree on the answer before anything is timed.
        answer = subject()
        expected = reference().decode("utf-8")
        if answer["statusCode"] != 200 or json.loads(answer["body"])["completion"] != expected:
            raise RuntimeError(f"the invoker did not answer the stub as expected: {answer}")
        results[str(chunks)] = compare(subject, reference, rounds=rounds).as_dict()
    return results


def action_group(rounds: int) -> dict[str, Any]:
    os.environ.update({"POWERTOOLS_SERVICE_NAME": "action-group", "POWERTOOLS_LOG_LEVEL": "INFO"})
    from functions.action_group import handler as handler_module
    from functions.action_group.tools import calculate
    from tests.functions.test_action_group_support import FakeLambdaContext, bedrock_event, param

    _silence(handler_module.logger)
    context = FakeLambdaContext()
    event = bedrock_event("calculate", [param("expression", "(1200 * 0.075) / 12")])
    answer = handler_module.handler(event, context)  # type: ignore[arg-type]
    if "7.5" not in str(answer):
        raise RuntimeError(f"the action group did not calculate: {answer}")

    def subject() -> dict[str, Any]:
        return handler_module.handler(event, context)  # type: ignore[arg-type]

    def reference() -> object:
        return calculate("(1200 * 0.075) / 12")

    return {"calculate": compare(subject, reference, rounds=rounds).as_dict()}
