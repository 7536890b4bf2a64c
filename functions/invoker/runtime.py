"""The streaming invoker's runtime loop: Lambda's Runtime API with streamed invocation responses.

Why a loop of our own: Lambda streams natively only on its Node.js managed runtimes; for Python it
documents two ways, the Lambda Web Adapter and "a custom runtime with a custom Runtime API
integration" (Lambda developer guide, "Response streaming for Lambda functions"). This module is the
latter, kept on the managed python3.13 runtime (its interpreter, boto3 and the Powertools layer):
``functions/invoker/bootstrap``, the function's exec wrapper, starts it in place of the managed
runtime's own loop. docs/streaming.md compares the options.

The Runtime API (runtimes-api.html, "Response streaming" of the invocation response):

- ``GET /2018-06-01/runtime/invocation/next`` blocks until an event arrives; headers carry the
  request id, the deadline (epoch ms), the invoked ARN and the X-Ray trace header.
- ``POST .../invocation/<id>/response`` with ``Lambda-Runtime-Function-Response-Mode: streaming``
  and ``Transfer-Encoding: chunked`` streams the answer; for API Gateway the body is the streaming
  proxy format, ``application/vnd.awslambda.http-integration-response``: a JSON prelude
  (statusCode, headers), eight NUL bytes, then the payload as it is produced (API Gateway developer
  guide, "Set up a Lambda proxy integration with payload response streaming"). A failure after the
  first chunk is reported in the trailers ``Lambda-Runtime-Function-Error-Type``/``-Body``; the
  connection is closed once the response is written.
- ``POST .../invocation/<id>/error`` before anything was streamed, ``POST .../init/error`` when the
  handler cannot be imported.

Every piece of the body is written to the socket as one HTTP chunk as soon as the handler yields
it (TCP_NODELAY: no Nagle delay for small chunks). Nothing here logs event or response content.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

API_VERSION: Final = "2018-06-01"
STREAMING_CONTENT_TYPE: Final = "application/vnd.awslambda.http-integration-response"
PRELUDE_DELIMITER: Final = b"\x00" * 8
ERROR_TYPE_TRAILER: Final = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER: Final = "Lambda-Runtime-Function-Error-Body"
TRACE_ENV: Final = "_X_AMZN_TRACE_ID"


@dataclass(frozen=True)
class StreamedResponse:
    """An HTTP answer for API Gateway's streaming proxy integration: the status and headers are
    sent first (and are final), then each piece of ``body`` as soon as it is produced."""

    status: int
    headers: Mapping[str, str]
    body: Iterable[bytes]


def prelude(response: StreamedResponse) -> bytes:
    """The metadata API Gateway reads before the payload, with its delimiter."""
    metadata = {"statusCode": response.status, "headers": dict(response.headers)}
    return json.dumps(metadata, separators=(",", ":")).encode("utf-8") + PRELUDE_DELIMITER


@dataclass(frozen=True)
class Invocation:
    request_id: str
    deadline_ms: int  # epoch milliseconds
    invoked_function_arn: str
    trace_id: str | None
    payload: bytes


@dataclass
class InvocationContext:
    """What the handler and Powertools read of Lambda's context object."""

    invocation: Invocation
    clock_ms: Callable[[], float] = field(default=lambda: time.time() * 1000)
    function_name: str = field(default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""))
    function_version: str = field(default_factory=lambda: os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", ""))
    memory_limit_in_mb: int = field(
        default_factory=lambda: int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0") or 0)
    )
    log_group_name: str = field(default_factory=lambda: os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""))
    log_stream_name: str = field(default_factory=lambda: os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""))
    identity: Any = None
    client_context: Any = None

    @property
    def aws_request_id(self) -> str:
        return self.invocation.request_id

    @property
    def invoked_function_arn(self) -> str:
        return self.invocation.invoked_function_arn

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.invocation.deadline_ms - self.clock_ms()))


Connect = Callable[[str], http.client.HTTPConnection]


def _connect(address: str) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(address)  # no timeout: /next may block for hours
    connection.connect()
    assert connection.sock is not None
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


class RuntimeApiError(Exception):
    """The Runtime API refused a call; the execution environment cannot go on."""


