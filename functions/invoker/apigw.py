"""API Gateway REST (v1) proxy events in, proxy responses out: headers, body decoding, routes, CORS.

Plain functions over plain data so every rule is testable without Lambda. Nothing here knows about
Bedrock; failures are ``ApiError`` values with stable codes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from functions.invoker.errors import ApiError

MAX_BODY_BYTES: Final = 1_048_576  # decoded body; API Gateway itself stops at 10 MB
JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
PREFLIGHT_MAX_AGE_S: Final = 600
CORS_ALLOW_HEADERS: Final = "Content-Type, Authorization, X-Api-Key, X-Amz-Date, X-Amz-Security-Token"
CORS_EXPOSE_HEADERS: Final = "Retry-After"

ROUTE_CHAT: Final = "/chat"
ROUTE_SESSION: Final = "/chat/{sessionId}"
ROUTE_METHODS: Final[Mapping[str, tuple[str, ...]]] = {
    ROUTE_CHAT: ("POST", "OPTIONS"),
    ROUTE_SESSION: ("DELETE", "OPTIONS"),
}
_SESSION_PATH = re.compile(r"/chat/([^/]+)")
_MEDIA_TYPE = re.compile(r"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*")
_PARAM = re.compile(r"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*=[ \t]*(\"[^\"]*\"|[^;\" \t]*)[ \t]*")


class Headers:
    """Case-insensitive view over ``headers`` and ``multiValueHeaders`` of a proxy event.

    ``get`` returns ``None`` both when a header is absent and when it arrived with several distinct
    values: an ambiguous ``Origin`` or ``Content-Type`` must never be guessed.
    """

    def __init__(self, single: object, multi: object) -> None:
        values: dict[str, list[str]] = {}
        if isinstance(multi, Mapping):
            for name, items in multi.items():
                if isinstance(name, str) and isinstance(items, list):
                    values.setdefault(name.lower(), []).extend(v for v in items if isinstance(v, str))
        if isinstance(single, Mapping):
            for name, value in single.items():
                if isinstance(name, str) and isinstance(value, str) and name.lower() not in values:
                    values[name.lower()] = [value]
        self._values = values

    def get(self, name: str) -> str | None:
        distinct = set(self._values.get(name.lower(), ()))
        return distinct.pop() if len(distinct) == 1 else None

    def present(self, name: str) -> bool:
        return bool(self._values.get(name.lower()))


@dataclass(frozen=True)
class HttpRequest:
    method: str
    route: str | None  # ROUTE_CHAT, ROUTE_SESSION or None (unknown path)
    session_id_param: str | None  # raw ``{sessionId}`` path segment for ROUTE_SESSION
    headers: Headers
    body: str | None
    is_base64: bool


def request_id_of(event: object, fallback: str) -> str:
    """API Gateway's ``requestContext.requestId`` (what clients and access logs see), else Lambda's."""
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        if isinstance(context, Mapping):
            value = context.get("requestId")
            if isinstance(value, str) and value:
                return value
    return fallback


def parse_event(event: object) -> HttpRequest:
    if not isinstance(event, Mapping):
        raise ApiError(400, "BAD_REQUEST", "the request could not be read")
    method = event.get("httpMethod")
    body = event.get("body")
    route, session_param = _route_of(event)
    return HttpRequest(
        method=method if isinstance(method, str) else "",
        route=route,
        session_id_param=session_param,
        headers=Headers(event.get("headers"), event.get("multiValueHeaders")),
        body=body if isinstance(body, str) else None,
        is_base64=event.get("isBase64Encoded") is True,
    )


def _route_of(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    # ``resource`` is the template API Gateway matched; trust it when it is one of ours (a proxy
    # resource such as ``/{proxy+}`` is not), otherwise match the concrete ``path``.
    resource = event.get("resource")
    if resource == ROUTE_CHAT:
        return ROUTE_CHAT, None
    if resource == ROUTE_SESSION:
        params = event.get("pathParameters")
        value = params.get("sessionId") if isinstance(params, Mapping) else None
        return ROUTE_SESSION, value if isinstance(value, str) else ""
    path = event.get("path")
    if not isinstance(path, str):
        return None, None
    if path == ROUTE_CHAT:
        return ROUTE_CHAT, None
    match = _SESSION_PATH.fullmatch(path)
    if match:
        return ROUTE_SESSION, match.group(1)
    return None, None


def require_json_content(headers: Headers) -> None:
    """415 unless ``Content-Type`` is ``application/json`` (optionally ``; charset=utf-8``)."""
    value = headers.get("content-type")
    if value is None or not _is_json_media_type(value):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
    encoding = headers.get("content-encoding")
    if headers.present("content-encoding") and (encoding is None or encoding.strip().lower() != "identity"):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Encoding is not supported")


def _is_json_media_type(value: str) -> bool:
    media, _, params = value.partition(";")
    match = _MEDIA_TYPE.fullmatch(media)
    if match is None or match.group(1).lower() != "application/json":
        return False
    if not params.strip():
        return True
    for param in params.split(";"):
        parsed = _PARAM.fullmatch(param)
        if parsed is None:
            return False
        name, raw_value = parsed.group(1).lower(), parsed.group(2).strip('"').lower()
        if name != "charset" or raw_value not in ("utf-8", "utf8"):
            return False
    return True


def decode_body(body: str | None, is_base64: bool, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw request bytes: 413 above ``limit``, 400 for invalid base64 or unencodable text."""
    if body is None:
        return b""
    if is_base64:
        if len(body) > (limit + 2) // 3 * 4:
            raise _too_large(limit)
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _invalid_base64() from exc
        # Strict means canonical: b64decode still accepts extra padding after the end and non-zero
        # unused bits; only the one encoding of ``raw`` is accepted (what API Gateway sends).
        if base64.b64encode(raw) != body.encode("ascii"):
            raise _invalid_base64()
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ApiError(400, "INVALID_JSON", "the body is not valid UTF-8") from exc
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


def _invalid_base64() -> ApiError:
    return ApiError(400, "INVALID_BASE64", "the base64-encoded body is malformed")


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "PAYLOAD_TOO_LARGE", f"the request body exceeds {limit} bytes")


def cors_headers(origin: str | None, allowed: frozenset[str]) -> dict[str, str]:
    """Headers for every response: ``Vary: Origin`` always, the origin echoed only when allowed."""
    headers = {"Vary": "Origin"}
    if origin is not None and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    return headers


def preflight_headers(route: str, cors: Mapping[str, str]) -> dict[str, str]:
    headers = dict(cors)
    if "Access-Control-Allow-Origin" in headers:
        headers["Access-Control-Allow-Methods"] = ", ".join(ROUTE_METHODS[route])
        headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    return headers


def _base_headers(extra: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    headers.update(extra)
    return headers


def json_response(status: int, payload: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    merged = _base_headers(headers.items())
    merged["Content-Type"] = JSON_CONTENT_TYPE
    return {
        "statusCode": status,
        "headers": merged,
        "body": json.dumps(payload, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def stream_headers(content_type: str, headers: Mapping[str, str]) -> dict[str, str]:
    """Headers of a streamed answer: the hardening headers every response carries, and its type."""
    merged = _base_headers(headers.items())
    merged["Content-Type"] = content_type
    return merged


def empty_response(status: int, headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": _base_headers(headers.items()),
        "body": "",
        "isBase64Encoded": False,
    }


def error_response(error: ApiError, request_id: str, cors: Mapping[str, str]) -> dict[str, Any]:
    payload = {"error": {"code": error.code, "message": error.message, "requestId": request_id}}
    return json_response(error.status, payload, {**cors, **error.headers})
