"""The CI/CD workflows (.github/workflows, docs/ci.md): valid, zizmor-clean, pinned, least privilege.

All offline: GitHub's workflow schema is the copy check-jsonschema ships, zizmor runs with --offline,
and the action inputs are the lists recorded from each pinned commit's action.yml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs pinned; only validator_for is used
import pytest
from referencing import Registry, Resource

from tests.workflows import rules
from tests.workflows.rules import DEPLOY_WORKFLOW, PR_WORKFLOW, REPO, WORKFLOWS

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.y*ml"))
DEPENDABOT = REPO / ".github" / "dependabot.yml"
PINS = rules.load_pins()
STACKS = rules.repo_stacks()
CLI_VERSION = rules.sdk_version()


def _offline_env() -> dict[str, str]:
    """The environment of the tools: no token, so nothing could be fetched even by mistake."""
    env = {
        k: v for k, v in os.environ.items() if k not in {"GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN"}
    }
    env["NO_COLOR"] = "1"
    return env


def _vendored_schema(name: str) -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return schema


def _no_retrieval(uri: str) -> Resource[Any]:
    raise AssertionError(f"the schema tried to fetch {uri}; validation must stay offline")


def _schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    # The attrs alias `retrieve` is invisible to mypy; it is referencing's documented constructor argument.
    registry: Registry[Any] = Registry(retrieve=_no_retrieval)  # type: ignore[call-arg]
    validator = cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def _zizmor() -> str:
    beside = Path(sys.executable).with_name("zizmor")
    found = str(beside) if beside.exists() else shutil.which("zizmor")
    assert found, "zizmor is pinned in requirements-dev.txt; run `make test` to install it"
    return found


def _zizmor_findings(target: Path) -> tuple[int, list[dict[str, Any]], str]:
    result = subprocess.run(
        [_zizmor(), "--offline", "--format", "json", "--no-progress", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_offline_env(),
        cwd=target if target.is_dir() else target.parent,
    )
    findings = json.loads(result.stdout or "[]")
    return result.returncode, findings, result.stderr


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Schema and zizmor


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} == {"pull-request.yml", "deploy.yml"}


def test_workflows_validate_against_githubs_schema_with_check_jsonschema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(p) for p in WORKFLOW_FILES],
        capture_output=True,
        text=True,
        timeout=60,
        env=_offline_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_is_self_contained_and_rejects_a_broken_workflow() -> None:
    schema = _vendored_schema("github-workflows")
    assert not [
        ref for ref in re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(schema)) if not ref.startswith("#")
    ]
    for path in WORKFLOW_FILES:
        assert _schema_errors(schema, rules.parse(_read(path))) == [], path.name
    broken = rules.parse(_read(PR_WORKFLOW))
    broken["jobs"]["checks"]["permissions"] = {"contents": "writ"}
    del broken["jobs"]["checks"]["runs-on"]
    assert len(_schema_errors(schema, broken)) >= 1


def test_dependabot_config_validates() -> None:
    schema = _vendored_schema("dependabot")
    doc = rules.parse(_read(DEPENDABOT))
    assert _schema_errors(schema, doc) == []
    assert [u["package-ecosystem"] for u in doc["updates"]] == ["github-actions"]


def test_zizmor_offline_has_no_findings() -> None:
    code, findings, stderr = _zizmor_findings(REPO)
    summary = [
        (f["ident"], f["determinations"]["severity"], f["locations"][0]["symbolic"]["key"]) for f in findings
    ]
    assert (code, summary) == (0, []), stderr
    audited = re.findall(r"completed (\S+)", stderr)
    assert {Path(p).name for p in audited} >= {"pull-request.yml", "deploy.yml", "dependabot.yml"}, stderr


def test_zizmor_flags_template_injection_and_unpinned_actions(tmp_path: Path) -> None:
    """The zizmor check is live: the same run finds the two classic mistakes in a bad workflow."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "permissions: {}\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-24.04\n"
        "    permissions: {}\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo '${{ github.event.pull_request.title }}'\n",
        encoding="utf-8",
    )
    code, findings, _ = _zizmor_findings(tmp_path)
    assert code != 0
    assert {"template-injection", "dangerous-triggers"} <= {f["ident"] for f in findings}


# --------------------------------------------------------------------------------------------------
# The rules on the real workflows


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_common_rules_hold(path: Path) -> None:
    assert rules.common_problems(_read(path), PINS, CLI_VERSION) == []


def test_pull_request_rules_hold() -> None:
    assert rules.pull_request_problems(_read(PR_WORKFLOW), STACKS) == []


def test_deploy_rules_hold() -> None:
    assert rules.deploy_problems(_read(DEPLOY_WORKFLOW), STACKS) == []


