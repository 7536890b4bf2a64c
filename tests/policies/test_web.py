"""Chat page rules: private bucket, OAC, HTTPS/TLS, security headers, CORS pinned to the page, sign-up."""

from __future__ import annotations

import json
from typing import Any

from offline.analyzer import PolicyAnalyzer
from policies.crossguard import tokens as t
from policies.crossguard import web as w
from tests.policies.builder import Graph, Node
from tests.policies.conftest import Judge

DOMAIN = "d111111abcdef8.cloudfront.net"
PAGE = f"https://{DOMAIN}"


def _bucket(g: Graph, name: str = "site", **block: Any) -> Node:
    bucket = g.add(w.BUCKET, name, bucket=f"{name}-bucket")
    flags = dict.fromkeys(w.PUBLIC_ACCESS_FLAGS, True) | block
    g.add(w.PUBLIC_ACCESS_BLOCK, f"{name}-block", bucket=bucket.id, **flags)
    return bucket


def _distribution(g: Graph, name: str = "cdn", *, headers: Node | None = None, **overrides: Any) -> Node:
    oac = g.add(
        w.OAC,
        f"{name}-oac",
        signingBehavior="always",
        signingProtocol="sigv4",
        originAccessControlOriginType="s3",
    )
    behavior: dict[str, Any] = {"targetOriginId": "page", "viewerProtocolPolicy": "redirect-to-https"}
    if headers is not None:
        behavior["responseHeadersPolicyId"] = headers.id
    inputs: dict[str, Any] = {
        "origins": [
            {
                "originId": "page",
                "domainName": "site-bucket.s3.us-east-1.amazonaws.com",
                "originAccessControlId": oac.id,
            }
        ],
        "defaultCacheBehavior": behavior,
        "orderedCacheBehaviors": [{**behavior, "pathPattern": "/config.json"}],
        "viewerCertificate": {"cloudfrontDefaultCertificate": True},
    }
    inputs.update(overrides)
    return g.add(w.DISTRIBUTION, name, outputs={"domainName": DOMAIN}, **inputs)


def _headers(g: Graph, **config: Any) -> Node:
    security = {
        "contentSecurityPolicy": {
            "contentSecurityPolicy": "default-src 'none'; script-src 'self'",
            "override": True,
        },
        "strictTransportSecurity": {"accessControlMaxAgeSec": 63072000, "override": True},
        "contentTypeOptions": {"override": True},
        "frameOptions": {"frameOption": "DENY", "override": True},
        "referrerPolicy": {"referrerPolicy": "no-referrer", "override": True},
    } | config
    return g.add(
        w.HEADERS_POLICY,
        "headers",
        securityHeadersConfig={k: v for k, v in security.items() if v is not None},
    )


def test_web_bucket_not_public(judge: Judge) -> None:
    g = Graph()
    _bucket(g, "private")
    half = _bucket(g, "half", restrictPublicBuckets=False)
    bare = g.add(w.BUCKET, "bare", bucket="bare-bucket")
    website = _bucket(g, "website")
    g.add(w.WEBSITE, "website-site", bucket=website.id, indexDocument={"suffix": "index.html"})
    acl = _bucket(g, "acl")
    g.add(w.BUCKET_ACL, "acl-acl", bucket=acl.id, acl="public-read")
    outcome = judge(g)
    assert outcome.fired("web-bucket-not-public") == {half.urn, bare.urn, website.urn, acl.urn}
    assert outcome.messages("web-bucket-not-public", half.urn) == [
        "Bucket 'half': BucketPublicAccessBlock 'half-block' leaves restrictPublicBuckets off"
    ]
    assert judge(g, preview=True).fired("web-bucket-not-public") == {half.urn, bare.urn, website.urn, acl.urn}


def test_web_cloudfront_oac(judge: Judge) -> None:
    g = Graph()
    good = _distribution(g, "good")
    legacy = g.add(w.OAI, "legacy", comment="old")
    unsigned = g.add(
        w.OAC,
        "unsigned",
        signingBehavior="no-override",
        signingProtocol="sigv4",
        originAccessControlOriginType="s3",
    )
    website = _distribution(
        g,
        "website",
        origins=[
            {
                "originId": "w",
                "domainName": "b.s3-website-us-east-1.amazonaws.com",
                "customOriginConfig": {"originProtocolPolicy": "http-only"},
            }
        ],
    )
    oai = _distribution(
        g,
        "oai",
        origins=[
            {
                "originId": "o",
                "domainName": "b.s3.us-east-1.amazonaws.com",
                "s3OriginConfig": {
                    "originAccessIdentity": legacy.ref("id", "origin-access-identity/cloudfront/{}")
                },
            }
        ],
    )
    public = _distribution(g, "public", origins=[{"originId": "p", "domainName": "b.s3.amazonaws.com"}])
    fired = judge(g).fired("web-cloudfront-oac")
    assert fired == {legacy.urn, unsigned.urn, website.urn, oai.urn, public.urn}
    assert good.urn not in fired


