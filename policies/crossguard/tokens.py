"""pulumi-aws v7 type tokens the rules refer to (checked against pulumi_aws 7.51.1's `super().__init__`)."""

from __future__ import annotations

from typing import Final

# ec2 / vpc
VPC: Final = "aws:ec2/vpc:Vpc"
SUBNET: Final = "aws:ec2/subnet:Subnet"
DEFAULT_SUBNET: Final = "aws:ec2/defaultSubnet:DefaultSubnet"
ROUTE_TABLE: Final = "aws:ec2/routeTable:RouteTable"
DEFAULT_ROUTE_TABLE: Final = "aws:ec2/defaultRouteTable:DefaultRouteTable"
ROUTE: Final = "aws:ec2/route:Route"
ROUTE_TABLE_ASSOCIATION: Final = "aws:ec2/routeTableAssociation:RouteTableAssociation"
MAIN_ROUTE_TABLE_ASSOCIATION: Final = "aws:ec2/mainRouteTableAssociation:MainRouteTableAssociation"
INTERNET_GATEWAY: Final = "aws:ec2/internetGateway:InternetGateway"
INTERNET_GATEWAY_ATTACHMENT: Final = "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment"
EGRESS_ONLY_INTERNET_GATEWAY: Final = "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway"
NAT_GATEWAY: Final = "aws:ec2/natGateway:NatGateway"
EIP: Final = "aws:ec2/eip:Eip"
EIP_ASSOCIATION: Final = "aws:ec2/eipAssociation:EipAssociation"
INSTANCE: Final = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
SECURITY_GROUP: Final = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP: Final = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE: Final = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE: Final = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS_RULE: Final = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
VPC_ENDPOINT: Final = "aws:ec2/vpcEndpoint:VpcEndpoint"
VPC_ENDPOINT_POLICY: Final = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
FLOW_LOG: Final = "aws:ec2/flowLog:FlowLog"

# logs / kms
LOG_GROUP: Final = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY: Final = "aws:kms/key:Key"
KMS_KEY_POLICY: Final = "aws:kms/keyPolicy:KeyPolicy"

# iam
ROLE: Final = "aws:iam/role:Role"
ROLE_POLICY: Final = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY: Final = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY: Final = "aws:iam/groupPolicy:GroupPolicy"
MANAGED_POLICY: Final = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT: Final = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_POLICY_ATTACHMENT: Final = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT: Final = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
POLICY_ATTACHMENT: Final = "aws:iam/policyAttachment:PolicyAttachment"
ROLE_POLICY_ATTACHMENTS_EXCLUSIVE: Final = (
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
)

# lambda
FUNCTION: Final = "aws:lambda/function:Function"
PERMISSION: Final = "aws:lambda/permission:Permission"
FUNCTION_URL: Final = "aws:lambda/functionUrl:FunctionUrl"

# bedrock
AGENT: Final = "aws:bedrock/agentAgent:AgentAgent"
AGENT_ALIAS: Final = "aws:bedrock/agentAgentAlias:AgentAgentAlias"
AGENT_ACTION_GROUP: Final = "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup"
AGENTCORE_HARNESS: Final = "aws:bedrock/agentcoreHarness:AgentcoreHarness"
AGENTCORE_GATEWAY: Final = "aws:bedrock/agentcoreGateway:AgentcoreGateway"
AGENTCORE_GATEWAY_TARGET: Final = "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget"
AGENTCORE_RUNTIME: Final = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
AGENTCORE_RUNTIME_ENDPOINT: Final = "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint"
AGENTCORE_RESOURCE_POLICY: Final = "aws:bedrock/agentcoreResourcePolicy:AgentcoreResourcePolicy"
AGENTCORE_AGENTS: Final = (AGENTCORE_HARNESS, AGENTCORE_RUNTIME)

# api gateway (REST)
REST_API: Final = "aws:apigateway/restApi:RestApi"
API_RESOURCE: Final = "aws:apigateway/resource:Resource"
METHOD: Final = "aws:apigateway/method:Method"
INTEGRATION: Final = "aws:apigateway/integration:Integration"
INTEGRATION_RESPONSE: Final = "aws:apigateway/integrationResponse:IntegrationResponse"
GATEWAY_RESPONSE: Final = "aws:apigateway/response:Response"
DEPLOYMENT: Final = "aws:apigateway/deployment:Deployment"
STAGE: Final = "aws:apigateway/stage:Stage"
METHOD_SETTINGS: Final = "aws:apigateway/methodSettings:MethodSettings"
USAGE_PLAN: Final = "aws:apigateway/usagePlan:UsagePlan"
USAGE_PLAN_KEY: Final = "aws:apigateway/usagePlanKey:UsagePlanKey"
API_KEY: Final = "aws:apigateway/apiKey:ApiKey"
# api gateway v2 (HTTP / WebSocket)
APIGWV2_STAGE: Final = "aws:apigatewayv2/stage:Stage"

# groups
SECURITY_GROUPS: Final = (SECURITY_GROUP, DEFAULT_SECURITY_GROUP)
ROUTE_TABLES: Final = (ROUTE_TABLE, DEFAULT_ROUTE_TABLE)
SUBNETS: Final = (SUBNET, DEFAULT_SUBNET)
# Identity policies: documents attached to principals (key, trust and endpoint policies differ).
INLINE_IDENTITY_POLICIES: Final = (ROLE_POLICY, USER_POLICY, GROUP_POLICY, MANAGED_POLICY)
IDENTITY_POLICY_HOLDERS: Final = (*INLINE_IDENTITY_POLICIES, ROLE)

# Resources whose pulumi-aws schema has a `tags` input (a resource that sets `tags` counts too).
TAGGABLE: Final = frozenset(
    {
        VPC,
        SUBNET,
        ROUTE_TABLE,
        DEFAULT_ROUTE_TABLE,
        SECURITY_GROUP,
        DEFAULT_SECURITY_GROUP,
        SG_INGRESS_RULE,
        SG_EGRESS_RULE,
        VPC_ENDPOINT,
        FLOW_LOG,
        INTERNET_GATEWAY,
        EGRESS_ONLY_INTERNET_GATEWAY,
        NAT_GATEWAY,
        EIP,
        INSTANCE,
        LAUNCH_TEMPLATE,
        LOG_GROUP,
        KMS_KEY,
        ROLE,
        MANAGED_POLICY,
        FUNCTION,
        AGENT,
        AGENT_ALIAS,
        REST_API,
        STAGE,
        USAGE_PLAN,
        API_KEY,
    }
)
