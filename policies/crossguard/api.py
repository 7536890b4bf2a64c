"""API Gateway (REST): every method authorized, stages logged and throttled, CORS never open."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from . import tokens
from .framework import (
    ADVISORY,
    Config,
    Resource,
    RuleSet,
    Setting,
    Stack,
    as_list,
    each,
    is_unknown,
    number,
)

rules = RuleSet()


@rules.resource(
    "api-method-authorization",
    types=(tokens.METHOD,),
    description=(
        "Every API method except OPTIONS (CORS preflight) must require a caller identity: an "
        "authorizer (AWS_IAM, CUSTOM, COGNITO_USER_POOLS) or an API key (apiKeyRequired, metered by a "
        "usage plan). authorization NONE without a key lets anyone on the internet invoke the agent."
    ),
    remediation=(
        "Set authorization to AWS_IAM/CUSTOM/COGNITO_USER_POOLS (with authorizer_id for the last two), or "
        "api_key_required=True plus a usage plan and key."
    ),
)
def api_method_authorization(res: Resource, _: Config) -> Iterator[str]:
    method, auth, key = res.get("httpMethod"), res.get("authorization"), res.get("apiKeyRequired")
    if method == "OPTIONS" or is_unknown(auth) or is_unknown(key):
        return
    kind = str(auth).upper()
    if kind == "NONE" and key is not True:
        yield f"{res.label} ({method}) has authorization NONE and no API key requirement"
    if kind in ("CUSTOM", "COGNITO_USER_POOLS") and res.get("authorizerId") is None:
        yield f"{res.label} ({method}) uses {kind} authorization without an authorizerId"


def _methods_of(stack: Stack, api: Resource) -> list[Resource]:
    return [m for m in stack.referrers(api, (tokens.METHOD,), "restApi") if m.get("httpMethod") != "OPTIONS"]


def _plans_for(stack: Stack, api: Resource) -> list[Resource]:
    return stack.referrers(api, (tokens.USAGE_PLAN,), "apiStages")


def _usage_plan_problems(stack: Stack, api: Resource) -> Iterator[str]:
    if not any(m.get("apiKeyRequired") is True for m in _methods_of(stack, api)):
        return
    plans = _plans_for(stack, api)
    if not plans:
        yield f"{api.label} requires API keys but no usage plan includes it, so every call is rejected"
    elif not any(stack.referrers(plan, (tokens.USAGE_PLAN_KEY,), "usagePlanId") for plan in plans):
        yield f"{api.label} requires API keys but no API key is attached to its usage plan"


@rules.stack(
    "api-key-usage-plan",
    description=(
        "An API whose methods require API keys needs a usage plan that includes it and a key attached to "
        "that plan: API Gateway rejects every key that is not in a plan for the stage."
    ),
    remediation=(
        "Add aws.apigateway.UsagePlan(api_stages=[...]) and "
        "aws.apigateway.UsagePlanKey(key_id=..., usage_plan_id=...)."
    ),
)
def api_key_usage_plan(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.REST_API), lambda api: _usage_plan_problems(stack, api))


@rules.resource(
    "api-stage-access-logging",
    types=(tokens.STAGE,),
    description=(
        "API stages must write access logs (destination and format): they are the audit trail of who "
        "invoked the agent, from where, with which result."
    ),
    remediation=(
        "Set access_log_settings=StageAccessLogSettingsArgs(destination_arn=<log group arn>, format=<json>)."
    ),
)
def api_stage_access_logging(res: Resource, _: Config) -> Iterator[str]:
    settings = res.get("accessLogSettings")
    if is_unknown(settings):
        return
    for key in ("destinationArn", "format"):
        value = settings.get(key) if isinstance(settings, Mapping) else None
        if not is_unknown(value) and not value:
            yield f"{res.label} has no accessLogSettings.{key}"


@rules.resource(
    "api-stage-xray-tracing",
    types=(tokens.STAGE,),
    level=ADVISORY,
    description="API stages should enable X-Ray tracing to follow a request into the invoker Lambda.",
    remediation="Set xray_tracing_enabled=True on the stage.",
)
def api_stage_xray_tracing(res: Resource, _: Config) -> Iterator[str]:
    enabled = res.get("xrayTracingEnabled")
    if not is_unknown(enabled) and enabled is not True:
        yield f"{res.label} does not enable X-Ray tracing"


def _positive(value: Any) -> bool:
    """Throttle value set to something > 0 (-1 means 'not throttled'); unknown counts as set."""
    return is_unknown(value) or (number(value) or 0) > 0


def _names_stage(stack: Stack, res: Resource, path: str, stage: Resource) -> bool:
    value = res.get(path)
    return (value is not None and value == stage.get("stageName")) or stack.points_to(res, path, stage)


def _method_settings_throttle(stack: Stack, api: Resource, stage: Resource) -> bool:
    for ms in stack.referrers(api, (tokens.METHOD_SETTINGS,), "restApi"):
        path = ms.get("methodPath")
        if not _names_stage(stack, ms, "stageName", stage) or (
            not is_unknown(path) and path not in ("*/*", None)
        ):
            continue
        if _positive(ms.get("settings.throttlingRateLimit")) and _positive(
            ms.get("settings.throttlingBurstLimit")
        ):
            return True
    return False


def _usage_plan_throttle(stack: Stack, api: Resource, stage: Resource) -> bool:
    # A usage plan only throttles requests that present a key, so it counts only when every method
    # requires one.
    if not all(m.get("apiKeyRequired") is True for m in _methods_of(stack, api)):
        return False
    for plan in _plans_for(stack, api):
        stages = plan.get("apiStages")
        covers = is_unknown(stages) or any(
            isinstance(s, Mapping)
            and (s.get("stage") == stage.get("stageName") or is_unknown(s.get("stage")))
            for s in as_list(stages)
        )
        if (
            covers
            and _positive(plan.get("throttleSettings.rateLimit"))
            and _positive(plan.get("throttleSettings.burstLimit"))
        ):
            return True
    return False


def _throttle_problems(stack: Stack, stage: Resource) -> Iterator[str]:
    for api in stack.refs(stage, "restApi", (tokens.REST_API,)).found:
        if not (_method_settings_throttle(stack, api, stage) or _usage_plan_throttle(stack, api, stage)):
            yield (
                f"{stage.label} of {api.label} is not throttled (no '*/*' method settings with rate and "
                "burst limits, and no usage plan throttle covering keyed methods)"
            )


@rules.stack(
    "api-throttling",
    description=(
        "Every API stage must be throttled (method settings for '*/*' with rate and burst limits, or a "
        "usage plan throttle when every method needs a key): each request runs a billed model invocation."
    ),
    remediation=(
        "Add aws.apigateway.MethodSettings(method_path='*/*', settings=MethodSettingsSettingsArgs("
        "throttling_rate_limit=..., throttling_burst_limit=...))."
    ),
)
def api_throttling(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.STAGE), lambda stage: _throttle_problems(stack, stage))


ORIGIN_VARS = Setting(
    "originEnvVars",
    {"type": "array", "items": {"type": "string"}},
    ["ALLOWED_ORIGINS", "CORS_ALLOWED_ORIGINS"],
    "Lambda environment variables holding the CORS origin allow-list (JSON array or comma-separated).",
)
_OPEN_ORIGINS = ("*", "null")


def _origin_problems(res: Resource, names: list[str]) -> Iterator[str]:
    variables = res.get("environment.variables")
    if not isinstance(variables, Mapping):
        return
    for name in names:
        value = variables.get(name)
        if not isinstance(value, str):
            continue
        if value.strip().startswith("["):
            try:
                origins = [str(o).strip() for o in json.loads(value)]
            except (ValueError, TypeError):
                yield f"{res.label} {name} is not a valid JSON array of origins"
                continue
        else:
            origins = [o.strip() for o in value.split(",")]
        for origin in origins:
            if origin in _OPEN_ORIGINS:
                yield f"{res.label} {name} allows origin {origin!r}"


def _header_problems(res: Resource) -> Iterator[str]:
    params = res.get("responseParameters")
    if not isinstance(params, Mapping):
        return
    for key, value in params.items():
        origin = value.strip().strip("'\"").strip() if isinstance(value, str) else None
        if str(key).lower().endswith("access-control-allow-origin") and origin in _OPEN_ORIGINS:
            yield f"{res.label} sets {key} to {value}"


@rules.resource(
    "cors-no-wildcard-origin",
    types=(tokens.FUNCTION, tokens.GATEWAY_RESPONSE, tokens.INTEGRATION_RESPONSE, tokens.FUNCTION_URL),
    settings=[ORIGIN_VARS],
    description=(
        "CORS must never allow origin '*' (or 'null'): any web page could then drive the agent with a "
        "visitor's browser. Checks the Lambda origin allow-list variables, gateway/integration responses "
        "and function URL CORS."
    ),
    remediation="List the exact front-end origins (https://app.example.com) instead of '*'.",
)
def cors_no_wildcard_origin(res: Resource, config: Config) -> Iterator[str]:
    if res.type == tokens.FUNCTION:
        yield from _origin_problems(res, [str(n) for n in as_list(config["originEnvVars"])])
    elif res.type == tokens.FUNCTION_URL:
        origins = res.get("cors.allowOrigins")
        if isinstance(origins, list) and any(o in _OPEN_ORIGINS for o in origins):
            yield f"{res.label} CORS allowOrigins contains '*'"
    else:
        yield from _header_problems(res)


def _data_trace_paths(res: Resource) -> Iterator[str]:
    """Where a resource turns data trace on (unknown values are not reported)."""
    if res.type == tokens.METHOD_SETTINGS:
        if res.get("settings.dataTraceEnabled") is True:
            path = res.get("methodPath")
            yield f"methodPath {path!r}" if isinstance(path, str) else "its method settings"
        return
    if res.get("defaultRouteSettings.dataTraceEnabled") is True:
        yield "defaultRouteSettings"
    routes = res.get("routeSettings")
    for route in routes if isinstance(routes, list) else []:
        if isinstance(route, Mapping) and route.get("dataTraceEnabled") is True:
            yield f"route {route.get('routeKey')!r}"


@rules.resource(
    "api-no-data-trace",
    types=(tokens.METHOD_SETTINGS, tokens.APIGWV2_STAGE),
    description=(
        "API stages and methods must not enable data trace (full request/response logging): it writes "
        "every prompt and every answer - user data - to the execution log, a log group API Gateway "
        "creates itself, unencrypted by the stack's key and never expiring."
    ),
    remediation=(
        "Set data_trace_enabled=False in the method settings (and route settings for API Gateway v2); "
        "the access log records who called what with which status, without bodies."
    ),
)
def api_no_data_trace(res: Resource, _: Config) -> Iterator[str]:
    for where in _data_trace_paths(res):
        yield f"{res.label} enables data trace ({where}): prompts and answers would be logged"


# API Gateway's default integration timeout; Lambda's default function timeout.
DEFAULT_INTEGRATION_TIMEOUT_MS = 29000
DEFAULT_FUNCTION_TIMEOUT_S = 3


def integrated_functions(stack: Stack, integration: Resource) -> list[Resource]:
    """Functions behind an integration: its uri is the function's invoke ARN (which embeds the ARN)."""
    uri = integration.get("uri")
    found = list(stack.refs(integration, "uri", (tokens.FUNCTION,)).found)
    if isinstance(uri, str):
        found += [
            fn
            for fn in stack.of_type(tokens.FUNCTION)
            if isinstance(fn.get("arn"), str) and f"/functions/{fn.get('arn')}/" in uri and fn not in found
        ]
    return found


