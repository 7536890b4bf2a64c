"""The agent's HTTP response as botocore reads it, checked: time budget, framing and content.

``install(client)`` registers a botocore ``before-parse`` handler (a public event of every client;
``response_dict["body"]`` is what the parser reads) on an InvokeAgent client. It

- wraps an event-stream body in ``CheckedStream``, which botocore's own ``EventStream`` then reads:
  every read ends by the request's deadline (a watchdog shuts the socket down at the deadline with
  urllib3's ``HTTPResponse.shutdown``, made to interrupt a blocked read from another thread), a body
  that ends inside a message is reported (botocore silently drops the partial message), and every
  message must be what the service model says (botocore drops unknown message types, reads invalid
  JSON as ``{}`` and invalid base64 as ``b""``);
- replaces an error body that is not a UTF-8 JSON object with an empty one, so botocore's rest-json
  error parser cannot fail on it (and never copies HTML into an error message); the error type then
  comes from ``x-amzn-errortype`` (``classic.upstream_type``).

Faults found here are ``AgentStreamError``: agent-side, reported as 502 by the backend.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import json
import struct
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final

from functions.invoker.budget import Deadline, deadline_exceeded
from functions.invoker.errors import ApiError

# The deadline of the InvokeAgent call in progress, set by the backend around the call: botocore's
# events carry no per-call context, and one Lambda environment runs one request at a time.
CURRENT_DEADLINE: ContextVar[Deadline | None] = ContextVar("invoke_agent_deadline", default=None)

_MESSAGE_TYPES: Final = frozenset({b"event", b"exception", b"error"})
_FLOAT_WORDS: Final = frozenset({"NaN", "Infinity", "-Infinity"})


class AgentStreamError(Exception):
    """The agent's response broke the event-stream format or the service model."""

    def __init__(self, reason: str, *, truncated: bool = False) -> None:
        super().__init__(reason)
        self.truncated = truncated


# The VPC interface endpoints answer within milliseconds or not at all.
CONNECT_TIMEOUT_S: Final = 2.0


@functools.cache
def shared_session() -> Any:
    """The execution environment's one boto3 Session: every client made from it shares its loaded
    service models and credential resolution (a new Session per client loads them again)."""
    import boto3

    return boto3.session.Session()


def new_client(
    service: str,
    read_timeout_s: float,
    session: Any = None,
    endpoint_url: str | None = None,
    *,
    checked: tuple[str, ...] = (),
) -> Any:
    """A boto3 client of ``service`` whose only retry loop is the backend's (``budget.with_retries``:
    ``total_max_attempts=1`` turns botocore's off), with the responses of the ``checked`` operations
    checked here (``install``). ``read_timeout_s`` bounds one socket read (the backend picks a client
    whose timeout fits the attempt's budget); ``boto3`` is imported lazily (``shared_session``),
    keeping ~190 ms of imports out of the handler module."""
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,
    )
    factory = session if session is not None else shared_session()
    client = factory.client(service, config=config, endpoint_url=endpoint_url)
    for operation in checked:
        install(client, operation)
    return client


def install(client: Any, operation: str = "InvokeAgent") -> None:
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-parse.{service}.{operation}", _before_parse)


