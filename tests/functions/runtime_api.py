"""A local stand-in for Lambda's Runtime API, speaking real HTTP on a loopback port.

It hands out queued events on ``GET .../invocation/next`` and reads each streamed
``POST .../invocation/<id>/response`` chunk by chunk, recording when every chunk arrived, the
trailers, and the request headers; ``.../error`` posts are recorded too. ``on_chunk`` lets a caller
(the loopback API Gateway) forward chunks while the response is still being written.
"""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.invoker.runtime import PRELUDE_DELIMITER

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:invoker"


@dataclass
class StreamedAnswer:
    request_id: str
    headers: dict[str, str]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (monotonic arrival, data)
    trailers: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def raw(self) -> bytes:
        return b"".join(data for _, data in self.chunks)

    def split(self) -> tuple[dict[str, Any], bytes]:
        """The prelude (statusCode, headers) and the payload after the eight NUL bytes."""
        metadata, delimiter, payload = self.raw.partition(PRELUDE_DELIMITER)
        assert delimiter, "no prelude delimiter in the streamed response"
        return json.loads(metadata), payload


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


class FakeRuntimeApi:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, dict[str, Any], int]] = queue.Queue()
        self.answers: dict[str, StreamedAnswer] = {}
        self.errors: list[Posted] = []
        self.on_chunk: Callable[[str, bytes], None] = lambda request_id, data: None
        self.on_response_start: Callable[[StreamedAnswer], None] = lambda answer: None
        self.on_end: Callable[[str], None] = lambda request_id: None
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                request_id, event, deadline_ms = api.events.get()
                payload = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
                self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{request_id}")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                parts = self.path.split("/")
                headers = dict(self.headers.items())
                if parts[-1] == "response" and headers.get("Transfer-Encoding") == "chunked":
                    answer = StreamedAnswer(parts[-2], headers)
                    api.answers[answer.request_id] = answer
                    api.on_response_start(answer)
                    self._read_chunks(answer)
                    answer.done.set()
                    api.on_end(answer.request_id)
                else:
                    length = int(self.headers.get("Content-Length", "0"))
                    api.errors.append(Posted(self.path, headers, self.rfile.read(length)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _read_chunks(self, answer: StreamedAnswer) -> None:
                while True:
                    size = int(self.rfile.readline().strip(), 16)
                    if size == 0:
                        break
                    data = self.rfile.read(size)
                    assert self.rfile.read(2) == b"\r\n"
                    answer.chunks.append((time.monotonic(), data))
                    api.on_chunk(answer.request_id, data)
                while (line := self.rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    answer.trailers[name.strip()] = value.strip()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def invoke(self, request_id: str, event: dict[str, Any], timeout_ms: int = 30_000) -> None:
        self.events.put((request_id, event, int(time.time() * 1000) + timeout_ms))
