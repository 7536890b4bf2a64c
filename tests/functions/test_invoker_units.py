"""Unit tests of the invoker's plain functions, the test encoder, and the client's botocore config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError
from botocore.session import get_session

from functions.invoker import apigw, backend, classic
from functions.invoker import handler as handler_module
from functions.invoker.budget import Deadline, RetryPolicy, request_deadline
from functions.invoker.config import AGENT_BACKENDS, Settings, load_settings
from functions.invoker.errors import ConfigError
from tests.functions import eventstream as es
from tests.functions.invoker_fakes import BASE_ENV, BOTO_SESSION, FakeClock

ROOT = Path(__file__).resolve().parents[2]


# --- the test encoder against botocore's decoder ------------------------------------------------


def test_encoder_round_trips_through_botocores_decoder() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(es.chunk("héllo") + es.exception("throttlingException", "slow down"))

    first, second = list(buffer)

    assert first.headers == {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first.payload) == {"bytes": "aMOpbGxv"}
    assert first.prelude.total_length == len(es.chunk("héllo"))
    assert second.headers[":exception-type"] == "throttlingException"
    assert second.to_response_dict()["status_code"] == 400
    assert json.loads(second.payload) == {"message": "slow down"}


def test_encoder_crcs_are_checked_by_botocore() -> None:
    message = bytearray(es.chunk("x"))
    message[20] ^= 0x01  # a header byte: the message CRC no longer matches
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(message))

    with pytest.raises(ChecksumMismatch):
        list(buffer)


# --- the boto3 client ---------------------------------------------------------------------------


def test_client_config_leaves_retries_to_the_handler() -> None:
    client: Any = classic.create_client(read_timeout_s=28.0, session=BOTO_SESSION)

    config = client.meta.config
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (2.0, 28.0)
    assert config.tcp_keepalive is True
    assert client.meta.service_model.service_name == "bedrock-agent-runtime"


def test_shared_clients_are_kept_per_read_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[float] = []

    def fake_create(read_timeout_s: float, session: Any = None) -> Any:
        created.append(read_timeout_s)
        return object()

    monkeypatch.setattr(handler_module, "_clients", {})
    monkeypatch.setattr(classic.ClassicBackend, "create_client", staticmethod(fake_create))
    settings = Settings("AGENT12345", "ALIAS12345", frozenset(), 29_000)

    first = handler_module._shared_client(settings, 28.0)
    again = handler_module._shared_client(settings, 28.0)
    for timeout in (27.0, 26.0, 25.0, 24.0):  # retries: one client each, at most MAX_CLIENTS kept
        handler_module._shared_client(settings, timeout)

    assert again is first
    assert created == [28.0, 27.0, 26.0, 25.0, 24.0]
    assert set(handler_module._clients) == {("classic", t) for t in (27.0, 26.0, 25.0, 24.0)}


def test_every_configurable_backend_is_implemented() -> None:
    assert set(backend.BACKENDS) == set(AGENT_BACKENDS)


def test_an_unknown_backend_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="AGENT_BACKEND must be one of classic"):
        load_settings({**BASE_ENV, "AGENT_BACKEND": "bedrock"})
    assert load_settings({**BASE_ENV, "AGENT_BACKEND": " classic "}).backend == "classic"


def test_importing_the_handler_creates_no_client_and_skips_boto3() -> None:
    code = (
        "import sys, functions.invoker.handler as h;"
        "print(h._clients == {}, 'boto3' in sys.modules, 'botocore.parsers' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )

    assert result.stdout.split() == ["True", "False", "False"]


# --- configuration ------------------------------------------------------------------------------


def test_settings_from_a_complete_environment() -> None:
    settings = load_settings({**BASE_ENV, "API_DEADLINE_MS": " 15000 "})

    assert settings == Settings(
        agent_id="AGENT12345",
        agent_alias_id="ALIAS12345",
        allowed_origins=frozenset({"https://app.example.com", "http://localhost:5173"}),
        api_deadline_ms=15_000,
    )


def test_settings_defaults() -> None:
    settings = load_settings({"AGENT_ID": "A1", "AGENT_ALIAS_ID": "B2"})

    assert settings.allowed_origins == frozenset()
    assert settings.api_deadline_ms == 29_000


@pytest.mark.parametrize(
    "origin",
    ["https://app.example.com", "http://localhost:5173", "https://[::1]:8443", "https://a-b.example.co.uk"],
)
def test_valid_origins(origin: str) -> None:
    settings = load_settings({**BASE_ENV, "ALLOWED_ORIGINS": json.dumps([origin])})

    assert settings.allowed_origins == frozenset({origin})


@pytest.mark.parametrize(
    "origins",
    [
        ["*"],
        ["null"],
        ["https://app.example.com/"],
        ["https://app.example.com/path"],
        ["https://*.example.com"],
        ["app.example.com"],
        ["ftp://app.example.com"],
        [1],
        {"origin": "https://app.example.com"},
    ],
)
def test_invalid_origins_are_configuration_errors(origins: object) -> None:
    with pytest.raises(ConfigError):
        load_settings({**BASE_ENV, "ALLOWED_ORIGINS": json.dumps(origins)})


# --- deadline and backoff -----------------------------------------------------------------------


def test_deadline_is_the_earlier_of_api_and_lambda_minus_the_margin() -> None:
    clock = FakeClock(100.0)

    api_bound = request_deadline(clock, 100.0, lambda_remaining_ms=60_000, api_deadline_ms=29_000)
    lambda_bound = request_deadline(clock, 100.0, lambda_remaining_ms=5_000, api_deadline_ms=29_000)
    no_context = request_deadline(clock, 100.0, lambda_remaining_ms=None, api_deadline_ms=10_000)

    assert api_bound == Deadline(clock, 128.0)
    assert lambda_bound == Deadline(clock, 104.0)
    assert no_context == Deadline(clock, 109.0)
    clock.now = 103.5
    assert lambda_bound.remaining() == 0.5
    assert lambda_bound.expired() is False
    clock.now = 104.0
    assert lambda_bound.expired() is True


def test_full_jitter_backoff() -> None:
    policy = RetryPolicy()

    assert [policy.ceiling(n) for n in range(1, 8)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.delay(3, lambda: 0.0) == 0.0
    assert policy.delay(3, lambda: 0.999) == pytest.approx(0.999)
    assert [policy.retry_after_s(n) for n in (1, 2, 3, 4, 5)] == [1, 1, 1, 2, 4]


# --- headers ------------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_ambiguity_is_absence() -> None:
    headers = apigw.Headers(
        {"Content-Type": "application/json", "X-Single": "1"},
        {"content-type": ["application/json"], "Origin": ["https://a", "https://b"], "X-Dup": ["v", "v"]},
    )

    assert headers.get("CONTENT-TYPE") == "application/json"
    assert headers.get("x-single") == "1"
    assert headers.get("origin") is None
    assert headers.present("origin") is True
    assert headers.get("x-dup") == "v"
    assert headers.get("missing") is None
    assert apigw.Headers(None, None).get("origin") is None


# --- response shaping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"type": "S3", "s3Location": {"uri": "s3://b/k"}}, {"type": "S3", "uri": "s3://b/k"}),
        ({"type": "WEB", "webLocation": {"url": "https://w"}}, {"type": "WEB", "uri": "https://w"}),
        (
            {"type": "CONFLUENCE", "confluenceLocation": {"url": "https://c"}},
            {"type": "CONFLUENCE", "uri": "https://c"},
        ),
        (
            {"type": "SALESFORCE", "salesforceLocation": {"url": "https://s"}},
            {"type": "SALESFORCE", "uri": "https://s"},
        ),
        (
            {"type": "SHAREPOINT", "sharePointLocation": {"url": "https://p"}},
            {"type": "SHAREPOINT", "uri": "https://p"},
        ),
        (
            {"type": "KENDRA", "kendraDocumentLocation": {"uri": "https://k"}},
            {"type": "KENDRA", "uri": "https://k"},
        ),
        ({"type": "CUSTOM", "customDocumentLocation": {"id": "doc-7"}}, {"type": "CUSTOM", "uri": "doc-7"}),
        (
            {"type": "GOOGLEDRIVE", "googleDriveLocation": {"url": "https://g"}},
            {"type": "GOOGLEDRIVE", "uri": "https://g"},
        ),
        (
            {"type": "ONEDRIVE", "oneDriveLocation": {"url": "https://o"}},
            {"type": "ONEDRIVE", "uri": "https://o"},
        ),
        ({"type": "SQL", "sqlLocation": {"query": "SELECT secret"}}, {"type": "SQL", "uri": None}),
    ],
)
def test_every_reference_location_becomes_type_and_uri(
    location: dict[str, Any], expected: dict[str, Any]
) -> None:
    citation = {"retrievedReferences": [{"content": {"text": "excerpt"}, "location": location}]}

    assert classic.normalize_citation(citation) == {"text": "", "span": None, "references": [expected]}


def test_unknown_return_control_members_are_skipped() -> None:
    payload = {
        "invocationId": "inv-9",
        "invocationInputs": [
            {"futureInvocationInput": {}},
            {"functionInvocationInput": {"actionGroup": "g"}},
        ],
    }

    assert classic.normalize_return_control(payload) == {
        "invocationId": "inv-9",
        "invocationInputs": [{"actionGroup": "g", "function": None, "parameters": []}],
    }


def test_upstream_error_type_is_normalised_from_both_spellings() -> None:
    raised = ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "InvokeAgent")
    streamed = EventStreamError({"Error": {"Code": "throttlingException", "Message": "x"}}, "InvokeAgent")

    assert classic.upstream_type(raised) == classic.upstream_type(streamed) == "ThrottlingException"
    assert set(classic.THROTTLING_ERRORS) | set(classic.UPSTREAM_ERRORS) == _modeled_invoke_agent_errors()


def _modeled_invoke_agent_errors() -> set[str]:
    """Every error InvokeAgent declares in botocore's service model: the table must cover them all."""
    service = get_session().get_service_model("bedrock-agent-runtime")
    declared = {shape.name for shape in service.operation_model("InvokeAgent").error_shapes}
    stream_members = service.shape_for("ResponseStream").members
    in_stream = {name[0].upper() + name[1:] for name in stream_members if name.endswith("Exception")}
    assert in_stream == declared  # the stream can carry exactly the errors the call can raise
    return declared
