"""An Amazon Bedrock Agent inside a private VPC.

Reads the stack configuration once (failing with every problem listed before anything is created),
then wires the components and exports what operators and the chat client need.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi

from client.tools import CLIENT_ACTION_GROUP, CLIENT_TOOLS
from components.agent import (
    AgentArgs,
    AgentKeySpec,
    KnowledgeBaseSpec,
    ToolGroup,
    create_agent,
    searches_knowledge_bases,
)
from components.api import ChatApi, ChatApiArgs, allowed_origins
from components.config import KNOWLEDGE_TOOL_ENDPOINT_SERVICE, load_config
from components.context import AwsContext
from components.endpoints import InterfaceEndpoints, InterfaceEndpointsArgs
from components.function import VpcFunction, VpcFunctionArgs, VpcFunctionRoleArgs
from components.function_schema import (
    DEFAULT_MAX_FUNCTIONS,
    FunctionDefinition,
    check_action_group_name,
    function_schema,
    function_schema_for_resolver,
)
from components.guardrail import AgentGuardrail, AgentGuardrailArgs, GuardrailAttachment
from components.keys import AgentKey, AgentKeyArgs
from components.knowledge_base import KnowledgeBase, KnowledgeBaseArgs
from components.logs import LogsKey, LogsKeyArgs
from components.monitoring import StackMonitoring, StackMonitoringArgs
from components.naming import Naming
from components.network import PrivateNetwork, PrivateNetworkArgs, SubnetSpec
from components.web import (
    WebRuntimeConfig,
    WebRuntimeConfigArgs,
    WebSignIn,
    WebSignInArgs,
    WebSite,
    WebSiteArgs,
    auth_domain_prefix,
    auth_domain_url,
    page_connect_sources,
)
from functions.action_group.knowledge import KNOWLEDGE_TARGET, knowledge_app
from functions.action_group.tools import app as action_group_tools

# Where Lambda finds the invoker's streaming exec wrapper (the archive keeps the package path).
STREAMING_BOOTSTRAP = "/var/task/functions/invoker/bootstrap"

config = load_config()
context = AwsContext.lookup(config.region)
naming = Naming(config.name_prefix)

# The agent's tools: each function schema is generated from the code that implements it. The
# Lambda's tools run in the VPC; the client's tools run on the caller's machine (the API hands the
# call to the client, which answers in its next request). An agent allows DEFAULT_MAX_FUNCTIONS
# across all its tool groups. Built (and checked, with the group names) before any resource is
# registered: on a real `pulumi up` a program error after the first registration leaves a
# half-created stack behind.
# A runtime that cannot search a knowledge base itself (AgentCore) searches it through the search
# tool: one more tool group, run by the action-group Lambda (functions/action_group/knowledge.py).
# knowledgeBaseAttached false takes the group away (the knowledge base stays).
knowledge_tool_group: str | None = None
knowledge_tool_functions: list[FunctionDefinition] = []
if (
    config.knowledge_base is not None
    and config.knowledge_base.attached
    and not searches_knowledge_bases(config.agent.runtime)
):
    knowledge_tool_group = check_action_group_name(KNOWLEDGE_TARGET)
    knowledge_tool_functions = function_schema_for_resolver(
        knowledge_app, max_functions=DEFAULT_MAX_FUNCTIONS - len(CLIENT_TOOLS)
    )
lambda_tool_group = check_action_group_name("tools")
lambda_tool_functions = function_schema_for_resolver(
    action_group_tools,
    max_functions=DEFAULT_MAX_FUNCTIONS - len(CLIENT_TOOLS) - len(knowledge_tool_functions),
)
client_tool_group = check_action_group_name(CLIENT_ACTION_GROUP)
client_tool_functions = function_schema(CLIENT_TOOLS)

logs_key = LogsKey(
    "logs",
    LogsKeyArgs(
        context=context,
        log_group_arn_patterns=naming.log_group_arn_patterns(context),
        protect=config.protect_stateful_resources,
        alarm_notifications=True,
    ),
)

# The functions' roles and ENI grants come before the network, which depends on the grants: on
# destroy, Lambda removes a deleted function's network interfaces with its role, so the grants must
# outlive the subnets and the security group (see VpcFunction).
VPC_FUNCTIONS = ("action-group", "invoker")
function_roles = {
    role: VpcFunction(role, VpcFunctionRoleArgs(context=context, function_name=naming.function_name(role)))
    for role in VPC_FUNCTIONS
}

network = PrivateNetwork(
    "network",
    PrivateNetworkArgs(
        context=context,
        cidr_block=str(config.vpc_cidr),
        subnets=[
            SubnetSpec(availability_zone=zone, cidr_block=str(cidr))
            for zone, cidr in config.private_subnets()
        ],
        flow_log_group_name=naming.stack_log_group("vpc-flow-logs"),
        flow_log_traffic_type=config.flow_log_traffic_type,
        log_retention_days=config.log_retention_days,
        log_kms_key_arn=logs_key.arn,
        protect_stateful=config.protect_stateful_resources,
        outlived_by=[function.vpc_access for function in function_roles.values()],
    ),
)


def vpc_function(role: str, description: str, **extra: Any) -> VpcFunction:
    """One of VPC_FUNCTIONS, deployed in the private subnets with the stack's logging and layer."""
    return function_roles[role].deploy(
        VpcFunctionArgs(
            context=context,
            function_name=naming.function_name(role),
            package=role.replace("-", "_"),
            description=description,
            subnet_ids=network.private_subnet_ids,
            security_group_ids=[network.security_group_id],
            log_group_name=naming.lambda_log_group(role),
            log_retention_days=config.log_retention_days,
            log_kms_key_arn=logs_key.arn,
            log_level=config.functions.log_level,
            layers=[config.functions.powertools_layer_arn],
            protect_stateful=config.protect_stateful_resources,
            **extra,
        ),
    )


