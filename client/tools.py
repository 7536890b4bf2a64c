"""The RETURN_CONTROL tools that only the client can fulfil, declared once for schema and dispatch.

The Pulumi program registers ``CLIENT_TOOLS`` as the action group ``CLIENT_ACTION_GROUP`` with a
``RETURN_CONTROL`` executor (its function schema comes from ``components.function_schema``), so the
agent hands the call back to the caller of ``POST /chat`` instead of invoking a Lambda. The chat
client (``client.api``) runs the function locally and posts the result on the same session.

Both tools need the human's machine: the Lambda in the VPC knows neither the user's clock nor how to
ask them something. Tools are plain functions with ``Annotated`` parameters (the same convention as
``functions/action_group/tools.py``); a tool raises ``ToolInputError`` for a call that should go back
to the model (the client answers ``REPROMPT`` with its message).

Pure stdlib, no side effects on import: the Pulumi program imports this module to build the schema.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final

from functions.action_group.toolspec import ToolInputError

CLIENT_ACTION_GROUP: Final = "client_tools"

NOT_ASKED: Final = (
    "The user could not be asked: this chat is not interactive. Do not assume an answer; tell the user "
    "what you wanted to confirm and ask them to reply in their next message."
)
_MAX_QUESTION_CHARS: Final = 500
_MAX_ASK_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class ToolContext:
    """What the tools may use of the user's machine; injectable so tests need no terminal or clock.

    ``ask`` shows a prompt and returns the typed line (raising ``EOFError`` when input ends); ``None``
    means non-interactive. ``now`` returns the current aware local time; ``zone`` the IANA zone name.
    """

    ask: Callable[[str], str] | None = None
    now: Callable[[], datetime] | None = None
    zone: Callable[[], str | None] | None = None


_CONTEXT: ContextVar[ToolContext] = ContextVar("client_tool_context", default=ToolContext())  # noqa: B039


@contextlib.contextmanager
def tool_context(context: ToolContext) -> Iterator[ToolContext]:
    """Run tools with ``context`` (for the duration of the ``with`` block, in this thread/task)."""
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def get_local_time() -> str:
    """Returns the user's current local date and time, weekday, UTC offset and time zone, read from the
    clock of the user's own device (the agent's servers do not know where the user is). Use it whenever
    the answer depends on the user's "today", "now", "tomorrow", "this week" or local time of day, or to
    convert a time into the user's time zone. Takes no parameters; returns JSON with iso (ISO 8601 with
    offset), date, time, weekday, utcOffset (e.g. +02:00) and timeZone (an IANA name such as
    Europe/Berlin when the device reports one, otherwise an abbreviation such as CET, or null)."""
    context = _CONTEXT.get()
    now = (context.now or _system_now)()
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.astimezone()
    zone = (context.zone or local_zone_name)() or now.tzname()
    return json.dumps(
        {
            "iso": now.isoformat(timespec="seconds"),
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M:%S"),
            "weekday": now.strftime("%A"),
            "utcOffset": _offset(now),
            "timeZone": zone,
        }
    )


def confirm_with_user(
    question: Annotated[
        str,
        "The yes/no question to show the user, in their language, self-contained and specific, e.g. "
        "'Send the refund of 42.50 EUR for order o-123 now?'. At most 500 characters.",
    ],
) -> str:
    """Asks the human user a yes/no question directly at their terminal and returns their answer
    ("yes" or "no") as JSON. Use it before any step with consequences the user has not explicitly
    approved in this conversation, or when the user must choose between two options. Ask one clear
    question per call. If the user cannot be asked (non-interactive session) the call is refused: then
    do not assume an answer; ask the user in your reply instead."""
    text = " ".join(question.split())
    if not text:
        raise ToolInputError("The question is empty: call confirm_with_user with the yes/no question to ask.")
    if len(text) > _MAX_QUESTION_CHARS:
        raise ToolInputError(
            f"The question has {len(text)} characters; keep it under {_MAX_QUESTION_CHARS} and ask again."
        )
    ask = _CONTEXT.get().ask
    if ask is None:
        raise ToolInputError(NOT_ASKED)
    for _ in range(_MAX_ASK_ATTEMPTS):
        try:
            reply = ask(f"The agent asks: {text} [y/n] ").strip().lower()
        except EOFError:
            raise ToolInputError(NOT_ASKED) from None
        if reply in ("y", "yes"):
            return json.dumps({"question": text, "answer": "yes"})
        if reply in ("n", "no"):
            return json.dumps({"question": text, "answer": "no"})
    return json.dumps({"question": text, "answer": "no", "note": "no clear yes after 3 prompts; treat as no"})


CLIENT_TOOLS: Final[dict[str, Callable[..., Any]]] = {
    "get_local_time": get_local_time,
    "confirm_with_user": confirm_with_user,
}


def local_zone_name() -> str | None:
    """The IANA name of the local zone when the system reveals one ($TZ or /etc/localtime), else None."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if "/" in tz and not tz.startswith("/"):
        return tz
    candidates = [Path(tz)] if tz.startswith("/") else []
    candidates.append(Path("/etc/localtime"))
    for path in candidates:
        with contextlib.suppress(OSError):
            target = str(path.resolve())
            _, marker, name = target.partition("/zoneinfo/")
            if marker and name:
                return name.removeprefix("posix/").removeprefix("right/")
    with contextlib.suppress(OSError):
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
        if name:
            return name
    return None


def _system_now() -> datetime:
    return datetime.fromtimestamp(time.time()).astimezone()


def _offset(now: datetime) -> str:
    delta = now.utcoffset()
    seconds = int(delta.total_seconds()) if delta is not None else 0
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"
