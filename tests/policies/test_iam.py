"""IAM rules."""

from __future__ import annotations

from typing import Any

from policies.crossguard import tokens as t
from tests.policies.builder import ACCOUNT, Graph, Json, Node, allow, policy, trust
from tests.policies.conftest import Judge

FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:invoker"


def _role_policy(g: Graph, name: str, *statements: dict[str, Any]) -> Node:
    return g.add(t.ROLE_POLICY, name, role="role", policy=policy(*statements))


def test_iam_no_wildcard_actions(judge: Judge) -> None:
    g = Graph()
    bad = [
        _role_policy(g, "star", allow("*", "*")),
        g.add(t.MANAGED_POLICY, "s3-all", policy=policy(allow(["s3:GetObject", "s3:*"], "arn:aws:s3:::b/*"))),
        g.add(
            t.ROLE,
            "inline-not-action",
            assumeRolePolicy=trust("lambda.amazonaws.com"),
            inlinePolicies=[
                {"name": "x", "policy": policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}
            ],
        ),
    ]
    g.add(
        t.USER_POLICY, "deny-all", user="u", policy=policy({"Effect": "Deny", "Action": "*", "Resource": "*"})
    )
    _role_policy(g, "prefix-glob", allow("s3:Get*", "arn:aws:s3:::b/*"))
    outcome = judge(g)
    assert outcome.fired("iam-no-wildcard-actions") == {n.urn for n in bad}
    assert outcome.messages("iam-no-wildcard-actions", bad[1].urn) == [
        "Policy 's3-all' policy a statement allows s3:*"
    ]


def test_iam_resource_level_scoping(judge: Judge) -> None:
    g = Graph()
    bad = [
        _role_policy(g, "invoke-any-function", allow("lambda:InvokeFunction", "*")),
        _role_policy(g, "invoke-glob", allow("bedrock:Invoke*", ["*"])),
        _role_policy(
            g,
            "not-resource",
            {"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": "arn:aws:kms:*:*:key/x"},
        ),
        _role_policy(g, "pass-any-role", allow("iam:PassRole", "*")),
    ]
    _role_policy(g, "eni", allow(["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"], "*"))
    _role_policy(g, "scoped", allow("lambda:InvokeFunction", [FN_ARN]), allow("xray:PutTraceSegments", "*"))
    outcome = judge(g)
    assert outcome.fired("iam-resource-level-scoping") == {n.urn for n in bad}
    assert outcome.messages("iam-resource-level-scoping", bad[0].urn) == [
        "RolePolicy 'invoke-any-function' policy a statement grants lambda:InvokeFunction on Resource '*'"
    ]


def test_iam_trust_confused_deputy(judge: Judge) -> None:
    g = Graph()
    bad = {
        g.add(t.ROLE, "agent-open", assumeRolePolicy=trust("bedrock.amazonaws.com")).urn,
        g.add(
            t.ROLE,
            "flow-wildcard",
            assumeRolePolicy=trust("vpc-flow-logs.amazonaws.com", StringLike={"aws:SourceAccount": "*"}),
        ).urn,
    }
    g.add(
        t.ROLE,
        "agent-pinned",
        assumeRolePolicy=trust("bedrock.amazonaws.com", StringEquals={"aws:SourceAccount": ACCOUNT}),
    )
    g.add(
        t.ROLE,
        "agent-arn",
        assumeRolePolicy=trust(
            "bedrock.amazonaws.com", ArnLike={"aws:SourceArn": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:agent/*"}
        ),
    )
    g.add(t.ROLE, "lambda", assumeRolePolicy=trust("lambda.amazonaws.com"))  # the documented exception
    assert judge(g).fired("iam-trust-confused-deputy") == bad


def test_iam_trust_no_public_principal(judge: Judge) -> None:
    g = Graph()

    def role(name: str, principal: Any, **extra: Any) -> Node:
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
        return g.add(t.ROLE, name, assumeRolePolicy=Json({"Version": "2012-10-17", "Statement": statement}))

    bad = {role("star", "*").urn, role("aws-star", {"AWS": ["*"]}).urn}
    role("conditioned", {"AWS": "*"}, Condition={"StringEquals": {"aws:PrincipalOrgID": "o-123"}})
    role("account", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    assert judge(g).fired("iam-trust-no-public-principal") == bad


def test_iam_no_admin_managed_policies(judge: Judge) -> None:
    g = Graph()
    bad = {
        g.add(
            t.ROLE_POLICY_ATTACHMENT,
            "admin",
            role="r",
            policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        ).urn,
        g.add(
            t.ROLE,
            "power",
            assumeRolePolicy=trust("lambda.amazonaws.com"),
            managedPolicyArns=["arn:aws:iam::aws:policy/PowerUserAccess"],
        ).urn,
        g.add(
            t.POLICY_ATTACHMENT, "gov", roles=["r"], policyArn="arn:aws-us-gov:iam::aws:policy/IAMFullAccess"
        ).urn,
        g.add(
            t.ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
            "exclusive",
            roleName="r",
            policyArns=[
                "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                "arn:aws:iam::aws:policy/AmazonBedrockFullAccess",
            ],
        ).urn,
    }
    g.add(
        t.ROLE_POLICY_ATTACHMENT,
        "vpc-access",
        role="r",
        policyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    )
    g.add(
        t.ROLE_POLICY_ATTACHMENT,
        "customer",
        role="r",
        policyArn=f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess",
    )
    assert judge(g).fired("iam-no-admin-managed-policies") == bad
