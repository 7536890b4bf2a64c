"""One HTTP exchange over ``http.client``, with failures classified by whether the request was sent.

The distinction drives retries (``client.api``): a failure while connecting (DNS, refused, TLS, connect
timeout) happened before a byte of the request left, so any request may be retried; a failure after
that (send error, read timeout, reset) means the API may have received the request, and a POST that
reached the agent must not be replayed. A fresh connection per exchange keeps that boundary exact (no
stale keep-alive sockets whose failure would be ambiguous).

HTTPS requests honour ``https_proxy``/``no_proxy`` through a CONNECT tunnel. ``open`` is the same
exchange with the body handed over line by line as it arrives (streamed answers, docs/streaming.md).
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

FailureKind = Literal["dns", "refused", "tls", "timeout", "reset", "network"]

_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
_MAX_LINE_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class TransportError(Exception):
    """The exchange failed without an HTTP response.

    ``sent`` is False only when the failure certainly happened before any of the request was sent.
    """

    def __init__(self, kind: FailureKind, detail: str, *, host: str, sent: bool, timeout: float) -> None:
        super().__init__(detail)
        self.kind: FailureKind = kind
        self.detail = detail
        self.host = host
        self.sent = sent
        self.timeout = timeout


class Transport(Protocol):
    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse: ...


@dataclass
class StreamedHttpResponse:
    """An answer whose body is read as it arrives. ``lines`` yields each line (with its newline) as
    soon as it is complete and raises ``TransportError`` (``sent=True``) if the connection fails;
    ``close`` abandons the rest (safe to call twice)."""

    status: int
    headers: dict[str, str]
    lines: Iterator[bytes]
    close: Callable[[], None]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def read(self) -> bytes:
        """The whole (rest of the) body, for answers that are not a stream (errors, buffered JSON)."""
        try:
            return b"".join(self.lines)
        finally:
            self.close()


@runtime_checkable
class StreamingTransport(Protocol):
    def open(self, request: HttpRequest, timeout: float) -> StreamedHttpResponse: ...


class HttpClientTransport:
    """The production transport: ``http.client`` with the system's CA bundle (``ssl`` defaults)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context

    def __call__(self, request: HttpRequest, timeout: float) -> HttpResponse:
        connection, response, where = self._send(request, timeout)
        try:
            try:
                body = response.read(_MAX_RESPONSE_BYTES + 1)
            except (OSError, http.client.HTTPException) as error:
                raise _failure(error, where, sent=True, timeout=timeout) from None
            if len(body) > _MAX_RESPONSE_BYTES:
                raise TransportError(
                    "network", "the response is larger than 8 MiB", host=where, sent=True, timeout=timeout
                )
            headers = {name.lower(): value for name, value in response.getheaders()}
            return HttpResponse(response.status, headers, body)
        finally:
            connection.close()

    def open(self, request: HttpRequest, timeout: float) -> StreamedHttpResponse:
        """The exchange up to the response headers; the body follows line by line (``lines``), each
        line as soon as it arrived. ``timeout`` bounds every wait, so also a stream gone silent."""
        connection, response, where = self._send(request, timeout)

        def lines() -> Iterator[bytes]:
            try:
                while line := response.readline(_MAX_LINE_BYTES):
                    yield line
            except (OSError, http.client.HTTPException) as error:
                raise _failure(error, where, sent=True, timeout=timeout) from None
            finally:
                connection.close()

        headers = {name.lower(): value for name, value in response.getheaders()}
        return StreamedHttpResponse(response.status, headers, lines(), connection.close)

    def _send(
        self, request: HttpRequest, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
        """Connect, send, read the status and headers; failures classified by whether it was sent."""
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        where = parts.netloc.rpartition("@")[2]
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection = self._connection(parts.scheme, host, parts.port, timeout)
        try:
            connection.connect()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise _failure(error, where, sent=False, timeout=timeout) from None
        try:
            connection.request(request.method, target, body=request.body, headers=request.headers)
            return connection, connection.getresponse(), where
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise _failure(error, where, sent=True, timeout=timeout) from None

    def _connection(
        self, scheme: str, host: str, port: int | None, timeout: float
    ) -> http.client.HTTPConnection:
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=timeout)
        context = self._ssl_context or ssl.create_default_context()
        proxy = _https_proxy(host)
        if proxy is None:
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        proxy_host, proxy_port, proxy_headers = proxy
        connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeout, context=context)
        connection.set_tunnel(host, port, headers=proxy_headers)
        return connection


def _https_proxy(host: str) -> tuple[str, int | None, dict[str, str]] | None:
    proxy_url = urllib.request.getproxies().get("https")
    if not proxy_url or urllib.request.proxy_bypass(host):
        return None
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    parts = urlsplit(proxy_url)
    headers: dict[str, str] = {}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    return parts.hostname or "", parts.port, headers


def _failure(error: BaseException, host: str, *, sent: bool, timeout: float) -> TransportError:
    kind: FailureKind
    if isinstance(error, socket.gaierror):
        kind, detail = "dns", f"cannot resolve host name ({error.strerror or error})"
    elif isinstance(error, ConnectionRefusedError):
        kind, detail = "refused", "connection refused"
    elif isinstance(error, ssl.SSLCertVerificationError):
        kind, detail = "tls", f"TLS certificate not trusted ({error.verify_message or error})"
    elif isinstance(error, ssl.SSLError):
        kind, detail = "tls", f"TLS handshake failed ({getattr(error, 'reason', None) or error})"
    elif isinstance(error, TimeoutError):  # socket.timeout is an alias of TimeoutError since 3.10
        kind, detail = "timeout", f"no answer within {timeout:g} s"
    elif isinstance(error, ConnectionError | http.client.RemoteDisconnected | http.client.IncompleteRead):
        kind, detail = "reset", "the connection was closed unexpectedly"
    elif isinstance(error, OSError) and error.strerror:
        kind, detail = "network", error.strerror[:1].lower() + error.strerror[1:]
    else:
        kind, detail = "network", f"{type(error).__name__}: {error}"
    return TransportError(kind, detail, host=host, sent=sent, timeout=timeout)
