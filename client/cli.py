"""``python -m client chat | ask "..." | ingest``: the command line over ``ChatClient`` (chat, ask)
and the knowledge base's ingestion (``client.ingest``).

Exit codes (client.exits): 0 ok, 1 API or network error, 2 usage or setup error (bad option, no
URL, no credentials), 3 ingest only: still running when the wait ended, 130 interrupted (Ctrl-C).
Every failure is one ``error: ...`` line on stderr, never a traceback. Answers go to stdout;
progress, tool activity and prompts for the user go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any, Final, NoReturn

from client import ingest
from client.api import ApiError, ChatClient, ChatError, Reply, RetryPolicy, StreamCutError
from client.auth import (
    AuthMode,
    CredentialsError,
    Signer,
    SigV4Signer,
    api_key_signer,
    load_credentials,
    no_auth,
    region_from_url,
)
from client.discovery import DiscoveryError, check_url, pulumi_api_url
from client.exits import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from client.render import render_answer, render_interventions, render_sources
from client.tools import ToolContext
from client.transport import HttpClientTransport, StreamingTransport, Transport

END_SESSION_TIMEOUT_S: Final = 5.0
# The streaming API's default budget (120 s) and a margin: an agent may think that long before its
# first word, and the API always answers, with a result or its own error, within its budget.
DEFAULT_TIMEOUT_S: Final = 125.0
CHAT_HELP: Final = "Commands: /new (end this session, start another), /session, /help, /quit (or Ctrl-D)."


class UsageError(Exception):
    """Bad options or missing setup; exit code 2."""


@dataclass
class Console:
    """The terminal, or scripted streams in tests. ``interactive``: a human can answer questions."""

    stdin: IO[str]
    stdout: IO[str]
    stderr: IO[str]
    interactive: bool
    use_input: bool = False  # read with input() (line editing) rather than stdin.readline()

    @classmethod
    def system(cls) -> Console:
        tty = sys.stdin.isatty()
        return cls(sys.stdin, sys.stdout, sys.stderr, interactive=tty, use_input=tty and sys.stdout.isatty())

    def read(self, prompt: str) -> str:
        """One line without its newline; EOFError at end of input."""
        if self.use_input:
            return input(prompt)
        if self.interactive:
            self.stderr.write(prompt)
            self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    def ask(self, prompt: str) -> str:
        """A question from a tool: shown on stderr even when input is scripted."""
        if self.use_input:
            return input(prompt)
        self.stderr.write(prompt + "\n")
        self.stderr.flush()
        return self.read("")

    def out(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def write(self, text: str) -> None:
        """Part of a line of the answer, shown at once (streamed text)."""
        self.stdout.write(text)
        self.stdout.flush()

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


@dataclass
class Dependencies:
    """The outside world, injectable for tests."""

    transport: Transport = field(default_factory=HttpClientTransport)
    sleep: Callable[[float], None] = time.sleep
    load_credentials: Callable[[], Any] = load_credentials
    discover_url: Callable[[str | None], str] = pulumi_api_url
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    policy: RetryPolicy | None = None
    tool_context: ToolContext | None = None  # clock and zone for the tools; ``ask`` comes from the console
    clock: Callable[[], float] = time.monotonic
    stack_outputs: Callable[[str | None], dict[str, Any]] = ingest.stack_outputs  # every output of a stack
    bedrock_agent: Callable[[str | None], Any] = ingest.bedrock_agent_client  # region -> bedrock-agent client


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--url", help="the POST /chat URL (default: `pulumi stack output apiUrl`)")
    group.add_argument("--stack", help="Pulumi stack whose apiUrl to use (default: $PULUMI_STACK)")
    group.add_argument(
        "--auth",
        choices=("iam", "api-key", "none"),
        default="iam",
        help="iam: SigV4 with your AWS credentials (default); api-key: x-api-key; none",
    )
    group.add_argument("--api-key", help="API key for --auth api-key (default: $CHAT_API_KEY)")
    group.add_argument("--region", help="region to sign for (default: from the URL, else $AWS_REGION)")
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for an answer to start, or between streamed parts ({DEFAULT_TIMEOUT_S:g})",
    )
    group.add_argument(
        "--no-stream",
        action="store_true",
        help="wait for each whole answer instead of printing it as the agent writes (docs/streaming.md)",
    )
    session = common.add_argument_group("session")
    session.add_argument("--session-id", help="continue this session instead of starting a new one")
    session.add_argument(
        "--keep-session", action="store_true", help="do not end the session (DELETE) when exiting"
    )
    session.add_argument(
        "--trace", action="store_true", help="enable the agent trace (the API logs its token usage)"
    )

    parser = _Parser(
        prog="python -m client",
        description=(
            "Chat with the Bedrock agent behind the API (docs/api.md), or index the knowledge base's "
            "documents (ingest)."
        ),
        epilog=(
            "Exit codes: 0 ok, 1 API or network error, 2 usage error, 3 ingest still running, "
            "130 interrupted."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{chat,ask,ingest}")
    commands.add_parser("chat", parents=[common], help="interactive conversation", description=CHAT_HELP)
    ask = commands.add_parser("ask", parents=[common], help="one question, one answer")
    ask.add_argument("text", help="the question")
    ask.add_argument("--json", action="store_true", help="print the API's response JSON")
    ingest.add_parser(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    console: Console | None = None,
    deps: Dependencies | None = None,
) -> int:
    console = console or Console.system()
    deps = deps or Dependencies()
    client: ChatClient | None = None
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(argv)
        if args.command == "ingest":
            return ingest.run(args, console, deps)
        client = make_client(args, console, deps)
        if args.command == "ask":
            return run_ask(client, args, console)
        return run_chat(client, args, console)
    except UsageError as error:
        console.err(f"error: {error}")
        if args is None:
            console.err("usage: python -m client {chat,ask,ingest} [options]; see python -m client --help")
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.err("")
        if client is not None and args is not None and not args.keep_session:
            _end_session(client, console)
        return EXIT_INTERRUPTED


def make_client(args: argparse.Namespace, console: Console, deps: Dependencies) -> ChatClient:
    try:
        url = (
            check_url(args.url)
            if args.url
            else deps.discover_url(args.stack or deps.environ.get("PULUMI_STACK"))
        )
    except DiscoveryError as error:
        raise UsageError(str(error)) from None
    signer = make_signer(args.auth, url, args.region, args.api_key, deps)
    # A tool may ask the human when one is at the keyboard: always in chat, in ask only on a terminal.
    base = deps.tool_context or ToolContext()
    context = replace(base, ask=console.ask if args.command == "chat" or console.interactive else None)
    return ChatClient(
        url,
        signer=signer,
        transport=deps.transport,
        timeout=args.timeout,
        session_id=args.session_id,
        enable_trace=args.trace,
        context=context,
        policy=deps.policy,
        on_tool=lambda name: console.err(f"· running client tool {name}"),
        sleep=deps.sleep,
        streaming=(
            deps.transport
            if isinstance(deps.transport, StreamingTransport) and not args.no_stream and not _wants_json(args)
            else None
        ),
    )


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


class _StreamPrinter:
    """Prints a streamed answer as it arrives, and ends its line once."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._open = False

    def write(self, text: str) -> None:
        if text:
            self._console.write(text)
            self._open = not text.endswith("\n")

    def end(self) -> None:
        if self._open:
            self._console.write("\n")
            self._open = False


