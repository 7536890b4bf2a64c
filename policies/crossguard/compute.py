"""Lambda functions: placement in private subnets, logging, configuration hygiene, invoke permissions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

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
    has_unknown,
    is_unknown,
    number,
    strings,
)
from .graph import subnet_public_reasons

rules = RuleSet()


@rules.resource(
    "lambda-in-vpc",
    types=(tokens.FUNCTION,),
    description=(
        "Every Lambda must run inside the VPC (vpcConfig with subnets and security groups): outside it, "
        "the function has direct internet access and bypasses the endpoint policies."
    ),
    remediation=(
        "Set vpc_config=FunctionVpcConfigArgs(subnet_ids=<private subnets>, security_group_ids=[<sg>])."
    ),
)
def lambda_in_vpc(res: Resource, _: Config) -> Iterator[str]:
    config = res.get("vpcConfig")
    if is_unknown(config):
        return
    for key in ("subnetIds", "securityGroupIds"):
        value = config.get(key) if isinstance(config, Mapping) else None
        if not has_unknown(value) and not strings(value):
            yield f"{res.label} has no vpcConfig.{key}"


def _private_subnet_problems(stack: Stack, function: Resource) -> Iterator[str]:
    refs = stack.refs(function, "vpcConfig.subnetIds", tokens.SUBNETS)
    # One finding per cause: subnets sharing a route table share its route out of the VPC.
    subnets_by_reason: dict[str, list[str]] = {}
    for subnet in refs.found:
        for reason in subnet_public_reasons(stack, subnet):
            subnets_by_reason.setdefault(reason, []).append(subnet.label)
    for reason, subnets in subnets_by_reason.items():
        where = "" if reason.startswith(subnets[0]) else f" (used by {', '.join(subnets)})"
        yield f"{function.label} runs in a subnet that is not private: {reason}{where}"
    for subnet_id in refs.unresolved:
        yield f"{function.label} uses subnet {subnet_id}, unmanaged here: cannot prove it private"


@rules.stack(
    "lambda-private-subnets-only",
    description=(
        "Lambdas must run only in private subnets: no public IP on launch and no route table entry that "
        "leaves the VPC (default route, internet/NAT/egress-only gateway)."
    ),
    remediation="Attach the function to subnets whose route tables hold only the local route.",
)
def lambda_private_subnets_only(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.FUNCTION), lambda fn: _private_subnet_problems(stack, fn))


def _log_groups_for(stack: Stack, function: Resource) -> tuple[str | None, list[Resource]]:
    """(expected log group name, log groups in the stack that are the function's)."""
    name, custom = function.get("name"), function.get("loggingConfig.logGroup")
    wanted = custom if custom is not None else (f"/aws/lambda/{name}" if isinstance(name, str) else None)
    expected = wanted if isinstance(wanted, str) else None
    groups = [
        g for g in stack.of_type(tokens.LOG_GROUP) if expected is not None and g.get("name") == expected
    ]
    groups += stack.refs(function, "loggingConfig.logGroup", (tokens.LOG_GROUP,)).found
    # During preview an autonamed function's name is unknown; a group whose name is derived from it
    # records the function in its propertyDependencies.
    groups += [
        g
        for g in stack.of_type(tokens.LOG_GROUP)
        if is_unknown(g.get("name")) and function.urn in g.property_dependencies.get("name", ())
    ]
    return expected, list(dict.fromkeys(groups))


def _log_group_problems(stack: Stack, function: Resource) -> Iterator[str]:
    expected, groups = _log_groups_for(stack, function)
    if not groups and expected is not None:
        yield (
            f"{function.label} has no explicit log group '{expected}' in the stack; Lambda would create "
            "one itself, unencrypted and never expiring"
        )
    for group in groups:
        retention = group.get("retentionInDays")
        if not is_unknown(retention) and (number(retention) or 0) <= 0:
            yield f"{group.label}, the log group of {function.label}, has no retention"


@rules.stack(
    "lambda-explicit-log-group",
    description=(
        "Every Lambda needs an explicit log group (/aws/lambda/<name>, or its loggingConfig.logGroup) "
        "with retention: the group Lambda creates on first invoke never expires and escapes the stack."
    ),
    remediation=(
        "Create aws.cloudwatch.LogGroup(name=f'/aws/lambda/{fn_name}', retention_in_days=...) and make the "
        "function depend on it (or point logging_config.log_group at it)."
    ),
)
def lambda_explicit_log_group(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(tokens.FUNCTION), lambda fn: _log_group_problems(stack, fn))


SECRET_NAME = Setting(
    "secretNamePattern",
    {"type": "string", "minLength": 1},
    r"(^|_)(SECRET|PASSWORD|PASSWD|PWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)(_|$)",
    "Regex (matched against the upper-cased variable name) for names that suggest a secret value.",
)
ALLOWED_NAMES = Setting(
    "allowedNames",
    {"type": "array", "items": {"type": "string"}},
    [],
    "Environment variable names exempt from the name check.",
)
# Names that point at a secret rather than hold one (e.g. DB_SECRET_ARN) are fine.
_POINTER_SUFFIXES: Final = ("_ARN", "_NAME", "_PARAM", "_PARAMETER", "_PATH")
_SECRET_VALUES: Final = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
)


