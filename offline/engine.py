"""Run the real Pulumi program offline, under the SDK's mocks, and record what it registers.

This stands in for the Pulumi engine on a machine with no Pulumi CLI and no AWS account:

- config is resolved the way the CLI resolves it (the `Pulumi.yaml` defaults overlaid by
  `Pulumi.<stack>.yaml`, then any overrides) and handed to the program through `PULUMI_CONFIG`, the
  same environment variable the CLI's Python language host uses;
- every `RegisterResource` call is recorded with the fields the engine forwards to a policy pack
  (type, name, inputs, parent, dependencies, property dependencies, protect, aliases, provider);
- AWS itself is replaced by `AwsMocks`: deterministic ids and ARNs shaped like the real ones.

Each run happens in a fresh `contextvars.Context` with a fresh event loop on its own thread, so runs
never share the SDK's global state (root stack, config, settings) and tests can run the program once
per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline.model import ProviderSnapshot, ResourceSnapshot

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"

# AZs the mocked account sees, per region (the real lists as of 2026-11; any other Bedrock Agents
# region gets three). The program asks for them through the provider's getAvailabilityZones invoke.
MOCK_ZONES: Mapping[str, tuple[str, ...]] = {
    "us-east-1": ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"),
    "us-west-2": ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"),
    "ap-northeast-1": ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"),
    "ca-central-1": ("ca-central-1a", "ca-central-1b", "ca-central-1d"),
    "sa-east-1": ("sa-east-1a", "sa-east-1b", "sa-east-1c"),
}
# Interface endpoint services are not offered in every zone of every account (DescribeVpcEndpoint-
# Services lists the zones by the account's own names). In this mocked account, as in many real
# ones, the Bedrock runtime endpoints are missing from us-east-1's use1-az3, named us-east-1e here.
MOCK_ENDPOINT_SERVICE_GAPS: Mapping[tuple[str, str], frozenset[str]] = {
    ("us-east-1", "bedrock-agent-runtime"): frozenset({"us-east-1e"}),
    ("us-east-1", "bedrock-runtime"): frozenset({"us-east-1e"}),
}
# The public SSM parameters Powertools publishes per release, /aws/service/powertools/python/<arch>/
# <runtime>/<version>, answered with the account and layer name AWS uses; the mocked layer version
# number is illustrative (real numbers are not the package version: 3.23.0 is layer 27).
MOCK_POWERTOOLS_LAYER_VERSIONS: Mapping[str, int] = {"3.23.0": 27, "3.37.0": 41}
MOCK_ACCOUNT_ID = "123456789012"
# Regions each geography's system inference profiles route to (as GetInferenceProfile lists them
# for Anthropic models, 2026-11); "global" profiles list region-less model ARNs.
MOCK_PROFILE_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    "global": ("",),
}


class ProgramError(Exception):
    """The program failed; `cause` is what it raised (e.g. a ConfigError)."""

    def __init__(self, cause: BaseException, resources: list[ResourceSnapshot]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.resources = resources


@dataclass
class ProgramRun:
    project: str
    stack: str
    config: dict[str, str]
    resources: list[ResourceSnapshot]
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{STACK_TYPE}::{self.project}-{self.stack}"

    def of_type(self, type_: str) -> list[ResourceSnapshot]:
        return [resource for resource in self.resources if resource.type == type_]

    def one(self, type_: str, name: str | None = None) -> ResourceSnapshot:
        matches = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {type_} named {name!r}, found {[r.name for r in matches]}")
        return matches[0]

    def by_urn(self, urn: str) -> ResourceSnapshot:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(urn)

    def children(self, parent_urn: str) -> list[ResourceSnapshot]:
        return [resource for resource in self.resources if resource.parent == parent_urn]


# --------------------------------------------------------------------------------------------------
# Config, resolved like the CLI does it


def project_name(project_dir: Path = REPO_ROOT) -> str:
    return str(_read_yaml(project_dir / "Pulumi.yaml")["name"])


def resolve_stack_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    project_dir: Path = REPO_ROOT,
    stack_config_dir: Path | None = None,
) -> dict[str, str]:
    """The config map the CLI would hand the program: `Pulumi.yaml` defaults, then the stack file,
    then `overrides` (keys with or without the project namespace; a value of None removes the key).
    Values are strings for strings and JSON for everything else, as in `PULUMI_CONFIG`."""
    project_file = _read_yaml(project_dir / "Pulumi.yaml")
    project = str(project_file["name"])
    values: dict[str, Any] = {}
    for key, spec in (project_file.get("config") or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and "default" in spec:
            values[full_key] = spec["default"]
        elif isinstance(spec, dict) and "value" in spec:
            values[full_key] = spec["value"]
    stack_file = (stack_config_dir or project_dir) / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(
            f"No stack file {stack_file.name} in {stack_file.parent}; create it or pick another stack."
        )
    for key, value in ((_read_yaml(stack_file) or {}).get("config") or {}).items():
        values[key if ":" in key else f"{project}:{key}"] = value
    for key, value in (overrides or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if value is None:
            values.pop(full_key, None)
        else:
            values[full_key] = value
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def _read_yaml(path: Path) -> Any:
    return _parse_yaml(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _parse_yaml(path: Path, _mtime_ns: int) -> Any:
    """Parsed once per file version (libyaml when available): tests run the program hundreds of times."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)


