"""A local stand-in for API Gateway: real HTTP on 127.0.0.1 in front of the REAL invoker handler.

``FakeApiGateway`` serves on an ephemeral loopback port from a thread. Each HTTP request is checked
the way the deployed API checks it (SigV4 for ``execute-api`` in the API's region, or ``x-api-key``),
answered with the API's gateway-response envelope when that fails, and otherwise turned into an API
Gateway REST proxy event for ``functions.invoker.handler.handler``, whose agent is the scripted
``FakeAgent`` of ``tests.functions.invoker_fakes`` (a real botocore client). So the client under test
speaks real HTTP to the real handler, and botocore's own parsers read the agent's bytes.

``lambda_runtime`` set (``streaming_gateway``): the gateway behaves as a STREAM integration of the
streaming invoker. Each event goes through a local Runtime API to the REAL runtime loop
(``functions.invoker.runtime.serve``) and entry point (``functions.invoker.streaming.handler``); the
prelude becomes the HTTP status and headers, and every chunk the function writes is forwarded to the
client as one HTTP chunk the moment it arrives.
"""

from __future__ import annotations

import hmac
import itertools
import json
import queue
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.invoker import streaming
from functions.invoker.runtime import PRELUDE_DELIMITER, RuntimeApi, serve
from tests.functions.invoker_fakes import Harness
from tests.functions.runtime_api import FakeRuntimeApi

ACCESS_KEY = "AKIDCLIENTTEST"
SECRET_KEY = "client-test-secret-key/K7MDENG+bPxRfiCYEXAMPLE"
REGION = "us-east-1"
STAGE = "v1"
API_KEY = "test-api-key-0123456789"

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})"
)