def _ask(client: ChatClient, text: str, console: Console) -> Reply:
    """One turn; a streaming client prints the answer while it arrives, then its sources.
    Ctrl-C while an answer streams stops reading it (raised as ``StreamCutError``)."""
    if not client.streams:
        reply = client.ask(text)
        console.out(_answer(reply))
        return reply
    printer = _StreamPrinter(console)
    try:
        reply = client.ask(text, on_text=printer.write)
    except KeyboardInterrupt:
        printer.end()
        raise StreamCutError("", "interrupted") from None
    finally:
        printer.end()
    if not reply.streamed:  # the API answered JSON: print it whole, with its citation markers
        console.out(_answer(reply))
        return reply
    sources = render_sources(reply.citations)
    if sources:
        console.out("\n" + sources)
    return reply


def make_signer(
    auth: AuthMode, url: str, region: str | None, api_key: str | None, deps: Dependencies
) -> Signer:
    if auth == "none":
        return no_auth
    if auth == "api-key":
        key = api_key or deps.environ.get("CHAT_API_KEY")
        if not key:
            raise UsageError("--auth api-key needs --api-key or the CHAT_API_KEY environment variable")
        return api_key_signer(key)
    region = (
        region
        or region_from_url(url)
        or deps.environ.get("AWS_REGION")
        or deps.environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise UsageError("cannot tell the API's region from its URL: pass --region or set AWS_REGION")
    try:
        return SigV4Signer(deps.load_credentials(), region)
    except CredentialsError as error:
        raise UsageError(str(error)) from None


def run_ask(client: ChatClient, args: argparse.Namespace, console: Console) -> int:
    status = EXIT_OK
    try:
        if args.json:
            reply = client.ask(args.text)
            console.out(json.dumps(reply.raw, ensure_ascii=False, indent=2))
        else:
            reply = _ask(client, args.text, console)
            _report_guardrail(reply, console)
        _report_tools(reply, console)
    except CredentialsError as error:
        console.err(f"error: {error}")
        status = EXIT_ERROR
    except ChatError as error:
        console.err(f"error: {error}")
        status = EXIT_ERROR
    if not args.keep_session:
        _end_session(client, console)
    return status


def run_chat(client: ChatClient, args: argparse.Namespace, console: Console) -> int:
    console.err(f"Chatting with {client.url}. {CHAT_HELP}")
    status = EXIT_OK
    while True:
        try:
            line = console.read("you> ").strip()
        except EOFError:
            console.err("")
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            console.err(CHAT_HELP)
            continue
        if line == "/session":
            console.err(f"session: {client.session_id or '(none yet)'}")
            continue
        if line == "/new":
            _end_session(client, console)
            console.err("· new session")
            continue
        if line.startswith("/"):
            console.err(f"unknown command {line.split()[0]}; {CHAT_HELP}")
            continue
        try:
            reply = _ask(client, line, console)
            _report_guardrail(reply, console)
        except CredentialsError as error:
            console.err(f"error: {error}")
            status = EXIT_ERROR
            break
        except ApiError as error:
            console.err(f"error: {error}")
            status = EXIT_ERROR
            if error.status in (401, 403):  # retyping the question will not fix credentials
                break
            continue
        except ChatError as error:
            console.err(f"error: {error}")
            status = EXIT_ERROR
            continue
        _report_tools(reply, console)
    if not args.keep_session:
        _end_session(client, console)
    return status


def _answer(reply: Reply) -> str:
    return render_answer(reply.completion, reply.citations)


def _report_guardrail(reply: Reply, console: Console) -> None:
    """Say so when the guardrail intervened: the text shown is then its message, not the agent's."""
    notice = render_interventions(reply.guardrail_interventions)
    for line in notice.splitlines():
        console.err(f"· {line}")


def _report_tools(reply: Reply, console: Console) -> None:
    for run in reply.tool_runs:
        if run.state != "ok":
            detail = f" ({type(run.error).__name__}: {run.error})" if run.error is not None else ""
            console.err(f"· client tool {run.action_group}.{run.name} answered {run.state}{detail}")


def _end_session(client: ChatClient, console: Console) -> None:
    """Best effort: a failure is a warning (Bedrock ends idle sessions on its own)."""
    session_id = client.session_id
    if session_id is None:
        return
    try:
        client.end_session(timeout=END_SESSION_TIMEOUT_S)
    except (ChatError, CredentialsError) as error:
        console.err(f"warning: could not end session {session_id}: {error}")
    except KeyboardInterrupt:
        console.err(f"warning: session {session_id} not ended (interrupted)")
    else:
        console.err(f"· session {session_id} ended")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 900:
        raise argparse.ArgumentTypeError("must be between 0 and 900 seconds")
    return value