class RuntimeApi:
    def __init__(self, address: str, connect: Connect = _connect) -> None:
        self._address = address
        self._connect = connect
        self._base = f"/{API_VERSION}/runtime"

    def next(self) -> Invocation:
        connection = self._connect(self._address)
        try:
            connection.request("GET", f"{self._base}/invocation/next")
            answer = connection.getresponse()
            payload = answer.read()
            if answer.status != 200:
                raise RuntimeApiError(f"invocation/next answered {answer.status}")
            headers = answer.headers
            return Invocation(
                request_id=headers.get("Lambda-Runtime-Aws-Request-Id", ""),
                deadline_ms=int(headers.get("Lambda-Runtime-Deadline-Ms", "0") or 0),
                invoked_function_arn=headers.get("Lambda-Runtime-Invoked-Function-Arn", ""),
                trace_id=headers.get("Lambda-Runtime-Trace-Id"),
                payload=payload,
            )
        finally:
            connection.close()

    def stream(self, request_id: str, response: StreamedResponse) -> None:
        """Stream ``response``; a body that raises ends the stream with the error trailers."""
        connection = self._connect(self._address)
        try:
            connection.putrequest("POST", f"{self._base}/invocation/{request_id}/response")
            connection.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
            connection.putheader("Transfer-Encoding", "chunked")
            connection.putheader("Content-Type", STREAMING_CONTENT_TYPE)
            connection.putheader("Trailer", f"{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}")
            connection.endheaders()
            _send_chunk(connection, prelude(response))
            trailers = b""
            try:
                for piece in response.body:
                    if piece:
                        _send_chunk(connection, piece)
            except Exception as exc:  # noqa: BLE001 - a renderer bug: end the stream as failed
                error = _error_document(exc)
                trailers = (
                    f"{ERROR_TYPE_TRAILER}: {error['errorType']}\r\n"
                    f"{ERROR_BODY_TRAILER}: {base64.b64encode(json.dumps(error).encode()).decode()}\r\n"
                ).encode("ascii")
                traceback.print_exc(file=sys.stderr)
            connection.send(b"0\r\n" + trailers + b"\r\n")
            answer = connection.getresponse()
            answer.read()
            if answer.status >= 300:
                raise RuntimeApiError(f"invocation/{request_id}/response answered {answer.status}")
        finally:
            connection.close()

    def invocation_error(self, request_id: str, exc: BaseException) -> None:
        self._post_error(f"{self._base}/invocation/{request_id}/error", exc)

    def init_error(self, exc: BaseException) -> None:
        self._post_error(f"{self._base}/init/error", exc)

    def _post_error(self, path: str, exc: BaseException) -> None:
        error = _error_document(exc)
        connection = self._connect(self._address)
        try:
            connection.request(
                "POST",
                path,
                body=json.dumps(error).encode("utf-8"),
                headers={"Content-Type": "application/json", ERROR_TYPE_TRAILER: error["errorType"]},
            )
            connection.getresponse().read()
        finally:
            connection.close()


def _send_chunk(connection: http.client.HTTPConnection, data: bytes) -> None:
    connection.send(b"%x\r\n%s\r\n" % (len(data), data))


def _error_document(exc: BaseException) -> dict[str, Any]:
    # The type and message only: an exception message never carries prompt or completion text here.
    return {"errorType": type(exc).__name__, "errorMessage": str(exc)[:1000], "stackTrace": []}


Handler = Callable[[Any, InvocationContext], StreamedResponse]


def serve(api: RuntimeApi, handle: Handler, invocations: int | None = None) -> None:
    """Answer invocations one after the other (``invocations``: how many, for tests; None: forever)."""
    served = 0
    while invocations is None or served < invocations:
        invocation = api.next()
        served += 1
        if invocation.trace_id:
            os.environ[TRACE_ENV] = invocation.trace_id  # botocore propagates it to the agent call
        else:
            os.environ.pop(TRACE_ENV, None)
        try:
            response = handle(json.loads(invocation.payload), InvocationContext(invocation))
        except Exception as exc:  # noqa: BLE001 - reported to Lambda, the loop serves the next one
            traceback.print_exc(file=sys.stderr)
            api.invocation_error(invocation.request_id, exc)
            continue
        api.stream(invocation.request_id, response)


def main() -> None:  # pragma: no cover - started by the exec wrapper in Lambda
    api = RuntimeApi(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        from functions.invoker.streaming import handler
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        api.init_error(exc)
        raise SystemExit(1) from exc
    serve(api, handler)