@rules.resource(
    "lambda-no-plaintext-secrets",
    types=(tokens.FUNCTION,),
    settings=[SECRET_NAME, ALLOWED_NAMES],
    description=(
        "Lambda environment variables must not hold secrets: they are readable by anyone with "
        "lambda:GetFunctionConfiguration and land in the Pulumi state in plain text."
    ),
    remediation=(
        "Store the secret in Secrets Manager or SSM Parameter Store and pass its ARN/name (e.g. "
        "DB_SECRET_ARN); fetch it at runtime with a scoped IAM permission."
    ),
)
def lambda_no_plaintext_secrets(res: Resource, config: Config) -> Iterator[str]:
    variables = res.get("environment.variables")
    if not isinstance(variables, Mapping):
        return
    pattern = re.compile(str(config["secretNamePattern"]))
    allowed = {str(n).upper() for n in as_list(config["allowedNames"])}
    for name, value in variables.items():
        upper = str(name).upper()
        pointer = upper.endswith(_POINTER_SUFFIXES) or (isinstance(value, str) and value.startswith("arn:"))
        if pattern.search(upper) and upper not in allowed and not pointer:
            yield f"{res.label} environment variable {name} looks like a secret (by its name)"
        for what, regex in _SECRET_VALUES:
            if isinstance(value, str) and regex.search(value):
                # Never echo the value: the violation message ends up in CI logs.
                yield f"{res.label} environment variable {name} contains {what}"


