"""The chat page (components/web.py): private bucket behind CloudFront OAC, Cognito sign-in, CORS wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.web import (
    CACHING_DISABLED,
    CONTENT_TYPES,
    PAGE_DIR,
    content_security_policy,
    page_files,
)
from offline.engine import ProgramRun
from tests.program.conftest import RunProgram, policy_document
from tests.program.test_config import failure

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
OAC = "aws:cloudfront/originAccessControl:OriginAccessControl"
HEADERS_POLICY = "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy"
USER_POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
IDENTITY_POOL = "aws:cognito/identityPool:IdentityPool"
ROLE_ATTACHMENT = "aws:cognito/identityPoolRoleAttachment:IdentityPoolRoleAttachment"
FUNCTION = "aws:lambda/function:Function"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    from tests.programs import shared_run

    return shared_run("dev")


def origin_of(run: ProgramRun) -> str:
    return f"https://{run.one(DISTRIBUTION).outputs['domainName']}"


def test_bucket_is_private_owner_enforced_encrypted_and_versioned(dev: ProgramRun) -> None:
    bucket = dev.one(BUCKET, "web-bucket")
    bucket_id = bucket.outputs["id"]
    block = dev.one(PUBLIC_ACCESS_BLOCK, "web-public-access-block").inputs
    assert block["bucket"] == bucket_id
    assert all(
        block[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert dev.one(OWNERSHIP, "web-ownership").inputs == {
        "bucket": bucket_id,
        "rule": {"objectOwnership": "BucketOwnerEnforced"},
    }
    (rule,) = dev.one(ENCRYPTION, "web-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert dev.one(VERSIONING, "web-versioning").inputs["versioningConfiguration"]["status"] == "Enabled"
    assert "acl" not in bucket.inputs
    assert "website" not in bucket.inputs


def test_bucket_policy_admits_only_this_distribution_and_denies_plain_http(dev: ProgramRun) -> None:
    bucket, distribution = dev.one(BUCKET, "web-bucket").outputs, dev.one(DISTRIBUTION).outputs
    policy = dev.one(BUCKET_POLICY, "web-bucket-policy")
    assert policy.inputs["bucket"] == bucket["id"]
    allow, deny = policy_document(policy.inputs["policy"])["Statement"]
    assert allow == {
        "Sid": "ReadByThisDistributionOnly",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket['arn']}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution["arn"]}},
    }
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Resource"] == [bucket["arn"], f"{bucket['arn']}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # S3 refuses a policy that the public-access block would block only if the block exists first.
    assert dev.one(PUBLIC_ACCESS_BLOCK, "web-public-access-block").urn in policy.dependencies


def test_distribution_reads_the_bucket_through_oac_over_https_only(dev: ProgramRun) -> None:
    oac = dev.one(OAC)
    assert (oac.inputs["originAccessControlOriginType"], oac.inputs["signingBehavior"]) == ("s3", "always")
    assert oac.inputs["signingProtocol"] == "sigv4"
    distribution = dev.one(DISTRIBUTION).inputs
    (origin,) = distribution["origins"]
    assert origin["domainName"] == dev.one(BUCKET, "web-bucket").outputs["bucketRegionalDomainName"]
    assert origin["originAccessControlId"] == oac.outputs["id"]
    assert "s3OriginConfig" not in origin
    assert "customOriginConfig" not in origin
    headers_id = dev.one(HEADERS_POLICY).outputs["id"]
    behaviors = [distribution["defaultCacheBehavior"], *distribution["orderedCacheBehaviors"]]
    for behavior in behaviors:
        assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
        assert behavior["responseHeadersPolicyId"] == headers_id
        assert behavior["allowedMethods"] == ["GET", "HEAD"]
    assert distribution["orderedCacheBehaviors"][0]["pathPattern"] == "/config.json"
    assert distribution["orderedCacheBehaviors"][0]["cachePolicyId"] == CACHING_DISABLED
    assert distribution["defaultRootObject"] == "index.html"
    assert distribution["priceClass"] == "PriceClass_100"
    assert distribution["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert "aliases" not in distribution


def test_custom_domain_uses_its_certificate_with_tls_1_2_and_becomes_the_origin(program: RunProgram) -> None:
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    run = program(
        "dev", webDomainName="chat.example.com", webCertificateArn=certificate, webPriceClass="PriceClass_All"
    )
    distribution = run.one(DISTRIBUTION).inputs
    assert distribution["aliases"] == ["chat.example.com"]
    assert distribution["priceClass"] == "PriceClass_All"
    assert distribution["viewerCertificate"] == {
        "acmCertificateArn": certificate,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    invoker = run.one(FUNCTION, "invoker-function").inputs
    assert json.loads(invoker["environment"]["variables"]["ALLOWED_ORIGINS"]) == ["https://chat.example.com"]
    client = run.one(CLIENT).inputs
    assert client["callbackUrls"] == client["logoutUrls"] == ["https://chat.example.com/"]


def test_response_headers_policy_sets_a_strict_csp_and_the_security_headers(dev: ProgramRun) -> None:
    security = dev.one(HEADERS_POLICY).inputs["securityHeadersConfig"]
    csp = security["contentSecurityPolicy"]["contentSecurityPolicy"]
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"].split() == [
        "'self'",
        "https://*.execute-api.us-east-1.amazonaws.com",
        "https://bedrock-vpc-agent-dev-123456789012.auth.us-east-1.amazoncognito.com",
        "https://cognito-identity.us-east-1.amazonaws.com",
    ]
    assert "unsafe" not in csp
    assert security["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31_536_000
    assert security["contentTypeOptions"] == {"override": True}
    assert security["frameOptions"] == {"frameOption": "DENY", "override": True}
    assert security["referrerPolicy"]["referrerPolicy"] == "no-referrer"
    assert all(entry["override"] is True for entry in security.values())


def test_every_page_file_is_uploaded_with_its_content_type(dev: ProgramRun) -> None:
    bucket_id = dev.one(BUCKET, "web-bucket").outputs["id"]
    objects = {o.inputs["key"]: o.inputs for o in dev.of_type(OBJECT) if o.name.startswith("web-")}
    expected = {key: content_type for key, _, content_type in page_files()}
    assert {key: o["contentType"] for key, o in objects.items() if key != "config.json"} == expected
    assert all(o["bucket"] == bucket_id for o in objects.values())
    assert objects["index.html"]["contentType"] == "text/html; charset=utf-8"
    assert objects["index.html"]["cacheControl"] == "no-cache"
    scripts = [key for key in objects if key.endswith(".js")]
    assert set(scripts) == {"app.js", "api.js", "auth.js", "sigv4.js", "tools.js"}
    assert all(objects[key]["contentType"] == CONTENT_TYPES[".js"] for key in scripts)
    assert objects["app.css"]["contentType"] == "text/css; charset=utf-8"
    assert objects["favicon.svg"]["contentType"] == "image/svg+xml"


def test_a_file_without_a_known_content_type_fails_before_anything_is_created(tmp_path: Any) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "data.bin").write_bytes(b"\0")
    with pytest.raises(ValueError, match=r"web/data.bin: no content type for '.bin'"):
        page_files(tmp_path)


def test_runtime_config_names_the_api_and_cognito_and_holds_no_secret(dev: ProgramRun) -> None:
    config = dev.one(OBJECT, "web-config-object").inputs
    assert config["key"] == "config.json"
    assert config["contentType"] == "application/json"
    values = json.loads(config["content"])
    assert values == {
        "apiUrl": dev.outputs["apiUrl"],
        "region": "us-east-1",
        "userPoolId": dev.one(USER_POOL).outputs["id"],
        "clientId": dev.one(CLIENT).outputs["id"],
        "identityPoolId": dev.one(IDENTITY_POOL).outputs["id"],
        "authDomain": "https://bedrock-vpc-agent-dev-123456789012.auth.us-east-1.amazoncognito.com",
    }
    assert dev.one(CLIENT).inputs["generateSecret"] is False


def test_cors_origins_of_invoker_and_gateway_are_the_distribution_plus_extras(program: RunProgram) -> None:
    run = program("dev", apiCorsAllowedOrigins=["http://localhost:5173"])
    origin = origin_of(run)
    invoker = run.one(FUNCTION, "invoker-function").inputs
    assert json.loads(invoker["environment"]["variables"]["ALLOWED_ORIGINS"]) == [
        "http://localhost:5173",
        origin,
    ]
    dev_invoker = run_dev_invoker_origins(program)
    assert dev_invoker[0].startswith("https://d")
    assert dev_invoker[0].endswith(".cloudfront.net")


def run_dev_invoker_origins(program: RunProgram) -> list[str]:
    run = program("dev")
    invoker = run.one(FUNCTION, "invoker-function").inputs
    origins = json.loads(invoker["environment"]["variables"]["ALLOWED_ORIGINS"])
    assert origins == [origin_of(run)]
    headers = {
        r.inputs["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"]
        for r in run.of_type(GATEWAY_RESPONSE)
    }
    assert headers == {f"'{origin_of(run)}'"}
    return list(origins)


def test_user_pool_is_admin_only_with_a_password_policy_and_mfa(dev: ProgramRun, program: RunProgram) -> None:
    pool = dev.one(USER_POOL).inputs
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    policy = pool["passwordPolicy"]
    assert policy["minimumLength"] == 12
    assert all(policy[f"require{kind}"] is True for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert pool["mfaConfiguration"] == "OPTIONAL"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["deletionProtection"] == "INACTIVE"
    prod = program("prod").one(USER_POOL)
    assert prod.inputs["mfaConfiguration"] == "ON"
    assert prod.inputs["deletionProtection"] == "ACTIVE"
    assert prod.protect is True
    open_pool = program("dev", webSelfSignUp=True, webMfa="OFF", webPasswordMinLength=16).one(USER_POOL)
    assert open_pool.inputs["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": False}
    assert open_pool.inputs["passwordPolicy"]["minimumLength"] == 16
    assert "softwareTokenMfaConfiguration" not in open_pool.inputs


def test_app_client_uses_the_code_flow_on_the_page_origin_only(dev: ProgramRun) -> None:
    client = dev.one(CLIENT).inputs
    assert client["userPoolId"] == dev.one(USER_POOL).outputs["id"]
    assert client["allowedOauthFlows"] == ["code"]  # PKCE is enforced by the page (no implicit flow)
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["allowedOauthScopes"] == ["openid", "email"]
    assert client["callbackUrls"] == client["logoutUrls"] == [origin_of(dev) + "/"]
    assert client["supportedIdentityProviders"] == ["COGNITO"]
    domain = dev.one(DOMAIN).inputs
    assert domain["domain"] == "bedrock-vpc-agent-dev-123456789012"
    assert domain["userPoolId"] == dev.one(USER_POOL).outputs["id"]


def test_signed_in_users_may_call_the_chat_methods_and_nothing_else(dev: ProgramRun) -> None:
    pool = dev.one(IDENTITY_POOL)
    assert pool.inputs["allowUnauthenticatedIdentities"] is False
    assert pool.inputs["allowClassicFlow"] is False
    (provider,) = pool.inputs["cognitoIdentityProviders"]
    assert provider["clientId"] == dev.one(CLIENT).outputs["id"]
    assert provider["providerName"] == dev.one(USER_POOL).outputs["endpoint"]
    assert provider["serverSideTokenCheck"] is True
    role = dev.one("aws:iam/role:Role", "sign-in-user-role")
    (trust,) = policy_document(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": pool.outputs["id"]},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
    }
    attachment = dev.one(ROLE_ATTACHMENT).inputs
    assert attachment == {
        "identityPoolId": pool.outputs["id"],
        "roles": {"authenticated": role.outputs["arn"]},
    }
    (statement,) = policy_document(
        dev.one("aws:iam/rolePolicy:RolePolicy", "sign-in-user-invoke").inputs["policy"]
    )["Statement"]
    api = dev.one("aws:apigateway/restApi:RestApi").outputs["id"]
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"] == [
        f"arn:aws:execute-api:us-east-1:123456789012:{api}/v1/POST/chat",
        f"arn:aws:execute-api:us-east-1:123456789012:{api}/v1/DELETE/chat/*",
    ]


def test_access_logs_are_delivered_to_an_encrypted_stack_log_group(dev: ProgramRun) -> None:
    group = dev.one(LOG_GROUP, "web-access-logs")
    assert group.inputs["name"] == "/bedrock-vpc-agent-dev/web-access"
    assert group.inputs["kmsKeyId"] == dev.one("aws:kms/key:Key").outputs["arn"]
    assert group.inputs["retentionInDays"] == 30
    source = dev.one("aws:cloudwatch/logDeliverySource:LogDeliverySource").inputs
    assert source["logType"] == "ACCESS_LOGS"
    assert source["resourceArn"] == dev.one(DISTRIBUTION).outputs["arn"]
    destination = dev.one("aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination")
    assert destination.inputs["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": group.outputs["arn"]
    }
    delivery = dev.one("aws:cloudwatch/logDelivery:LogDelivery").inputs
    assert delivery["deliverySourceName"] == source["name"]
    assert delivery["deliveryDestinationArn"] == destination.outputs["arn"]
    (statement,) = policy_document(
        dev.one("aws:cloudwatch/logResourcePolicy:LogResourcePolicy").inputs["policyDocument"]
    )["Statement"]
    assert statement["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert statement["Resource"] == f"{group.outputs['arn']}:log-stream:*"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"apiAuth": "api-key"}, "apiAuth must be iam"),
        (
            {
                "aws:region": "us-west-2",
                "powertoolsLayerArn": (
                    "arn:aws:lambda:us-west-2:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
                ),
            },
            "needs the stack in us-east-1",
        ),
        ({"webDomainName": "chat.example.com"}, "set webDomainName and webCertificateArn together"),
        (
            {
                "webDomainName": "chat.example.com",
                "webCertificateArn": (
                    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
                ),
            },
            "CloudFront only uses ACM certificates from us-east-1",
        ),
        ({"webPriceClass": "PriceClass_300"}, "'PriceClass_300' is not one of"),
        ({"webMfa": "SMS"}, "'SMS' is not one of OFF, OPTIONAL, ON"),
        ({"webPasswordMinLength": 6}, "6 is out of range; use 8 to 99"),
        ({"webAuthDomainPrefix": "my-cognito-login"}, "reserved words"),
    ],
)
def test_page_settings_are_checked_before_anything_is_created(
    program: RunProgram, overrides: dict[str, Any], expected: str
) -> None:
    message = failure(program, **overrides)
    assert expected in message
    assert "nothing was created" in message


def test_web_ui_off_creates_no_page_and_keeps_the_configured_origins(program: RunProgram) -> None:
    run = program("dev", webUi=False)
    assert not run.of_type(DISTRIBUTION)
    assert not [bucket for bucket in run.of_type(BUCKET) if bucket.name.startswith("web-")]
    assert not run.of_type(USER_POOL)
    invoker = run.one(FUNCTION, "invoker-function").inputs
    assert invoker["environment"]["variables"]["ALLOWED_ORIGINS"] == "[]"


def test_csp_is_one_policy_for_cloudfront_and_the_local_server() -> None:
    csp = content_security_policy(["http://127.0.0.1:9"])
    assert "connect-src 'self' http://127.0.0.1:9" in csp
    assert (PAGE_DIR / "index.html").is_file()
