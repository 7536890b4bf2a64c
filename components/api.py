"""The public face of the agent: a regional REST API in front of the invoker Lambda.

- Routes `POST /chat`, `DELETE /chat/{sessionId}` and `OPTIONS` on both, each a Lambda proxy
  integration (AWS_PROXY) of the invoker with the configured integration timeout.
- With `apiStreaming` every integration is STREAM and calls the function's response-streaming
  invocation (InvokeWithResponseStream, `.../2021-11-15/functions/<arn>/response-streaming-invocations`):
  the invoker then answers every invocation in the streaming proxy format (a JSON prelude, eight NUL
  bytes, the body), so a BUFFERED integration of the same function would read a malformed answer.
  Without it every integration is explicitly BUFFERED and calls the classic invocation. The API
  stays REGIONAL: an edge-optimized API cuts streams idle for 30 s (5 minutes for regional/private).
- Authorization from the stack config: `iam` (SigV4, AWS_IAM), `api-key` (x-api-key under a usage
  plan with throttling and a daily quota) or `none`. OPTIONS is always open: browsers never sign a
  CORS preflight, and the invoker answers preflights for the configured origins only.
- Request validation at the edge: a body+parameters validator and a JSON-schema model of the chat
  request. The schema is deliberately no stricter than the contract and leaves the rules it cannot
  express (an empty `inputText` is allowed only with `returnControlResults`) to the invoker, whose
  messages name the field.
- Every response API Gateway generates itself (bad body, missing signature, throttling, timeouts...)
  carries the project's error envelope `{"error": {"code", "message", "requestId"}}`.
- The deployment is replaced whenever the API definition changes (a hash of every method,
  integration, model, validator and gateway response, plus the integration URI); Pulumi creates the
  new deployment, moves the stage to it, then deletes the old one.
- The stage traces with X-Ray, writes JSON access logs (never bodies) to an encrypted, retained log
  group, and is throttled with method settings for `*/*`; execution logging and data trace are off.
- The invoker may be invoked by API Gateway only through this API's stage, route by route.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.config import ApiSettings
from components.context import AwsContext
from components.logs import create_log_group

# The request contract of POST /chat (docs/api.md, functions/invoker/validation.py).
MAX_INPUT_TEXT = 25_000
SESSION_ID_PATTERN = "^[0-9a-zA-Z._:-]{2,100}$"
JSON_CONTENT_TYPE = "application/json"

# API Gateway validates request bodies with JSON Schema draft 4. The schema says what the contract
# says and nothing stricter: the invoker re-validates everything and gives the precise message.
CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "ChatRequest",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        # May be empty (or absent) only when resuming with returnControlResults: the invoker checks that.
        "inputText": {"type": "string", "minLength": 0, "maxLength": MAX_INPUT_TEXT},
        "sessionId": {"type": "string", "pattern": SESSION_ID_PATTERN},
        "enableTrace": {"type": "boolean"},
        # Its members (invocationId, results[1..5] ...) are checked by the invoker.
        "returnControlResults": {"type": "object"},
    },
}


@dataclass(frozen=True)
class Route:
    role: str  # names the children: f"{name}-{role}-{method}"
    path: str  # the resource path template
    methods: tuple[str, ...]
    path_parameters: tuple[str, ...] = ()

    @property
    def source_path(self) -> str:
        """The path as it appears in an execute-api ARN: path parameters become `*`."""
        return re.sub(r"\{[^}]+\}", "*", self.path)


CHAT_ROUTE = Route("chat", "/chat", ("POST", "OPTIONS"))
SESSION_ROUTE = Route("session", "/chat/{sessionId}", ("DELETE", "OPTIONS"), ("sessionId",))
ROUTES: tuple[Route, ...] = (CHAT_ROUTE, SESSION_ROUTE)
PREFLIGHT = "OPTIONS"

# How each auth mode protects the non-preflight methods: (authorization, apiKeyRequired).
AUTHORIZATION: Mapping[str, tuple[str, bool]] = {
    "iam": ("AWS_IAM", False),
    "api-key": ("NONE", True),
    "none": ("NONE", False),
}


@dataclass(frozen=True)
class MethodSpec:
    """One method of the API, as registered; also what the deployment hash is made of."""

    route: Route
    http_method: str
    authorization: str
    api_key_required: bool
    request_parameters: dict[str, bool] = field(default_factory=dict)
    validated_body: bool = False
    validated: bool = False

    @property
    def role(self) -> str:
        return f"{self.route.role}-{self.http_method.lower()}"


def method_specs(auth: str) -> list[MethodSpec]:
    """Every method of the API for an auth mode; OPTIONS (CORS preflight) is never authorized."""
    authorization, key_required = AUTHORIZATION[auth]
    specs = []
    for route in ROUTES:
        for http_method in route.methods:
            preflight = http_method == PREFLIGHT
            specs.append(
                MethodSpec(
                    route=route,
                    http_method=http_method,
                    authorization="NONE" if preflight else authorization,
                    api_key_required=False if preflight else key_required,
                    request_parameters={
                        f"method.request.path.{parameter}": True for parameter in route.path_parameters
                    },
                    validated_body=http_method == "POST",
                    validated=not preflight,
                )
            )
    return specs


# --- Gateway responses ----------------------------------------------------------------------------
# Response templates of gateway responses are not VTL: only `$context...` substitution, no $util, so
# nothing can be escaped. `$context.error.messageString` is API Gateway's message already quoted for
# JSON. `$context.error.validationErrorString` is neither quoted nor escaped (it contains double
# quotes, e.g. `[object has missing required properties (["x"])]`) and echoes the rejected value
# (a whole 25 000-character prompt for a too-long inputText), so it is never put in a body: the
# body-validation message is fixed and the invoker, which sees every request the schema admits,
# gives field-level messages. Likewise INVALID_SIGNATURE's message spans lines (it embeds the
# canonical request) and is replaced by a fixed one. Status codes stay API Gateway's defaults.
MESSAGE_FROM_GATEWAY = "$context.error.messageString"


@dataclass(frozen=True)
class GatewayError:
    code: str
    message: Optional[str] = None  # None: API Gateway's own message ($context.error.messageString)


GATEWAY_ERRORS: Mapping[str, GatewayError] = {
    "BAD_REQUEST_BODY": GatewayError(
        "VALIDATION_ERROR",
        "the body must be a JSON object matching the chat request schema (inputText: string of at most "
        f"{MAX_INPUT_TEXT} characters, sessionId: {SESSION_ID_PATTERN}, enableTrace: boolean, "
        "returnControlResults: object; no other fields)",
    ),
    "BAD_REQUEST_PARAMETERS": GatewayError("VALIDATION_ERROR"),
    "ACCESS_DENIED": GatewayError("ACCESS_DENIED"),
    # Also what API Gateway answers for a path or method the API does not have.
    "MISSING_AUTHENTICATION_TOKEN": GatewayError(
        "MISSING_AUTHENTICATION",
        "no such resource or method, or the request carries no SigV4 signature (IAM auth)",
    ),
    "INVALID_SIGNATURE": GatewayError(
        "INVALID_SIGNATURE",
        "the request signature does not match: sign with SigV4 for the service execute-api in the "
        "API's region, over the exact path, query string, headers and body sent",
    ),
    "EXPIRED_TOKEN": GatewayError("EXPIRED_TOKEN"),
    "UNAUTHORIZED": GatewayError("UNAUTHORIZED"),
    "INVALID_API_KEY": GatewayError("INVALID_API_KEY", "a valid x-api-key header is required"),
    "THROTTLED": GatewayError("THROTTLED"),
    "QUOTA_EXCEEDED": GatewayError("QUOTA_EXCEEDED"),
    "REQUEST_TOO_LARGE": GatewayError("PAYLOAD_TOO_LARGE"),
    "RESOURCE_NOT_FOUND": GatewayError("NOT_FOUND"),
    "UNSUPPORTED_MEDIA_TYPE": GatewayError("UNSUPPORTED_MEDIA_TYPE"),
    "WAF_FILTERED": GatewayError("WAF_FILTERED"),
    "INTEGRATION_TIMEOUT": GatewayError(
        "INTEGRATION_TIMEOUT", "the agent did not answer in time; retry, possibly with a shorter request"
    ),
    "INTEGRATION_FAILURE": GatewayError("INTEGRATION_FAILURE"),
    "API_CONFIGURATION_ERROR": GatewayError("API_CONFIGURATION_ERROR"),
    # Everything else: the code is API Gateway's response type (e.g. AUTHORIZER_FAILURE).
    "DEFAULT_4XX": GatewayError("$context.error.responseType"),
    "DEFAULT_5XX": GatewayError("$context.error.responseType"),
}


def gateway_response_template(error: GatewayError) -> str:
    """The error envelope for a gateway response (valid JSON once API Gateway substitutes it)."""
    message = MESSAGE_FROM_GATEWAY if error.message is None else json.dumps(error.message)
    return (
        f'{{"error": {{"code": {json.dumps(error.code)}, "message": {message}, '
        f'"requestId": "$context.requestId"}}}}'
    )


def gateway_response_headers(cors_allowed_origins: Sequence[str]) -> dict[str, str]:
    """Headers of every gateway response: the invoker's hardening headers, and CORS when exactly
    one origin is allowed (a gateway response cannot choose among several origins, and echoing the
    request's Origin would allow every origin)."""
    headers = {
        "gatewayresponse.header.Cache-Control": "'no-store'",
        "gatewayresponse.header.X-Content-Type-Options": "'nosniff'",
        "gatewayresponse.header.Vary": "'Origin'",
    }
    if len(cors_allowed_origins) == 1:
        headers["gatewayresponse.header.Access-Control-Allow-Origin"] = f"'{cors_allowed_origins[0]}'"
    return headers


# --- Access logs ----------------------------------------------------------------------------------
# One JSON object per request: who (ip, IAM caller/user, API key id), what (method, path, status),
# how long, and why it failed. Only $context variables: no request or response body, no headers.
# Every value is quoted: an unset variable is logged as a bare `-`, which would not be JSON.
ACCESS_LOG_FIELDS: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "userArn": "$context.identity.userArn",
    "apiKeyId": "$context.identity.apiKeyId",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integration.latency",
    "integrationStatus": "$context.integration.status",
    "responseLatency": "$context.responseLatency",
    "responseType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
}
ACCESS_LOG_FORMAT = json.dumps(dict(ACCESS_LOG_FIELDS), separators=(",", ":"))