def test_every_recorded_action_is_used_and_well_formed() -> None:
    used = {
        rules.action_of({"uses": m.group("ref")})
        for path in WORKFLOW_FILES
        for line in _read(path).splitlines()
        if (m := rules.USES_LINE.match(line))
    }
    assert used == set(PINS), "pinned_actions.json must list exactly the actions in use"
    table = json.loads(rules.PINS_FILE.read_text(encoding="utf-8"))["actions"]
    for action, entry in table.items():
        assert rules.SHA.fullmatch(entry["sha"]), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", entry["tag"]), action
        assert entry["tag"] in entry["verified"], action
        assert "rev-parse" in entry["verified"], action
        assert set(entry["required_inputs"]) <= set(entry["inputs"]), action


def test_docs_table_matches_the_recorded_pins() -> None:
    docs = _read(REPO / "docs" / "ci.md")
    for pin in PINS.values():
        assert re.search(rf"\|\s*`{re.escape(pin.action)}`\s*\|\s*{pin.tag}\s*\|\s*`{pin.sha}`", docs), (
            pin.action
        )


def test_ci_runs_the_readme_test_command() -> None:
    assert re.search(rf"^{rules.TEST_COMMAND}\b|`{rules.TEST_COMMAND}`", _read(REPO / "README.md"), re.M)
    assert rules.TEST_COMMAND in _read(REPO / ".ci" / "run").splitlines()
    assert re.search(r"^test:", _read(REPO / "Makefile"), re.M)
    assert re.search(r"^preview:.*\n\t.*--json \$\(JSON\)", _read(REPO / "Makefile"), re.M)
    for path in WORKFLOW_FILES:
        checks = rules.jobs(rules.parse(_read(path)))["checks"]
        assert rules.run_scripts(checks) == [rules.TEST_COMMAND], path.name


def test_the_stacks_are_the_stack_files() -> None:
    assert {"dev", "prod"} <= STACKS
    assert (REPO / rules.POLICY_PACK / "PulumiPolicy.yaml").is_file()


# --------------------------------------------------------------------------------------------------
# Each rule catches the mistake it is for: a one-line change to a real workflow must be reported.

PR, DEPLOY = PR_WORKFLOW.name, DEPLOY_WORKFLOW.name
CHECKOUT_SHA = PINS["actions/checkout"].sha

