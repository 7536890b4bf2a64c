"""Streamed API answers: STREAM integrations only where streams survive, on the matching URI, with a
function that stops working when API Gateway stops waiting.

API Gateway streams an integration's response (`responseTransferMode: STREAM`) on every REST endpoint
type, but an edge-optimized API ends a stream that is idle for 30 s (5 minutes for regional and private
APIs): an agent thinking between two chunks would be cut mid-answer (API Gateway developer guide,
"Stream the integration response for your proxy integrations in API Gateway"). The integration's timeout
against its function's timeout is `api-integration-timeout-within-function-timeout` (api.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from . import tokens
from .api import DEFAULT_INTEGRATION_TIMEOUT_MS, integrated_functions
from .framework import Config, Resource, RuleSet, Setting, Stack, as_list, each, is_unknown, number

rules = RuleSet()

STREAM: Final = "STREAM"
STREAMING_ENDPOINTS: Final = ("REGIONAL", "PRIVATE")
STREAMING_URI_SUFFIX: Final = "/response-streaming-invocations"

DEADLINE_VARS = Setting(
    "deadlineEnvVars",
    {"type": "array", "items": {"type": "string"}},
    ["API_DEADLINE_MS"],
    "Lambda environment variables holding the deadline (ms) the function works to.",
)


def _endpoint_types(api: Resource) -> list[str] | None:
    """The API's endpoint types; None when unknown (preview). No configuration means EDGE."""
    types = api.get("endpointConfiguration.types")
    if is_unknown(types):
        return None
    return [str(t).upper() for t in as_list(types)] or ["EDGE"]


def _stream_endpoint_problems(stack: Stack, integration: Resource) -> Iterator[str]:
    if integration.get("responseTransferMode") != STREAM:
        return
    for api in stack.refs(integration, "restApi", (tokens.REST_API,)).found:
        types = _endpoint_types(api)
        if types is not None and not set(types) <= set(STREAMING_ENDPOINTS):
            yield (
                f"{integration.label} streams (responseTransferMode STREAM) on {api.label}, whose endpoint "
                f"is {'/'.join(types)}: an edge-optimized API cuts a stream idle for 30 s"
            )


@rules.stack(
    "api-stream-regional-or-private",
    description=(
        "An integration that streams its response (responseTransferMode STREAM) must belong to a REGIONAL "
        "or PRIVATE REST API: edge-optimized APIs end a stream after 30 s without data (5 minutes for "
        "regional and private), so an agent that thinks between two chunks is cut mid-answer."
    ),
    remediation=(
        "Set endpoint_configuration={'types': 'REGIONAL'} (or PRIVATE) on the RestApi, or put your own "
        "CloudFront distribution with a longer origin response timeout in front of a regional API."
    ),
)
def api_stream_regional_or_private(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.INTEGRATION), lambda i: _stream_endpoint_problems(stack, i))


@rules.resource(
    "api-stream-integration-uri",
    types=(tokens.INTEGRATION,),
    description=(
        "A Lambda proxy integration's URI must match its transfer mode: STREAM calls the function's "
        "response-streaming invocation (.../2021-11-15/functions/<arn>/response-streaming-invocations, "
        "InvokeWithResponseStream), BUFFERED the classic one (.../invocations); otherwise API Gateway "
        "reads a streamed answer as a malformed proxy response, or never streams."
    ),
    remediation=(
        "Use the function's response_streaming_invoke_arn with response_transfer_mode='STREAM', and its "
        "invoke_arn with 'BUFFERED'."
    ),
)
def api_stream_integration_uri(res: Resource, _: Config) -> Iterator[str]:
    uri, mode = res.get("uri"), res.get("responseTransferMode")
    if res.get("type") != "AWS_PROXY" or not isinstance(uri, str) or ":lambda:path/" not in uri:
        return
    if is_unknown(mode):
        return
    streaming_uri = uri.endswith(STREAMING_URI_SUFFIX)
    if mode == STREAM and not streaming_uri:
        yield f"{res.label} streams but calls the buffered invocation (.../{uri.rsplit('/', 1)[-1]})"
    elif mode != STREAM and streaming_uri:
        yield f"{res.label} is BUFFERED but calls the response-streaming invocation"


def _deadline_problems(stack: Stack, integration: Resource, names: list[str]) -> Iterator[str]:
    if integration.get("type") not in ("AWS_PROXY", "AWS"):
        return
    raw = integration.get("timeoutMilliseconds")
    if is_unknown(raw):
        return
    timeout_ms = number(raw) if raw is not None else DEFAULT_INTEGRATION_TIMEOUT_MS
    if timeout_ms is None:
        return
    for function in integrated_functions(stack, integration):
        variables = function.get("environment.variables")
        if not isinstance(variables, Mapping):
            continue
        for name in names:
            value = variables.get(name)
            deadline = number(value) if isinstance(value, str | int) else None
            if deadline is not None and deadline > timeout_ms:
                yield (
                    f"{function.label} {name} is {deadline:g} ms, beyond the {timeout_ms:g} ms timeout of "
                    f"{integration.label}: it keeps working (and billing) after API Gateway gave up"
                )


@rules.stack(
    "api-function-deadline-within-integration",
    settings=[DEADLINE_VARS],
    description=(
        "The deadline a Lambda behind an integration works to (API_DEADLINE_MS) must not exceed the "
        "integration's timeout (default 29 s): API Gateway would answer 504 while the function still runs, "
        "and a streamed answer would be cut without its final event."
    ),
    remediation="Set the function's API_DEADLINE_MS to the integration's timeout_milliseconds.",
)
def api_function_deadline_within_integration(stack: Stack, config: Config) -> Iterator[tuple[str, str]]:
    names = [str(n) for n in as_list(config["deadlineEnvVars"])]
    yield from each(stack.of_type(tokens.INTEGRATION), lambda i: _deadline_problems(stack, i, names))