# The agent's own key (agentKmsKey), or the one the user brings (agentKmsKeyArn): sessions and
# resources of the agent; the stack's own key also encrypts its guardrail and knowledge base.
agent_key = (
    AgentKey("agent-key", AgentKeyArgs(context=context, protect=config.protect_stateful_resources))
    if config.agent.create_kms_key
    else None
)
agent_key_spec: AgentKeySpec | None = None
if agent_key is not None:
    agent_key_spec = AgentKeySpec(arn=agent_key.arn, key="stack:agent-key")
elif config.agent.customer_kms_key_arn is not None:
    agent_key_spec = AgentKeySpec(
        arn=config.agent.customer_kms_key_arn, key=config.agent.customer_kms_key_arn
    )
data_key_arn = agent_key.arn if agent_key is not None else None

knowledge_base: KnowledgeBase | None = None
knowledge_bases: list[KnowledgeBaseSpec] = []
if config.knowledge_base is not None:
    knowledge_base = KnowledgeBase(
        "knowledge",
        KnowledgeBaseArgs(
            context=context,
            settings=config.knowledge_base,
            name_prefix=naming.prefix,
            corpus_dir=Path(__file__).resolve().parent / "knowledge",
            kms_key_arn=data_key_arn,
            protect=config.protect_stateful_resources,
        ),
    )
    knowledge_bases.append(
        KnowledgeBaseSpec(
            knowledge_base_id=knowledge_base.knowledge_base_id,
            knowledge_base_arn=knowledge_base.knowledge_base_arn,
            description=config.knowledge_base.description,
            key="knowledge",
            enabled=config.knowledge_base.attached,
        )
    )