def _before_parse(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    status = response_dict.get("status_code", 0)
    body = response_dict.get("body")
    if status >= 300:
        if isinstance(body, bytes) and not _is_json_object(body):
            response_dict["body"] = b""
        return
    stream_shape = _event_stream_shape(operation_model)
    if stream_shape is not None and callable(getattr(body, "stream", None)):
        response_dict["body"] = CheckedStream(body, stream_shape, CURRENT_DEADLINE.get())


def _is_json_object(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


def _event_stream_shape(operation_model: Any) -> Any:
    output = operation_model.output_shape
    for member in output.members.values() if output is not None else ():
        if member.serialization.get("eventstream"):
            return member
    return None


class CheckedStream:
    """Stands in for urllib3's response under botocore's ``EventStream`` (``stream()``, ``close()``)."""

    def __init__(
        self,
        raw: Any,
        shape: Any,
        deadline: Deadline | None,
        timer: Callable[[float, Callable[[], None]], threading.Timer] = threading.Timer,
    ) -> None:
        self._raw = raw
        self._shape = shape
        self._deadline = deadline
        self._timer = timer
        self._interrupted = threading.Event()
        self._watchdog: threading.Timer | None = None

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        self._start_watchdog()
        pending = bytearray()  # the start of a message not complete yet
        try:
            for piece in self._raw.stream():
                self._check_deadline()
                pending += piece
                del pending[: self._check_complete(pending)]
                yield piece
        except (AgentStreamError, ApiError, GeneratorExit):
            raise
        except Exception:
            self._check_deadline()  # a read the watchdog interrupted: the budget ran out, not the agent
            raise
        finally:
            self._stop_watchdog()
        self._check_deadline()
        if pending:
            raise AgentStreamError("the response ended inside an event-stream message", truncated=True)

    def close(self) -> None:
        self._stop_watchdog()
        self._raw.close()

    # -- the deadline ---------------------------------------------------------------------------

    def _start_watchdog(self) -> None:
        if self._deadline is None or not callable(getattr(self._raw, "shutdown", None)):
            return
        self._watchdog = self._timer(max(0.0, self._deadline.remaining()), self._interrupt)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _interrupt(self) -> None:
        self._interrupted.set()
        with contextlib.suppress(Exception):  # the response may have finished meanwhile
            self._raw.shutdown()

    def _check_deadline(self) -> None:
        if self._interrupted.is_set() or (self._deadline is not None and self._deadline.expired()):
            raise deadline_exceeded()

    # -- the content ----------------------------------------------------------------------------

    def _check_complete(self, data: bytearray) -> int:
        """Check every complete message at the start of ``data``; the number of bytes they span.

        Only what botocore lets through is checked here: the framing, the message type, and payloads
        against the service model. botocore then checks the CRCs and parses the headers (raising on
        unknown value types or non-UTF-8), which the backend reports the same way.
        """
        offset = 0
        while len(data) - offset >= _PRELUDE:
            total, headers_length = _LENGTHS.unpack_from(data, offset)
            if total < _PRELUDE + 4 or headers_length > total - _PRELUDE - 4:
                raise AgentStreamError("an event-stream message has impossible lengths")
            if len(data) - offset < total:
                break
            with memoryview(data) as view:
                message = view[offset : offset + total]
                headers = _headers(message[_PRELUDE : _PRELUDE + headers_length])
                self._check_message(headers, bytes(message[_PRELUDE + headers_length : -4]))
                message.release()
            offset += total
        return offset

    def _check_message(self, headers: dict[bytes, bytes], payload: bytes) -> None:
        kind = headers.get(b":message-type")
        if kind not in _MESSAGE_TYPES:
            raise AgentStreamError("an event-stream message has no known :message-type")
        if kind == b"error":
            if b":error-code" not in headers or b":error-message" not in headers:
                raise AgentStreamError("an error message lacks its :error-code or :error-message")
            return
        name = headers.get(b":event-type" if kind == b"event" else b":exception-type", b"")
        member = self._shape.members.get(name.decode("utf-8", "replace"))
        if member is None or not payload:
            return  # newer than this model: botocore skips an event, raises an exception
        try:
            value = json.loads(payload.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise AgentStreamError(f"the payload of a {member.name} message is not UTF-8 JSON") from exc
        if not isinstance(value, dict) or not _conforms(value, member):
            raise AgentStreamError(f"the payload of a {member.name} message does not match the service model")


_PRELUDE: Final = 12  # total length, headers length, prelude CRC
_LENGTHS: Final = struct.Struct("!II")
_BYTES_HEADER: Final = 6
_STRING_HEADER: Final = 7
# Header value type -> its fixed size; byte arrays and strings carry a u16 length instead.
_FIXED_SIZES: Final = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def _headers(data: memoryview) -> dict[bytes, bytes]:
    """The string headers of a message, raw. A malformed header ends the scan: botocore rejects it."""
    headers: dict[bytes, bytes] = {}
    offset, end = 0, len(data)
    while offset < end:
        name_end = offset + 1 + data[offset]
        name = bytes(data[offset + 1 : name_end])
        if name_end >= end:
            break
        kind, offset = data[name_end], name_end + 1
        if kind in (_BYTES_HEADER, _STRING_HEADER):
            if offset + 2 > end:
                break
            size = int.from_bytes(data[offset : offset + 2], "big")
            offset += 2
            if kind == _STRING_HEADER:
                headers[name] = bytes(data[offset : offset + size])
        elif kind in _FIXED_SIZES:
            size = _FIXED_SIZES[kind]
        else:
            break
        offset += size
    return headers


def _conforms(value: Any, shape: Any) -> bool:
    """Whether a JSON value is what botocore's JSON parser expects for ``shape``; ``None`` is absent."""
    if value is None:
        return True
    kind = shape.type_name
    if getattr(shape, "is_document_type", False):
        return True  # a document: any JSON
    if kind == "structure":
        if not isinstance(value, dict):
            return False
        members = shape.members
        return all(_conforms(item, members[key]) for key, item in value.items() if key in members)
    if kind == "list":
        return isinstance(value, list) and all(_conforms(item, shape.member) for item in value)
    if kind == "map":
        return isinstance(value, dict) and all(_conforms(item, shape.value) for item in value.values())
    if kind == "string":
        return isinstance(value, str)
    if kind == "blob":
        return isinstance(value, str) and _is_base64(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return (isinstance(value, int | float) and not isinstance(value, bool)) or value in _FLOAT_WORDS
    if kind == "timestamp":  # botocore parses the value itself; what it cannot parse it raises on
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    return True  # document and any type a later model adds


def _is_base64(text: str) -> bool:
    try:
        binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True


def read_members(
    stream: Iterable[Mapping[str, Any]],
    deadline: Deadline,
    unreadable: Callable[[Exception], Exception],
) -> Generator[Mapping[str, Any], None, None]:
    """An agent's event stream, member by member, each read within ``deadline``.

    Whatever the stream raises while botocore decodes it is raised as ``unreadable(exc)`` (an
    ``ApiError`` passes through). A stream abandoned half-read (an error, or the consumer stopped)
    is closed so its connection is not reused mid-message. Both backends read their stream here.
    """
    members = iter(stream)
    finished = False
    try:
        if deadline.expired():
            raise deadline_exceeded()
        while True:
            try:
                member = next(members)
            except StopIteration:
                break
            except ApiError:
                raise
            except Exception as exc:
                raise unreadable(exc) from exc
            if deadline.expired():  # the event arrived too late to be part of an answer
                raise deadline_exceeded()
            yield member
        if deadline.expired():  # the stream ended after the budget: API Gateway may have given up
            raise deadline_exceeded()
        finished = True
    finally:
        if not finished:
            close = getattr(stream, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