def _timeout_problems(stack: Stack, integration: Resource) -> Iterator[str]:
    if integration.get("type") not in ("AWS_PROXY", "AWS"):
        return
    raw = integration.get("timeoutMilliseconds")
    if is_unknown(raw):
        return
    waits = number(raw) if raw is not None else DEFAULT_INTEGRATION_TIMEOUT_MS
    for function in integrated_functions(stack, integration):
        timeout = function.get("timeout")
        if is_unknown(timeout) or waits is None:
            continue
        seconds = number(timeout) if timeout is not None else DEFAULT_FUNCTION_TIMEOUT_S
        if seconds is not None and waits > seconds * 1000:
            yield (
                f"{integration.label} waits {waits:g} ms but {function.label} is stopped after "
                f"{seconds:g} s: Lambda kills the function mid-answer and API Gateway returns a bare 502"
            )


@rules.stack(
    "api-integration-timeout-within-function-timeout",
    description=(
        "A Lambda integration must not wait longer than the function may run (integration "
        "timeoutMilliseconds, default 29000, against the function's timeout, default 3 s): otherwise "
        "Lambda stops the function first and the caller gets API Gateway's bare 502 instead of the "
        "function's own timeout answer."
    ),
    remediation=(
        "Give the function a timeout at least as long as the integration timeout (this program sets it "
        "1 s above apiIntegrationTimeoutMs), or shorten timeout_milliseconds."
    ),
)
def api_integration_timeout_within_function_timeout(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.INTEGRATION), lambda i: _timeout_problems(stack, i))