# The action-group Lambda runs the agent's tools; with the search tool, it retrieves from exactly this
# stack's knowledge base. Retrieve authorizes the knowledge-base resource type (arn:...:knowledge-base/
# <id>; Service Authorization Reference, "Actions defined by Amazon Bedrock"). It needs no KMS grant
# for the agent key that encrypts the knowledge base's store: Retrieve takes no key (botocore
# bedrock-agent-runtime RetrieveRequest has none, unlike RetrieveAndGenerate's sessionConfiguration),
# and Bedrock reads the vector index with the knowledge base's own role, which holds the key
# (components/knowledge_base.py, UseTheAgentKey).
knowledge_access: dict[str, Any] = {}
if knowledge_tool_group is not None:
    assert knowledge_base is not None
    knowledge_access = {
        "environment": {"KNOWLEDGE_BASE_ID": knowledge_base.knowledge_base_id},
        "statements": [
            {
                "Sid": "RetrieveFromThisStacksKnowledgeBase",
                "Effect": "Allow",
                "Action": "bedrock:Retrieve",
                "Resource": knowledge_base.knowledge_base_arn,
            }
        ],
    }
action_group_function = vpc_function("action-group", "Tools the Bedrock agent calls", **knowledge_access)


def action_group_tools_group(name: str, description: str, functions: list[FunctionDefinition]) -> ToolGroup:
    """A tool group the action-group Lambda runs."""
    return ToolGroup(
        name=name,
        description=description,
        functions=functions,
        function_arn=action_group_function.arn,
        executor_key=naming.function_name("action-group"),
    )


tool_groups = [
    action_group_tools_group(
        lambda_tool_group, "Calculator, unit conversion and business-day arithmetic", lambda_tool_functions
    ),
    ToolGroup(
        name=client_tool_group,
        description="Tools the API client fulfils on the user's machine (local time, confirmation)",
        functions=client_tool_functions,
    ),
]
if knowledge_tool_group is not None:
    tool_groups.append(
        action_group_tools_group(
            knowledge_tool_group,
            "Searches the stack's knowledge base (the documents in knowledge/)",
            knowledge_tool_functions,
        )
    )

guardrail: GuardrailAttachment | None = None
if config.guardrail is not None:
    guardrail = AgentGuardrail(
        "guardrail",
        AgentGuardrailArgs(
            settings=config.guardrail,
            guardrail_name=naming.prefix[:50],
            # Grounding checks answers against retrieved passages: only while the agent searches them.
            with_grounding=config.knowledge_base is not None and config.knowledge_base.attached,
            kms_key_arn=data_key_arn,
        ),
    ).attachment
elif config.agent.guardrail_id is not None and config.agent.guardrail_version is not None:
    guardrail = GuardrailAttachment.existing(
        config.agent.guardrail_id,
        config.agent.guardrail_version,
        config.agent.guardrail_id
        if config.agent.guardrail_id.startswith("arn:")
        else context.arn("bedrock", f"guardrail/{config.agent.guardrail_id}"),
    )

agent = create_agent(
    "agent",
    AgentArgs(
        context=context,
        settings=config.agent,
        agent_name=config.name_prefix,
        tool_groups=tool_groups,
        turn_timeout_seconds=config.api.integration_timeout_ms // 1000,
        guardrail=guardrail,
        # A runtime that cannot search them itself has the search tool instead (above).
        knowledge_bases=knowledge_bases if searches_knowledge_bases(config.agent.runtime) else [],
        kms_key=agent_key_spec,
    ),
)

# --- The chat page (webUi): created before the invoker and the API so that its origin is in their CORS
# allow-lists by construction. The sign-in and the page's config.json follow the API.
site: WebSite | None = None
if config.web is not None:
    auth_prefix = auth_domain_prefix(config.web, config.name_prefix, context)
    site = WebSite(
        "web",
        WebSiteArgs(
            context=context,
            settings=config.web,
            name_prefix=config.name_prefix,
            connect_sources=page_connect_sources(context, auth_domain_url(auth_prefix, context)),
            access_log_group_name=naming.stack_log_group("web-access"),
            log_retention_days=config.log_retention_days,
            log_kms_key_arn=logs_key.arn,
            protect_stateful=config.protect_stateful_resources,
        ),
    )
