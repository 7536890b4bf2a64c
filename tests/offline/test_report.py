"""The text report a user reads: root cause first, one entry per fault, how to fix it, and the stack
setting behind it. Built from real previews and real analyzer reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import components.api
from offline.analyzer import PolicyAnalyzer
from offline.engine import REPO_ROOT
from offline.preview import EXIT_PROGRAM, PreviewResult, main, render_report
from offline.report import entries
from policies.crossguard import tokens as t
from tests.policies.baseline import build
from tests.programs import shared_preview


def judged(analyzer: PolicyAnalyzer, stack: str = "dev", **overrides: Any) -> PreviewResult:
    return shared_preview(analyzer, stack, overrides)


def report_text(result: PreviewResult) -> str:
    return "\n".join(render_report(result.report, result.run))


def test_every_violation_prints_its_remediation(analyzer: PolicyAnalyzer) -> None:
    result = judged(analyzer, apiAuth="none", webUi=False, flowLogTrafficType="ACCEPT")
    text = report_text(result)
    remediation = {p.name: p.remediation_steps for p in result.report.policies}
    for violation in result.report.violations:
        assert f"fix: {remediation[violation.policy_name]}" in text, violation.policy_name


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"apiAuth": "none", "webUi": False},  # the page needs iam
            'stack setting bedrock-vpc-agent:apiAuth = "none" (set for this stack): set it to iam or api-key',
        ),
        (
            {"flowLogTrafficType": "REJECT"},
            'stack setting bedrock-vpc-agent:flowLogTrafficType = "REJECT" (set for this stack): set it to '
            "ALL",
        ),
        (
            {"logRetentionDays": 7},
            "stack setting bedrock-vpc-agent:logRetentionDays = 7 (set for this stack)",
        ),
        (
            {"interfaceEndpoints": []},
            "stack setting bedrock-vpc-agent:interfaceEndpoints = [] (set for this stack): add the missing "
            "service to it",
        ),
        (
            {"agentIdleSessionTtlSeconds": 5000},
            "stack setting bedrock-vpc-agent:agentIdleSessionTtlSeconds = 5000 (set for this stack)",
        ),
        (
            {"guardrailEnabled": False},
            "stack setting bedrock-vpc-agent:agentGuardrailId is unset: set agentGuardrailId and "
            "agentGuardrailVersion",
        ),
    ],
)
def test_a_violation_a_stack_setting_caused_names_the_key(
    analyzer: PolicyAnalyzer, overrides: dict[str, Any], expected: str
) -> None:
    assert expected in report_text(judged(analyzer, **overrides))


def test_production_without_protection_names_the_key(analyzer: PolicyAnalyzer) -> None:
    result = judged(analyzer, "prod", protectStatefulResources=False)
    text = report_text(result)
    assert "stateful-resources-protected" in {v.policy_name for v in result.report.mandatory_violations}
    assert (
        "stack setting bedrock-vpc-agent:protectStatefulResources = false (the default in Pulumi.yaml): set "
        "it to true for a production stack"
    ) in text


def test_a_violation_the_code_caused_names_no_setting_and_is_listed_once(
    analyzer: PolicyAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One CORS edit in the code puts '*' on every gateway response (19 resources).
    original = components.api.gateway_response_headers
    monkeypatch.setattr(
        components.api,
        "gateway_response_headers",
        lambda origins: {**original(origins), "gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
    )
    result = judged(analyzer)
    cors = [v for v in result.report.violations if v.policy_name == "cors-no-wildcard-origin"]
    assert len(cors) == len(components.api.GATEWAY_ERRORS) > 10  # the engine's report keeps each one
    text = report_text(result)
    assert text.count("cors-no-wildcard-origin") == 1
    assert f"cors-no-wildcard-origin  {len(cors)} resources: aws:apigateway:Response (" in text
    assert f"(and the same on the other {len(cors) - 1})" in text
    assert "apiCorsAllowedOrigins" not in text  # the stack's origins are fine: the code is at fault


def _order(analyzer: PolicyAnalyzer, graph: Any) -> list[str]:
    report = analyzer.analyze(graph.snapshots())
    return [entry.violation.policy_name for entry in entries(report, graph.snapshots())]


def test_root_cause_first_open_ingress(analyzer: PolicyAnalyzer) -> None:
    base = build()
    del base.ingress.inputs["referencedSecurityGroupId"]
    base.ingress.inputs["cidrIpv4"] = "0.0.0.0/0"
    order = _order(analyzer, base.graph)
    # The open rule, then what it no longer provides: the group's self-referencing HTTPS ingress.
    assert order == ["no-open-security-group-rules", "endpoint-sg-self-referencing-https"]


def test_root_cause_first_nat_route_one_entry_each(analyzer: PolicyAnalyzer) -> None:
    base = build()
    g = base.graph
    public = g.add(t.SUBNET, "public", vpcId=base.vpc.id, cidrBlock="10.0.9.0/24")
    nat = g.add(t.NAT_GATEWAY, "nat", subnetId=public.id)
    g.add(
        t.ROUTE,
        "via-nat",
        routeTableId=base.route_table.id,
        destinationCidrBlock="0.0.0.0/0",
        natGatewayId=nat.id,
    )
    report = analyzer.analyze(g.snapshots())
    route_findings = [v for v in report.violations if v.policy_name == "no-route-out-of-vpc"]
    assert [v.message for v in route_findings] == [
        "Route 'via-nat' in RouteTable 'private-rt' has destination 0.0.0.0/0 and targets NatGateway 'nat'"
    ]
    assert len([v for v in report.violations if v.policy_name == "lambda-private-subnets-only"]) == 2
    order = _order(analyzer, g)
    assert order.index("no-internet-gateways") < order.index("lambda-private-subnets-only")
    assert order.index("no-route-out-of-vpc") < order.index("lambda-private-subnets-only")


def run_cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`python -m offline preview ARGS`, in this process: its exit code, stdout and stderr as the
    terminal gets them (captured at the file descriptors, so asyncio's logger and any other writer to
    the terminal are in them too). The exit-time noise of a real process is
    test_a_function_schema_error_ends_without_a_traceback's and tests/offline/test_preview.py's."""
    capfd.readouterr()
    code = main(list(args), sys.stdout, sys.stderr)
    captured = capfd.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"bedrock-agent-idle-session-ttl": {"maximumSeconds": "lots"}}', "must be of type integer"),
        ('{"no-such-rule": "mandatory"}', "unknown policy 'no-such-rule'"),
        ("{not json", "is not JSON"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_a_policy_config_schema_error_ends_with_one_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(content)
    code, _, stderr = run_cli(capfd, "--stack", "dev", "--policy-pack-config", str(config))
    assert code == EXIT_PROGRAM
    assert stderr.startswith("error: invalid --policy-pack-config:"), stderr
    assert expected in stderr
    assert "Traceback" not in stderr
    assert "asyncio" not in stderr
    assert stderr.count("\n") == 1, stderr


def test_a_function_schema_error_ends_without_a_traceback() -> None:
    # A tool name Bedrock rejects, raised while the program runs. ResourceWarnings are shown, so an
    # event loop left for the garbage collector at exit (the source of the "Exception ignored in
    # BaseEventLoop.__del__" noise, printed only when the collector runs late) fails every run.
    script = (
        "import sys, functions.action_group.tools as tools\n"
        "tools.app.tool(name='bad name!', description='x')(lambda: 'x')\n"
        "from offline.preview import main\n"
        "sys.exit(main(['--stack', 'dev']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_PROGRAM, done.stderr
    assert "Invalid Bedrock function schema" in done.stderr
    assert "Tool 'bad name!'" in done.stderr
    noises = (
        "Traceback",
        "asyncio",
        "Task was destroyed",
        "never retrieved",
        "Exception ignored",
        "unclosed",
    )
    for noise in noises:
        assert noise not in done.stderr, done.stderr
