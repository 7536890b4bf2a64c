"""The browser chat page: static files served privately through CloudFront, with Cognito sign-in.

- `WebSite`: a private S3 bucket (all four public-access blocks, owner-enforced objects, SSE-S3,
  versioning, a bucket policy that admits only this distribution's origin access control and denies
  plain HTTP), the files of `web/` as objects with explicit content types, and a CloudFront
  distribution (OAC signing always with SigV4, viewers on HTTPS, a response headers policy with a
  strict Content-Security-Policy, default root object, price class, optional custom domain + ACM
  certificate) whose access logs go to an encrypted log group of the stack (standard logging v2).
- `WebSignIn`: a Cognito user pool (no self sign-up unless configured, password policy, MFA setting),
  an app client for the authorization-code flow with PKCE (no secret), the hosted sign-in domain, and
  an identity pool whose authenticated role may call exactly the chat API's methods. The page signs
  its API calls with SigV4 using those short-lived credentials, so the API keeps one auth mode (IAM)
  for every caller and the CLI's IAM path is unchanged (docs/web.md explains the choice).
- `WebRuntimeConfig`: `config.json` next to the page (API URL, region, Cognito ids; no secrets), written
  once the API and the user pool exist.

The distribution is created before the invoker and the API, so its `https://` origin can be put into
their CORS allow-lists by construction (`WebSite.origin`).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from components.config import WebSettings
from components.context import AwsContext
from components.logs import create_log_group

PAGE_DIR = Path(__file__).resolve().parent.parent / "web"
RUNTIME_CONFIG_KEY = "config.json"
INDEX_DOCUMENT = "index.html"

# Files of web/ that are served, by extension, with the exact Content-Type S3 returns for them. S3
# stores whatever type an object is uploaded with (binary/octet-stream when none), and browsers refuse
# a script or stylesheet served with the wrong type under `X-Content-Type-Options: nosniff`.
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}
# The page and its runtime config are revalidated on every load; assets are not fingerprinted (no build
# step), so they are cached briefly.
CACHE_CONTROL_DOCUMENT = "no-cache"
CACHE_CONTROL_ASSET = "public, max-age=300"

# AWS-managed CloudFront cache policies (ids are global and fixed; CloudFront Developer Guide, "Use
# managed cache policies", read 2026-12-02).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# With a custom certificate the distribution accepts TLS 1.2+ only (CloudFront security policy
# TLSv1.2_2021). With the default *.cloudfront.net certificate CloudFront fixes the policy at TLSv1,
# whatever is asked (cloudfront API model, ViewerCertificate.MinimumProtocolVersion).
MINIMUM_PROTOCOL_VERSION = "TLSv1.2_2021"
HSTS_MAX_AGE_S = 63_072_000  # two years
ORIGIN_ID = "page"


def content_security_policy(connect_sources: Sequence[str]) -> str:
    """The page's CSP: only its own scripts and styles, no inline code, no framing, and network
    access only to the given sources (the API, Cognito). One function for CloudFront and `make web`."""
    directives = {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", *connect_sources],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def auth_domain_prefix(settings: WebSettings, name_prefix: str, context: AwsContext) -> str:
    """The Cognito domain prefix: configured, or `<project>-<stack>-<account>` (unique per region)."""
    return settings.auth_domain_prefix or f"{name_prefix}-{context.account_id}"


def auth_domain_url(prefix: str, context: AwsContext) -> str:
    return f"https://{prefix}.auth.{context.region}.amazoncognito.com"


def page_connect_sources(context: AwsContext, auth_domain: str) -> list[str]:
    """Where the page may send requests: the regional API endpoints of this account's region (the API's
    id is only known after the distribution exists), Cognito's token endpoint and Cognito Identity."""
    return [
        f"https://*.execute-api.{context.region}.{context.dns_suffix}",
        auth_domain,
        f"https://cognito-identity.{context.region}.{context.dns_suffix}",
    ]


def page_files(page_dir: Path = PAGE_DIR) -> list[tuple[str, Path, str]]:
    """(key, path, content type) of every file of the page; an unknown extension is an error."""
    files = []
    for path in sorted(p for p in page_dir.rglob("*") if p.is_file()):
        key = path.relative_to(page_dir).as_posix()
        content_type = CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            guessed = mimetypes.guess_type(path.name)[0] or "unknown"
            raise ValueError(
                f"web/{key}: no content type for '{path.suffix}' (would be {guessed}); add it to "
                "components/web.py CONTENT_TYPES or remove the file"
            )
        files.append((key, path, content_type))
    if not any(key == INDEX_DOCUMENT for key, _, _ in files):
        raise ValueError(f"{page_dir} has no {INDEX_DOCUMENT}")
    return files


