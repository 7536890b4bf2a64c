"""Where the stack is: ``--url`` (or other options), or the outputs of a Pulumi stack of this project."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

PROJECT_DIR: Final = Path(__file__).resolve().parent.parent
_HINT: Final = "pass --url or install the Pulumi CLI"

Runner = Callable[[Sequence[str], float, Path], "subprocess.CompletedProcess[str]"]


class DiscoveryError(Exception):
    """The API URL is unknown or unusable; the message says what to do."""


def check_url(url: str) -> str:
    """The chat URL, validated: http(s), a host, no query or fragment; a stage URL gets ``/chat``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DiscoveryError(
            "--url must be an https:// URL such as "
            f"https://<id>.execute-api.<region>.amazonaws.com/v1/chat; got {url!r}"
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise DiscoveryError(f"--url must not carry credentials, a query or a fragment; got {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/chat"):
        path += "/chat"  # the stage's invoke URL; the chat resource is below it
    return f"{parts.scheme}://{parts.netloc}{path}"


def pulumi_api_url(
    stack: str | None,
    *,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner | None = None,
    timeout: float = 60.0,
    cwd: Path = PROJECT_DIR,
) -> str:
    """``pulumi stack output apiUrl [--stack S]`` run in the project directory."""
    url = _stack_output(
        ["apiUrl"],
        stack,
        what="API URL",
        hint=_HINT,
        retry="pass --url or --stack",
        which=which,
        run=run,
        timeout=timeout,
        cwd=cwd,
    ).strip()
    if not url:
        raise DiscoveryError("the stack has no apiUrl output (is it deployed?); pass --url")
    return check_url(url)


def pulumi_stack_outputs(
    stack: str | None,
    *,
    hint: str,
    which: Callable[[str], str | None] = shutil.which,
    run: Runner | None = None,
    timeout: float = 60.0,
    cwd: Path = PROJECT_DIR,
) -> dict[str, Any]:
    """Every output of the stack: ``pulumi stack output --json [--stack S]`` in the project directory.
    ``hint`` says how to do without the CLI (the options that replace the outputs)."""
    text = _stack_output(
        ["--json"],
        stack,
        what="stack outputs",
        hint=f"{hint} or install the Pulumi CLI",
        retry=f"{hint} or --stack",
        which=which,
        run=run,
        timeout=timeout,
        cwd=cwd,
    )
    try:
        outputs = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise DiscoveryError(f"`pulumi stack output --json` printed no JSON object; {hint}") from None
    if not isinstance(outputs, dict):
        raise DiscoveryError(f"`pulumi stack output --json` printed no JSON object; {hint}")
    return outputs


def _stack_output(
    arguments: Sequence[str],
    stack: str | None,
    *,
    what: str,
    hint: str,
    retry: str,
    which: Callable[[str], str | None],
    run: Runner | None,
    timeout: float,
    cwd: Path,
) -> str:
    """The standard output of ``pulumi stack output ARGUMENTS``; every failure says what to do."""
    executable = which("pulumi")
    if executable is None:
        raise DiscoveryError(f"no {what}: the Pulumi CLI is not on PATH; {hint}")
    shown = " ".join(["pulumi", "stack", "output", *arguments])
    command = [executable, "stack", "output", *arguments, "--non-interactive"]
    if stack:
        command += ["--stack", stack]
    try:
        completed = (run or _run)(command, timeout, cwd)
    except subprocess.TimeoutExpired:
        raise DiscoveryError(f"`{shown}` did not finish within {timeout:g} s; {hint}") from None
    except OSError as error:
        raise DiscoveryError(f"cannot run the Pulumi CLI ({error.strerror or error}); {hint}") from None
    if completed.returncode != 0:
        lines = [line.strip() for line in (completed.stderr or "").splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {completed.returncode}"
        where = f" for stack {stack!r}" if stack else ""
        raise DiscoveryError(f"`{shown}`{where} failed: {detail}; {retry}")
    return completed.stdout or ""


def _run(command: Sequence[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - a fixed argument list, no shell
        list(command), capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )
