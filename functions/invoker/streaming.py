"""Entry point of the streaming invoker (``apiStreaming``): every invocation answered as a stream.

``functions.invoker.runtime`` calls ``handler`` for each invocation and streams what it returns in
API Gateway's streaming proxy format. With a STREAM integration every route reaches this entry
point, so every answer is a ``StreamedResponse``: requests that do not ask for NDJSON get exactly
the buffered contract of ``functions.invoker.handler.process`` (status, headers, JSON body), sent
as one piece. The wire format of streamed answers is docs/streaming.md.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from functions.invoker import handler as buffered_handler
from functions.invoker.handler import Runtime, logger, process
from functions.invoker.runtime import StreamedResponse


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
)
def handler(event: dict[str, Any], context: Any) -> StreamedResponse:
    return respond(event, context, buffered_handler.RUNTIME)


def respond(event: object, context: Any, runtime: Runtime) -> StreamedResponse:
    return buffered(process(event, context, runtime))


def buffered(response: Mapping[str, Any]) -> StreamedResponse:
    """A buffered proxy response (``statusCode``, ``headers``, ``body``) as a one-piece stream."""
    body = response.get("body") or ""
    data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return StreamedResponse(int(response["statusCode"]), dict(response.get("headers") or {}), (data,))
