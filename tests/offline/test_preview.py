"""The offline preview: the real program, judged by the real policy pack over its gRPC service."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from offline.analyzer import PolicyAnalyzer
from offline.engine import REPO_ROOT
from offline.preview import EXIT_POLICY, EXIT_PROGRAM, PreviewResult, display_type, main, render
from tests.programs import shared_preview


def judged(analyzer: PolicyAnalyzer, stack: str = "dev", **overrides: Any) -> PreviewResult:
    return shared_preview(analyzer, stack, overrides)


def mandatory(result: PreviewResult) -> set[str]:
    return {violation.policy_name for violation in result.report.mandatory_violations}


@pytest.mark.parametrize("stack", ["dev", "prod", "agentcore"])
def test_shipped_stacks_pass_every_mandatory_rule(analyzer: PolicyAnalyzer, stack: str) -> None:
    result = judged(analyzer, stack)
    assert mandatory(result) == set()
    assert result.exit_code == 0
    assert len(result.report.policies) >= 30
    # The advisory findings are the opinions the stacks knowingly leave open.
    assert {v.policy_name for v in result.report.violations} <= {
        "bedrock-agent-guardrail",
        "bedrock-agent-customer-kms-key",
        "web-viewer-tls-default-certificate",  # the page on *.cloudfront.net until a domain is set
    }


@pytest.mark.parametrize(
    ("overrides", "rule", "message"),
    [
        ({"apiAuth": "none", "webUi": False}, "api-method-authorization", "NONE"),
        ({"logRetentionDays": 7}, "log-group-retention", "7 days"),
        ({"interfaceEndpoints": []}, "vpc-required-endpoints", "bedrock-agent-runtime"),
        ({"interfaceEndpoints": ["logs"]}, "vpc-required-endpoints", "bedrock-agent-runtime"),
    ],
)
def test_insecure_choices_build_but_are_rejected(
    analyzer: PolicyAnalyzer, overrides: dict[str, Any], rule: str, message: str
) -> None:
    result = judged(analyzer, **overrides)
    _assert_rejected(result, rule, message)


def test_agentcore_stack_needs_its_own_endpoint(analyzer: PolicyAnalyzer) -> None:
    result = judged(
        analyzer, "agentcore", interfaceEndpoints=["logs", "bedrock-runtime", "bedrock-agent-runtime"]
    )
    _assert_rejected(result, "vpc-required-endpoints", "no interface endpoint for 'bedrock-agentcore'")
    # Present, for the knowledge base's search tool: nothing asks for it again.
    assert not any("'bedrock-agent-runtime'" in v.message for v in result.report.violations)


def test_an_agentcore_stack_without_a_guardrail_is_told_so(analyzer: PolicyAnalyzer) -> None:
    result = judged(
        analyzer,
        "agentcore",
        guardrailEnabled=False,
        interfaceEndpoints=["bedrock-agentcore", "bedrock-agent-runtime"],
    )
    messages = [v.message for v in result.report.violations if v.policy_name == "agentcore-guardrail"]
    assert any("invokes AgentcoreHarness 'agent-harness' without a guardrail" in m for m in messages), (
        messages
    )
    assert "agentcore-guardrail" not in mandatory(result)  # advisory outside production


def test_a_detached_agentcore_knowledge_base_is_only_advised(analyzer: PolicyAnalyzer) -> None:
    # knowledgeBaseAttached false is the first deployment of a removal: nothing searches the knowledge
    # base, no path is claimed, so nothing mandatory fires; the advisory says why it is unused.
    result = judged(analyzer, "agentcore", knowledgeBaseAttached=False)
    assert mandatory(result) == set()
    advised = [
        v.message for v in result.report.violations if v.policy_name == "agentcore-knowledge-base-searched"
    ]
    assert advised == [
        "AgentKnowledgeBase 'knowledge-kb' is searched by nothing on this AgentCore stack (no function names "
        "it in KNOWLEDGE_BASE_ID): expected only between the two deployments of its removal"
    ]


def _assert_rejected(result: PreviewResult, rule: str, message: str) -> None:
    assert result.run.resources, "the program itself accepts this configuration"
    assert rule in mandatory(result)
    assert result.exit_code == EXIT_POLICY
    messages = [v.message for v in result.report.mandatory_violations if v.policy_name == rule]
    assert any(message in text for text in messages), messages


def test_tree_groups_resources_under_their_components(analyzer: PolicyAnalyzer) -> None:
    text = render(judged(analyzer))
    lines = text.splitlines()
    network = next(i for i, line in enumerate(lines) if "bedrock-vpc-agent:index:PrivateNetwork" in line)
    assert "aws:ec2:Vpc" in text
    assert lines[network].startswith(" +   ├─ ")
    assert any(line.startswith(" +   │  ") and "network-vpc" in line for line in lines[network + 1 :])
    assert "Outputs:" in text
    assert "apiUrl:" in text
    assert "✅ bedrock-vpc-agent-guardrails" in text
    assert display_type("aws:ec2/vpcEndpoint:VpcEndpoint") == "aws:ec2:VpcEndpoint"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m offline preview ARGS` as a user runs it: a new interpreter, from the project folder."""
    return subprocess.run(
        [sys.executable, "-m", "offline", "preview", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_fails_a_stack_file_that_turns_api_auth_off(tmp_path: Path) -> None:
    dev = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    insecure = dev.replace("webUi: true", "webUi: false") + "  bedrock-vpc-agent:apiAuth: none\n"
    (tmp_path / "Pulumi.insecure.yaml").write_text(insecure)
    report = tmp_path / "preview.json"
    done = run_cli("--stack", "insecure", "--stack-config-dir", str(tmp_path), "--json", str(report))
    assert done.returncode == EXIT_POLICY, done.stderr
    assert "[mandatory]  api-method-authorization" in done.stdout
    assert "mandatory policy violation(s)" in done.stderr
    graph = json.loads(report.read_text())
    assert graph["stack"] == "insecure"
    assert graph["policies"]["passed"] is False
    assert "api-method-authorization" in {v["policy_name"] for v in graph["policies"]["violations"]}
    methods = [r for r in graph["resources"] if r["type"] == "aws:apigateway/method:Method"]
    assert methods
    assert {m["inputs"]["authorization"] for m in methods} == {"NONE"}


def test_cli_reports_a_bad_config_without_a_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # In this process (main with the terminal's streams): the subprocess test above runs the real CLI.
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  aws:region: us-east-7\n")
    code = main(["--stack", "broken", "--stack-config-dir", str(tmp_path)], sys.stdout, sys.stderr)
    stderr = capfd.readouterr().err
    assert code == EXIT_PROGRAM
    assert "'us-east-7' does not offer Amazon Bedrock Agents" in stderr
    assert "Traceback" not in stderr
