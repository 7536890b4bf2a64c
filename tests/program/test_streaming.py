"""Streaming (`apiStreaming`) as the program wires it: the exec wrapper, its archive, the API."""

from __future__ import annotations

import stat
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from components.function import FUNCTIONS_DIR, archive_bytes
from offline.engine import ProgramRun
from tests.program.conftest import RunProgram, policy_document

FUNCTION = "aws:lambda/function:Function"
BOOTSTRAP = "functions/invoker/bootstrap"


def invoker_inputs(run: ProgramRun) -> dict[str, Any]:
    return run.one(FUNCTION, "invoker-function").inputs


def test_streaming_invoker_starts_through_its_exec_wrapper(program: RunProgram) -> None:
    variables = invoker_inputs(program("dev"))["environment"]["variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == f"/var/task/{BOOTSTRAP}"
    # The managed runtime still loads the same handler when the wrapper is absent (buffered).
    buffered = invoker_inputs(program("dev", apiStreaming=False))
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in buffered["environment"]["variables"]
    assert buffered["handler"] == "functions.invoker.handler.handler"


@pytest.mark.parametrize("streaming", [True, False])
def test_the_wrapper_is_executable_in_the_deployed_zip(program: RunProgram, streaming: bool) -> None:
    code = invoker_inputs(program("dev", apiStreaming=streaming))["code"]
    with zipfile.ZipFile(code["path"]) as zipped:
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
        assert all(info.create_system == 3 for info in zipped.infolist())  # Unix modes are meaningful
    assert modes[BOOTSTRAP] == stat.S_IFREG | 0o755
    assert {mode for name, mode in modes.items() if name != BOOTSTRAP} == {stat.S_IFREG | 0o644}
    assert "functions/invoker/runtime.py" in modes


def test_the_archive_is_byte_for_byte_reproducible() -> None:
    assert archive_bytes("invoker", ["bootstrap"]) == archive_bytes("invoker", ["bootstrap"])
    with pytest.raises(FileNotFoundError, match="functions/invoker/missing"):
        archive_bytes("invoker", ["missing"])


def test_the_wrapper_runs_the_streaming_runtime_with_the_interpreter_lambda_passes(tmp_path: Path) -> None:
    # A stand-in interpreter records how it is started; Lambda passes the runtime's interpreter first.
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "$PWD|$PYTHONPATH|$*"\n')
    fake.chmod(0o755)
    task = FUNCTIONS_DIR.parent
    out = subprocess.run(
        [str(FUNCTIONS_DIR / "invoker" / "bootstrap"), str(fake), "/var/runtime/bootstrap.py"],
        env={"LAMBDA_TASK_ROOT": str(task), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cwd, pythonpath, args = out.split("|")
    assert cwd == str(task)
    assert pythonpath.split(":")[:2] == [str(task), "/opt/python"]
    assert args == "-c from functions.invoker.runtime import main; main()"


@pytest.mark.parametrize("streaming", [True, False])
def test_the_invoker_knows_whether_to_ask_the_agent_to_stream(program: RunProgram, streaming: bool) -> None:
    variables = invoker_inputs(program("dev", apiStreaming=streaming))["environment"]["variables"]
    assert variables["API_STREAMING"] == str(streaming).lower()


def test_the_agent_role_may_stream_its_model(program: RunProgram) -> None:
    # streamFinalResponse makes the agent call InvokeModelWithResponseStream on its model.
    run = program("dev")
    document = policy_document(
        run.one("aws:iam/rolePolicy:RolePolicy", "agent-model-access").inputs["policy"]
    )
    actions = {
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "bedrock:InvokeModelWithResponseStream" in actions
