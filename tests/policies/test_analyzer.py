"""The gRPC client and the pack as a whole: metadata, configuration, launch, failure modes."""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from offline.analyzer import (
    DEFAULT_PACK_DIR,
    UNKNOWN,
    PolicyAnalyzer,
    PolicyConfigError,
    PolicyPackError,
    Secret,
    reconcile_config,
)
from offline.model import ResourceSnapshot
from policies.crossguard import all_policies
from policies.crossguard import tokens as t
from tests.policies.builder import Graph
from tests.policies.conftest import Judge

ADVISORY_RULES = {
    "vpc-endpoint-policy-restricted",
    "agentcore-knowledge-base-searched",
    "flow-log-captures-all-traffic",
    "lambda-tracing-active",
    "api-stage-xray-tracing",
    "log-group-kms-encryption",
    "bedrock-agent-idle-session-ttl",
    "bedrock-agent-guardrail",
    "bedrock-agent-customer-kms-key",
    "agentcore-harness-limits",
    "agentcore-guardrail",
    "required-tags",
    "web-viewer-tls-default-certificate",
    "api-has-alarms",
}
STACK_RULES = {
    "no-route-out-of-vpc",
    "bedrock-retrieve-own-knowledge-base",
    "agentcore-retrieval-path-complete",
    "agentcore-knowledge-base-searched",
    "endpoint-sg-self-referencing-https",
    "lambda-reaches-endpoints",
    "vpc-required-endpoints",
    "vpc-flow-logs-enabled",
    "vpc-default-security-group-managed",
    "lambda-private-subnets-only",
    "lambda-explicit-log-group",
    "api-key-usage-plan",
    "api-throttling",
    "bedrock-agent-role-can-invoke-model",
    "knowledge-base-documents-private-and-encrypted",
    "knowledge-base-role-scoped",
    "api-has-alarms",
    "api-integration-timeout-within-function-timeout",
    "api-stream-regional-or-private",
    "api-function-deadline-within-integration",
    "bedrock-invoker-targets-alias",
    "bedrock-no-draft-alias",
    "agentcore-execution-role-scoped",
    "agentcore-invoker-own-harness",
    "agentcore-guardrail-production",
    "agentcore-guardrail",
    "web-bucket-not-public",
    "web-response-headers-policy",
    "web-cors-origins-match-distribution",
}


def test_info_describes_every_policy(analyzer: PolicyAnalyzer) -> None:
    name, version, policies = analyzer.info()
    assert (name, version) == ("bedrock-vpc-agent-guardrails", "1.0.0")  # version from PulumiPolicy.yaml
    assert len(policies) >= 30
    for policy in policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name), policy.name
        assert len(policy.description) > 60, policy.name  # says what and why
        assert policy.remediation_steps, policy.name
    levels = {p.name: p.enforcement_level for p in policies}
    assert {n for n, level in levels.items() if level == "advisory"} == ADVISORY_RULES
    assert set(levels.values()) == {"advisory", "mandatory"}
    assert {p.name for p in policies if p.policy_type == "stack"} == STACK_RULES
    schema = {p.name: p.config_schema for p in policies}["log-group-retention"]
    assert schema["minimumRetentionDays"] == {
        "type": "integer",
        "minimum": 1,
        "default": 30,
        "description": "Shortest acceptable retention in days.",
    }


def test_every_rule_has_cases() -> None:
    """Each rule appears in some `fired("<rule>")` assertion of this test suite."""
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    tested = set(re.findall(r'fired\("([a-z0-9-]+)"\)', sources))
    assert {p.name for p in all_policies()} - tested == set()


def _retention_graph() -> tuple[Graph, str]:
    g = Graph()
    group = g.add(t.LOG_GROUP, "month", name="/app/month", retentionInDays=30)
    return g, group.urn


def test_config_changes_threshold_and_level(analyzer: PolicyAnalyzer, judge: Judge) -> None:
    g, month = _retention_graph()
    assert judge(g).fired("log-group-retention") == set()
    try:
        analyzer.configure(
            {"log-group-retention": {"minimumRetentionDays": 90}, "log-group-kms-encryption": "mandatory"}
        )
        outcome = judge(g)
        assert outcome.fired("log-group-retention") == {month}
        levels = {v.policy_name: v.enforcement_level for v in outcome.report.violations}
        # Setting a property must not downgrade the rule (a missing level reads as ADVISORY on the wire).
        assert levels["log-group-retention"] == "mandatory"
        assert levels["log-group-kms-encryption"] == "mandatory"
        analyzer.configure({"log-group-retention": "disabled"})
        assert judge(g).fired("log-group-retention") == set()
    finally:
        analyzer.configure()
    assert judge(g).fired("log-group-retention") == set()


