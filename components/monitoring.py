"""Operations: one CloudWatch dashboard per stack, alarms into an encrypted SNS topic, and log metric
filters on the invoker's error codes.

The topic is encrypted with the stack's logs key (its key policy lets CloudWatch, which publishes the
alarm notifications, generate data keys: "Amazon SNS: enable compatibility between event sources from
AWS services and encrypted topics", SNS developer guide), so alarms add no $1/month key of their own.
Agent metrics come from the `AWS/Bedrock/Agents` namespace ("Monitor Amazon Bedrock Agents using
CloudWatch Metrics", Bedrock user guide: InvocationCount, TotalTime, InvocationThrottles,
InvocationServerErrors, InvocationClientErrors, InputTokenCount, OutputTokenCount, with the dimensions
Operation / Operation, ModelId / Operation, Agent Alias ARN, ModelId). The dashboard narrows them to
this stack's live alias with a SEARCH expression; alarms cannot use SEARCH, so the agent alarm watches
InvokeAgent in this account and region (an alarm on the alias ARN would fall silent each time the
alias is replaced).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.context import AwsContext

PERIOD_SECONDS = 300
AGENT_NAMESPACE = "AWS/Bedrock/Agents"
# The invoker's one summary line per request (functions/invoker/handler.py), JSON from Powertools.
SUMMARY_MESSAGE = "request completed"
METRICS_NAMESPACE_SUFFIX = "invoker"


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: `statistic` of `metric` over PERIOD_SECONDS reaching `threshold`."""

    role: str  # part of the resource and alarm name
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    threshold: float = 1
    statistic: str = "Sum"


@dataclass(frozen=True)
class MetricFilterSpec:
    role: str
    metric: str
    pattern: str
    dimensions: dict[str, str] = field(default_factory=dict)


@dataclass
class StackMonitoringArgs:
    context: AwsContext
    stack_prefix: str
    invoker_function_name: str
    invoker_log_group_name: pulumi.Input[str]
    action_group_function_name: str
    api_name: str
    api_stage_name: str
    agent_alias_arn: pulumi.Input[str]
    topic_kms_key_arn: pulumi.Input[str]
    alarm_email: Optional[str] = None
    protect: bool = False


class StackMonitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    dashboard: aws.cloudwatch.Dashboard
    alarms: list[aws.cloudwatch.MetricAlarm]
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    metrics_namespace: str

    def __init__(
        self, name: str, args: StackMonitoringArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:StackMonitoring", name, None, opts)
        self._name = name
        self._args = args
        self.metrics_namespace = f"{args.stack_prefix}/{METRICS_NAMESPACE_SUFFIX}"
        self.topic = self._create_topic()
        self.alarms = [self._create_alarm(spec) for spec in alarm_specs(args)]
        for spec in metric_filter_specs():
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{spec.role}",
                name=f"{args.stack_prefix}-{spec.role}",
                log_group_name=args.invoker_log_group_name,
                pattern=spec.pattern,
                metric_transformation={
                    "name": spec.metric,
                    "namespace": self.metrics_namespace,
                    "value": "1",
                    "unit": "Count",
                    "dimensions": spec.dimensions,
                },
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.stack_prefix,
            dashboard_body=pulumi.Output.json_dumps(dashboard_body(args, self.metrics_namespace)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.topic_arn = self.topic.arn
        self.dashboard_name = self.dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name})

    def _create_topic(self) -> aws.sns.Topic:
        args = self._args
        topic = aws.sns.Topic(
            f"{self._name}-alarms",
            name=f"{args.stack_prefix}-alarms",
            kms_master_key_id=args.topic_kms_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.sns.TopicPolicy(
            f"{self._name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.json_dumps(alarm_topic_policy(args.context, topic.arn)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.alarm_email is not None:
            aws.sns.TopicSubscription(
                f"{self._name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=pulumi.ResourceOptions(parent=self),
            )
        return topic

    def _create_alarm(self, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{spec.role}",
            name=f"{self._args.stack_prefix}-{spec.role}",
            alarm_description=spec.description,
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=spec.dimensions,
            statistic=spec.statistic,
            period=PERIOD_SECONDS,
            evaluation_periods=1,
            threshold=spec.threshold,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No traffic is not a failure: an idle stack stays OK.
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
        )


def alarm_specs(args: StackMonitoringArgs) -> list[AlarmSpec]:
    invoker = {"FunctionName": args.invoker_function_name}
    return [
        AlarmSpec(
            "invoker-errors",
            "The invoker function failed (an unhandled error or a timeout): callers got a 5xx",
            "AWS/Lambda",
            "Errors",
            invoker,
        ),
        AlarmSpec(
            "invoker-throttles",
            "Lambda throttled the invoker (reserved or account concurrency exhausted): callers got 429/502.",
            "AWS/Lambda",
            "Throttles",
            invoker,
        ),
        AlarmSpec(
            "action-group-errors",
            "The agent's action-group function failed: tool calls of the agent return errors.",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": args.action_group_function_name},
        ),
        AlarmSpec(
            "api-5xx",
            "The chat API answered 5xx (integration failures, invoker 502/503/504).",
            "AWS/ApiGateway",
            "5XXError",
            {"ApiName": args.api_name, "Stage": args.api_stage_name},
        ),
        AlarmSpec(
            "agent-server-errors",
            "InvokeAgent failed on the AWS side (InvocationServerErrors, this account and region).",
            AGENT_NAMESPACE,
            "InvocationServerErrors",
            {"Operation": "InvokeAgent"},
        ),
    ]


def metric_filter_specs() -> list[MetricFilterSpec]:
    """Counts of the invoker's error responses by code (docs/api.md), from its summary line."""
    summary = f'$.message = "{SUMMARY_MESSAGE}"'
    return [
        MetricFilterSpec(
            "server-error-codes",
            "ServerErrorResponses",
            f"{{ {summary} && $.status >= 500 }}",
            {"ErrorCode": "$.error_code"},
        ),
        MetricFilterSpec(
            "throttled-codes",
            "ThrottledResponses",
            f"{{ {summary} && $.status = 429 }}",
            {"ErrorCode": "$.error_code"},
        ),
        MetricFilterSpec(
            "client-error-codes",
            "ClientErrorResponses",
            f"{{ {summary} && $.status >= 400 && $.status < 500 && $.status != 429 }}",
            {"ErrorCode": "$.error_code"},
        ),
        MetricFilterSpec(
            "guardrail-interventions",
            "GuardrailInterventions",
            f"{{ {summary} && $.guardrail_intervened IS TRUE }}",
        ),
    ]


def alarm_topic_policy(context: AwsContext, topic_arn: pulumi.Input[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TopicOwnerManagesIt",
                "Effect": "Allow",
                "Principal": {"AWS": context.account_root_arn},
                "Action": [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic",
                    "sns:DeleteTopic",
                    "sns:Publish",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsOfThisAccountPublish",
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("cloudwatch")},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": context.account_id}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def _widget(
    title: str, metrics: Sequence[Sequence[Any]], x: int, y: int, region: str, stat: str = "Sum"
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 8,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": PERIOD_SECONDS,
            "view": "timeSeries",
            "metrics": [list(metric) for metric in metrics],
        },
    }


def _agent_search(alias_arn: pulumi.Input[str], metric: str, stat: str, label: str) -> list[Any]:
    expression = pulumi.Output.format(
        'SEARCH(\'{{{0},"Agent Alias ARN",ModelId,Operation}} "Agent Alias ARN"="{1}" '
        "MetricName=\"{2}\"', '{3}', {4})",
        AGENT_NAMESPACE,
        alias_arn,
        metric,
        stat,
        PERIOD_SECONDS,
    )
    return [{"expression": expression, "label": label, "id": metric[0].lower() + metric[1:]}]


def dashboard_body(args: StackMonitoringArgs, metrics_namespace: str) -> dict[str, Any]:
    region = args.context.region
    fn = ["FunctionName", args.invoker_function_name]
    api = ["ApiName", args.api_name, "Stage", args.api_stage_name]
    alias = args.agent_alias_arn
    widgets = [
        _widget(
            "Invoker errors and throttles",
            [["AWS/Lambda", "Errors", *fn], ["AWS/Lambda", "Throttles", *fn]],
            0,
            0,
            region,
        ),
        _widget(
            "Invoker duration (p50, p99)",
            [
                ["AWS/Lambda", "Duration", *fn, {"stat": "p50"}],
                ["AWS/Lambda", "Duration", *fn, {"stat": "p99"}],
            ],
            8,
            0,
            region,
            stat="p50",
        ),
        _widget(
            "Invoker error responses by code",
            [
                [
                    {
                        "expression": f"SEARCH('{{{metrics_namespace},ErrorCode}}', 'Sum', {PERIOD_SECONDS})",
                        "id": "codes",
                    }
                ]
            ],
            16,
            0,
            region,
        ),
        _widget(
            "API 4xx and 5xx",
            [["AWS/ApiGateway", "4XXError", *api], ["AWS/ApiGateway", "5XXError", *api]],
            0,
            6,
            region,
        ),
        _widget(
            "API latency (p50, p99)",
            [
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p50"}],
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p99"}],
            ],
            8,
            6,
            region,
            stat="p50",
        ),
        _widget(
            "Agent invocations",
            [_agent_search(alias, "InvocationCount", "Sum", "invocations")],
            16,
            6,
            region,
        ),
        _widget(
            "Agent latency (TotalTime, average)",
            [_agent_search(alias, "TotalTime", "Average", "total time")],
            0,
            12,
            region,
            stat="Average",
        ),
        _widget(
            "Agent client and server errors, throttles",
            [
                _agent_search(alias, "InvocationClientErrors", "Sum", "client errors"),
                _agent_search(alias, "InvocationServerErrors", "Sum", "server errors"),
                _agent_search(alias, "InvocationThrottles", "Sum", "throttles"),
            ],
            8,
            12,
            region,
        ),
        _widget(
            "Tokens in and out",
            [
                _agent_search(alias, "InputTokenCount", "Sum", "input tokens"),
                _agent_search(alias, "OutputTokenCount", "Sum", "output tokens"),
            ],
            16,
            12,
            region,
        ),
    ]
    return {"widgets": widgets}
