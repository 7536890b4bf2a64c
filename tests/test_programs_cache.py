"""The shared program-run cache (tests/programs.py): one run per resolved config, copies per caller,
fresh runs while a test uses monkeypatch."""

from __future__ import annotations

from typing import Any

import pytest

from offline import engine
from tests import programs


def test_settings_that_resolve_alike_share_one_run_and_each_caller_gets_a_copy() -> None:
    dev = engine.resolve_stack_config("dev")
    az_count = int(dev["bedrock-vpc-agent:azCount"])
    assert (
        programs.run_key("dev")
        == programs.run_key("dev", {"azCount": az_count})
        == programs.run_key("dev", {})
    )
    assert programs.run_key("dev") != programs.run_key("dev", {"azCount": az_count + 1})
    first = programs.shared_run("dev")
    assert programs.run_key("dev") in programs._RUNS
    first.resources.clear()
    again = programs.shared_run("dev", {"azCount": az_count})
    assert again.resources
    assert [r.urn for r in again.resources] == [
        r.urn for r in programs._RUNS[programs.run_key("dev")].run.resources
    ]


def test_a_monkeypatch_test_gets_a_new_run_on_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = engine.run_program

    def counted(stack: str, overrides: Any = None, **options: Any) -> engine.ProgramRun:
        calls.append(stack)
        return real(stack, overrides, **options)

    monkeypatch.setattr(programs, "run_program", counted)
    # A class attribute patched in place: no module global changes, so only the monkeypatch rule
    # keeps the cached run (with the real ARNs) from being handed out.
    arn = engine.AwsMocks._arn
    monkeypatch.setattr(engine.AwsMocks, "_arn", lambda self, *a, **k: arn(self, *a, **k) + "-patched")
    runs = [programs.shared_run("dev"), programs.shared_run("dev")]
    assert calls == ["dev", "dev"]
    vpc = runs[0].one("aws:ec2/vpc:Vpc")
    assert vpc.outputs["arn"].endswith("-patched")
