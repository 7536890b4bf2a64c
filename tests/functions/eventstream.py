"""A minimal encoder for the AWS event-stream wire format (``application/vnd.amazon.eventstream``).

botocore only decodes event streams; tests need the bytes a real service would send so that the
invoker sees exactly what botocore's own parsers make of them. Message layout (big-endian):

    prelude:  total length (u32) | headers length (u32) | CRC32 of those 8 bytes (u32)
    headers:  name length (u8) | name | value type (u8, 7 = string) | value length (u16) | value
    payload
    trailer:  CRC32 of everything before it (u32)
"""

from __future__ import annotations

import base64
import json
import struct
from binascii import crc32
from collections.abc import Mapping
from typing import Any

_STRING = 7


def encode_headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    return encode_raw(encode_headers(headers), payload)


def encode_raw(raw_headers: bytes, payload: bytes) -> bytes:
    """A message around already-encoded header bytes (valid CRCs, whatever the headers say)."""
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", crc32(prelude) & 0xFFFFFFFF)
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", crc32(body) & 0xFFFFFFFF)


def event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode("utf-8"))


def exception(exception_type: str, message: str = "simulated failure") -> bytes:
    """A modeled exception event, e.g. ``throttlingException`` (the ResponseStream member name)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode("utf-8"))


def error(code: str, message: str) -> bytes:
    """An unmodeled ``:message-type: error`` message."""
    headers = {":error-code": code, ":error-message": message, ":message-type": "error"}
    return encode_message(headers, b"")


def chunk(text: str | bytes, citations: list[dict[str, Any]] | None = None) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    payload: dict[str, Any] = {"bytes": base64.b64encode(data).decode("ascii")}
    if citations is not None:
        payload["attribution"] = {"citations": citations}
    return event("chunk", payload)


def trace(trace_body: Mapping[str, Any], session_id: str = "sess-1") -> bytes:
    return event(
        "trace",
        {
            "agentId": "AGENT12345",
            "agentAliasId": "ALIAS12345",
            "agentVersion": "1",
            "sessionId": session_id,
            "trace": trace_body,
        },
    )


def return_control(invocation_id: str, inputs: list[dict[str, Any]]) -> bytes:
    return event("returnControl", {"invocationId": invocation_id, "invocationInputs": inputs})
