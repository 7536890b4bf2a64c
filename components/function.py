"""A Python Lambda function that lives in the private subnets.

- Its own role: the ENI actions AWS documents for VPC functions (a grant of their own, which outlives
  the network on destroy: see VpcFunction), writing to its own log group, X-Ray, plus whatever
  narrowly scoped statements the caller adds (e.g. InvokeAgent on this agent's aliases).
- An explicit `/aws/lambda/<function>` log group with retention and the stack's KMS key, created
  before the function and wired through the function's logging config.
- Code packaged from `functions/<name>/` keeping the package path, so the handler is
  `functions.<name>.handler.handler` in Lambda exactly as in the tests. Powertools and boto3 come from
  the layer and the runtime, not the archive. A package with executables (the invoker's streaming
  bootstrap) is zipped here, deterministically, with their executable bit: the zip Pulumi builds from
  an AssetArchive carries no file modes (pulumi/pulumi#3593; `addNextFileToZIP` in
  sdk/go/common/resource/archive/archive.go writes a bare FileHeader), and Lambda refuses to start an
  exec wrapper that is not executable.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.config import LAMBDA_ARCHITECTURE, LAMBDA_LOG_LEVELS, LAMBDA_RUNTIME
from components.context import AwsContext
from components.logs import create_log_group

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# Built archives (gitignored), named by content: the same code is the same file, byte for byte.
BUILD_DIR = FUNCTIONS_DIR.parent / "build" / "lambda"
# Never shipped: bytecode caches and editor/test leftovers.
EXCLUDED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})

# What a function needs to attach to the VPC, exactly as AWS documents it for the execution role
# (Lambda developer guide, "Giving Lambda functions access to resources in an Amazon VPC",
# AWSLambdaVPCAccessExecutionRole). Lambda calls these at create/update time and AWS documents them
# on "*": Describe* actions do not support resource-level permissions.
VPC_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# X-Ray accepts no resource-level permissions for these.
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


@dataclass
class VpcFunctionArgs:
    context: AwsContext
    function_name: str  # physical name: the log group is named after it before it exists
    package: str  # folder under functions/, e.g. "invoker"
    description: str
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    log_group_name: str
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    log_level: str  # DEBUG, INFO, WARNING or ERROR (Python's spelling)
    layers: Sequence[pulumi.Input[str]]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Extra IAM statements (plain dicts, may hold Outputs), each scoped to real ARNs.
    statements: Sequence[Mapping[str, Any]] = ()
    memory_mb: int = 256
    timeout_seconds: int = 30
    reserved_concurrency: Optional[int] = None
    protect_stateful: bool = False
    # Files of the package (relative to it, e.g. "bootstrap") that must be executable in Lambda.
    executables: Sequence[str] = ()


@dataclass
class VpcFunctionRoleArgs:
    context: AwsContext
    function_name: str  # physical name of the function the role executes


class VpcFunction(pulumi.ComponentResource):
    """A Lambda function in the private subnets, built in two steps because of `pulumi destroy`.

    Lambda deletes a function's VPC network interfaces asynchronously, after the function is gone,
    acting with the function's execution role; the subnets and the security group cannot be deleted
    (DependencyViolation, or the provider waits) until those interfaces are. So the ENI grant must
    outlive them. The engine deletes dependents before their dependencies, so the constructor
    registers the role and its ENI grant (`vpc_access`) *before* the network, the network's subnets
    and security group depend on `vpc_access` (PrivateNetworkArgs.outlived_by), and `deploy` adds
    the log group, the remaining permissions and the function once the network exists. On destroy:
    function, then subnets and group, then the grant, then the role.
    """

    role: aws.iam.Role
    vpc_access: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function
    function_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    response_streaming_invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: VpcFunctionRoleArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:VpcFunction", name, None, opts)
        self._name = name
        self._function_name = args.function_name
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of {args.function_name}",
            assume_role_policy=pulumi.Output.json_dumps(lambda_trust_policy(args.context)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.vpc_access = aws.iam.RolePolicy(
            f"{name}-vpc-access",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(vpc_access_policy()),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn = self.role.arn

    def deploy(self, args: VpcFunctionArgs) -> VpcFunction:
        """Create the log group, the permissions and the function (after the network exists)."""
        if args.function_name != self._function_name:
            raise ValueError(
                f"{self._name}: the role was made for {self._function_name}, not {args.function_name}"
            )
        self._args = args
        name = self._name
        self.log_group = create_log_group(
            f"{name}-logs",
            log_group_name=args.log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            protect=args.protect_stateful,
            parent=self,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-permissions",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(
                execution_policy(self.log_group.arn, args.statements),
            ),
            # Replaced, not updated, when it changes: the new policy (a new auto-generated name) is written
            # beside the old one, which is deleted at the end of the deployment, so a grant taken away
            # (e.g. the agent key's, when agentKmsKey is turned off) stays in force until the function
            # has moved to the new agent version (the function depends on this policy).
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["policy"]),
        )
        self.function = self._create_function(role_policy)

        self.function_name = self.function.name
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        # .../2021-11-15/functions/<arn>/response-streaming-invocations: InvokeWithResponseStream.
        self.response_streaming_invoke_arn = self.function.response_streaming_invoke_arn
        self.log_group_name = self.log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "arn": self.arn,
                "role_arn": self.role_arn,
                "log_group_name": self.log_group_name,
            }
        )
        return self

    def _create_function(self, role_policy: aws.iam.RolePolicy) -> aws.lambda_.Function:
        args = self._args
        return aws.lambda_.Function(
            f"{self._name}-function",
            name=args.function_name,
            description=args.description,
            runtime=LAMBDA_RUNTIME,
            architectures=[LAMBDA_ARCHITECTURE],
            handler=f"functions.{args.package}.handler.handler",
            code=(
                build_archive(args.package, args.executables)
                if args.executables
                else package_code(args.package)
            ),
            role=self.role.arn,
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            reserved_concurrent_executions=args.reserved_concurrency,
            layers=list(args.layers),
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": args.security_group_ids},
            logging_config={
                "log_format": "JSON",
                "log_group": self.log_group.name,
                # Lambda spells WARNING as WARN (its ApplicationLogLevel enum); Powertools reads its own.
                "application_log_level": LAMBDA_LOG_LEVELS[args.log_level],
                "system_log_level": "WARN",
            },
            tracing_config={"mode": "Active"},
            environment={
                "variables": {
                    "POWERTOOLS_SERVICE_NAME": args.package,
                    "POWERTOOLS_LOG_LEVEL": args.log_level,
                    **args.environment,
                }
            },
            # The role must be able to create ENIs and the log group must exist before Lambda
            # validates the VPC config and writes its first line.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.vpc_access, role_policy, self.log_group]
            ),
        )


def lambda_trust_policy(context: AwsContext) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("lambda")},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def vpc_access_policy() -> dict[str, Any]:
    """The ENI actions Lambda uses, with the function's role, to attach it to and detach it from the VPC."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AttachToTheVpc", "Effect": "Allow", "Action": VPC_ENI_ACTIONS, "Resource": "*"}
        ],
    }


