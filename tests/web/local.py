"""The chat page's world on loopback: the page, a fake Cognito, and the real invoker behind the fake API.

``LocalWeb`` starts three HTTP servers on 127.0.0.1 (three origins, so CORS is exercised for real):

- the page: ``web/`` served with the content types and the Content-Security-Policy the deployed
  distribution uses (``components.web``), plus a ``config.json`` pointing at the two others;
- a fake Cognito: the hosted UI's ``/oauth2/authorize`` (answers at once with a code, as if the user
  had signed in: the stub sits at the token boundary), ``/oauth2/token`` (checks the PKCE verifier
  against the challenge), ``/logout``, and Cognito Identity's ``GetId`` / ``GetCredentialsForIdentity``
  (checks the ID token, hands out the temporary credentials the API's SigV4 check accepts);
- ``tests.client.fake_api.FakeApiGateway``: SigV4 verified with botocore, preflights unauthorized, then
  the REAL invoker handler with the scripted fake agent.

Used by the browser test (tests/web/test_browser.py) and by ``make web`` (tests/web/serve.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from components.api import gateway_response_headers
from components.web import CONTENT_TYPES, PAGE_DIR, RUNTIME_CONFIG_KEY, content_security_policy
from tests.client.fake_api import ACCESS_KEY, REGION, SECRET_KEY, FakeApiGateway
from tests.functions.invoker_fakes import Harness, make_harness

USER_POOL_ID = f"{REGION}_LocalPool"
CLIENT_ID = "local-page-client"
IDENTITY_POOL_ID = f"{REGION}:00000000-0000-4000-8000-000000000000"
IDENTITY_ID = f"{REGION}:11111111-1111-4111-8111-111111111111"
ID_TOKEN = "local.id-token.signed-in-user"
SESSION_TOKEN = "local-session-token"
PROVIDER = f"cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
# What the deployed distribution adds besides the CSP (components/web.py WebSite headers policy).
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _Server:
    """A threaded loopback HTTP server whose requests go to `handle(method, handler)`."""

    def __init__(self, handle: Callable[[str, BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                handle("GET", self)

            def do_POST(self) -> None:
                handle("POST", self)

            def do_OPTIONS(self) -> None:
                handle("OPTIONS", self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01})
        self.thread.start()

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _reply(
    http: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    http.send_response(status)
    for name, value in (headers or {}).items():
        http.send_header(name, value)
    http.send_header("Content-Length", str(len(body)))
    http.end_headers()
    http.wfile.write(body)


def _body(http: BaseHTTPRequestHandler) -> bytes:
    length = int(http.headers.get("Content-Length") or 0)
    return http.rfile.read(length) if length else b""


@dataclass
class FakeCognito:
    """Hosted UI + token endpoint + Cognito Identity, just enough for the page's sign-in."""

    page_origin: str = ""
    codes: dict[str, str] = field(default_factory=dict)  # code -> code_challenge
    calls: list[str] = field(default_factory=list)
    _server: _Server | None = None

    def start(self) -> FakeCognito:
        self._server = _Server(self._handle)
        return self

    @property
    def origin(self) -> str:
        assert self._server is not None
        return self._server.origin

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def _cors(self) -> dict[str, str]:
        return {
            "Access-Control-Allow-Origin": self.page_origin,
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Content-Type, X-Amz-Target, X-Amz-User-Agent",
            "Vary": "Origin",
        }

    def _json(self, http: BaseHTTPRequestHandler, status: int, payload: Mapping[str, Any]) -> None:
        _reply(
            http, status, json.dumps(payload).encode(), {"Content-Type": "application/json", **self._cors()}
        )

    def _handle(self, method: str, http: BaseHTTPRequestHandler) -> None:
        url = urlsplit(http.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if method == "OPTIONS":
            _reply(http, 204, b"", self._cors())
        elif method == "GET" and url.path == "/oauth2/authorize":
            self._authorize(http, query)
        elif method == "GET" and url.path == "/logout":
            self.calls.append("logout")
            _reply(http, 302, b"", {"Location": query.get("logout_uri", "/")})
        elif method == "POST" and url.path == "/oauth2/token":
            self._token(http, {k: v[0] for k, v in parse_qs(_body(http).decode()).items()})
        elif method == "POST" and url.path == "/":
            self._identity(http, http.headers.get("X-Amz-Target", ""), json.loads(_body(http) or b"{}"))
        else:
            _reply(http, 404, b"not found")

    def _authorize(self, http: BaseHTTPRequestHandler, query: Mapping[str, str]) -> None:
        expected = {"response_type": "code", "client_id": CLIENT_ID, "code_challenge_method": "S256"}
        if any(query.get(key) != value for key, value in expected.items()) or not query.get("code_challenge"):
            _reply(http, 400, b"bad authorize request")
            return
        if query.get("redirect_uri") != f"{self.page_origin}/":
            _reply(http, 400, b"redirect_uri is not a callback URL of the app client")
            return
        self.calls.append("authorize")
        code = secrets.token_urlsafe(12)
        self.codes[code] = query["code_challenge"]
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        _reply(http, 302, b"", {"Location": target})

    def _token(self, http: BaseHTTPRequestHandler, form: Mapping[str, str]) -> None:
        self.calls.append("token")
        challenge = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (
            challenge is None
            or computed != challenge
            or form.get("grant_type") != "authorization_code"
            or form.get("client_id") != CLIENT_ID
            or form.get("redirect_uri") != f"{self.page_origin}/"
        ):
            self._json(http, 400, {"error": "invalid_grant"})
            return
        self._json(
            http,
            200,
            {
                "id_token": ID_TOKEN,
                "access_token": "local-access",
                "expires_in": 3600,
                "token_type": "Bearer",
            },
        )

    def _identity(self, http: BaseHTTPRequestHandler, target: str, payload: Mapping[str, Any]) -> None:
        action = target.rpartition(".")[2]
        self.calls.append(action)
        if payload.get("Logins") != {PROVIDER: ID_TOKEN}:
            self._json(http, 400, {"__type": "NotAuthorizedException", "message": "Invalid login token."})
        elif action == "GetId" and payload.get("IdentityPoolId") == IDENTITY_POOL_ID:
            self._json(http, 200, {"IdentityId": IDENTITY_ID})
        elif action == "GetCredentialsForIdentity" and payload.get("IdentityId") == IDENTITY_ID:
            credentials = {
                "AccessKeyId": ACCESS_KEY,
                "SecretKey": SECRET_KEY,
                "SessionToken": SESSION_TOKEN,
                "Expiration": int(time.time()) + 3600,
            }
            self._json(http, 200, {"IdentityId": IDENTITY_ID, "Credentials": credentials})
        else:
            self._json(http, 400, {"__type": "InvalidParameterException", "message": "bad request"})


@dataclass
class StaticPage:
    """web/ with the deployed content types and security headers, and a generated config.json."""

    csp: str = ""
    runtime_config: dict[str, str] = field(default_factory=dict)
    page_dir: Path = PAGE_DIR
    _server: _Server | None = None

    def start(self) -> StaticPage:
        self._server = _Server(self._handle)
        return self

    @property
    def origin(self) -> str:
        assert self._server is not None
        return self._server.origin

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def _handle(self, method: str, http: BaseHTTPRequestHandler) -> None:
        path = urlsplit(http.path).path.lstrip("/") or "index.html"
        headers = {"Content-Security-Policy": self.csp, **PAGE_HEADERS, "Cache-Control": "no-cache"}
        if method != "GET":
            _reply(http, 405, b"", headers)
        elif path == RUNTIME_CONFIG_KEY:
            body = json.dumps(self.runtime_config).encode()
            _reply(http, 200, body, {**headers, "Content-Type": CONTENT_TYPES[".json"]})
        else:
            file = (self.page_dir / path).resolve()
            content_type = CONTENT_TYPES.get(file.suffix.lower())
            if not file.is_relative_to(self.page_dir) or not file.is_file() or content_type is None:
                _reply(http, 404, b"not found", headers)
            else:
                _reply(http, 200, file.read_bytes(), {**headers, "Content-Type": content_type})


@dataclass
class LocalWeb:
    harness: Harness
    page: StaticPage
    cognito: FakeCognito
    gateway: FakeApiGateway

    @classmethod
    def start(
        cls, monkeypatch: pytest.MonkeyPatch, make: Callable[[pytest.MonkeyPatch], Harness] = make_harness
    ) -> LocalWeb:
        """``make``: the invoker's backend and its fake agent (Classic's by default)."""
        cognito = FakeCognito().start()
        harness = make(monkeypatch)
        gateway = FakeApiGateway(harness).start()
        page = StaticPage().start()
        cognito.page_origin = page.origin
        # The origin allow-lists the program builds: the invoker's and the gateway responses' (one origin).
        harness.set_env(ALLOWED_ORIGINS=json.dumps([page.origin]))
        gateway.gateway_headers = {
            name.removeprefix("gatewayresponse.header."): value.strip("'")
            for name, value in gateway_response_headers([page.origin]).items()
        }
        api_origin = gateway.url.rsplit("/", 2)[0]
        page.csp = content_security_policy([api_origin, cognito.origin])
        page.runtime_config = {
            "apiUrl": gateway.url,
            "region": REGION,
            "userPoolId": USER_POOL_ID,
            "clientId": CLIENT_ID,
            "identityPoolId": IDENTITY_POOL_ID,
            "authDomain": cognito.origin,
            "identityEndpoint": f"{cognito.origin}/",
        }
        return cls(harness=harness, page=page, cognito=cognito, gateway=gateway)

    @property
    def url(self) -> str:
        return f"{self.page.origin}/"

    def stop(self) -> None:
        self.page.stop()
        self.gateway.stop()
        self.cognito.stop()