def cache_control(key: str) -> str:
    return CACHE_CONTROL_DOCUMENT if key in (INDEX_DOCUMENT, RUNTIME_CONFIG_KEY) else CACHE_CONTROL_ASSET


# --- Site -----------------------------------------------------------------------------------------


@dataclass
class WebSiteArgs:
    context: AwsContext
    settings: WebSettings
    name_prefix: str  # "<project>-<stack>": names the distribution's policies and log delivery
    connect_sources: Sequence[str]
    access_log_group_name: str
    log_retention_days: int
    log_kms_key_arn: pulumi.Input[str]
    protect_stateful: bool = False
    page_dir: Path = PAGE_DIR


class WebSite(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    distribution: aws.cloudfront.Distribution
    bucket_name: pulumi.Output[str]
    distribution_id: pulumi.Output[str]
    domain_name: pulumi.Output[str]
    origin: pulumi.Output[str]  # https://<custom domain or distribution domain>
    access_log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: WebSiteArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:WebSite", name, None, opts)
        self._name = name
        self._args = args
        self.bucket = self._create_bucket()
        self.distribution = self._create_distribution()
        self._create_bucket_policy()
        for key, path, content_type in page_files(args.page_dir):
            aws.s3.BucketObjectv2(
                f"{name}-file-{key.replace('/', '-').replace('.', '-')}",
                bucket=self.bucket.id,
                key=key,
                source=pulumi.FileAsset(str(path)),
                content_type=content_type,
                cache_control=cache_control(key),
                opts=self._child(),
            )
        log_group = self._create_access_logging()

        self.bucket_name = self.bucket.bucket
        self.distribution_id = self.distribution.id
        self.domain_name = self.distribution.domain_name
        public_name = args.settings.domain_name
        self.origin = (
            pulumi.Output.from_input(f"https://{public_name}")
            if public_name
            else pulumi.Output.concat("https://", self.distribution.domain_name)
        )
        self.access_log_group_name = log_group.name
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "distribution_id": self.distribution_id,
                "domain_name": self.domain_name,
                "origin": self.origin,
                "access_log_group_name": self.access_log_group_name,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_bucket(self) -> aws.s3.Bucket:
        name = self._name
        # The bucket holds only files this program uploads, so destroy may empty it (every version)
        # unless stateful resources are protected.
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket_prefix=f"{self._args.name_prefix}-web-",
            force_destroy=not self._args.protect_stateful,
            opts=self._child(protect=self._args.protect_stateful),
        )
        self._public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child(),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=self._child(),
        )
        # SSE-S3: CloudFront's OAC reads SSE-KMS objects only with a key policy grant per distribution;
        # the page is public content once served, so S3-managed keys are enough.
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=self._child(),
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._child(),
        )
        return bucket

    def _create_distribution(self) -> aws.cloudfront.Distribution:
        name, args = self._name, self._args
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            name=f"{args.name_prefix}-web",
            description="CloudFront signs every request to the page's bucket (SigV4)",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._child(),
        )
        headers = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-headers",
            name=f"{args.name_prefix}-web",
            comment="CSP, HSTS, nosniff, no framing, no referrer",
            security_headers_config={
                "content_security_policy": {
                    "content_security_policy": content_security_policy(args.connect_sources),
                    "override": True,
                },
                "strict_transport_security": {
                    "access_control_max_age_sec": HSTS_MAX_AGE_S,
                    "include_subdomains": True,
                    "override": True,
                },
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": "DENY", "override": True},
                "referrer_policy": {"referrer_policy": "no-referrer", "override": True},
            },
            custom_headers_config={
                "items": [
                    {
                        "header": "Permissions-Policy",
                        "value": "camera=(), microphone=(), geolocation=(), payment=()",
                        "override": True,
                    }
                ]
            },
            opts=self._child(),
        )
        behavior: dict[str, Any] = {
            "target_origin_id": ORIGIN_ID,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "response_headers_policy_id": headers.id,
        }
        settings = args.settings
        if settings.certificate_arn:
            certificate: dict[str, Any] = {
                "acm_certificate_arn": settings.certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": MINIMUM_PROTOCOL_VERSION,
            }
        else:
            certificate = {"cloudfront_default_certificate": True}
        return aws.cloudfront.Distribution(
            f"{name}-distribution",
            comment=f"Chat page of {args.name_prefix}",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            default_root_object=INDEX_DOCUMENT,
            price_class=settings.price_class,
            aliases=list(settings.aliases) or None,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=ORIGIN_ID,
                    domain_name=self.bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                **behavior, cache_policy_id=CACHING_OPTIMIZED
            ),
            # The runtime config changes with every deployment of the API or user pool: never cached.
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    **behavior, path_pattern=f"/{RUNTIME_CONFIG_KEY}", cache_policy_id=CACHING_DISABLED
                )
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(**certificate),
            opts=self._child(),
        )

    def _create_bucket_policy(self) -> None:
        document = site_bucket_policy(self._args.context, self.bucket.arn, self.distribution.arn)
        aws.s3.BucketPolicy(
            f"{self._name}-bucket-policy",
            bucket=self.bucket.id,
            policy=pulumi.Output.json_dumps(document),
            # With BlockPublicPolicy on first, S3 itself refuses any policy that would make it public.
            opts=self._child(depends_on=[self._public_access_block]),
        )

    def _create_access_logging(self) -> aws.cloudwatch.LogGroup:
        """CloudFront standard logging (v2): distribution -> delivery source -> delivery -> log group.
        CloudWatch Logs vended-log deliveries for CloudFront are configured in us-east-1."""
        name, args, context = self._name, self._args, self._args.context
        log_group = create_log_group(
            f"{name}-access-logs",
            log_group_name=args.access_log_group_name,
            retention_days=args.log_retention_days,
            kms_key_arn=args.log_kms_key_arn,
            protect=args.protect_stateful,
            parent=self,
        )
        delivery_name = f"{args.name_prefix}-web"
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-access-log-delivery",
            policy_name=f"{args.name_prefix}-web-access-logs",
            policy_document=pulumi.Output.json_dumps(
                log_delivery_policy(context, log_group.arn, delivery_name)
            ),
            opts=self._child(),
        )
        source = aws.cloudwatch.LogDeliverySource(
            f"{name}-log-source",
            name=delivery_name,
            log_type="ACCESS_LOGS",
            resource_arn=self.distribution.arn,
            opts=self._child(),
        )
        destination = aws.cloudwatch.LogDeliveryDestination(
            f"{name}-log-destination",
            name=delivery_name,
            output_format="json",
            delivery_destination_configuration={"destination_resource_arn": log_group.arn},
            opts=self._child(),
        )
        aws.cloudwatch.LogDelivery(
            f"{name}-log-delivery",
            delivery_source_name=source.name,
            delivery_destination_arn=destination.arn,
            opts=self._child(depends_on=[policy]),
        )
        return log_group