def execution_policy(log_group_arn: pulumi.Input[str], extra: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [pulumi.Output.concat(log_group_arn, ":log-stream:*")],
            },
            {"Sid": "Tracing", "Effect": "Allow", "Action": XRAY_ACTIONS, "Resource": "*"},
            *[dict(statement) for statement in extra],
        ],
    }


def package_code(package: str) -> pulumi.AssetArchive:
    """The function's folder and the `functions` package marker, without caches, in a stable order."""
    root = FUNCTIONS_DIR / package
    if not (root / "handler.py").is_file():
        raise FileNotFoundError(f"{root}/handler.py is missing: every function needs a handler module")
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        "functions/__init__.py": pulumi.FileAsset(str(FUNCTIONS_DIR / "__init__.py"))
    }
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(FUNCTIONS_DIR.parent)
        if (
            path.is_file()
            and not EXCLUDED_PARTS & set(relative.parts)
            and path.suffix not in EXCLUDED_SUFFIXES
        ):
            assets[relative.as_posix()] = pulumi.FileAsset(str(path))
    return pulumi.AssetArchive(assets)


# Regular files 0644, executables 0755 (POSIX modes in the high 16 bits of a zip entry's external
# attributes, with create_system 3 = Unix); a fixed timestamp keeps the bytes stable.
_FILE_MODE, _EXECUTABLE_MODE = 0o100644, 0o100755
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def archive_bytes(package: str, executables: Sequence[str] = ()) -> bytes:
    """The deployment zip of `package_code(package)`, `executables` (package-relative) marked 0755."""
    wanted = {f"functions/{package}/{name}" for name in executables}
    assets = package_code(package).assets
    missing = sorted(wanted - set(assets))
    if missing:
        raise FileNotFoundError(f"executables not in the package: {', '.join(missing)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name in sorted(assets):
            asset = assets[name]
            assert isinstance(asset, pulumi.FileAsset)
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = (_EXECUTABLE_MODE if name in wanted else _FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, Path(str(asset.path)).read_bytes())
    return buffer.getvalue()


def build_archive(package: str, executables: Sequence[str]) -> pulumi.FileArchive:
    """`archive_bytes` written once under build/lambda/, named by its hash; Pulumi uploads a .zip
    FileArchive as is (no re-zipping), so the modes survive."""
    data = archive_bytes(package, executables)
    path = BUILD_DIR / f"{package}-{hashlib.sha256(data).hexdigest()[:16]}.zip"
    if not path.is_file() or path.read_bytes() != data:
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a concurrent run never reads half a zip
    return pulumi.FileArchive(str(path))