def test_config_is_validated_like_the_engine(analyzer: PolicyAnalyzer) -> None:
    _, _, policies = analyzer.info()
    for bad, match in (
        ({"no-such-rule": "mandatory"}, "unknown policy"),
        ({"log-group-retention": {"minimumDays": 3}}, "no config property"),
        ({"log-group-retention": {"minimumRetentionDays": "thirty"}}, "type integer"),
        ({"log-group-retention": {"minimumRetentionDays": 0}}, ">= 1"),
        ({"required-tags": {"requiredTags": [1]}}, r"requiredTags\[0\]"),
        ({"required-tags": "blocking"}, "invalid enforcement level"),
    ):
        with pytest.raises(PolicyConfigError, match=match):
            reconcile_config(policies, bad)
    effective = reconcile_config(
        policies, {"all": "advisory", "kms-key-rotation": {"enforcementLevel": "mandatory"}}
    )
    assert effective["kms-key-rotation"][0] == "mandatory"
    assert effective["lambda-in-vpc"] == ("advisory", {})
    assert effective["log-group-retention"] == ("advisory", {"minimumRetentionDays": 30})


def test_constructor_config_and_shutdown() -> None:
    g, month = _retention_graph()
    config = {"all": "advisory", "log-group-retention": {"minimumRetentionDays": 60}}
    with PolicyAnalyzer(config=config) as analyzer:
        report = analyzer.analyze(g.snapshots())
        process = analyzer._proc
        assert process is not None
    assert {v.urn for v in report.violations if v.policy_name == "log-group-retention"} == {month}
    assert report.violations
    assert report.passed  # everything was downgraded to advisory
    assert process.returncode is not None  # terminated and reaped
    assert not analyzer.running
    with pytest.raises(PolicyPackError, match="not running"):
        analyzer.analyze(g.snapshots())


def test_forgotten_analyzer_is_stopped_when_collected() -> None:
    analyzer = PolicyAnalyzer()
    analyzer.start()
    process = analyzer._proc
    assert process is not None
    del analyzer
    gc.collect()
    assert process.returncode is not None  # the finalizer terminated and reaped it


def test_wire_values_secrets_unknowns_and_archives(judge: Judge, analyzer: PolicyAnalyzer) -> None:
    fn = ResourceSnapshot(
        urn="urn:pulumi:test::p::aws:lambda/function:Function::fn",
        type=t.FUNCTION,
        name="fn",
        inputs={
            "runtime": "python3.13",
            "code": pulumi.AssetArchive({"handler.py": pulumi.StringAsset("def handler(e, c): ...")}),
            "environment": {"variables": {"CONFIG": Secret("AKIAABCDEFGHIJKLMNOP")}},
            "vpcConfig": {"subnetIds": UNKNOWN, "securityGroupIds": [UNKNOWN]},
        },
    )
    report = analyzer.analyze([fn])
    fired = {v.policy_name for v in report.violations}
    assert "lambda-no-plaintext-secrets" in fired  # secrets are unwrapped for Analyze, as in the engine
    assert "lambda-in-vpc" not in fired  # unknown lists are not "empty"


def _copy_pack(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(DEFAULT_PACK_DIR, pack, ignore=shutil.ignore_patterns("__pycache__"))
    return pack


def test_pack_that_fails_to_import_reports_its_traceback(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    rules = pack / "crossguard" / "tags.py"
    rules.write_text(
        rules.read_text().replace("from . import tokens", "import crossguard_helpers_that_do_not_exist")
    )
    with pytest.raises(PolicyPackError) as caught:
        PolicyAnalyzer(pack).start()
    message = str(caught.value)
    assert "failed to start" in message
    assert "exit code 1" in message
    assert "ModuleNotFoundError: No module named 'crossguard_helpers_that_do_not_exist'" in message
    assert "tags.py" in message


def test_pack_that_never_reports_a_port_is_killed(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(PolicyPackError, match="did not report a port") as caught:
        PolicyAnalyzer(tmp_path, startup_timeout=0.5).start()
    with pytest.raises(ProcessLookupError):
        os.kill(caught.value.pid, 0)  # terminated and reaped: no zombie left behind


def test_crashing_rule_fails_closed(tmp_path: Path) -> None:
    pack = _copy_pack(tmp_path)
    module = pack / "crossguard" / "kms.py"
    module.write_text(
        module.read_text().replace('usage, spec = res.get("keyUsage")', 'usage, spec = res.props["nope"]')
    )
    g = Graph()
    key = g.add(t.KMS_KEY, "key", enableKeyRotation=True)
    with PolicyAnalyzer(pack) as analyzer:
        report = analyzer.analyze(g.snapshots())
    crash = [v for v in report.violations if v.policy_name == "kms-key-rotation"]
    assert [(v.urn, v.enforcement_level) for v in crash] == [(key.urn, "mandatory")]
    assert "internal error in rule 'kms-key-rotation' (KeyError: 'nope' at kms.py:" in crash[0].message


def test_pack_also_starts_as_a_plain_script_from_another_directory(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", str(DEFAULT_PACK_DIR / "__main__.py")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip().isdigit()
    finally:
        proc.kill()
        proc.communicate()