def site_bucket_policy(
    context: AwsContext, bucket_arn: pulumi.Input[str], distribution_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Reads by this distribution's OAC only; any request over plain HTTP is denied."""
    objects = pulumi.Output.concat(bucket_arn, "/*")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadByThisDistributionOnly",
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("cloudfront")},
                "Action": "s3:GetObject",
                "Resource": objects,
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            },
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def log_delivery_policy(
    context: AwsContext, log_group_arn: pulumi.Input[str], delivery_source_name: str
) -> dict[str, Any]:
    """Lets the CloudWatch Logs delivery service write the distribution's access logs into one group,
    for this account's delivery source only (CloudWatch Logs User Guide, "Logs sent to CloudWatch Logs")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeliverThisDistributionsAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": context.service_principal("delivery.logs")},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": pulumi.Output.concat(log_group_arn, ":log-stream:*"),
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": context.account_id},
                    "ArnLike": {
                        "aws:SourceArn": context.arn("logs", f"delivery-source:{delivery_source_name}")
                    },
                },
            }
        ],
    }


# --- Sign-in --------------------------------------------------------------------------------------


@dataclass
class WebSignInArgs:
    context: AwsContext
    settings: WebSettings
    name_prefix: str
    auth_domain_prefix: str
    page_origin: pulumi.Input[str]  # the only callback and sign-out URL: <origin>/
    # execute-api ARNs the signed-in user may invoke (the chat API's methods, stage-scoped)
    api_method_arns: Sequence[pulumi.Input[str]]
    protect_stateful: bool = False


class WebSignIn(pulumi.ComponentResource):
    user_pool: aws.cognito.UserPool
    client: aws.cognito.UserPoolClient
    identity_pool: aws.cognito.IdentityPool
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]
    identity_pool_id: pulumi.Output[str]
    auth_domain: pulumi.Output[str]  # https://<prefix>.auth.<region>.amazoncognito.com
    user_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: WebSignInArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("bedrock-vpc-agent:index:WebSignIn", name, None, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            name=f"{args.name_prefix}-users",
            user_pool_tier="LITE",  # the classic hosted UI; no advanced security features billed
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            admin_create_user_config={"allow_admin_create_user_only": not settings.self_sign_up},
            password_policy={
                "minimum_length": settings.password_min_length,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            mfa_configuration=settings.mfa,
            software_token_mfa_configuration={"enabled": True} if settings.mfa != "OFF" else None,
            account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
            deletion_protection="ACTIVE" if args.protect_stateful else "INACTIVE",
            opts=self._child(protect=args.protect_stateful),
        )
        callback = pulumi.Output.concat(args.page_origin, "/")
        self.client = aws.cognito.UserPoolClient(
            f"{name}-client",
            name=f"{args.name_prefix}-web",
            user_pool_id=self.user_pool.id,
            generate_secret=False,  # a browser cannot keep a secret: PKCE protects the code instead
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email"],
            supported_identity_providers=["COGNITO"],
            callback_urls=[callback],
            logout_urls=[callback],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            id_token_validity=60,
            access_token_validity=60,
            refresh_token_validity=1,
            token_validity_units={"id_token": "minutes", "access_token": "minutes", "refresh_token": "days"},
            opts=self._child(),
        )
        aws.cognito.UserPoolDomain(
            f"{name}-domain",
            domain=args.auth_domain_prefix,
            user_pool_id=self.user_pool.id,
            managed_login_version=1,  # the hosted UI; managed login (2) needs a branding resource
            opts=self._child(),
        )
        self.identity_pool = aws.cognito.IdentityPool(
            f"{name}-identities",
            identity_pool_name=f"{args.name_prefix}-web".replace("-", "_"),
            allow_unauthenticated_identities=False,
            allow_classic_flow=False,
            cognito_identity_providers=[
                {
                    "client_id": self.client.id,
                    "provider_name": self.user_pool.endpoint,
                    "server_side_token_check": True,
                }
            ],
            opts=self._child(),
        )
        role = self._create_user_role()
        aws.cognito.IdentityPoolRoleAttachment(
            f"{name}-roles",
            identity_pool_id=self.identity_pool.id,
            roles={"authenticated": role.arn},
            opts=self._child(),
        )

        self.user_pool_id = self.user_pool.id
        self.user_pool_arn = self.user_pool.arn
        self.client_id = self.client.id
        self.identity_pool_id = self.identity_pool.id
        self.auth_domain = pulumi.Output.from_input(auth_domain_url(args.auth_domain_prefix, args.context))
        self.user_role_arn = role.arn
        self.register_outputs(
            {
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "client_id": self.client_id,
                "identity_pool_id": self.identity_pool_id,
                "auth_domain": self.auth_domain,
                "user_role_arn": self.user_role_arn,
            }
        )

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _create_user_role(self) -> aws.iam.Role:
        args = self._args
        role = aws.iam.Role(
            f"{self._name}-user-role",
            description="Signed-in users of the chat page: may call the chat API's methods, nothing else",
            assume_role_policy=pulumi.Output.json_dumps(identity_pool_trust_policy(self.identity_pool.id)),
            max_session_duration=3600,
            opts=self._child(),
        )
        aws.iam.RolePolicy(
            f"{self._name}-user-invoke",
            role=role.id,
            policy=pulumi.Output.json_dumps(chat_invoke_policy(args.api_method_arns)),
            opts=self._child(),
        )
        return role


def identity_pool_trust_policy(identity_pool_id: pulumi.Input[str]) -> dict[str, Any]:
    """Only authenticated identities of this identity pool may assume the role (Cognito developer
    guide, "Role trust and permissions"): `aud` pins the pool, `amr` excludes guest identities."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
            }
        ],
    }


def chat_invoke_policy(method_arns: Sequence[pulumi.Input[str]]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CallTheChatApiOnly",
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": list(method_arns),
            }
        ],
    }


# --- Runtime config -------------------------------------------------------------------------------


@dataclass
class WebRuntimeConfigArgs:
    bucket_name: pulumi.Input[str]
    values: Mapping[str, pulumi.Input[str]]  # camelCase keys the page reads (web/config.js)


class WebRuntimeConfig(pulumi.ComponentResource):
    """`config.json`, read by the page at start: where the API and Cognito are. No secrets."""

    key: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebRuntimeConfigArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("bedrock-vpc-agent:index:WebRuntimeConfig", name, None, opts)
        document = pulumi.Output.all(**dict(args.values)).apply(
            lambda values: json.dumps(values, indent=2, sort_keys=True) + "\n"
        )
        obj = aws.s3.BucketObjectv2(
            f"{name}-object",
            bucket=args.bucket_name,
            key=RUNTIME_CONFIG_KEY,
            content=document,
            content_type=CONTENT_TYPES[".json"],
            cache_control=cache_control(RUNTIME_CONFIG_KEY),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.key = obj.key
        self.register_outputs({"key": self.key})