ALLOWED_RUNTIMES = Setting(
    "allowedRuntimes",
    {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ["python3.12", "python3.13", "python3.14"],
    "Lambda runtimes the organisation supports.",
)


# Python runtimes AWS Lambda has deprecated (no more security patches; creating and later updating
# functions on them gets blocked), with the deprecation date. Source: "Lambda runtimes", Deprecated
# runtimes table, AWS Lambda developer guide (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html),
# read 2026-12-02. components/config.py keeps the same table for the program (a test compares them).
DEPRECATED_RUNTIMES: Final = {
    "python2.7": "2021-07-15",
    "python3.6": "2022-07-18",
    "python3.7": "2023-12-04",
    "python3.8": "2024-10-14",
    "python3.9": "2025-12-15",
    "python3.10": "2026-06-30",
    "python3.11": "2026-06-30",
}


@rules.resource(
    "lambda-supported-runtime",
    types=(tokens.FUNCTION,),
    settings=[ALLOWED_RUNTIMES],
    description=(
        "Lambdas must use a supported runtime from the allow-list: deprecated runtimes stop receiving "
        "security patches and AWS eventually blocks updates to them."
    ),
    remediation="Set runtime to one of the allowed runtimes (config 'allowedRuntimes' changes the list).",
)
def lambda_supported_runtime(res: Resource, config: Config) -> Iterator[str]:
    if res.get("packageType") == "Image":
        return
    runtime = res.get("runtime")
    allowed = [str(r) for r in as_list(config["allowedRuntimes"])]
    if is_unknown(runtime) or runtime in allowed:
        return
    deprecated = DEPRECATED_RUNTIMES.get(str(runtime))
    if deprecated is not None:
        yield (
            f"{res.label} uses the deprecated runtime {runtime!r} (deprecated by AWS Lambda on {deprecated}: "
            f"no security patches, then no creates and updates); use one of {', '.join(allowed)}"
        )
    else:
        yield f"{res.label} uses runtime {runtime!r}; allowed: {', '.join(allowed)}"


REQUIRE_SOURCE_ACCOUNT = Setting(
    "requireSourceAccount",
    {"type": "array", "items": {"type": "string"}},
    ["bedrock.amazonaws.com", "s3.amazonaws.com"],
    "Service principals whose invoke permissions must also pin sourceAccount.",
)


def _wild(text: str) -> bool:
    return "*" in text or "?" in text


def _loose_source_arn(arn: str) -> str | None:
    """Why a permission's sourceArn matches more than one caller, or None when it names one.

    Lambda matches sourceArn with ArnLike, so `*` and `?` are wildcards anywhere. An API Gateway
    execute-api ARN is <api id>/<stage>/<METHOD>/<path>: the API, stage and method must be literal, path
    segments may be `*` (a path parameter such as /chat/{sessionId} appears as /chat/*). Any other
    caller (agent/<id>, a bucket, a rule) must be fully literal: agent/* is every agent in the account.
    """
    parts = arn.split(":", 5)
    if len(parts) < 6 or not parts[5]:
        return "is not a complete ARN"
    wild_parts = [
        name
        for name, part in zip(("partition", "service", "region", "account"), parts[1:5], strict=True)
        if _wild(part)
    ]
    if wild_parts:
        return f"has a wildcard in its {', '.join(wild_parts)}"
    if parts[2] != "execute-api":
        return "has a wildcard in its resource" if _wild(parts[5]) else None
    segments = parts[5].split("/")
    fixed = dict(zip(("API id", "stage", "method"), segments[:3], strict=False))
    if len(fixed) < 3:
        return "does not name the API, stage and method (<api id>/<stage>/<METHOD>/<path>)"
    wild_fixed = [name for name, value in fixed.items() if _wild(value)]
    if wild_fixed:
        return f"matches any {' and any '.join(wild_fixed)}"
    return None


@rules.resource(
    "lambda-permission-scoped",
    types=(tokens.PERMISSION,),
    settings=[REQUIRE_SOURCE_ACCOUNT],
    description=(
        "Lambda invoke permissions must not be public and, for AWS service principals, must pin "
        "sourceArn (and sourceAccount for Bedrock/S3): otherwise any account's resource of that service "
        "can invoke the function (confused deputy)."
    ),
    remediation=(
        "Set source_arn to the exact caller (the agent ARN; the stage execution ARN plus /<METHOD>/<path>) "
        "and source_account to the account id; never use principal='*' or a wildcard such as agent/* or "
        "<api>/*/*."
    ),
)
def lambda_permission_scoped(res: Resource, config: Config) -> Iterator[str]:
    principal = res.get("principal")
    if res.get("functionUrlAuthType") == "NONE":
        yield f"{res.label} grants unauthenticated function URL access"
    if is_unknown(principal) or not isinstance(principal, str):
        return
    if principal == "*":
        yield f"{res.label} lets any principal invoke the function"
        return
    if not principal.endswith(".amazonaws.com"):
        return
    source_arn = res.get("sourceArn")
    if not is_unknown(source_arn):
        why = _loose_source_arn(source_arn) if isinstance(source_arn, str) else "is not set"
        if why is not None:
            yield f"{res.label} grants {principal} for a sourceArn that {why} ({source_arn})"
    required = [str(p) for p in as_list(config["requireSourceAccount"])]
    if principal in required and res.get("sourceAccount") in (None, ""):
        yield f"{res.label} grants {principal} without sourceAccount"


@rules.resource(
    "lambda-url-requires-auth",
    types=(tokens.FUNCTION_URL,),
    description=(
        "Lambda function URLs must use AWS_IAM auth: authorizationType NONE publishes the function on "
        "the internet, bypassing API Gateway authorization and throttling."
    ),
    remediation=(
        "Set authorization_type='AWS_IAM', or drop the function URL and front the function with API Gateway."
    ),
)
def lambda_url_requires_auth(res: Resource, _: Config) -> Iterator[str]:
    if res.get("authorizationType") == "NONE":
        yield f"{res.label} is a public function URL (authorizationType NONE)"


@rules.resource(
    "lambda-tracing-active",
    types=(tokens.FUNCTION,),
    level=ADVISORY,
    description="Lambdas should enable active X-Ray tracing so a slow agent call can be traced end to end.",
    remediation="Set tracing_config=FunctionTracingConfigArgs(mode='Active').",
)
def lambda_tracing_active(res: Resource, _: Config) -> Iterator[str]:
    mode = res.get("tracingConfig.mode")
    if not is_unknown(mode) and mode != "Active":
        yield f"{res.label} has tracing mode {mode!r}, not Active"


@rules.resource(
    "lambda-reserved-concurrency-not-zero",
    types=(tokens.FUNCTION,),
    description=(
        "A function's reserved concurrency must not be 0: Lambda then throttles every invocation, so the "
        "function can never run (AWS accepts 0 as the way to switch a function off). Unset (-1) means "
        "unreserved."
    ),
    remediation=(
        "Set reserved_concurrent_executions to a positive cap (or leave it unset); to stop traffic on "
        "purpose, remove the API route or the invoke permission instead."
    ),
)
def lambda_reserved_concurrency_not_zero(res: Resource, _: Config) -> Iterator[str]:
    value = res.get("reservedConcurrentExecutions")
    if not is_unknown(value) and number(value) == 0:
        yield f"{res.label} has reservedConcurrentExecutions=0: every invocation is throttled"
