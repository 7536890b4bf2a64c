"""The chat page: a private bucket behind CloudFront OAC, HTTPS with security headers, CORS pinned to
the distribution, and a user pool without open sign-up."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

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
)

rules = RuleSet()

# pulumi-aws v7 type tokens of the page's resources (checked against pulumi_aws 7.x `super().__init__`).
BUCKET: Final = "aws:s3/bucket:Bucket"
BUCKET_V2: Final = "aws:s3/bucketV2:BucketV2"
PUBLIC_ACCESS_BLOCK: Final = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ACL: Final = "aws:s3/bucketAcl:BucketAcl"
WEBSITE: Final = "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration"
WEBSITE_V2: Final = "aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2"
DISTRIBUTION: Final = "aws:cloudfront/distribution:Distribution"
OAC: Final = "aws:cloudfront/originAccessControl:OriginAccessControl"
OAI: Final = "aws:cloudfront/originAccessIdentity:OriginAccessIdentity"
HEADERS_POLICY: Final = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
USER_POOL: Final = "aws:cognito/userPool:UserPool"

BUCKETS: Final = (BUCKET, BUCKET_V2)
PUBLIC_ACCESS_FLAGS: Final = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
PUBLIC_ACLS: Final = ("public-read", "public-read-write", "authenticated-read")
HTTPS_POLICIES: Final = ("redirect-to-https", "https-only")
SECURITY_HEADERS: Final = {
    "contentSecurityPolicy": "a Content-Security-Policy",
    "strictTransportSecurity": "Strict-Transport-Security",
    "contentTypeOptions": "X-Content-Type-Options: nosniff",
    "frameOptions": "X-Frame-Options",
    "referrerPolicy": "a Referrer-Policy",
}


def _website(stack: Stack, bucket: Resource) -> bool:
    return bool(stack.referrers(bucket, (WEBSITE, WEBSITE_V2), "bucket")) or bool(bucket.get("website"))


def _bucket_problems(stack: Stack, bucket: Resource) -> Iterator[str]:
    blocks = stack.referrers(bucket, (PUBLIC_ACCESS_BLOCK,), "bucket")
    if not blocks:
        yield f"{bucket.label} has no public access block (all four settings on)"
    for block in blocks:
        off = [
            flag
            for flag in PUBLIC_ACCESS_FLAGS
            if not is_unknown(block.get(flag)) and block.get(flag) is not True
        ]
        if off:
            yield f"{bucket.label}: {block.label} leaves {', '.join(off)} off"
    acls = [bucket.get("acl"), *(acl.get("acl") for acl in stack.referrers(bucket, (BUCKET_ACL,), "bucket"))]
    if any(isinstance(acl, str) and acl in PUBLIC_ACLS for acl in acls):
        yield f"{bucket.label} has a public canned ACL"
    if _website(stack, bucket):
        yield f"{bucket.label} has a static website configuration (a public HTTP endpoint)"


@rules.stack(
    "web-bucket-not-public",
    description=(
        "Every S3 bucket (the chat page's among them) blocks public access with all four settings, has no "
        "public canned ACL and no static website endpoint: CloudFront reads it through origin access control."
    ),
    remediation=(
        "Add aws.s3.BucketPublicAccessBlock(bucket=..., block_public_acls=True, block_public_policy=True, "
        "ignore_public_acls=True, restrict_public_buckets=True); remove website configurations and "
        "public ACLs."
    ),
)
def web_bucket_not_public(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(*BUCKETS), lambda bucket: _bucket_problems(stack, bucket))


def _behaviors(res: Resource) -> list[Any]:
    default = res.get("defaultCacheBehavior")
    return [b for b in [default, *as_list(res.get("orderedCacheBehaviors"))] if isinstance(b, Mapping)]


def _origin_problems(res: Resource) -> Iterator[str]:
    for origin in as_list(res.get("origins")):
        if not isinstance(origin, Mapping):
            continue
        domain = origin.get("domainName")
        origin_id = origin.get("originId")
        if isinstance(domain, str) and ".s3-website" in domain:
            yield f"{res.label} origin {origin_id!r} is an S3 website endpoint (public, HTTP only)"
            continue
        identity = (
            origin.get("s3OriginConfig", {}) if isinstance(origin.get("s3OriginConfig"), Mapping) else {}
        )
        if isinstance(identity.get("originAccessIdentity"), str) and identity.get("originAccessIdentity"):
            yield f"{res.label} origin {origin_id!r} uses a legacy origin access identity (OAI)"
        s3 = is_unknown(domain) or (isinstance(domain, str) and ".s3." in f".{domain}")
        if s3 and origin.get("customOriginConfig") is None and origin.get("originAccessControlId") is None:
            yield f"{res.label} origin {origin_id!r} reads S3 without an origin access control"


@rules.resource(
    "web-cloudfront-oac",
    types=(DISTRIBUTION, OAC, OAI),
    description=(
        "CloudFront reads S3 through an origin access control that signs every request with SigV4 (signing "
        "'always'); never through a public S3 website endpoint or a legacy origin access identity."
    ),
    remediation=(
        "aws.cloudfront.OriginAccessControl(origin_access_control_origin_type='s3', "
        "signing_behavior='always', "
        "signing_protocol='sigv4') and origins=[{'domain_name': bucket.bucket_regional_domain_name, "
        "'origin_access_control_id': oac.id}]; a bucket policy for cloudfront.amazonaws.com with "
        "AWS:SourceArn."
    ),
)
def web_cloudfront_oac(res: Resource, _: Config) -> Iterator[str]:
    if res.type == OAI:
        yield f"{res.label} is a legacy origin access identity; use an origin access control"
    elif res.type == OAC:
        for key, wanted in (("signingBehavior", "always"), ("signingProtocol", "sigv4")):
            value = res.get(key)
            if not is_unknown(value) and value != wanted:
                yield f"{res.label} has {key} {value!r}, not {wanted!r}"
    else:
        yield from _origin_problems(res)


@rules.resource(
    "web-viewer-https",
    types=(DISTRIBUTION,),
    description=(
        "Viewers reach the page over HTTPS only (every cache behavior redirects HTTP or refuses it), and a "
        "custom certificate requires TLS 1.2 or later (security policy TLSv1.2_2021)."
    ),
    remediation=(
        "Set viewer_protocol_policy='redirect-to-https' on every behavior and "
        "viewer_certificate.minimum_protocol_version='TLSv1.2_2021' with an ACM certificate."
    ),
)
def web_viewer_https(res: Resource, _: Config) -> Iterator[str]:
    for behavior in _behaviors(res):
        policy = behavior.get("viewerProtocolPolicy")
        if not is_unknown(policy) and policy not in HTTPS_POLICIES:
            where = behavior.get("pathPattern") or "default"
            yield f"{res.label} behavior {where!r} allows plain HTTP (viewerProtocolPolicy {policy!r})"
    certificate = res.get("viewerCertificate")
    if isinstance(certificate, Mapping) and (
        certificate.get("acmCertificateArn") or certificate.get("iamCertificateId")
    ):
        version = certificate.get("minimumProtocolVersion")
        if not is_unknown(version) and not (
            isinstance(version, str) and version.startswith(("TLSv1.2", "TLSv1.3"))
        ):
            yield f"{res.label} accepts {version or 'TLSv1'} (set minimumProtocolVersion TLSv1.2_2021)"


@rules.resource(
    "web-viewer-tls-default-certificate",
    types=(DISTRIBUTION,),
    level=ADVISORY,
    description=(
        "With the default *.cloudfront.net certificate CloudFront fixes the security policy at TLSv1, so "
        "old TLS versions stay possible; a custom domain with an ACM certificate can require TLS 1.2."
    ),
    remediation="Set webDomainName and webCertificateArn (an ACM certificate in us-east-1).",
)
def web_viewer_tls_default_certificate(res: Resource, _: Config) -> Iterator[str]:
    certificate = res.get("viewerCertificate")
    if isinstance(certificate, Mapping) and certificate.get("cloudfrontDefaultCertificate") is True:
        yield f"{res.label} uses the default CloudFront certificate (TLS 1.0+ accepted)"


def _headers_problems(stack: Stack, distribution: Resource) -> Iterator[str]:
    for behavior in _behaviors(distribution):
        where = behavior.get("pathPattern") or "default"
        value = behavior.get("responseHeadersPolicyId")
        if value is None:
            yield f"{distribution.label} behavior {where!r} has no response headers policy"
            continue
        refs = stack.resolve(distribution, "defaultCacheBehavior", value, (HEADERS_POLICY,))
        for policy in refs.found:
            config = policy.get("securityHeadersConfig")
            if is_unknown(config):
                continue
            config = config if isinstance(config, Mapping) else {}
            missing = [
                label for key, label in SECURITY_HEADERS.items() if not isinstance(config.get(key), Mapping)
            ]
            csp = config.get("contentSecurityPolicy", {})
            text = csp.get("contentSecurityPolicy") if isinstance(csp, Mapping) else None
            if isinstance(text, str) and "'unsafe-inline'" in _directive(text, "script-src"):
                missing.append("a CSP without 'unsafe-inline' scripts")
            if missing:
                yield f"{distribution.label} behavior {where!r}: {policy.label} lacks {', '.join(missing)}"


def _directive(csp: str, name: str) -> str:
    for part in csp.split(";"):
        words = part.split()
        if words and words[0] == name:
            return " ".join(words[1:])
    return _directive(csp, "default-src") if name != "default-src" else ""


@rules.stack(
    "web-response-headers-policy",
    description=(
        "Every cache behavior of a distribution attaches a response headers policy with a "
        "Content-Security-Policy (no inline scripts), HSTS, nosniff, frame options and a referrer policy."
    ),
    remediation=(
        "Create aws.cloudfront.ResponseHeadersPolicy(security_headers_config={...}) and set "
        "response_headers_policy_id on the default and every ordered cache behavior."
    ),
)
def web_response_headers_policy(stack: Stack, _: Config) -> Iterator[tuple[str, str]]:
    yield from each(stack.of_type(DISTRIBUTION), lambda d: _headers_problems(stack, d))


EXTRA_ORIGINS = Setting(
    "corsExtraOrigins",
    {"type": "array", "items": {"type": "string"}},
    [],
    "Browser origins besides the distribution's that may call the API (the stack's apiCorsAllowedOrigins).",
)
ORIGIN_VARIABLE: Final = "ALLOWED_ORIGINS"


def _distribution_origins(distribution: Resource) -> set[str] | None:
    """https://<domain> of a distribution and of its aliases; None while unknown."""
    names = [distribution.get("domainName"), *as_list(distribution.get("aliases"))]
    if has_unknown(names) or not isinstance(names[0], str):
        return None
    return {f"https://{name}" for name in names if isinstance(name, str)}