@dataclass
class Received:
    """One HTTP request as the server read it, and what the gateway decided."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0
    auth_error: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent instead of the JSON of `body` (e.g. an NDJSON stream)


@dataclass
class FakeApiGateway:
    harness: Harness
    auth: Literal["iam", "api-key", "none"] = "iam"
    region: str = REGION
    received: list[Received] = field(default_factory=list)
    # Answers given by the "gateway" itself, before the handler (e.g. its own throttling).
    canned: deque[Canned] = field(default_factory=deque)
    # Runs in the server thread before a request is handled (e.g. to stall it past a timeout).
    before: Callable[[Received], object] | None = None
    # Headers the deployed API adds to the responses it generates itself (components.api
    # gateway_response_headers, e.g. CORS for the page's single origin).
    gateway_headers: dict[str, str] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None
    _idle: threading.Condition = field(default_factory=threading.Condition)
    _active: int = 0
    _thread: threading.Thread | None = None
    lambda_runtime: FakeRuntimeApi | None = None
    _relays: dict[str, queue.Queue[bytes | None]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{STAGE}/chat"

    def start(self) -> FakeApiGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                gateway._serve(self)

            def do_DELETE(self) -> None:
                gateway._serve(self)

            def do_GET(self) -> None:
                gateway._serve(self)

            def do_OPTIONS(self) -> None:
                gateway._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # e.g. a client that timed out and closed its socket before the answer

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._idle:  # let in-flight requests finish while the handler's fakes are still patched in
            self._idle.wait_for(lambda: self._active == 0, timeout=5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- request handling -------------------------------------------------------------------------

    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        with self._idle:
            self._active += 1
        try:
            self._exchange(http)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _exchange(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        received = Received(
            method=http.command,
            path=http.path,
            headers={name.lower(): value for name, value in http.headers.items()},
            body=body,
        )
        self.received.append(received)
        if self.before is not None:
            self.before(received)
        request_id = f"apigw-req-{next(self._ids):04d}"
        answer = self._answer(received, http, request_id)
        if isinstance(answer, dict):
            self._stream(http, received, request_id, answer)
            return
        status, headers, payload = answer
        received.status = status
        http.send_response(status)
        for name, value in {**headers, "x-amzn-RequestId": request_id}.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)

    def _stream(
        self, http: BaseHTTPRequestHandler, received: Received, request_id: str, event: dict[str, Any]
    ) -> None:
        """Invoke the streaming function through the Runtime API; relay its answer chunk by chunk."""
        runtime = self.lambda_runtime
        assert runtime is not None
        chunks: queue.Queue[bytes | None] = queue.Queue()
        # Keyed by request id: the previous answer may still be closing when this one starts.
        self._relays[request_id] = chunks
        runtime.on_chunk = lambda rid, data: self._relays[rid].put(data)
        runtime.on_end = lambda rid: self._relays.pop(rid).put(None)
        runtime.invoke(request_id, event)
        function = threading.Thread(target=serve, args=(RuntimeApi(runtime.address), streaming.handler, 1))
        function.start()
        head = b""
        while PRELUDE_DELIMITER not in head:
            piece = chunks.get(timeout=30)
            assert piece is not None, "the function ended its response without a prelude"
            head += piece
        metadata, _, rest = head.partition(PRELUDE_DELIMITER)
        prelude = json.loads(metadata)
        received.status = prelude["statusCode"]
        http.send_response(prelude["statusCode"])
        for name, value in {**prelude.get("headers", {}), "x-amzn-RequestId": request_id}.items():
            http.send_header(name, value)
        http.send_header("Transfer-Encoding", "chunked")
        http.end_headers()
        data: bytes | None = rest
        while data is not None:
            if data:
                http.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                http.wfile.flush()
            data = chunks.get(timeout=30)
        http.wfile.write(b"0\r\n\r\n")
        http.wfile.flush()
        function.join(timeout=30)

    def _answer(
        self, received: Received, http: BaseHTTPRequestHandler, request_id: str
    ) -> tuple[int, dict[str, str], bytes] | dict[str, Any]:
        """The gateway's own answer, or the handler's; a streaming gateway returns the event instead."""

        def envelope(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Any:
            body = {"error": {"code": code, "message": message, "requestId": request_id}}
            merged = {"Content-Type": "application/json", **self.gateway_headers, **(headers or {})}
            return status, merged, json.dumps(body).encode()

        route = _route(received.method, received.path)
        # Preflights are never authorized (components/api.py): browsers do not sign them.
        problem = None if received.method == "OPTIONS" else self._auth_problem(received)
        if problem is not None:
            received.auth_error = problem[0]
            return envelope(403, *problem)
        if route is None:
            return envelope(
                403,
                "MISSING_AUTHENTICATION",
                "the request is not signed with SigV4, or no such resource or method exists",
            )
        if self.canned and received.method != "OPTIONS":
            canned = self.canned.popleft()
            body = {**canned.body}
            if "error" in body:
                body["error"] = {**body["error"], "requestId": request_id}
            headers = {"Content-Type": "application/json", **self.gateway_headers, **canned.headers}
            return canned.status, headers, canned.raw if canned.raw is not None else json.dumps(body).encode()
        resource, path, params = route
        event = {
            "resource": resource,
            "path": path,
            "httpMethod": received.method,
            "headers": dict(http.headers.items()),
            "multiValueHeaders": {
                name: http.headers.get_all(name) or [] for name in set(http.headers.keys())
            },
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": params,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "resourcePath": resource,
                "httpMethod": received.method,
                "path": f"/{STAGE}{path}",
                "stage": STAGE,
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": received.body.decode("utf-8") if received.body else None,
            "isBase64Encoded": False,
        }
        if self.lambda_runtime is not None:
            return event
        response = self.harness.call(event).raw
        return response["statusCode"], dict(response.get("headers") or {}), response["body"].encode("utf-8")

    def _auth_problem(self, received: Received) -> tuple[str, str] | None:
        if self.auth == "api-key":
            if received.headers.get("x-api-key") != API_KEY:
                return "INVALID_API_KEY", "a valid x-api-key header is required"
            return None
        if self.auth == "none":
            return None
        authorization = received.headers.get("authorization")
        if not authorization:
            return (
                "MISSING_AUTHENTICATION",
                "the request is not signed with SigV4, or no such resource or method exists",
            )
        if not verify_sigv4(received, self.region):
            return (
                "INVALID_SIGNATURE",
                "the request signature does not match: sign with SigV4 for the service execute-api in the "
                "API's region, over the exact path, query string, headers and body sent",
            )
        return None


def verify_sigv4(received: Received, region: str) -> bool:
    """Recompute the signature with the known secret over exactly the headers the client signed."""
    match = _AUTHORIZATION.fullmatch(received.headers.get("authorization", ""))
    amz_date = received.headers.get("x-amz-date", "")
    if match is None or match["key"] != ACCESS_KEY or match["region"] != region:
        return False
    if match["service"] != "execute-api" or not amz_date.startswith(match["date"]):
        return False
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or any(h not in received.headers for h in signed):
        return False
    request = AWSRequest(
        method=received.method,
        url=f"http://{received.headers['host']}{received.path}",
        data=received.body,
        headers={name: received.headers[name] for name in signed},
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, match["signature"])


def _route(method: str, raw_path: str) -> tuple[str, str, dict[str, str] | None] | None:
    """(resource, path without the stage, pathParameters) for the API's two resources."""
    path = urlsplit(raw_path).path
    prefix = f"/{STAGE}"
    if not path.startswith(prefix + "/"):
        return None
    path = path[len(prefix) :]
    if path == "/chat" and method in ("POST", "OPTIONS"):
        return "/chat", path, None
    segments = path.split("/")
    if len(segments) == 3 and segments[1] == "chat" and segments[2] and method in ("DELETE", "OPTIONS"):
        session_id = unquote(segments[2])
        return "/chat/{sessionId}", f"/chat/{session_id}", {"sessionId": session_id}
    return None