# --------------------------------------------------------------------------------------------------
# AWS, mocked


def _fake_id(prefix: str, seed: str, length: int = 17) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()[:length]
    return f"{prefix}{digest}" if prefix else digest


class AwsMocks(pulumi_mocks.Mocks):
    """Deterministic stand-ins for AWS: ids and ARNs shaped like the real ones, computed attributes
    the program reads (ARNs, DNS entries, agent ids), and the invokes it makes."""

    def __init__(self, region: str, account_id: str = MOCK_ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{self.account_id}:{resource}"

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        invoke, inputs = args.token, args.args
        if invoke == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/offline",
                "userId": "AIDAOFFLINE",
                "id": self.account_id,
            }
        if invoke == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
        if invoke == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if invoke == "aws:index/getAvailabilityZones:getAvailabilityZones":
            region = inputs.get("region") or self.region
            zones = MOCK_ZONES.get(region, tuple(f"{region}{suffix}" for suffix in "abc"))
            return {
                "names": list(zones),
                "zoneIds": [f"{region[:3]}{region.split('-')[-1]}-az{i + 1}" for i in range(len(zones))],
                "id": region,
            }
        if invoke == "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            return self._endpoint_service(str(inputs["serviceName"]))
        if invoke == "aws:ssm/getParameter:getParameter":
            return self._public_parameter(str(inputs["name"]), str(inputs.get("region") or self.region))
        if invoke == "aws:bedrock/getInferenceProfile:getInferenceProfile":
            return self._inference_profile(str(inputs["inferenceProfileId"]))
        raise NotImplementedError(f"offline mocks do not implement the invoke {invoke}")

    def _endpoint_service(self, service_name: str) -> dict[str, Any]:
        """What DescribeVpcEndpointServices says about an AWS interface endpoint service."""
        region, _, service = service_name.removeprefix("com.amazonaws.").partition(".")
        zones = MOCK_ZONES.get(region, tuple(f"{region}{suffix}" for suffix in "abc"))
        missing = MOCK_ENDPOINT_SERVICE_GAPS.get((region, service), frozenset())
        return {
            "id": service_name,
            "serviceName": service_name,
            "serviceType": "Interface",
            "service": service,
            "serviceId": _fake_id("vpce-svc-", service_name),
            "availabilityZones": [zone for zone in zones if zone not in missing],
            "baseEndpointDnsNames": [f"{service}.{region}.vpce.amazonaws.com"],
            "privateDnsName": f"{service}.{region}.amazonaws.com",
            "acceptanceRequired": False,
            "managesVpcEndpoints": False,
            "owner": "amazon",
            "vpcEndpointPolicySupported": True,
            "supportedIpAddressTypes": ["ipv4"],
            "region": region,
        }

    def _public_parameter(self, name: str, region: str) -> dict[str, Any]:
        prefix = "/aws/service/powertools/python/"
        if not name.startswith(prefix):
            raise ValueError(f"no SSM parameter {name} in the offline mocks")
        architecture, runtime, version = name.removeprefix(prefix).split("/")
        layer_version = MOCK_POWERTOOLS_LAYER_VERSIONS.get(version)
        if layer_version is None:
            raise ValueError(f"ParameterNotFound: {name}")
        layer = f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{architecture}"
        value = f"arn:aws:lambda:{region}:017000801446:layer:{layer}:{layer_version}"
        return {
            "id": name,
            "name": name,
            "type": "String",
            "value": value,
            "insecureValue": value,
            "arn": f"arn:aws:ssm:{region}::parameter{name}",
            "version": 1,
            "withDecryption": True,
        }

    def _inference_profile(self, profile_id: str) -> dict[str, Any]:
        """A system inference profile routes one model to the regions of its geography."""
        name = profile_id.rsplit("/", 1)[-1]
        geography, _, model = name.partition(".")
        regions = MOCK_PROFILE_REGIONS.get(geography)
        if regions is None:
            raise ValueError(f"no inference profile {profile_id} in the offline mocks")
        return {
            "inferenceProfileId": name,
            "inferenceProfileArn": self._arn("bedrock", f"inference-profile/{name}"),
            "inferenceProfileName": f"{geography.upper()} {model}",
            "type": "SYSTEM_DEFINED",
            "status": "ACTIVE",
            "models": [
                {"modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model}"} for region in regions
            ],
            "id": name,
        }

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        resource_id = _fake_id("", f"{args.typ}/{args.name}", 12)
        computed = self._computed(args.typ, args.name, state, resource_id)
        if "id" in computed:
            resource_id = str(computed.pop("id"))
        state.update(computed)
        return resource_id, state

    def _computed(self, typ: str, name: str, inputs: dict[str, Any], rid: str) -> dict[str, Any]:
        physical = inputs.get("name") or f"{name}-{rid[:7]}"
        if typ == "aws:ec2/vpc:Vpc":
            return {"id": _fake_id("vpc-", name), "arn": self._arn("ec2", f"vpc/{_fake_id('vpc-', name)}")}
        if typ == "aws:ec2/subnet:Subnet":
            return {"id": _fake_id("subnet-", name)}
        if typ == "aws:ec2/routeTable:RouteTable":
            return {"id": _fake_id("rtb-", name)}
        if typ in (
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        ):
            sg_id = _fake_id("sg-", name)
            return {"id": sg_id, "arn": self._arn("ec2", f"security-group/{sg_id}")}
        if typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            vpce_id = _fake_id("vpce-", name)
            service = str(inputs.get("serviceName", "")).rsplit(".", 1)[-1]
            return {
                "id": vpce_id,
                "arn": self._arn("ec2", f"vpc-endpoint/{vpce_id}"),
                "dnsEntries": [
                    {
                        "dnsName": f"{vpce_id}-{rid[:8]}.{service}.{self.region}.vpce.amazonaws.com",
                        "hostedZoneId": "Z7HUB22UULQXV",
                    }
                ],
            }
        if typ == "aws:ec2/flowLog:FlowLog":
            return {"id": _fake_id("fl-", name)}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"id": physical, "arn": self._arn("logs", f"log-group:{physical}")}
        if typ == "aws:kms/key:Key":
            key_id = f"{rid[:8]}-{rid[8:12]}-4000-8000-{_fake_id('', name, 12)}"
            return {"id": key_id, "keyId": key_id, "arn": self._arn("kms", f"key/{key_id}")}
        if typ == "aws:kms/alias:Alias":
            return {"arn": self._arn("kms", str(inputs.get("name", physical)))}
        if typ == "aws:iam/role:Role":
            return {
                "id": physical,
                "name": physical,
                "arn": f"arn:aws:iam::{self.account_id}:role/{physical}",
            }
        if typ == "aws:iam/rolePolicy:RolePolicy":
            return {"id": f"{inputs.get('role', '')}:{physical}", "name": physical}
        if typ == "aws:lambda/function:Function":
            arn = self._arn("lambda", f"function:{physical}")
            return {
                "id": physical,
                "arn": arn,
                "qualifiedArn": f"{arn}:1",
                "version": "1",
                "invokeArn": (
                    f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{arn}/invocations"
                ),
                "responseStreamingInvokeArn": (
                    f"arn:aws:apigateway:{self.region}:lambda:path/2021-11-15/functions/{arn}"
                    "/response-streaming-invocations"
                ),
            }
        if typ == "aws:bedrock/agentAgent:AgentAgent":
            agent_id = _fake_id("", name, 10).upper()
            return {
                "id": agent_id,
                "agentId": agent_id,
                "agentArn": self._arn("bedrock", f"agent/{agent_id}"),
                "agentVersion": "DRAFT",
            }
        if typ == "aws:bedrock/agentAgentAlias:AgentAgentAlias":
            # A new alias name is a new alias: a new id.
            alias_id = _fake_id("", f"{name}/{inputs.get('agentAliasName')}", 10).upper()
            agent_id = str(inputs.get("agentId", "AGENT"))
            return {
                "id": f"{alias_id},{agent_id}",
                "agentAliasId": alias_id,
                "agentAliasArn": self._arn("bedrock", f"agent-alias/{agent_id}/{alias_id}"),
            }
        if typ == "aws:bedrock/agentAgentActionGroup:AgentAgentActionGroup":
            return {"actionGroupId": _fake_id("", name, 10).upper()}
        if typ == "aws:bedrock/agentcoreGateway:AgentcoreGateway":
            gateway_id = f"{str(inputs.get('name', name)).lower()}-{_fake_id('', name, 10)}"
            return {
                "id": gateway_id,
                "gatewayId": gateway_id,
                "gatewayArn": self._arn("bedrock-agentcore", f"gateway/{gateway_id}"),
                "gatewayUrl": f"https://{gateway_id}.gateway.bedrock-agentcore.{self.region}.amazonaws.com/mcp",
            }
        if typ == "aws:bedrock/agentcoreGatewayTarget:AgentcoreGatewayTarget":
            return {"targetId": _fake_id("", name, 10).upper()}
        if typ == "aws:bedrock/agentcoreHarness:AgentcoreHarness":
            harness_id = f"{inputs.get('harnessName', name)}-{_fake_id('', name, 10)}"
            runtime_id = f"harness_{inputs.get('harnessName', name)}-{_fake_id('', f'{name}/runtime', 10)}"
            return {
                "id": harness_id,
                "harnessId": harness_id,
                "arn": self._arn("bedrock-agentcore", f"harness/{harness_id}"),
                # The runtime the service provisions for the harness (environment_actual).
                "environmentActuals": [
                    {
                        "agentcoreRuntimeEnvironments": [
                            {
                                "agentRuntimeArn": self._arn("bedrock-agentcore", f"runtime/{runtime_id}"),
                                "agentRuntimeId": runtime_id,
                                "agentRuntimeName": runtime_id.rsplit("-", 1)[0],
                            }
                        ]
                    }
                ],
            }
        if typ == "aws:apigateway/restApi:RestApi":
            api_id = _fake_id("", name, 10)
            return {
                "id": api_id,
                "rootResourceId": _fake_id("", f"{name}/root", 10),
                "executionArn": f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}",
                "arn": f"arn:aws:apigateway:{self.region}::/restapis/{api_id}",
            }
        if typ == "aws:apigateway/resource:Resource":
            return {"id": _fake_id("", name, 6), "path": "/" + str(inputs.get("pathPart", ""))}
        if typ == "aws:apigateway/stage:Stage":
            api_id, stage = inputs.get("restApi", "api"), inputs.get("stageName", "stage")
            return {
                "invokeUrl": f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}",
                "executionArn": f"arn:aws:execute-api:{self.region}:{self.account_id}:{api_id}/{stage}",
                "arn": f"arn:aws:apigateway:{self.region}::/restapis/{api_id}/stages/{stage}",
            }
        if typ == "aws:bedrock/guardrail:Guardrail":
            guardrail_id = _fake_id("", name, 12)
            return {
                "guardrailId": guardrail_id,
                "guardrailArn": self._arn("bedrock", f"guardrail/{guardrail_id}"),
                "version": "DRAFT",
                "status": "READY",
            }
        if typ == "aws:bedrock/guardrailVersion:GuardrailVersion":
            return {"version": "1"}
        if typ == "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase":
            kb_id = _fake_id("", name, 10).upper()
            return {"id": kb_id, "arn": self._arn("bedrock", f"knowledge-base/{kb_id}")}
        if typ == "aws:bedrock/agentDataSource:AgentDataSource":
            source_id = _fake_id("", name, 10).upper()
            return {"id": f"{source_id},{inputs.get('knowledgeBaseId', '')}", "dataSourceId": source_id}
        if typ == "aws:bedrock/agentAgentKnowledgeBaseAssociation:AgentAgentKnowledgeBaseAssociation":
            return {"id": f"{inputs.get('agentId', '')},DRAFT,{inputs.get('knowledgeBaseId', '')}"}
        if typ == "aws:s3/vectorsVectorBucket:VectorsVectorBucket":
            bucket = str(inputs.get("vectorBucketName", physical))
            return {"id": bucket, "vectorBucketArn": self._arn("s3vectors", f"bucket/{bucket}")}
        if typ == "aws:s3/vectorsIndex:VectorsIndex":
            bucket, index = inputs.get("vectorBucketName", "bucket"), inputs.get("indexName", physical)
            arn = self._arn("s3vectors", f"bucket/{bucket}/index/{index}")
            return {"id": arn, "indexArn": arn}
        if typ == "aws:sns/topic:Topic":
            topic = str(inputs.get("name") or physical)
            return {"id": self._arn("sns", topic), "arn": self._arn("sns", topic)}
        if typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            return {"arn": self._arn("cloudwatch", f"alarm:{inputs.get('name', physical)}")}
        if typ == "aws:cloudwatch/dashboard:Dashboard":
            board = str(inputs.get("dashboardName", physical))
            return {"id": board, "dashboardArn": f"arn:aws:cloudwatch::{self.account_id}:dashboard/{board}"}
        if typ == "aws:apigateway/apiKey:ApiKey":
            return {"value": f"offline-api-key-{rid}"}
        return self._computed_web(typ, name, inputs, rid)

    def _computed_web(self, typ: str, name: str, inputs: dict[str, Any], rid: str) -> dict[str, Any]:
        """The page's resources (components/web.py): S3, CloudFront, Cognito, log delivery."""
        if typ == "aws:s3/bucket:Bucket":
            bucket = str(inputs.get("bucket") or f"{inputs.get('bucketPrefix', name)}{rid}")
            return {
                "id": bucket,
                "bucket": bucket,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
            }
        if typ == "aws:cloudfront/distribution:Distribution":
            distribution_id = "E" + _fake_id("", name, 13).upper()
            return {
                "id": distribution_id,
                "arn": f"arn:aws:cloudfront::{self.account_id}:distribution/{distribution_id}",
                "domainName": f"d{_fake_id('', name, 13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            }
        if typ in (
            "aws:cloudfront/originAccessControl:OriginAccessControl",
            "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
        ):
            return {"id": "E" + _fake_id("", name, 13).upper()}
        if typ == "aws:cognito/userPool:UserPool":
            pool_id = f"{self.region}_{_fake_id('', name, 9)}"
            return {
                "id": pool_id,
                "arn": self._arn("cognito-idp", f"userpool/{pool_id}"),
                "endpoint": f"cognito-idp.{self.region}.amazonaws.com/{pool_id}",
            }
        if typ == "aws:cognito/userPoolClient:UserPoolClient":
            return {"id": _fake_id("", name, 26)}
        if typ == "aws:cognito/identityPool:IdentityPool":
            pool_id = f"{self.region}:{_fake_id('', name, 8)}-0000-4000-8000-{_fake_id('', name, 12)}"
            return {"id": pool_id, "arn": self._arn("cognito-identity", f"identitypool/{pool_id}")}
        if typ in (
            "aws:cloudwatch/logDeliverySource:LogDeliverySource",
            "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination",
        ):
            kind = "delivery-source" if typ.endswith("Source") else "delivery-destination"
            return {"arn": self._arn("logs", f"{kind}:{inputs.get('name', name)}")}
        return {}


# --------------------------------------------------------------------------------------------------
# The recording monitor


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock resource monitor that also keeps each registration as the engine would see it."""

    def __init__(self, mocks: pulumi_mocks.Mocks, provider: ProviderSnapshot | None) -> None:
        super().__init__(mocks)
        self.snapshots: list[ResourceSnapshot] = []
        self._provider = provider

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        # MockMonitor.Invoke runs on the SDK's executor threads and gives each one an event loop
        # that nobody closes (pulumi/runtime/sync_await.py `_ensure_event_loop`); the garbage
        # collector then finalises them at interpreter exit, which can print "Exception ignored in
        # BaseEventLoop.__del__" after a program error. Own the thread's loop for the call instead.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # called on a thread whose loop is running: leave that loop alone
            return super().Invoke(request)  # type: ignore[no-untyped-call]
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return super().Invoke(request)  # type: ignore[no-untyped-call]
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != STACK_TYPE:
            inputs = rpc.deserialize_properties(request.object)
            self.snapshots.append(
                ResourceSnapshot(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    inputs=_plain(inputs),
                    custom=bool(request.custom),
                    parent=request.parent or None,
                    dependencies=tuple(request.dependencies),
                    property_dependencies={
                        key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
                    },
                    protect=bool(request.protect),
                    aliases=tuple(_alias_text(alias) for alias in request.aliases) + tuple(request.aliasURNs),
                    provider=self._provider if request.custom and request.type.startswith("aws:") else None,
                    outputs={"id": response.id, **_plain(self.resources[response.urn].state)},
                    replacement_trigger=_trigger(request),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    ignore_changes=tuple(request.ignoreChanges),
                    retain_on_delete=bool(request.retainOnDelete),
                    deleted_with=str(request.deletedWith),
                )
            )
        return response


def _alias_text(alias: Any) -> str:
    """An alias as the engine keeps it: a URN, or the spec (name/type/parent) as compact JSON."""
    if alias.urn:
        return str(alias.urn)
    return json.dumps(json_format.MessageToDict(alias.spec), sort_keys=True)


def _trigger(request: Any) -> Any:
    if not request.HasField("replacement_trigger"):
        return None
    return json_format.MessageToDict(request.replacement_trigger)


def _plain(value: Any) -> Any:
    """Inputs as JSON-able values (resource references become their names, assets their paths)."""
    if isinstance(value, pulumi.AssetArchive):
        return {"assets": {name: _plain(item) for name, item in value.assets.items()}}
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return {"path": str(value.path)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, pulumi.Resource):
        return str(getattr(value, "_name", value))
    return value


# --------------------------------------------------------------------------------------------------
# Running the program


@contextlib.contextmanager
def _program_environment(config: Mapping[str, str], project_dir: Path) -> Iterator[None]:
    saved_env = os.environ.get("PULUMI_CONFIG")
    saved_path = list(sys.path)
    saved_cwd = Path.cwd()
    os.environ["PULUMI_CONFIG"] = json.dumps(dict(config))
    sys.path.insert(0, str(project_dir))
    os.chdir(project_dir)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = saved_env


def run_program(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    project_dir: Path = REPO_ROOT,
    stack_config_dir: Path | None = None,
    preview: bool = True,
) -> ProgramRun:
    """Run `<project_dir>/__main__.py` for `stack` under mocks and return what it registered.

    Raises `ProgramError` (with the resources registered before the failure) if the program fails.
    """
    project = project_name(project_dir)
    config = resolve_stack_config(stack, overrides, project_dir, stack_config_dir)
    region = config.get("aws:region", "us-east-1")
    provider = ProviderSnapshot(
        urn=f"urn:pulumi:{stack}::{project}::pulumi:providers:aws::default",
        type="pulumi:providers:aws",
        name="default",
        properties={
            key.split(":", 1)[1]: _config_value(value)
            for key, value in config.items()
            if key.startswith("aws:")
        },
    )
    mocks = AwsMocks(region)
    monitor = RecordingMonitor(mocks, provider)

    def run() -> ProgramRun:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)
            main = str(project_dir / "__main__.py")
            try:
                _sync_await(run_pulumi_func(lambda: _run_main(main)))
                outputs = _sync_await(_resolve_outputs())
            except BaseException as error:  # handed back to the caller, with what was registered
                raise ProgramError(error, list(monitor.snapshots)) from error
            return ProgramRun(project, stack, config, list(monitor.snapshots), outputs)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with _program_environment(config, project_dir):
        return _on_a_fresh_stack(lambda: contextvars.Context().run(run))


def _on_a_fresh_stack(call: Callable[[], ProgramRun]) -> ProgramRun:
    """Run the program at the bottom of a new thread's stack, as the language host runs it.

    The SDK records the whole Python stack with every resource it registers (`_get_stack_trace` in
    pulumi/runtime/resource.py reads each frame's source line); called from deep inside pytest, that
    was a third of a run's time. Exceptions come back to the caller unchanged.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-program") as thread:
        return thread.submit(call).result()


def _stack_trace() -> source_pb2.StackTrace:
    """What `pulumi.runtime.resource._get_stack_trace` returns, at a fraction of its cost.

    The SDK sends every registration the stack of user frames above the resource's constructors (the
    frames older than the third `__init__` from the top, newest first, each as a file URI and line).
    It builds them with `traceback.extract_stack()`, which stats every file on the stack and reads
    each frame's source line, and `pathlib.Path(...).as_uri()` per frame: an eighth of a program run
    under mocks. This walks the same frames and caches each file's URI; the message is the same
    (tests/offline/test_engine_stack_trace.py compares the two).
    """
    frame: FrameType | None = sys._getframe(1)
    inits = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    if frame is None or frame.f_back is None:
        return source_pb2.StackTrace()
    frames = []
    caller: FrameType | None = frame.f_back
    while caller is not None:
        uri, line = _file_uri(caller.f_code.co_filename), caller.f_lineno
        position = None if uri is None or line is None else source_pb2.SourcePosition(uri=uri, line=line)
        frames.append(source_pb2.StackFrame(pc=position))
        caller = caller.f_back
    return source_pb2.StackTrace(frames=frames)


@functools.cache
def _file_uri(filename: str) -> str | None:
    """A frame's file as the SDK names it (`_get_source_position_for_frame`): a file URI, or None."""
    if filename == "":
        return None
    try:
        return Path(filename).as_uri()
    except ValueError:  # a relative or pseudo path ("<frozen runpy>", "<string>")
        return None


# The SDK looks the function up in its module on every registration, so this replaces it for every
# program run in this process. Kept only while the SDK still has the function it stands in for.
SDK_STACK_TRACE: Callable[[], source_pb2.StackTrace] | None = getattr(sdk_resource, "_get_stack_trace", None)
if SDK_STACK_TRACE is not None:
    sdk_resource._get_stack_trace = _stack_trace


def _run_main(path: str) -> None:
    runpy.run_path(path, run_name="__main__")


def _config_value(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


async def _resolve_outputs() -> dict[str, Any]:
    root = pulumi.runtime.get_root_resource()
    outputs: dict[str, Any] = getattr(root, "outputs", {})
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        resolved[key] = _plain(await pulumi.Output.from_input(value).future())
    return resolved