browser_origins = [site.origin] if site is not None else []

# Lambda's timeout sits just above the API's integration timeout: the handler answers 504 itself
# (or ends its stream with an error event) before API Gateway gives up, and is never killed mid-answer.
# Streaming: the exec wrapper replaces the managed runtime's loop with functions/invoker/runtime.py,
# which speaks the Runtime API's streaming response mode (docs/streaming.md says why).
invoker = vpc_function(
    "invoker",
    f"Turns API requests into {agent.invoke_action} calls through the VPC endpoint",
    environment={
        **agent.invoker_environment,
        "ALLOWED_ORIGINS": allowed_origins(config.api.cors_allowed_origins, browser_origins).apply(
            json.dumps
        ),
        "API_DEADLINE_MS": str(config.api.integration_timeout_ms),
        "API_STREAMING": str(config.api.streaming).lower(),
        **({"AWS_LAMBDA_EXEC_WRAPPER": STREAMING_BOOTSTRAP} if config.api.streaming else {}),
    },
    statements=agent.invoker_statements,
    executables=["bootstrap"],
    timeout_seconds=config.api.function_timeout_seconds,
    reserved_concurrency=config.functions.invoker_reserved_concurrency,
)

# Endpoint policies: the agent's endpoint carries only the invoker calling this stack's agent; the
# logs endpoint only writes to this stack's log groups, by principals of this account.
endpoint_policies: dict[str, Any] = {}
for service, policy in agent.endpoint_policies(invoker.role_arn).items():
    if service in config.interface_endpoints:
        endpoint_policies[service] = policy
# The search tool's endpoint: only the action-group role's Retrieve on this stack's knowledge base,
# beside whatever the agent puts there. Kept while the knowledge base is detached (nothing is granted
# then, so it admits nothing more; config.py refuses the endpoint once the knowledge base is gone).
if (
    knowledge_base is not None
    and not searches_knowledge_bases(config.agent.runtime)
    and KNOWLEDGE_TOOL_ENDPOINT_SERVICE in config.interface_endpoints
):
    existing = endpoint_policies.get(KNOWLEDGE_TOOL_ENDPOINT_SERVICE, {"Statement": []})
    endpoint_policies[KNOWLEDGE_TOOL_ENDPOINT_SERVICE] = {
        "Version": "2012-10-17",
        "Statement": [
            *existing["Statement"],
            {
                "Sid": "OnlyTheSearchToolRetrievingFromThisStacksKnowledgeBase",
                "Effect": "Allow",
                "Principal": {"AWS": function_roles["action-group"].role_arn},
                "Action": "bedrock:Retrieve",
                "Resource": knowledge_base.knowledge_base_arn,
            },
        ],
    }
if "logs" in config.interface_endpoints:
    endpoint_policies["logs"] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteThisStacksLogGroupsOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [f"{pattern}:log-stream:*" for pattern in naming.log_group_arn_patterns(context)],
                "Condition": {"StringEquals": {"aws:PrincipalAccount": context.account_id}},
            }
        ],
    }
endpoints = InterfaceEndpoints(
    "endpoints",
    InterfaceEndpointsArgs(
        context=context,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        security_group_ids=[network.security_group_id],
        services=config.interface_endpoints,
        policies=endpoint_policies,
    ),
)