MUTATIONS: list[tuple[str, str, str, str, str]] = [
    # (id, workflow, text replaced, replacement, expected problem fragment)
    ("tag-ref", PR, f"actions/checkout@{CHECKOUT_SHA}", "actions/checkout@v7", "40-character"),
    ("other-sha", PR, f"checkout@{CHECKOUT_SHA}", "checkout@" + "0" * 40, "SHA differs"),
    (
        "wrong-comment",
        DEPLOY,
        f"{CHECKOUT_SHA} # v7.0.1",
        f"{CHECKOUT_SHA} # v7.0.0",
        "differs from the recorded",
    ),
    ("no-comment", DEPLOY, f"{CHECKOUT_SHA} # v7.0.1", CHECKOUT_SHA, "comment"),
    (
        "unknown-input",
        PR,
        "persist-credentials: false",
        "persist-credentials: false\n          depth: 1",
        "no input",
    ),
    ("policy-input-name", PR, "policyPacks: policies", "policy-packs: policies", "no input"),
    (
        "missing-region",
        DEPLOY,
        "          aws-region: ${{ vars.AWS_REGION || 'us-east-1' }}\n",
        "",
        "requires input",
    ),
    (
        "static-keys",
        DEPLOY,
        "role-to-assume: ${{ vars.AWS_ROLE_ARN }}",
        "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}",
        "long-lived",
    ),
    ("key-in-env", PR, "STACK: ${{ matrix.stack }}", "AWS_SECRET_ACCESS_KEY: x", "long-lived"),
    ("default-permissions", PR, "permissions: {}", "permissions: read-all", "grant nothing"),
    (
        "id-token-on-checks",
        PR,
        "    permissions:\n      contents: read\n    steps:",
        "    permissions:\n      contents: read\n      id-token: write\n    steps:",
        "more than the job needs",
    ),
    (
        "no-id-token",
        DEPLOY,
        "      id-token: write # OIDC token for the dev deploy role\n",
        "",
        "without `id-token: write`",
    ),
    (
        "contents-write",
        DEPLOY,
        "      contents: read\n      id-token: write # OIDC token for the dev",
        "      contents: write\n      id-token: write # OIDC token for the dev",
        "`contents: write`",
    ),
    (
        "pr-write-on-deploy",
        DEPLOY,
        "      id-token: write # OIDC token for the production deploy role",
        "      id-token: write\n      pull-requests: write",
        "`pull-requests: write`",
    ),
    (
        "other-role",
        DEPLOY,
        "role-to-assume: ${{ vars.AWS_ROLE_ARN }}",
        "role-to-assume: arn:aws:iam::123456789012:role/admin",
        "role-to-assume",
    ),
    ("persisted-token", PR, "persist-credentials: false", "persist-credentials: true", "persist-credentials"),
    (
        "run-injection",
        PR,
        'STACK="$STACK" JSON="preview-$STACK.json"',
        'STACK=${{ matrix.stack }} JSON="preview-$STACK.json"',
        "interpolates",
    ),
    ("no-timeout", DEPLOY, "    timeout-minutes: 20\n", "", "timeout-minutes"),
    (
        "no-policy-pack",
        DEPLOY,
        "stack-name: prod\n          pulumi-version: 3.272.0\n          policyPacks: policies\n",
        "stack-name: prod\n          pulumi-version: 3.272.0\n",
        "policyPacks",
    ),
    ("other-cli", PR, "pulumi-version: 3.272.0", "pulumi-version: 3.100.0", "SDK"),
    (
        "no-token",
        PR,
        "        env:\n          PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n",
        "",
        "PULUMI_ACCESS_TOKEN",
    ),
    ("target-trigger", PR, "  pull_request:\n", "  pull_request_target:\n", "pull_request_target"),
    ("no-cancel", PR, "cancel-in-progress: true", "cancel-in-progress: false", "cancel the superseded"),
    ("other-test-command", PR, "      - run: make test\n", "      - run: make unit\n", "make test"),
    (
        "stack-missing",
        PR,
        "      matrix:\n        stack: [dev, prod, agentcore]\n    env:",
        "      matrix:\n        stack: [dev]\n    env:",
        "offline preview covers",
    ),
    ("no-json", PR, ' JSON="preview-$STACK.json"', "", "JSON report"),
    ("no-plan", PR, ' BASE="$BASE"', "", "base branch"),
    (
        "shallow",
        PR,
        "          fetch-depth: 2 # the merge commit",
        "          fetch-depth: 1 # the merge commit",
        "fetch-depth",
    ),
    ("no-summary", PR, '} >> "$GITHUB_STEP_SUMMARY"', '} >> "$RUNNER_TEMP/summary"', "job summary"),
    (
        "secret-in-offline",
        PR,
        "      STACK: ${{ matrix.stack }}\n",
        "      STACK: ${{ matrix.stack }}\n      T: ${{ secrets.X }}\n",
        "forks",
    ),
    (
        "fork-guard",
        PR,
        "&& github.event.pull_request.head.repo.full_name == github.repository\n",
        "",
        "head.repo.full_name",
    ),
    ("preview-up", PR, "command: preview", "command: up", "may only preview"),
    (
        "deploy-on-pr",
        DEPLOY,
        "  workflow_dispatch:\n",
        "  workflow_dispatch:\n  pull_request:\n",
        "pull request",
    ),
    ("prod-unordered", DEPLOY, "    needs: deploy-dev\n", "    needs: checks\n", "only after dev"),
    ("prod-unprotected", DEPLOY, "environment: production", "environment: dev", "environment 'production'"),
    (
        "cancel-deploy",
        DEPLOY,
        "      group: pulumi-up-prod\n      cancel-in-progress: false",
        "      group: pulumi-up-prod\n      cancel-in-progress: true",
        "never be cancelled",
    ),
    ("shared-group", DEPLOY, "group: pulumi-up-prod", "group: pulumi-up-dev", "concurrency group"),
    (
        "run-scoped-group",
        DEPLOY,
        "group: pulumi-up-dev",
        "group: pulumi-up-dev-${{ github.run_id }}",
        "must be fixed",
    ),
    ("untested-deploy", DEPLOY, "    needs: checks\n    # Off", "    # Off", "must wait for"),
    (
        "no-install",
        DEPLOY,
        "        run: make .venv/.installed\n      - name: AWS credentials (OIDC, the dev",
        "        run: make lint\n      - name: AWS credentials (OIDC, the dev",
        "make .venv/.installed",
    ),
]


@pytest.mark.parametrize(
    ("workflow", "old", "new", "expected"), [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS]
)
def test_a_broken_workflow_is_reported(workflow: str, old: str, new: str, expected: str) -> None:
    text = _read(WORKFLOWS / workflow)
    assert old in text, "the mutation no longer applies: update it with the workflow"
    mutated = text.replace(old, new, 1)
    specific = (
        rules.pull_request_problems(mutated, STACKS)
        if workflow == PR
        else rules.deploy_problems(mutated, STACKS)
    )
    problems = rules.common_problems(mutated, PINS, CLI_VERSION) + specific
    assert any(expected in problem for problem in problems), problems


def test_a_new_stack_file_must_be_previewed_and_deployed() -> None:
    stacks = STACKS | {"staging"}
    assert any("offline preview covers" in p for p in rules.pull_request_problems(_read(PR_WORKFLOW), stacks))
    assert any("the stacks are" in p for p in rules.deploy_problems(_read(DEPLOY_WORKFLOW), stacks))