# Execution logs go to `API-Gateway-Execution-Logs_<api id>/<stage>`, a log group API Gateway creates
# itself: never expiring and not encrypted with the stack's key (whose policy admits only this
# stack's log group names). They stay off; the access log's status, responseType, errorMessage and
# integration fields tell why a request failed.
EXECUTION_LOGGING_LEVEL = "OFF"

# The CloudWatch role is the account's (per region): every REST API of the account in this region logs
# with it. Its trust and permissions follow what AWS documents for it ("Permissions for CloudWatch
# logging", API Gateway developer guide, set-up-logging.html: a role API Gateway can assume, with the
# AmazonAPIGatewayPushToCloudWatchLogs actions), because UpdateAccount validates the role when it is
# set: the trust has no aws:SourceAccount condition (not in the documented form), and the actions are
# the managed policy's seven, scoped to this account's log groups in this region (the managed policy
# uses "*").
LOGGING_ROLE_ACTIONS = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
]


@dataclass
class ChatApiArgs:
    context: AwsContext
    settings: ApiSettings
    api_name: str
    function_name: pulumi.Input[str]
    function_invoke_arn: pulumi.Input[str]
    access_log_group_name: str
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    protect_stateful: bool = False
    # The function's `response_streaming_invoke_arn`; used (and required) when settings.streaming.
    function_streaming_invoke_arn: Optional[pulumi.Input[str]] = None
    # Origins the program adds to the configured ones, e.g. the page's CloudFront origin (an Output).
    browser_origins: Sequence[pulumi.Input[str]] = ()

    @property
    def integration_uri(self) -> pulumi.Input[str]:
        if not self.settings.streaming:
            return self.function_invoke_arn
        if self.function_streaming_invoke_arn is None:
            raise ValueError("a streaming API needs the function's response_streaming_invoke_arn")
        return self.function_streaming_invoke_arn


class ChatApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    deployment: aws.apigateway.Deployment
    access_log_group: aws.cloudwatch.LogGroup
    rest_api_id: pulumi.Output[str]
    stage_name: pulumi.Output[str]
    url: pulumi.Output[str]
    execution_arn: pulumi.Output[str]
    access_log_group_name: pulumi.Output[str]
    api_key_id: Optional[pulumi.Output[str]]
    cors_allowed_origins: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ChatApiArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:ChatApi", name, None, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self.cors_allowed_origins = allowed_origins(settings.cors_allowed_origins, args.browser_origins)
        if settings.auth == "none":
            pulumi.log.warn(
                "apiAuth is 'none': anyone who knows the URL can invoke the agent (and run up its bill).",
                resource=self,
            )

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-api",
            name=args.api_name,
            description="Chat with the Bedrock agent (POST /chat, DELETE /chat/{sessionId})",
            endpoint_configuration={"types": "REGIONAL"},
            api_key_source="HEADER",
            opts=self._child(),
        )
        definition: list[pulumi.Resource] = []
        validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            rest_api=self.rest_api.id,
            name="body-and-parameters",
            validate_request_body=True,
            validate_request_parameters=True,
            opts=self._child(),
        )
        model = aws.apigateway.Model(
            f"{name}-chat-request-model",
            rest_api=self.rest_api.id,
            name="ChatRequest",
            description="Body of POST /chat",
            content_type=JSON_CONTENT_TYPE,
            schema=json.dumps(CHAT_REQUEST_SCHEMA),
            opts=self._child(),
        )
        definition += [validator, model]
        resources = self._create_resources()
        for spec in method_specs(settings.auth):
            definition += self._create_method(resources[spec.route.path], spec, validator, model)
        definition += self._create_gateway_responses()

        self.deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            description="Managed by Pulumi: replaced whenever the API definition changes",
            triggers={"definition": self._definition_hash()},
            # The API must be complete before it is snapshotted. A trigger change replaces the deployment:
            # the new one is created, the stage moves to it, then the old one is deleted.
            opts=self._child(depends_on=definition),
        )
        self.access_log_group = create_log_group(
            f"{name}-access-logs",
            log_group_name=args.access_log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            protect=args.protect_stateful,
            parent=self,
        )
        account = self._create_account_logging_role() if settings.manage_account_logging_role else None
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=self.rest_api.id,
            deployment=self.deployment.id,
            stage_name=settings.stage_name,
            xray_tracing_enabled=True,
            access_log_settings={
                "destination_arn": self.access_log_group.arn,
                "format": ACCESS_LOG_FORMAT,
            },
            # Access logging needs the account's CloudWatch role to be set first.
            opts=self._child(depends_on=[account] if account is not None else []),
        )
        self._create_method_settings()
        self.api_key_id = self._create_api_key() if settings.auth == "api-key" else None
        self._allow_api_to_invoke()

        self.rest_api_id = self.rest_api.id
        self.stage_name = self.stage.stage_name
        self.execution_arn = self.rest_api.execution_arn
        self.url = pulumi.Output.concat(self.stage.invoke_url, CHAT_ROUTE.path)
        self.access_log_group_name = self.access_log_group.name
        outputs: dict[str, Any] = {
            "rest_api_id": self.rest_api_id,
            "stage_name": self.stage_name,
            "url": self.url,
            "execution_arn": self.execution_arn,
            "access_log_group_name": self.access_log_group_name,
            "cors_allowed_origins": self.cors_allowed_origins,
        }
        if self.api_key_id is not None:
            outputs["api_key_id"] = self.api_key_id
        self.register_outputs(outputs)

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_resources(self) -> dict[str, aws.apigateway.Resource]:
        """One API resource per path segment, keyed by path."""
        resources: dict[str, aws.apigateway.Resource] = {}
        for route in ROUTES:
            parent_path, _, segment = route.path.rpartition("/")
            parent_id = resources[parent_path].id if parent_path else self.rest_api.root_resource_id
            resources[route.path] = aws.apigateway.Resource(
                f"{self._name}-{route.role}",
                rest_api=self.rest_api.id,
                parent_id=parent_id,
                path_part=segment,
                opts=self._child(),
            )
        return resources

    def _create_method(
        self,
        resource: aws.apigateway.Resource,
        spec: MethodSpec,
        validator: aws.apigateway.RequestValidator,
        model: aws.apigateway.Model,
    ) -> list[pulumi.Resource]:
        """A method and its Lambda proxy integration."""
        method = aws.apigateway.Method(
            f"{self._name}-{spec.role}",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=spec.http_method,
            authorization=spec.authorization,
            api_key_required=spec.api_key_required,
            request_parameters=spec.request_parameters or None,
            request_validator_id=validator.id if spec.validated else None,
            request_models={JSON_CONTENT_TYPE: model.name} if spec.validated_body else None,
            opts=self._child(),
        )
        integration = aws.apigateway.Integration(
            f"{self._name}-{spec.role}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",  # Lambda is always invoked with POST, whatever the method
            uri=self._args.integration_uri,
            timeout_milliseconds=self._args.settings.integration_timeout_ms,
            response_transfer_mode=self._args.settings.transfer_mode,
            opts=self._child(),
        )
        return [method, integration]

    def _create_gateway_responses(self) -> list[pulumi.Resource]:
        headers = self.cors_allowed_origins.apply(gateway_response_headers)
        return [
            aws.apigateway.Response(
                f"{self._name}-response-{response_type.lower().replace('_', '-')}",
                rest_api_id=self.rest_api.id,
                response_type=response_type,
                response_templates={JSON_CONTENT_TYPE: gateway_response_template(error)},
                response_parameters=headers,
                opts=self._child(),
            )
            for response_type, error in GATEWAY_ERRORS.items()
        ]

    def _definition_hash(self) -> pulumi.Output[str]:
        """A stable digest of everything a deployment snapshots: methods, integrations, the model,
        the validator and the gateway responses (all built from the same tables as the resources)."""
        settings = self._args.settings
        definition = {
            "endpoint": "REGIONAL",
            "methods": [{**asdict(spec), "route": spec.route.path} for spec in method_specs(settings.auth)],
            "integration": {
                "type": "AWS_PROXY",
                "httpMethod": "POST",
                "timeoutMs": settings.integration_timeout_ms,
                "responseTransferMode": settings.transfer_mode,
            },
            "model": CHAT_REQUEST_SCHEMA,
            "validator": {"body": True, "parameters": True},
        }

        def digest(uri: str, origins: list[str]) -> str:
            headers = gateway_response_headers(origins)
            responses = {
                response_type: {"template": gateway_response_template(error), "headers": headers}
                for response_type, error in GATEWAY_ERRORS.items()
            }
            return api_definition_hash({**definition, "gatewayResponses": responses, "integrationUri": uri})

        return pulumi.Output.all(self._args.integration_uri, self.cors_allowed_origins).apply(
            lambda values: digest(values[0], values[1])
        )

    def _create_account_logging_role(self) -> aws.apigateway.Account:
        """The account's API Gateway CloudWatch role: set by this stack, never taken away by it.

        It is one setting per account and region, shared by every stack there (dev and prod in one
        account included). Deleting aws.apigateway.Account resets it (pulumi-aws 7 follows the Terraform
        provider v6, which removed `reset_on_delete` and always resets: terraform-provider-aws #42226),
        and deleting the role breaks the setting for every other API. So all three are
        `retain_on_delete`: `pulumi destroy` of any stack leaves the setting and its role working for
        the others (README, "API Gateway's account logging role", says how to remove them at the end).
        """
        context = self._args.context
        retained = self._child(retain_on_delete=True)
        role = aws.iam.Role(
            f"{self._name}-cloudwatch-role",
            description=(
                "Account-wide (this region): lets API Gateway write the API logs of this account to "
                "CloudWatch Logs"
            ),
            assume_role_policy=pulumi.Output.json_dumps(api_gateway_trust_policy(context)),
            opts=retained,
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-cloudwatch-delivery",
            role=role.id,
            policy=pulumi.Output.json_dumps(api_gateway_logging_policy(context)),
            opts=retained,
        )
        return aws.apigateway.Account(
            f"{self._name}-account",
            cloudwatch_role_arn=role.arn,
            opts=self._child(depends_on=[policy], retain_on_delete=True),
        )

    def _create_method_settings(self) -> None:
        settings = self._args.settings
        aws.apigateway.MethodSettings(
            f"{self._name}-method-settings",
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": settings.throttle_rate_limit,
                "throttling_burst_limit": settings.throttle_burst_limit,
                "metrics_enabled": True,
                "logging_level": EXECUTION_LOGGING_LEVEL,
                # Data trace writes full requests and responses - prompts and completions - to the
                # execution log. Never on, whatever the logging level.
                "data_trace_enabled": False,
            },
            opts=self._child(),
        )

    def _create_api_key(self) -> pulumi.Output[str]:
        settings = self._args.settings
        plan = aws.apigateway.UsagePlan(
            f"{self._name}-usage-plan",
            description=f"Callers of {self._args.api_name}: throttled, with a daily quota per key",
            api_stages=[{"api_id": self.rest_api.id, "stage": self.stage.stage_name}],
            throttle_settings={
                "rate_limit": settings.throttle_rate_limit,
                "burst_limit": settings.throttle_burst_limit,
            },
            quota_settings={"limit": settings.quota_per_day, "period": "DAY"},
            opts=self._child(),
        )
        key = aws.apigateway.ApiKey(
            f"{self._name}-key",
            description=f"Client key of {self._args.api_name} (read it with `aws apigateway get-api-key`)",
            enabled=True,
            opts=self._child(),
        )
        aws.apigateway.UsagePlanKey(
            f"{self._name}-usage-plan-key",
            key_id=key.id,
            key_type="API_KEY",
            usage_plan_id=plan.id,
            opts=self._child(),
        )
        return key.id

    def method_arn(self, spec: MethodSpec) -> pulumi.Output[str]:
        """arn:…:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path, params as *>"""
        return pulumi.Output.concat(self.stage.execution_arn, f"/{spec.http_method}{spec.route.source_path}")

    @property
    def caller_method_arns(self) -> list[pulumi.Output[str]]:
        """What a caller needs `execute-api:Invoke` on: every method except the (open) preflights."""
        return [
            self.method_arn(spec)
            for spec in method_specs(self._args.settings.auth)
            if spec.http_method != PREFLIGHT
        ]

    def _allow_api_to_invoke(self) -> None:
        """One invoke permission per method, for this API's stage and that method's path only."""
        context = self._args.context
        for spec in method_specs(self._args.settings.auth):
            aws.lambda_.Permission(
                f"{self._name}-{spec.role}-permission",
                function=self._args.function_name,
                action="lambda:InvokeFunction",
                principal=context.service_principal("apigateway"),
                source_account=context.account_id,
                source_arn=self.method_arn(spec),
                opts=self._child(),
            )


def allowed_origins(
    configured: Sequence[str], added: Sequence[pulumi.Input[str]]
) -> pulumi.Output[list[str]]:
    """The configured origins, then the program's own (the page's distribution), without duplicates."""

    def merge(values: list[str]) -> list[str]:
        return list(dict.fromkeys([*configured, *values]))

    return pulumi.Output.all(*added).apply(merge)


def api_definition_hash(definition: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def api_gateway_trust_policy(context: AwsContext) -> dict[str, Any]:
    """API Gateway may assume the logging role: the trust AWS documents for it, with no condition
    (UpdateAccount checks that API Gateway can assume the role)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("apigateway")},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def api_gateway_logging_policy(context: AwsContext) -> dict[str, Any]:
    """Write API logs to log groups of this account in this region (see LOGGING_ROLE_ACTIONS)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteApiLogsOfThisAccountAndRegion",
                "Effect": "Allow",
                "Action": LOGGING_ROLE_ACTIONS,
                "Resource": [
                    context.arn("logs", "log-group:*"),
                    context.arn("logs", "log-group:*:log-stream:*"),
                ],
            }
        ],
    }
