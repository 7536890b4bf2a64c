"""The chat API, as the dev and prod stacks register it (values and wiring, not existence)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs pinned; a transitive dep of check-jsonschema
import pytest

from functions.invoker.errors import ApiError
from functions.invoker.validation import parse_chat_request, parse_json_object
from offline.engine import MOCK_ACCOUNT_ID, ProgramRun
from offline.model import ResourceSnapshot
from tests.program.conftest import RunProgram, policy_document

REST_API = "aws:apigateway/restApi:RestApi"
API_RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
MODEL = "aws:apigateway/model:Model"
VALIDATOR = "aws:apigateway/requestValidator:RequestValidator"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
STAGE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
ACCOUNT = "aws:apigateway/account:Account"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY = "aws:apigateway/usagePlanKey:UsagePlanKey"
API_KEY = "aws:apigateway/apiKey:ApiKey"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
COMPONENT = "bedrock-vpc-agent:index:ChatApi"

ROUTES = {
    ("/chat", "POST"),
    ("/chat", "OPTIONS"),
    ("/chat/{sessionId}", "DELETE"),
    ("/chat/{sessionId}", "OPTIONS"),
}
# The ARN path of each route in an execute-api source ARN (path parameters are `*`).
SOURCE_PATHS = {"/chat": "/chat", "/chat/{sessionId}": "/chat/*"}


@pytest.fixture
def dev(program: RunProgram) -> ProgramRun:
    return program("dev")


def invoker(run: ProgramRun) -> ResourceSnapshot:
    return run.one(FUNCTION, "invoker-function")


def resource_paths(run: ProgramRun) -> dict[str, str]:
    """API resource id -> its full path, rebuilt from the parentId chain (root = the API's root)."""
    root = run.one(REST_API).outputs["rootResourceId"]
    by_id = {r.outputs["id"]: r for r in run.of_type(API_RESOURCE)}

    def path(resource_id: str) -> str:
        if resource_id == root:
            return ""
        resource = by_id[resource_id]
        return f"{path(resource.inputs['parentId'])}/{resource.inputs['pathPart']}"

    return {resource_id: path(resource_id) for resource_id in by_id}


def methods(run: ProgramRun) -> dict[tuple[str, str], ResourceSnapshot]:
    paths = resource_paths(run)
    found = {(paths[m.inputs["resourceId"]], m.inputs["httpMethod"]): m for m in run.of_type(METHOD)}
    assert len(found) == len(run.of_type(METHOD))
    return found


def integrations(run: ProgramRun) -> dict[tuple[str, str], ResourceSnapshot]:
    paths = resource_paths(run)
    found = {(paths[i.inputs["resourceId"]], i.inputs["httpMethod"]): i for i in run.of_type(INTEGRATION)}
    assert len(found) == len(run.of_type(INTEGRATION))
    return found


def deployment_trigger(run: ProgramRun) -> str:
    trigger = run.one(DEPLOYMENT).inputs["triggers"]["definition"]
    assert isinstance(trigger, str)
    assert len(trigger) == 64
    return trigger


@pytest.mark.parametrize(
    ("auth", "protected"),
    [("iam", ("AWS_IAM", False)), ("api-key", ("NONE", True)), ("none", ("NONE", False))],
)
def test_each_auth_mode_protects_post_and_delete_and_leaves_preflight_open(
    program: RunProgram, auth: str, protected: tuple[str, bool]
) -> None:
    run = program("dev", apiAuth=auth, webUi=False)  # the page needs iam
    api_id = run.one(REST_API).outputs["id"]
    registered = {
        route: (method.inputs["authorization"], method.inputs["apiKeyRequired"])
        for route, method in methods(run).items()
    }
    assert registered == {
        ("/chat", "POST"): protected,
        ("/chat/{sessionId}", "DELETE"): protected,
        ("/chat", "OPTIONS"): ("NONE", False),
        ("/chat/{sessionId}", "OPTIONS"): ("NONE", False),
    }
    assert {method.inputs["restApi"] for method in run.of_type(METHOD)} == {api_id}


@pytest.mark.parametrize(
    ("overrides", "timeout", "mode", "uri"),
    [
        ({}, 120000, "STREAM", "responseStreamingInvokeArn"),
        ({"apiIntegrationTimeoutMs": 600000}, 600000, "STREAM", "responseStreamingInvokeArn"),
        ({"apiStreaming": False}, 29000, "BUFFERED", "invokeArn"),
        ({"apiStreaming": False, "apiIntegrationTimeoutMs": 12000}, 12000, "BUFFERED", "invokeArn"),
    ],
)
def test_every_method_proxies_to_the_invoker_with_the_configured_timeout(
    program: RunProgram, overrides: dict[str, Any], timeout: int, mode: str, uri: str
) -> None:
    run = program("dev", **overrides)
    found = integrations(run)
    assert set(found) == ROUTES
    for route, integration in found.items():
        assert integration.inputs["type"] == "AWS_PROXY", route
        assert integration.inputs["integrationHttpMethod"] == "POST", route
        # A streaming function answers in the streaming proxy format: every route must stream.
        assert integration.inputs["uri"] == invoker(run).outputs[uri], route
        assert integration.inputs["responseTransferMode"] == mode, route
        assert integration.inputs["timeoutMilliseconds"] == timeout, route
        assert integration.inputs["restApi"] == run.one(REST_API).outputs["id"], route


def test_the_invoker_may_be_invoked_only_through_this_apis_stage_route_by_route(program: RunProgram) -> None:
    for stage in ("v1", "beta"):
        run = program("dev", apiStageName=stage)
        execution_arn = run.one(REST_API).outputs["executionArn"]
        assert (
            execution_arn
            == f"arn:aws:execute-api:us-east-1:{MOCK_ACCOUNT_ID}:{run.one(REST_API).outputs['id']}"
        )
        permissions = [
            p for p in run.of_type(PERMISSION) if p.inputs["principal"] == "apigateway.amazonaws.com"
        ]
        expected = {f"{execution_arn}/{stage}/{method}{SOURCE_PATHS[path]}" for path, method in ROUTES}
        assert sorted(p.inputs["sourceArn"] for p in permissions) == sorted(expected)
        for permission in permissions:
            assert permission.inputs["function"] == invoker(run).outputs["name"]
            assert permission.inputs["action"] == "lambda:InvokeFunction"
            assert permission.inputs["sourceAccount"] == MOCK_ACCOUNT_ID
            assert permission.inputs["sourceArn"].startswith(f"{execution_arn}/{stage}/")


def test_stage_traces_and_writes_json_access_logs_without_bodies(dev: ProgramRun) -> None:
    stage = dev.one(STAGE)
    group = dev.one(LOG_GROUP, "api-access-logs")
    assert stage.inputs["stageName"] == "v1"
    assert stage.inputs["restApi"] == dev.one(REST_API).outputs["id"]
    assert stage.inputs["deployment"] == dev.one(DEPLOYMENT).outputs["id"]
    assert stage.inputs["xrayTracingEnabled"] is True
    assert group.inputs["name"] == "/bedrock-vpc-agent-dev/api-access"
    assert group.inputs["retentionInDays"] == int(dev.config["bedrock-vpc-agent:logRetentionDays"])
    assert group.inputs["kmsKeyId"] == dev.one(KMS_KEY).outputs["arn"]
    settings = stage.inputs["accessLogSettings"]
    assert settings["destinationArn"] == group.outputs["arn"]
    fields = json.loads(settings["format"])
    assert fields["requestId"] == "$context.requestId"
    assert {
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "user": "$context.identity.user",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "integrationStatus": "$context.integration.status",
        "errorMessage": "$context.error.message",
    }.items() <= fields.items()
    assert {"requestTime", "protocol", "responseLength", "integrationLatency", "responseLatency"} <= set(
        fields
    )
    # Only $context variables, each a JSON string, and nothing that carries a body or a header.
    for value in fields.values():
        assert isinstance(value, str)
        assert value.startswith("$context.")
        assert not any(
            word in value.lower() for word in ("body", "input", "override", "header", "validation")
        )


def test_prod_protects_the_access_log_group_and_keeps_it_a_year(program: RunProgram) -> None:
    group = program("prod").one(LOG_GROUP, "api-access-logs")
    assert group.protect is True
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["name"] == "/bedrock-vpc-agent-prod/api-access"


@pytest.mark.parametrize(("stack", "rate", "burst"), [("dev", 10, 20), ("prod", 50, 100)])
def test_stage_is_throttled_as_configured_with_metrics_and_no_data_trace(
    program: RunProgram, stack: str, rate: int, burst: int
) -> None:
    run = program(stack)
    method_settings = run.one(METHOD_SETTINGS)
    assert method_settings.inputs["restApi"] == run.one(REST_API).outputs["id"]
    assert method_settings.inputs["stageName"] == run.one(STAGE).outputs["stageName"]
    assert method_settings.inputs["methodPath"] == "*/*"
    settings = method_settings.inputs["settings"]
    assert settings["throttlingRateLimit"] == rate
    assert settings["throttlingBurstLimit"] == burst
    assert settings["metricsEnabled"] is True
    assert settings["loggingLevel"] in ("OFF", "ERROR")
    # Data trace would log every prompt and completion: it must be explicitly off.
    assert settings["dataTraceEnabled"] is False


def test_api_key_mode_meters_one_key_with_a_usage_plan_on_this_stage(program: RunProgram) -> None:
    run = program(
        "dev",
        apiAuth="api-key",
        apiQuotaPerDay=500,
        apiThrottleRateLimit=7,
        apiThrottleBurstLimit=9,
        webUi=False,
    )
    plan, key, plan_key = run.one(USAGE_PLAN), run.one(API_KEY), run.one(USAGE_PLAN_KEY)
    assert plan.inputs["apiStages"] == [
        {"apiId": run.one(REST_API).outputs["id"], "stage": run.one(STAGE).outputs["stageName"]}
    ]
    assert plan.inputs["quotaSettings"] == {"limit": 500, "period": "DAY"}
    assert plan.inputs["throttleSettings"] == {"rateLimit": 7, "burstLimit": 9}
    assert key.inputs["enabled"] is True
    assert "value" not in key.inputs  # generated by API Gateway, never in code or config
    assert plan_key.inputs == {
        "keyId": key.outputs["id"],
        "keyType": "API_KEY",
        "usagePlanId": plan.outputs["id"],
    }
    assert run.outputs["apiKeyId"] == key.outputs["id"]
    # The key's value is never exported.
    assert key.outputs["value"] not in json.dumps(run.outputs)


def test_iam_mode_has_no_api_key_or_usage_plan(dev: ProgramRun) -> None:
    assert not dev.of_type(API_KEY)
    assert not dev.of_type(USAGE_PLAN)
    assert not dev.of_type(USAGE_PLAN_KEY)
    assert "apiKeyId" not in dev.outputs


def render(template: str, message: str = 'Some "quoted" message') -> Any:
    """What API Gateway sends: $context variables substituted (messageString arrives JSON-quoted)."""
    return json.loads(
        template.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.responseType", "WAF_FILTERED")
        .replace("$context.requestId", "req-123")
    )


def test_gateway_generated_errors_carry_the_error_envelope(dev: ProgramRun) -> None:
    distribution = dev.one("aws:cloudfront/distribution:Distribution")
    page_origin = f"https://{distribution.outputs['domainName']}"
    responses = {r.inputs["responseType"]: r for r in dev.of_type(GATEWAY_RESPONSE)}
    assert {
        "BAD_REQUEST_BODY",
        "BAD_REQUEST_PARAMETERS",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_SIGNATURE",
        "EXPIRED_TOKEN",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "INVALID_API_KEY",
        "INTEGRATION_TIMEOUT",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= set(responses)
    codes = {}
    for response_type, response in responses.items():
        assert response.inputs["restApiId"] == dev.one(REST_API).outputs["id"]
        (template,) = response.inputs["responseTemplates"].values()
        assert set(response.inputs["responseTemplates"]) == {"application/json"}
        # Unescaped, and echoes the rejected value: never in a body.
        assert "validationErrorString" not in template
        body = render(template)
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "requestId"}
        assert body["error"]["requestId"] == "req-123"
        assert body["error"]["message"]
        codes[response_type] = body["error"]["code"]
        headers = response.inputs["responseParameters"]
        assert headers["gatewayresponse.header.Cache-Control"] == "'no-store'"
        # The page's distribution is the only origin of dev: gateway responses name exactly it.
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == f"'{page_origin}'"
    assert codes["BAD_REQUEST_BODY"] == "VALIDATION_ERROR"
    assert codes["THROTTLED"] == "THROTTLED"
    assert codes["QUOTA_EXCEEDED"] == "QUOTA_EXCEEDED"
    assert codes["DEFAULT_4XX"] == codes["DEFAULT_5XX"] == "WAF_FILTERED"  # the actual response type
    # API Gateway's own (quoted) message passes through where it is a plain sentence.
    assert (
        render(responses["THROTTLED"].inputs["responseTemplates"]["application/json"])["error"]["message"]
        == 'Some "quoted" message'
    )


def test_gateway_responses_allow_the_single_configured_origin_only(program: RunProgram) -> None:
    def origins_of(run: ProgramRun) -> set[str | None]:
        return {
            r.inputs["responseParameters"].get("gatewayresponse.header.Access-Control-Allow-Origin")
            for r in run.of_type(GATEWAY_RESPONSE)
        }

    single = program("dev", webUi=False, apiCorsAllowedOrigins=["https://app.example.com"])
    assert origins_of(single) == {"'https://app.example.com'"}
    # Several origins: a gateway response cannot pick one, and must not echo any Origin.
    two = ["https://app.example.com", "https://admin.example.com"]
    assert origins_of(program("dev", webUi=False, apiCorsAllowedOrigins=two)) == {None}
    # The page's distribution plus one configured origin are two as well.
    assert origins_of(program("dev", apiCorsAllowedOrigins=two[:1])) == {None}


def test_deployment_is_replaced_exactly_when_the_api_definition_changes(program: RunProgram) -> None:
    iam = program("dev", webUi=False)
    # Stable across runs (a second real run, not the cached one).
    assert deployment_trigger(iam) == deployment_trigger(program.fresh("dev", webUi=False))
    # Settings that do not change what is deployed do not redeploy.
    assert deployment_trigger(iam) == deployment_trigger(program("dev", webUi=False, apiQuotaPerDay=5))
    changed = {
        "auth": program("dev", apiAuth="api-key", webUi=False),
        "timeout": program("dev", webUi=False, apiIntegrationTimeoutMs=20000),
        "buffered": program("dev", webUi=False, apiStreaming=False),
        "cors": program("dev", webUi=False, apiCorsAllowedOrigins=["https://app.example.com"]),
        "page": program("dev"),  # the distribution's origin joins the gateway responses' CORS
    }
    triggers = {deployment_trigger(iam)} | {deployment_trigger(run) for run in changed.values()}
    assert len(triggers) == 1 + len(changed)


def test_deployment_waits_for_the_whole_api_and_the_stage_serves_it(dev: ProgramRun) -> None:
    deployment = dev.one(DEPLOYMENT)
    assert deployment.inputs["restApi"] == dev.one(REST_API).outputs["id"]
    definition = [
        *dev.of_type(METHOD),
        *dev.of_type(INTEGRATION),
        *dev.of_type(GATEWAY_RESPONSE),
        dev.one(MODEL),
        dev.one(VALIDATOR),
    ]
    assert {resource.urn for resource in definition} <= set(deployment.dependencies)
    assert dev.one(STAGE).inputs["deployment"] == deployment.outputs["id"]


def chat_schema(run: ProgramRun) -> dict[str, Any]:
    model = run.one(MODEL)
    assert model.inputs["contentType"] == "application/json"
    assert model.inputs["restApi"] == run.one(REST_API).outputs["id"]
    schema = json.loads(model.inputs["schema"])
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"  # what API Gateway supports
    jsonschema.Draft4Validator.check_schema(schema)
    return schema


def test_post_body_and_delete_path_are_validated_before_the_lambda_runs(dev: ProgramRun) -> None:
    validator, model = dev.one(VALIDATOR), dev.one(MODEL)
    assert validator.inputs["validateRequestBody"] is True
    assert validator.inputs["validateRequestParameters"] is True
    found = methods(dev)
    post, delete = found[("/chat", "POST")], found[("/chat/{sessionId}", "DELETE")]
    assert post.inputs["requestModels"] == {"application/json": model.outputs["name"]}
    assert post.inputs["requestValidatorId"] == validator.outputs["id"]
    assert delete.inputs["requestParameters"] == {"method.request.path.sessionId": True}
    assert delete.inputs["requestValidatorId"] == validator.outputs["id"]
    for route in (("/chat", "OPTIONS"), ("/chat/{sessionId}", "OPTIONS")):
        assert "requestValidatorId" not in found[route].inputs
        assert "requestModels" not in found[route].inputs


RESULTS = {"invocationId": "inv-1", "results": [{"actionGroup": "tools", "function": "add", "body": "3"}]}
ACCEPTED_BODIES = [
    {"inputText": "hello"},
    {"inputText": "x" * 25000, "sessionId": "ab", "enableTrace": True},
    {"inputText": "hi", "sessionId": "Session_1.a:b-" + "z" * 86},  # 100 characters
    {"inputText": "", "sessionId": "s-1", "returnControlResults": RESULTS},
    {"sessionId": "s-1", "returnControlResults": RESULTS},
    {"inputText": "é" * 25000},  # characters, not bytes
]
REJECTED_BODIES = [
    {"inputText": "x" * 25001},
    {"inputText": "hi", "sessionId": "a"},
    {"inputText": "hi", "sessionId": "a" * 101},
    {"inputText": "hi", "sessionId": "has space"},
    {"inputText": "hi", "sessionId": 12},
    {"inputText": 42},
    {"inputText": "hi", "enableTrace": "yes"},
    {"inputText": "hi", "returnControlResults": []},
    {"inputText": "hi", "unknown": 1},
    ["inputText", "hi"],
    "hi",
]


def invoker_parse(body: Any) -> object:
    """What the invoker does with the raw body (tests/functions cover its messages)."""
    return parse_chat_request(parse_json_object(json.dumps(body).encode()))


def test_request_model_accepts_the_contract_and_rejects_what_it_forbids(dev: ProgramRun) -> None:
    validator = jsonschema.Draft4Validator(chat_schema(dev))
    for body in ACCEPTED_BODIES:
        assert validator.is_valid(body), body
        invoker_parse(body)  # and the invoker accepts it too
    for body in REJECTED_BODIES:
        assert not validator.is_valid(body), body
        # The schema is never stricter than the invoker, which rejects all of these as well.
        with pytest.raises(ApiError):
            invoker_parse(body)


def test_request_model_leaves_what_json_schema_cannot_express_to_the_invoker(dev: ProgramRun) -> None:
    validator = jsonschema.Draft4Validator(chat_schema(dev))
    # inputText missing or empty is only wrong without returnControlResults: the invoker says so, by name.
    for body in ({}, {"inputText": ""}, {"sessionId": "abc"}):
        assert validator.is_valid(body), body
        with pytest.raises(ApiError) as error:
            invoker_parse(body)
        assert error.value.code == "VALIDATION_ERROR"
        assert "inputText" in error.value.message


def test_account_logging_role_has_the_documented_trust_and_actions(dev: ProgramRun) -> None:
    role = dev.one(ROLE, "api-cloudwatch-role")
    assert "managedPolicyArns" not in role.inputs
    assert not dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    (trust,) = policy_document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # The documented trust has no condition; UpdateAccount checks that API Gateway can assume it.
    assert "Condition" not in trust
    policy = dev.one(ROLE_POLICY, "api-cloudwatch-delivery")
    assert policy.inputs["role"] == role.outputs["id"]
    (statement,) = policy_document(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    # AmazonAPIGatewayPushToCloudWatchLogs's actions (AWS managed policy reference, v1).
    assert sorted(statement["Action"]) == [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "logs:PutLogEvents",
    ]
    prefix = f"arn:aws:logs:us-east-1:{MOCK_ACCOUNT_ID}:log-group:"
    assert statement["Resource"] == [f"{prefix}*", f"{prefix}*:log-stream:*"]
    account = dev.one(ACCOUNT)
    assert account.inputs["cloudwatchRoleArn"] == role.outputs["arn"]
    # One setting per account and region: destroying this stack must not reset it (deleting
    # aws.apigateway.Account resets it) nor delete the role another stack's APIs log with.
    assert (account.retain_on_delete, role.retain_on_delete, policy.retain_on_delete) == (True, True, True)
    assert account.urn in dev.one(STAGE).dependencies  # access logging needs the role set first


def test_account_logging_role_can_be_left_to_another_stack(program: RunProgram) -> None:
    run = program("dev", apiManageAccountLoggingRole=False)
    assert not run.of_type(ACCOUNT)
    assert [r.name for r in run.of_type(ROLE) if r.name.startswith("api-")] == []
    assert (
        run.one(STAGE).inputs["accessLogSettings"]["destinationArn"]
        == run.one(LOG_GROUP, "api-access-logs").outputs["arn"]
    )


def test_regional_api_outputs_and_children(dev: ProgramRun) -> None:
    api, stage = dev.one(REST_API), dev.one(STAGE)
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    assert api.inputs["name"] == "bedrock-vpc-agent-dev-chat"
    api_id = api.outputs["id"]
    assert dev.outputs["apiUrl"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/v1/chat"
    assert dev.outputs["apiUrl"] == f"{stage.outputs['invokeUrl']}/chat"
    assert dev.outputs["apiId"] == api_id
    assert dev.outputs["apiStageName"] == "v1"
    assert dev.outputs["apiAccessLogGroupName"] == "/bedrock-vpc-agent-dev/api-access"
    component = dev.one(COMPONENT)
    assert component.parent == dev.stack_urn
    api_types = {REST_API, API_RESOURCE, METHOD, INTEGRATION, STAGE, DEPLOYMENT, METHOD_SETTINGS, ACCOUNT}
    for resource in dev.resources:
        if resource.type in api_types or resource.name.startswith("api-"):
            assert resource.parent == component.urn, resource.name
