"""The engine's stand-in for the SDK's per-registration stack trace sends the very same message."""

from __future__ import annotations

import runpy
from pathlib import Path

from google.protobuf import json_format
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

from offline import engine


def both() -> tuple[source_pb2.StackTrace, source_pb2.StackTrace]:
    assert engine.SDK_STACK_TRACE is not None
    return engine.SDK_STACK_TRACE(), engine._stack_trace()


class Resource:  # stands for pulumi.Resource: the first __init__ above the SDK's call
    def __init__(self) -> None:
        self.traces = both()


class CustomResource(Resource):
    def __init__(self) -> None:
        super().__init__()


class Bucket(CustomResource):
    def __init__(self) -> None:
        super().__init__()


def build_in_user_code() -> Bucket:
    return Bucket()


def test_the_sdk_looks_up_the_engine_s_stack_trace() -> None:
    assert sdk_resource._get_stack_trace is engine._stack_trace


def test_user_frames_above_three_constructors_are_the_same_message() -> None:
    sdk, ours = build_in_user_code().traces
    assert ours == sdk
    frames = json_format.MessageToDict(ours)["frames"]
    assert frames[0]["pc"]["uri"] == Path(__file__).as_uri()
    assert frames[0]["pc"]["line"] == build_in_user_code.__code__.co_firstlineno + 1
    assert len(frames) > 3  # pytest's own frames follow, oldest last


def test_a_frame_without_a_file_has_no_position_in_both(tmp_path: Path) -> None:
    # runpy's frames are "<frozen runpy>": not a path, so no position, in both.
    script = tmp_path / "program.py"
    script.write_text("from tests.offline.test_engine_stack_trace import Bucket\nresult = Bucket()\n")
    sdk, ours = runpy.run_path(str(script))["result"].traces
    assert ours == sdk
    assert any(not frame.HasField("pc") for frame in ours.frames)
    assert ours.frames[0].pc.uri == script.as_uri()


def test_fewer_than_three_constructors_give_an_empty_trace_in_both() -> None:
    sdk, ours = CustomResource().traces
    assert ours == sdk == source_pb2.StackTrace()
    sdk, ours = both()
    assert ours == sdk == source_pb2.StackTrace()