def test_web_viewer_https_and_tls(judge: Judge) -> None:
    g = Graph()
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    tls12 = _distribution(
        g,
        "tls12",
        viewerCertificate={
            "acmCertificateArn": certificate,
            "minimumProtocolVersion": "TLSv1.2_2021",
            "sslSupportMethod": "sni-only",
        },
    )
    tls10 = _distribution(
        g,
        "tls10",
        viewerCertificate={
            "acmCertificateArn": certificate,
            "minimumProtocolVersion": "TLSv1_2016",
            "sslSupportMethod": "sni-only",
        },
    )
    http = _distribution(
        g, "http", defaultCacheBehavior={"targetOriginId": "page", "viewerProtocolPolicy": "allow-all"}
    )
    default_cert = _distribution(g, "default")
    outcome = judge(g)
    assert outcome.fired("web-viewer-https") == {tls10.urn, http.urn}
    assert outcome.messages("web-viewer-https", http.urn) == [
        "Distribution 'http' behavior 'default' allows plain HTTP (viewerProtocolPolicy 'allow-all')"
    ]
    # Advisory: the default certificate cannot require TLS 1.2.
    assert outcome.fired("web-viewer-tls-default-certificate") == {default_cert.urn, http.urn}
    assert tls12.urn not in outcome.fired("web-viewer-tls-default-certificate")


def test_web_response_headers_policy(judge: Judge) -> None:
    g = Graph()
    complete = _headers(g)
    _distribution(g, "secured", headers=complete)
    bare = _distribution(g, "bare")
    g2 = Graph()
    weak = _headers(
        g2,
        frameOptions=None,
        contentSecurityPolicy={
            "contentSecurityPolicy": "script-src 'self' 'unsafe-inline'",
            "override": True,
        },
    )
    weakly = _distribution(g2, "weakly", headers=weak)
    assert judge(g).fired("web-response-headers-policy") == {bare.urn}
    outcome = judge(g2)
    assert outcome.fired("web-response-headers-policy") == {weakly.urn}
    assert outcome.messages("web-response-headers-policy")[0] == (
        "Distribution 'weakly' behavior 'default': ResponseHeadersPolicy 'headers' lacks X-Frame-Options, "
        "a CSP without 'unsafe-inline' scripts"
    )
    assert judge(g, preview=True).fired("web-response-headers-policy") == {bare.urn}


def _invoker(g: Graph, origins: list[str]) -> Node:
    return g.add(
        t.FUNCTION,
        "invoker",
        name="invoker",
        environment={"variables": {"ALLOWED_ORIGINS": json.dumps(origins)}},
    )


def _gateway_response(g: Graph, origin: str) -> Node:
    return g.add(
        t.GATEWAY_RESPONSE,
        "throttled",
        restApiId="api",
        responseType="THROTTLED",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'"},
    )


def test_web_cors_origins_match_distribution(judge: Judge) -> None:
    g = Graph()
    _distribution(g)
    _invoker(g, [PAGE])
    _gateway_response(g, PAGE)
    assert "web-cors-origins-match-distribution" not in judge(g).rules

    missing = Graph()
    _distribution(missing)
    invoker = _invoker(missing, ["https://app.example.com"])
    response = _gateway_response(missing, "https://app.example.com")
    outcome = judge(missing)
    assert outcome.fired("web-cors-origins-match-distribution") == {invoker.urn, response.urn}
    assert outcome.messages("web-cors-origins-match-distribution", invoker.urn) == [
        f"Function 'invoker' ALLOWED_ORIGINS lacks Distribution 'cdn''s origin {PAGE}",
        "Function 'invoker' ALLOWED_ORIGINS allows undeclared origin(s) https://app.example.com",
    ]
    # Without a distribution the rule has nothing to pin; during preview the domain is unknown.
    no_page = Graph()
    _invoker(no_page, ["https://app.example.com"])
    assert "web-cors-origins-match-distribution" not in judge(no_page).rules
    assert "web-cors-origins-match-distribution" not in judge(missing, preview=True).rules


def test_web_user_pool_no_self_sign_up(judge: Judge) -> None:
    g = Graph()
    admin_only = g.add(w.USER_POOL, "admins", adminCreateUserConfig={"allowAdminCreateUserOnly": True})
    open_pool = g.add(w.USER_POOL, "open", adminCreateUserConfig={"allowAdminCreateUserOnly": False})
    default = g.add(w.USER_POOL, "default")
    assert judge(g).fired("web-user-pool-no-self-sign-up") == {open_pool.urn, default.urn}
    assert admin_only.urn not in judge(g).fired("web-user-pool-no-self-sign-up")


def test_declared_extra_origins_and_open_sign_up_pass_with_the_pack_config() -> None:
    g = Graph()
    _distribution(g)
    _invoker(g, [PAGE, "https://app.example.com"])
    g.add(w.USER_POOL, "open", adminCreateUserConfig={"allowAdminCreateUserOnly": False})
    config = {
        "web-cors-origins-match-distribution": {"corsExtraOrigins": ["https://app.example.com"]},
        "web-user-pool-no-self-sign-up": {"allowSelfSignUp": True},
    }
    with PolicyAnalyzer(config=config) as configured:
        rules = {v.policy_name for v in configured.analyze(g.snapshots()).violations}
    assert not rules & {"web-cors-origins-match-distribution", "web-user-pool-no-self-sign-up"}
