"""The rules the CI/CD workflows must follow, as functions that list what is wrong.

Each rule takes a workflow's text (or its parsed form) and returns human-readable problems; an empty
list means the rule holds. test_workflows.py applies them to the real workflows and to mutated copies,
so every rule is shown to catch the mistake it exists for. docs/ci.md explains the why of each one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PR_WORKFLOW = WORKFLOWS / "pull-request.yml"
DEPLOY_WORKFLOW = WORKFLOWS / "deploy.yml"
PINS_FILE = Path(__file__).with_name("pinned_actions.json")

# The README's test command (also .ci/run's); CI must run exactly this.
TEST_COMMAND = "make test"
POLICY_PACK = "policies"
# The build of the pinned virtualenv that `make test`/`make preview` depend on; the program
# (Pulumi.yaml) and the policy pack (policies/PulumiPolicy.yaml) both run from it.
INSTALL_COMMAND = "make .venv/.installed"

CHECKOUT = "actions/checkout"
SETUP_PYTHON = "actions/setup-python"
UPLOAD_ARTIFACT = "actions/upload-artifact"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI = "pulumi/actions"

SHA = re.compile(r"[0-9a-f]{40}")
USES_LINE = re.compile(
    r"""^\s*(?:-\s+)?uses:\s*["']?(?P<ref>[^\s"'#]+)["']?\s*(?:#\s*(?P<comment>.*?))?\s*$"""
)
# Long-lived AWS credentials in any form: the action's key inputs, the environment variables, the
# secrets conventionally holding them, and access key ids themselves.
LONG_LIVED_KEYS = re.compile(
    r"aws-access-key-id|aws-secret-access-key|aws-session-token|AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY"
    r"|AWS_SESSION_TOKEN|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Pin:
    action: str
    tag: str
    sha: str
    inputs: frozenset[str]
    required_inputs: frozenset[str]


def load_pins(path: Path = PINS_FILE) -> dict[str, Pin]:
    table = json.loads(path.read_text(encoding="utf-8"))["actions"]
    return {
        action: Pin(
            action,
            entry["tag"],
            entry["sha"],
            frozenset(entry["inputs"]),
            frozenset(entry["required_inputs"]),
        )
        for action, entry in table.items()
    }


def parse(text: str) -> dict[str, Any]:
    """The workflow as a dict; YAML 1.1 reads the `on` key as True, which is put back."""
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict), "a workflow is a mapping"
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def repo_stacks(repo: Path = REPO) -> set[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in the project."""
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in repo.glob("Pulumi.*.yaml")}


def sdk_version(repo: Path = REPO) -> str:
    """The Pulumi version pinned in requirements.txt; the CLI the actions install must match it."""
    match = re.search(r"^pulumi==(\S+)", (repo / "requirements.txt").read_text(encoding="utf-8"), re.M)
    assert match, "requirements.txt pins pulumi"
    return match.group(1)


# --------------------------------------------------------------------------------------------------
# Walking a workflow


def jobs(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(doc.get("jobs") or {})


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def action_of(step: Mapping[str, Any]) -> str | None:
    """`owner/repo` of a step's `uses:` (without a sub-path or ref), or None for a `run:` step."""
    uses = step.get("uses")
    if not isinstance(uses, str):
        return None
    return "/".join(uses.split("@", 1)[0].split("/")[:2])


def steps_using(job: Mapping[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in steps(job) if action_of(step) == action]


def run_scripts(job: Mapping[str, Any]) -> list[str]:
    return [str(step["run"]) for step in steps(job) if "run" in step]


def with_inputs(step: Mapping[str, Any]) -> dict[str, Any]:
    return dict(step.get("with") or {})


def is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def uses_oidc(job: Mapping[str, Any]) -> bool:
    return bool(steps_using(job, AWS_CREDENTIALS))


def pulumi_steps(job: Mapping[str, Any], *commands: str) -> Iterator[dict[str, Any]]:
    for step in steps_using(job, PULUMI):
        if not commands or with_inputs(step).get("command") in commands:
            yield step


def matrix_stacks(job: Mapping[str, Any]) -> set[str]:
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    return set(matrix.get("stack") or [])


def needs(job: Mapping[str, Any]) -> set[str]:
    value = job.get("needs") or []
    return {value} if isinstance(value, str) else set(value)


def upstream(doc: Mapping[str, Any], job_id: str) -> set[str]:
    """Every job `job_id` waits for, directly or not."""
    seen: set[str] = set()
    todo = list(needs(jobs(doc)[job_id]))
    while todo:
        current = todo.pop()
        if current not in seen and current in jobs(doc):
            seen.add(current)
            todo.extend(needs(jobs(doc)[current]))
    return seen


def runs_tests(job: Mapping[str, Any]) -> bool:
    return any(script.strip() == TEST_COMMAND for script in run_scripts(job))


# --------------------------------------------------------------------------------------------------
# Rules for every workflow


def pinning_problems(text: str, pins: Mapping[str, Pin]) -> list[str]:
    """Every `uses:` is a recorded action at its recorded SHA, with the release tag as comment."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = USES_LINE.match(line)
        if not match:
            continue
        ref, comment = match.group("ref"), (match.group("comment") or "").strip()
        where = f"line {number} ({ref})"
        if ref.startswith(("./", "docker://")):
            problems.append(f"{where}: only pinned repository actions are allowed")
            continue
        name, _, sha = ref.partition("@")
        action = "/".join(name.split("/")[:2])
        pin = pins.get(action)
        if not SHA.fullmatch(sha):
            problems.append(f"{where}: not pinned to a 40-character commit SHA")
        elif pin is None:
            problems.append(f"{where}: {action} is not in tests/workflows/pinned_actions.json")
        elif sha != pin.sha:
            problems.append(f"{where}: SHA differs from the recorded {pin.tag} commit {pin.sha}")
        if not re.fullmatch(r"v\d+\.\d+\.\d+", comment):
            problems.append(f"{where}: needs its release as `# vX.Y.Z` comment, found {comment!r}")
        elif pin is not None and comment != pin.tag:
            problems.append(f"{where}: comment {comment} differs from the recorded tag {pin.tag}")
    return problems


def input_problems(doc: Mapping[str, Any], pins: Mapping[str, Pin]) -> list[str]:
    """`with:` keys exist in the action's action.yml at the pinned commit; required ones are given."""
    problems = []
    for job_id, job in jobs(doc).items():
        for step in steps(job):
            pin = pins.get(action_of(step) or "")
            if pin is None:
                continue
            given = set(with_inputs(step))
            for unknown in sorted(given - pin.inputs):
                problems.append(f"{job_id}: {pin.action}@{pin.tag} has no input {unknown!r}")
            for missing in sorted(pin.required_inputs - given):
                problems.append(f"{job_id}: {pin.action}@{pin.tag} requires input {missing!r}")
    return problems


def long_lived_key_problems(text: str) -> list[str]:
    """AWS access comes from OIDC only: no stored keys, no key inputs, no key variables."""
    return [
        f"line {number}: long-lived AWS credentials ({match.group(0)})"
        for number, line in enumerate(text.splitlines(), 1)
        for match in LONG_LIVED_KEYS.finditer(line)
    ]


def permission_problems(doc: Mapping[str, Any]) -> list[str]:
    """Nothing by default; each job declares its permissions; writes only where they are needed."""
    problems = []
    if doc.get("permissions") != {}:
        problems.append("the workflow must grant nothing by default: `permissions: {}`")
    for job_id, job in jobs(doc).items():
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{job_id}: needs an explicit `permissions:` mapping (found {permissions!r})")
            continue
        allowed_writes = set()
        if uses_oidc(job):
            allowed_writes.add("id-token")
            if permissions.get("id-token") != "write":
                problems.append(f"{job_id}: assumes an AWS role over OIDC without `id-token: write`")
        if any(str(with_inputs(s).get("comment-on-pr")).lower() == "true" for s in pulumi_steps(job)):
            allowed_writes.add("pull-requests")
        for scope, level in permissions.items():
            if level == "write" and scope not in allowed_writes:
                problems.append(f"{job_id}: `{scope}: write` is more than the job needs")
    return problems


def oidc_step_problems(doc: Mapping[str, Any]) -> list[str]:
    """The AWS credentials step assumes the environment's role; nothing else."""
    problems = []
    for job_id, job in jobs(doc).items():
        for step in steps_using(job, AWS_CREDENTIALS):
            role = with_inputs(step).get("role-to-assume")
            if role != "${{ vars.AWS_ROLE_ARN }}":
                problems.append(
                    f"{job_id}: role-to-assume must be ${{{{ vars.AWS_ROLE_ARN }}}}, not {role!r}"
                )
    return problems


def checkout_problems(doc: Mapping[str, Any]) -> list[str]:
    """No checkout leaves the job token in .git/config for later steps (or artifacts) to read."""
    return [
        f"{job_id}: checkout without `persist-credentials: false`"
        for job_id, job in jobs(doc).items()
        for step in steps_using(job, CHECKOUT)
        if not is_false(with_inputs(step).get("persist-credentials"))
    ]


def run_expression_problems(doc: Mapping[str, Any]) -> list[str]:
    """No `${{ }}` is pasted into a shell script; values reach scripts through `env:` instead."""
    return [
        f"{job_id}: run script interpolates an expression: {script.strip().splitlines()[0]!r}"
        for job_id, job in jobs(doc).items()
        for script in run_scripts(job)
        if "${{" in script
    ]


def timeout_problems(doc: Mapping[str, Any]) -> list[str]:
    return [
        f"{job_id}: no timeout-minutes" for job_id, job in jobs(doc).items() if "timeout-minutes" not in job
    ]


def pulumi_problems(doc: Mapping[str, Any], cli_version: str) -> list[str]:
    """Every preview/up runs the policy pack, with the CLI matching the SDK, after its prerequisites."""
    problems = []
    for job_id, job in jobs(doc).items():
        for step in pulumi_steps(job):
            inputs = with_inputs(step)
            command = inputs.get("command")
            if command not in {"preview", "up"}:
                problems.append(f"{job_id}: unexpected pulumi command {command!r}")
            packs = str(inputs.get("policyPacks", "")).split()
            if POLICY_PACK not in packs:
                problems.append(f"{job_id}: pulumi {command} without `policyPacks: {POLICY_PACK}`")
            version = inputs.get("pulumi-version")
            if str(version) != cli_version:
                problems.append(f"{job_id}: pulumi-version {version!r} is not the SDK's {cli_version}")
            token = (step.get("env") or {}).get("PULUMI_ACCESS_TOKEN")
            if token != "${{ secrets.PULUMI_ACCESS_TOKEN }}":
                problems.append(f"{job_id}: PULUMI_ACCESS_TOKEN must come from the secret, found {token!r}")
            before = steps(job)[: steps(job).index(step)]
            if not any(action_of(s) == AWS_CREDENTIALS for s in before):
                problems.append(f"{job_id}: pulumi {command} runs before the AWS credentials step")
            if not any(str(s.get("run", "")).strip() == INSTALL_COMMAND for s in before):
                problems.append(f"{job_id}: pulumi {command} runs before `{INSTALL_COMMAND}`")
    return problems


def common_problems(text: str, pins: Mapping[str, Pin], cli_version: str) -> list[str]:
    doc = parse(text)
    return [
        *pinning_problems(text, pins),
        *input_problems(doc, pins),
        *long_lived_key_problems(text),
        *permission_problems(doc),
        *oidc_step_problems(doc),
        *checkout_problems(doc),
        *run_expression_problems(doc),
        *timeout_problems(doc),
        *pulumi_problems(doc, cli_version),
    ]


# --------------------------------------------------------------------------------------------------
# The pull-request workflow


def pull_request_problems(text: str, stacks: set[str]) -> list[str]:
    doc = parse(text)
    problems = []
    triggers = doc.get("on") or {}
    if "pull_request" not in triggers or "pull_request_target" in triggers:
        problems.append("must run on pull_request (never pull_request_target: forks would get secrets)")
    concurrency = doc.get("concurrency") or {}
    if concurrency.get("cancel-in-progress") is not True or "pull_request.number" not in str(
        concurrency.get("group")
    ):
        problems.append("a new push must cancel the superseded run of the same pull request")
    if not any(runs_tests(job) for job in jobs(doc).values()):
        problems.append(f"no job runs `{TEST_COMMAND}`")

    offline = [job for job in jobs(doc).values() if any("preview STACK=" in s for s in run_scripts(job))]
    if len(offline) != 1:
        problems.append("exactly one job must run the offline preview (`make preview STACK=...`)")
    for job in offline:
        if matrix_stacks(job) != stacks:
            problems.append(
                f"offline preview covers {sorted(matrix_stacks(job))}, the stacks are {sorted(stacks)}"
            )
        if (job.get("env") or {}).get("STACK") != "${{ matrix.stack }}":
            problems.append("offline preview: STACK must come from the matrix through env")
        preview = next(s for s in run_scripts(job) if "preview STACK=" in s)
        if "JSON=" not in preview:
            problems.append("offline preview: must write the JSON report (JSON=...)")
        if 'BASE="$BASE"' not in preview or "HEAD^1" not in str((job.get("env") or {}).get("BASE")):
            problems.append("offline preview: must plan against the base branch (BASE from env, HEAD^1)")
        depths = [with_inputs(step).get("fetch-depth") for step in steps_using(job, CHECKOUT)]
        if not depths or depths[0] not in (0, 2):
            problems.append("offline preview: the checkout must fetch the base commit (fetch-depth 2)")
        if not any("GITHUB_STEP_SUMMARY" in s for s in run_scripts(job)):
            problems.append("offline preview: the report must go to the job summary")
        if not steps_using(job, UPLOAD_ARTIFACT):
            problems.append("offline preview: the JSON report must be uploaded as an artifact")
        if "secrets." in json.dumps(job) or uses_oidc(job) or job.get("environment"):
            problems.append("offline preview: must work for forks (no secrets, credentials or environment)")

    cloud = [job for job in jobs(doc).values() if list(pulumi_steps(job))]
    for job in cloud:
        condition = " ".join(str(job.get("if", "")).split())
        for needed in (
            "github.event.pull_request.head.repo.full_name == github.repository",
            "vars.AWS_ROLE_ARN != ''",
        ):
            if needed not in condition:
                problems.append(f"pulumi preview: its `if` must require {needed}")
        if matrix_stacks(job) != stacks:
            problems.append(
                f"pulumi preview covers {sorted(matrix_stacks(job))}, the stacks are {sorted(stacks)}"
            )
        for step in pulumi_steps(job):
            if with_inputs(step).get("command") != "preview":
                problems.append("the pull-request workflow may only preview")
    if not cloud:
        problems.append("no job runs `pulumi preview` through pulumi/actions")
    return problems


# --------------------------------------------------------------------------------------------------
# The deploy workflow

STACK_ENVIRONMENTS = {"dev": "dev", "prod": "production", "agentcore": "agentcore"}


def deploy_problems(text: str, stacks: set[str]) -> list[str]:
    doc = parse(text)
    problems = []
    triggers = doc.get("on") or {}
    if (triggers.get("push") or {}).get("branches") != ["main"] or "workflow_dispatch" not in triggers:
        problems.append("must deploy on push to main (and on workflow_dispatch) only")
    if "pull_request" in triggers or "pull_request_target" in triggers:
        problems.append("must never deploy from a pull request")

    deploy_jobs: dict[str, str] = {}  # stack -> job id
    for job_id, job in jobs(doc).items():
        for step in pulumi_steps(job):
            if with_inputs(step).get("command") != "up":
                problems.append(f"{job_id}: the deploy workflow runs `up` only")
            deploy_jobs[str(with_inputs(step).get("stack-name"))] = job_id
    if set(deploy_jobs) != stacks:
        problems.append(f"deploys {sorted(deploy_jobs)}, the stacks are {sorted(stacks)}")

    groups = []
    for stack, job_id in sorted(deploy_jobs.items()):
        job = jobs(doc)[job_id]
        environment = job.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        expected = STACK_ENVIRONMENTS.get(stack)
        if expected is None or name != expected:
            problems.append(f"{job_id}: stack {stack} must deploy in environment {expected!r}, not {name!r}")
        concurrency = job.get("concurrency")
        if not isinstance(concurrency, dict):
            problems.append(f"{job_id}: needs a per-stack concurrency group")
        else:
            if concurrency.get("cancel-in-progress") is not False:
                problems.append(
                    f"{job_id}: a running update must never be cancelled (cancel-in-progress: false)"
                )
            group = str(concurrency.get("group"))
            if not re.search(rf"(?<![a-z0-9]){re.escape(stack)}(?![a-z0-9])", group) or "${{" in group:
                problems.append(f"{job_id}: concurrency group {group!r} must be fixed and name stack {stack}")
            groups.append(group)
        if not any(runs_tests(jobs(doc)[up]) for up in upstream(doc, job_id)):
            problems.append(f"{job_id}: must wait for a job running `{TEST_COMMAND}`")
    if len(groups) != len(set(groups)):
        problems.append("each stack needs its own concurrency group")
    if (
        "dev" in deploy_jobs
        and "prod" in deploy_jobs
        and deploy_jobs["dev"] not in needs(jobs(doc)[deploy_jobs["prod"]])
    ):
        problems.append("prod must deploy only after dev (`needs:` the dev job)")
    return problems
