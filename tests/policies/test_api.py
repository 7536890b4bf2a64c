"""API Gateway rules."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.baseline import Baseline
from tests.policies.builder import Graph, Node
from tests.policies.conftest import Judge

ORIGIN_HEADER = "Access-Control-Allow-Origin"


def _method(g: Graph, name: str, verb: str, auth: str, **props: Any) -> Node:
    return g.add(
        t.METHOD, name, restApi="api", resourceId="res", httpMethod=verb, authorization=auth, **props
    )


def test_api_method_authorization(judge: Judge) -> None:
    g = Graph()
    bad = {
        _method(g, "open-post", "POST", "NONE").urn,
        _method(g, "custom-without-authorizer", "POST", "CUSTOM").urn,
    }
    _method(g, "keyed", "POST", "NONE", apiKeyRequired=True)  # api-key mode: key + usage plan
    _method(g, "preflight", "OPTIONS", "NONE")
    _method(g, "iam", "POST", "AWS_IAM")
    _method(g, "cognito", "GET", "COGNITO_USER_POOLS", authorizerId="auth-1")
    assert judge(g).fired("api-method-authorization") == bad


def _api_key_mode(base: Baseline) -> None:
    post = base.methods["POST"]
    post.inputs.update(authorization="NONE", apiKeyRequired=True)


def test_api_key_usage_plan(judge: Judge, base: Baseline) -> None:
    g = base.graph
    _api_key_mode(base)
    assert judge(g).fired("api-key-usage-plan") == {base.api.urn}
    plan = g.add(
        t.USAGE_PLAN,
        "plan",
        apiStages=[{"apiId": base.api.id, "stage": base.stage.ref("stageName")}],
        throttleSettings={"rateLimit": 5, "burstLimit": 10},
    )
    outcome = judge(g)
    assert outcome.fired("api-key-usage-plan") == {base.api.urn}
    assert outcome.messages("api-key-usage-plan") == [
        "RestApi 'api' requires API keys but no API key is attached to its usage plan"
    ]
    key = g.add(t.API_KEY, "key", name="client")
    g.add(t.USAGE_PLAN_KEY, "plan-key", keyId=key.id, keyType="API_KEY", usagePlanId=plan.id)
    assert judge(g).report.violations == ()
    assert judge(g, preview=True).report.violations == ()


def test_api_stage_access_logging(judge: Judge) -> None:
    g = Graph()
    bad = {
        g.add(t.STAGE, "silent", restApi="api", deployment="d", stageName="a").urn,
        g.add(
            t.STAGE,
            "no-format",
            restApi="api",
            deployment="d",
            stageName="b",
            accessLogSettings={"destinationArn": "arn:aws:logs:x"},
        ).urn,
    }
    g.add(
        t.STAGE,
        "logged",
        restApi="api",
        deployment="d",
        stageName="c",
        accessLogSettings={"destinationArn": "arn:aws:logs:x", "format": "$context.requestId"},
    )
    assert judge(g).fired("api-stage-access-logging") == bad


def test_api_stage_xray_tracing(judge: Judge) -> None:
    g = Graph()
    bad = g.add(t.STAGE, "untraced", restApi="api", deployment="d", stageName="a", xrayTracingEnabled=False)
    g.add(t.STAGE, "traced", restApi="api", deployment="d", stageName="b", xrayTracingEnabled=True)
    assert judge(g).fired("api-stage-xray-tracing") == {bad.urn}


def test_api_throttling_method_settings(judge: Judge, base: Baseline) -> None:
    g, settings = base.graph, base.method_settings
    settings.inputs["methodPath"] = "chat/POST"  # throttles one method, not the stage
    assert judge(g).fired("api-throttling") == {base.stage.urn}
    settings.inputs.update(methodPath="*/*", settings={"throttlingRateLimit": -1, "throttlingBurstLimit": -1})
    assert judge(g).fired("api-throttling") == {base.stage.urn}
    g.remove(settings)
    outcome = judge(g)
    assert outcome.fired("api-throttling") == {base.stage.urn}
    assert outcome.rules == {"api-throttling"}


def test_api_throttling_usage_plan_counts_only_when_every_method_needs_a_key(
    judge: Judge, base: Baseline
) -> None:
    g = base.graph
    g.remove(base.method_settings)
    plan = g.add(
        t.USAGE_PLAN,
        "plan",
        apiStages=[{"apiId": base.api.id, "stage": base.stage.ref("stageName")}],
        throttleSettings={"rateLimit": 5, "burstLimit": 10},
    )
    g.add(t.USAGE_PLAN_KEY, "plan-key", keyId="key-1", keyType="API_KEY", usagePlanId=plan.id)
    assert judge(g).fired("api-throttling") == {base.stage.urn}  # POST uses IAM, no key: plan does not apply
    _api_key_mode(base)
    assert judge(g).fired("api-throttling") == set()
    assert judge(g, preview=True).fired("api-throttling") == set()


def test_cors_no_wildcard_origin(judge: Judge) -> None:
    g = Graph()

    def origins(name: str, value: str) -> Node:
        return g.add(
            t.FUNCTION, name, runtime="python3.13", environment={"variables": {"ALLOWED_ORIGINS": value}}
        )

    def header(type_: str, name: str, prefix: str, value: str) -> Node:
        return g.add(
            type_, name, restApiId="api", responseParameters={f"{prefix}.header.{ORIGIN_HEADER}": value}
        )

    bad = [
        origins("json-star", '["https://app.example.com", "*"]'),
        origins("csv-star", "https://app.example.com, *"),
        origins("null-origin", '["null"]'),
        origins("broken-json", '["https://app.example.com"'),
        header(t.GATEWAY_RESPONSE, "gateway-4xx", "gatewayresponse", "'*'"),
        header(t.INTEGRATION_RESPONSE, "integration-200", "method.response", "'*'"),
        g.add(
            t.FUNCTION_URL,
            "url",
            functionName="fn",
            authorizationType="AWS_IAM",
            cors={"allowOrigins": ["*"]},
        ),
    ]
    origins("listed", '["https://app.example.com"]')
    header(t.INTEGRATION_RESPONSE, "integration-listed", "method.response", "'https://app.example.com'")
    assert judge(g).fired("cors-no-wildcard-origin") == {n.urn for n in bad}
