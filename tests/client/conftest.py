from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO

import pytest

from client.cli import Console, Dependencies, main
from client.tools import ToolContext
from client.transport import HttpClientTransport
from tests.client.fake_api import ACCESS_KEY, SECRET_KEY, FakeApiGateway
from tests.functions.invoker_fakes import make_harness
from tests.functions.runtime_api import FakeRuntimeApi

# The user's clock in these tests: Saturday 2026-03-14 09:30:05 in Berlin (UTC+1).
LOCAL_NOW = datetime(2026, 3, 14, 9, 30, 5, tzinfo=timezone(timedelta(hours=1), "CET"))


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed credentials from the environment only: no profile, no config file, no instance metadata."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "PULUMI_STACK",
        "CHAT_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def streaming_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiGateway]:
    """A STREAM integration of the streaming invoker (its runtime loop, over a local Runtime API)."""
    harness = make_harness(monkeypatch)
    harness.set_env(API_STREAMING="true")
    with FakeRuntimeApi() as runtime:
        server = FakeApiGateway(harness, lambda_runtime=runtime).start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiGateway]:
    server = FakeApiGateway(make_harness(monkeypatch)).start()
    try:
        yield server
    finally:
        server.stop()


class ScriptedStdin(io.StringIO):
    """Lines for the REPL; a KeyboardInterrupt item is raised when reached, as Ctrl-C would."""

    def __init__(self, items: Sequence[str | BaseException]) -> None:
        super().__init__()
        self.items = list(items)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        if not self.items:
            return ""
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item + "\n"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    sleeps: list[float] = field(default_factory=list)

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()

    def errors(self) -> list[str]:
        return [line for line in self.stderr_lines if line.startswith("error:")]


def run_cli(
    argv: Sequence[str],
    stdin: Sequence[str | BaseException] = (),
    *,
    interactive: bool = False,
    context: ToolContext | None = None,
    environ: dict[str, str] | None = None,
    deps: Dependencies | None = None,
) -> Run:
    out, err = io.StringIO(), io.StringIO()
    sleeps: list[float] = []
    stdin_stream: IO[str] = ScriptedStdin(stdin)
    console = Console(stdin_stream, out, err, interactive=interactive)
    if deps is None:
        deps = Dependencies(
            transport=HttpClientTransport(),
            sleep=sleeps.append,
            environ=environ if environ is not None else {"AWS_REGION": "us-east-1"},
            tool_context=context or ToolContext(now=lambda: LOCAL_NOW, zone=lambda: "Europe/Berlin"),
            discover_url=_no_pulumi,
        )
    code = main(list(argv), console, deps)
    return Run(code, out.getvalue(), err.getvalue(), sleeps)


def _no_pulumi(stack: str | None) -> str:
    raise AssertionError("tests pass --url")