def _cors_problems(stack: Stack, extras: set[str]) -> Iterator[tuple[str, str]]:
    pages = [(d, _distribution_origins(d)) for d in stack.of_type(DISTRIBUTION)]
    known = [(d, origins) for d, origins in pages if origins is not None]
    if not known:
        return
    allowed = extras.union(*(origins for _, origins in known))
    for function in stack.of_type(tokens.FUNCTION):
        raw = function.get(f"environment.variables.{ORIGIN_VARIABLE}")
        if not isinstance(raw, str):
            continue
        try:
            origins = {str(o) for o in json.loads(raw)}
        except (ValueError, TypeError):
            continue  # cors-no-wildcard-origin reports a malformed list
        for distribution, page in known:
            if not origins & page:
                yield (
                    function.urn,
                    f"{function.label} {ORIGIN_VARIABLE} lacks {distribution.label}'s origin "
                    f"{sorted(page)[0]}",
                )
        stray = sorted(origins - allowed - {"*", "null"})  # wildcards: cors-no-wildcard-origin
        if stray:
            yield (
                function.urn,
                f"{function.label} {ORIGIN_VARIABLE} allows undeclared origin(s) {', '.join(stray)}",
            )
    for response in stack.of_type(tokens.GATEWAY_RESPONSE):
        params = response.get("responseParameters")
        if not isinstance(params, Mapping):
            continue
        for key, value in params.items():
            origin = value.strip().strip("'\"") if isinstance(value, str) else None
            # '*' and 'null' are cors-no-wildcard-origin's finding: one fault, one violation.
            wildcard = origin in ("*", "null")
            header = str(key).lower().endswith("access-control-allow-origin")
            if header and origin and not wildcard and origin not in allowed:
                yield (
                    response.urn,
                    f"{response.label} allows origin {origin}, which is neither the page's nor declared",
                )