# --- API ---
api = ChatApi(
    "api",
    ChatApiArgs(
        context=context,
        settings=config.api,
        api_name=f"{naming.prefix}-chat",
        function_name=invoker.function_name,
        function_invoke_arn=invoker.invoke_arn,
        function_streaming_invoke_arn=invoker.response_streaming_invoke_arn,
        access_log_group_name=naming.stack_log_group("api-access"),
        log_retention_days=config.log_retention_days,
        log_kms_key_arn=logs_key.arn,
        protect_stateful=config.protect_stateful_resources,
        browser_origins=browser_origins,
    ),
)
# --- Operations ---
monitoring = StackMonitoring(
    "monitoring",
    StackMonitoringArgs(
        context=context,
        stack_prefix=naming.prefix,
        invoker_function_name=naming.function_name("invoker"),
        invoker_log_group_name=invoker.log_group_name,
        action_group_function_name=naming.function_name("action-group"),
        api_name=f"{naming.prefix}-chat",
        api_stage_name=config.api.stage_name,
        agent_alias_arn=agent.outputs.get("agentAliasArn", ""),
        topic_kms_key_arn=logs_key.arn,
        alarm_email=config.monitoring.alarm_email,
        protect=config.protect_stateful_resources,
    ),
)
pulumi.export("dashboardName", monitoring.dashboard_name)
pulumi.export("alarmTopicArn", monitoring.topic_arn)
if guardrail is not None:
    pulumi.export("guardrailId", guardrail.identifier)
    pulumi.export("guardrailVersion", guardrail.version)
if knowledge_base is not None:
    # What `python -m client ingest` needs.
    pulumi.export("knowledgeBaseId", knowledge_base.knowledge_base_id)
    pulumi.export("knowledgeBaseDataSourceId", knowledge_base.data_source_id)
    pulumi.export("knowledgeBaseBucketName", knowledge_base.bucket_name)

pulumi.export("apiUrl", api.url)
pulumi.export("apiId", api.rest_api_id)
pulumi.export("apiStageName", api.stage_name)
pulumi.export("apiAccessLogGroupName", api.access_log_group_name)
if api.api_key_id is not None:
    # The key's id only: read its value with `aws apigateway get-api-key --include-value`.
    pulumi.export("apiKeyId", api.api_key_id)

pulumi.export("region", config.region)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("securityGroupId", network.security_group_id)
pulumi.export("endpointIds", endpoints.ids)
pulumi.export("endpointDnsNames", endpoints.dns_names)
pulumi.export("flowLogGroupName", network.flow_log_group.name)
pulumi.export("logsKeyArn", logs_key.arn)
for output_name, value in agent.outputs.items():
    pulumi.export(output_name, value)
pulumi.export("invokerFunctionName", invoker.function_name)
pulumi.export("actionGroupFunctionName", action_group_function.function_name)
pulumi.export("invokerLogGroupName", invoker.log_group_name)
pulumi.export("actionGroupLogGroupName", action_group_function.log_group_name)

if site is not None and config.web is not None:
    sign_in = WebSignIn(
        "sign-in",
        WebSignInArgs(
            context=context,
            settings=config.web,
            name_prefix=config.name_prefix,
            auth_domain_prefix=auth_prefix,
            page_origin=site.origin,
            api_method_arns=api.caller_method_arns,
            protect_stateful=config.protect_stateful_resources,
        ),
    )
    WebRuntimeConfig(
        "web-config",
        WebRuntimeConfigArgs(
            bucket_name=site.bucket_name,
            values={
                "apiUrl": api.url,
                "region": config.region,
                "userPoolId": sign_in.user_pool_id,
                "clientId": sign_in.client_id,
                "identityPoolId": sign_in.identity_pool_id,
                "authDomain": sign_in.auth_domain,
            },
        ),
    )
    pulumi.export("webUrl", pulumi.Output.concat(site.origin, "/"))
    pulumi.export("webBucketName", site.bucket_name)
    pulumi.export("webDistributionId", site.distribution_id)
    pulumi.export("webAccessLogGroupName", site.access_log_group_name)
    pulumi.export("userPoolId", sign_in.user_pool_id)
    pulumi.export("userPoolClientId", sign_in.client_id)
    pulumi.export("identityPoolId", sign_in.identity_pool_id)