@rules.stack(
    "web-cors-origins-match-distribution",
    settings=[EXTRA_ORIGINS],
    description=(
        "When the stack serves the page through CloudFront, the API's CORS allow-list (the invoker's "
        "ALLOWED_ORIGINS and the gateway responses) contains the distribution's https:// origin and no "
        "origin other than it and the declared extras."
    ),
    remediation=(
        "Let the program add the distribution's origin (components/web.py WebSite.origin); list other "
        "browser origins in apiCorsAllowedOrigins and in this rule's corsExtraOrigins."
    ),
)
def web_cors_origins_match_distribution(stack: Stack, config: Config) -> Iterator[tuple[str, str]]:
    yield from _cors_problems(stack, {str(o) for o in as_list(config["corsExtraOrigins"])})


ALLOW_SELF_SIGN_UP = Setting(
    "allowSelfSignUp",
    {"type": "boolean"},
    False,
    "Allow user pools where anyone can create an account (the stack's webSelfSignUp).",
)


@rules.resource(
    "web-user-pool-no-self-sign-up",
    types=(USER_POOL,),
    settings=[ALLOW_SELF_SIGN_UP],
    description=(
        "User pools let only administrators create users (allowAdminCreateUserOnly), unless open sign-up "
        "is declared in the pack config: anyone who signs up could otherwise run up the model's bill."
    ),
    remediation=(
        "Set admin_create_user_config={'allow_admin_create_user_only': True} (webSelfSignUp false), or set "
        "allowSelfSignUp in the policy pack config."
    ),
)
def web_user_pool_no_self_sign_up(res: Resource, config: Config) -> Iterator[str]:
    if config["allowSelfSignUp"] is True:
        return
    value = res.get("adminCreateUserConfig.allowAdminCreateUserOnly")
    if not is_unknown(value) and value is not True:
        yield f"{res.label} lets anyone sign up (adminCreateUserConfig.allowAdminCreateUserOnly is not true)"
