"""`python -m client ingest` against botocore's real bedrock-agent model: Stubber checks every request
(operation, parameters, their types and lengths) and parses every response into what the code reads."""

from __future__ import annotations

import io
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from client.cli import Console, Dependencies, main
from client.discovery import DiscoveryError, pulumi_stack_outputs
from client.ingest import JOB_DESCRIPTION, WITHOUT_CLI_HINT, PollPolicy, bar_line, processed

KB = "KB12345678"
DS = "DS12345678"
JOB = "JOB1234567"
OTHER_JOB = "JOBRUNNING"
STARTED = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
IDS = {"knowledgeBaseId": KB, "dataSourceId": DS}
OUTPUTS = {"knowledgeBaseId": KB, "knowledgeBaseDataSourceId": DS, "region": "eu-west-1", "apiUrl": "x"}
START_REQUEST = {**IDS, "clientToken": ANY, "description": JOB_DESCRIPTION}
GET_REQUEST = {**IDS, "ingestionJobId": JOB}
RUNNING_FILTER = {
    **IDS,
    "filters": [{"attribute": "STATUS", "operator": "EQ", "values": ["STARTING", "IN_PROGRESS", "STOPPING"]}],
    "sortBy": {"attribute": "STARTED_AT", "order": "DESCENDING"},
    "maxResults": 10,
}
CHECK_DEV = (
    f"check it with `python -m client ingest --job-id {JOB} --stack dev` or `aws bedrock-agent "
    f"get-ingestion-job --knowledge-base-id {KB} --data-source-id {DS} --ingestion-job-id {JOB} "
    "--region eu-west-1`"
)
FIRST = PollPolicy().first_s
FACTOR = PollPolicy().factor


def job(
    status: str,
    *,
    job_id: str = JOB,
    seconds: int = 0,
    scanned: int = 0,
    new: int = 0,
    modified: int = 0,
    failed: int = 0,
    reasons: tuple[str, ...] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **IDS,
        "ingestionJobId": job_id,
        "status": status,
        "startedAt": STARTED,
        "updatedAt": STARTED + timedelta(seconds=seconds),
        "statistics": {
            "numberOfDocumentsScanned": scanned,
            "numberOfMetadataDocumentsScanned": 0,
            "numberOfNewDocumentsIndexed": new,
            "numberOfModifiedDocumentsIndexed": modified,
            "numberOfMetadataDocumentsModified": 0,
            "numberOfDocumentsDeleted": 0,
            "numberOfDocumentsFailed": failed,
            "numberOfDocumentsSkipped": 0,
        },
    }
    if reasons:
        body["failureReasons"] = list(reasons)
    return body


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class Clock:
    """Monotonic time that only sleeping moves; ``interrupt_at``: the sleep that Ctrl-C ends."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    interrupt_at: int | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.interrupt_at is not None and len(self.sleeps) == self.interrupt_at:
            raise KeyboardInterrupt
        self.now += seconds


@dataclass
class Ingest:
    stubber: Stubber
    client: Any
    clock: Clock = field(default_factory=Clock)
    outputs: dict[str, Any] = field(default_factory=lambda: dict(OUTPUTS))
    stacks: list[str | None] = field(default_factory=list)
    regions: list[str | None] = field(default_factory=list)

    def run(self, *argv: str, terminal: bool = False, environ: dict[str, str] | None = None) -> Result:
        out, err = io.StringIO(), (Terminal() if terminal else io.StringIO())
        console = Console(io.StringIO(), out, err, interactive=False)

        def outputs(stack: str | None) -> dict[str, Any]:
            self.stacks.append(stack)
            return self.outputs

        def client(region: str | None) -> Any:
            self.regions.append(region)
            return self.client

        deps = Dependencies(
            sleep=self.clock.sleep,
            clock=self.clock,
            environ=environ or {},
            stack_outputs=outputs,
            bedrock_agent=client,
        )
        with self.stubber:
            code = main(["ingest", *argv], console, deps)
        self.stubber.assert_no_pending_responses()
        return Result(code, out.getvalue(), err.getvalue())


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return self.stderr.splitlines()

    @property
    def out_lines(self) -> list[str]:
        return self.stdout.splitlines()


@pytest.fixture
def ingest() -> Ingest:
    client = botocore.session.get_session().create_client(
        "bedrock-agent", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return Ingest(Stubber(client), client)


def counts(scanned: int, new: int, failed: int = 0) -> str:
    return (
        f"scanned {scanned}, new {new}, modified 0, deleted 0, failed {failed}, skipped 0, "
        "metadata scanned 0, metadata modified 0"
    )


def test_starts_a_job_polls_with_backoff_and_prints_plain_progress_and_the_summary(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    stub.add_response(
        "get_ingestion_job", {"ingestionJob": job("IN_PROGRESS", scanned=3, new=1)}, GET_REQUEST
    )
    # Unchanged statistics print no new line.
    stub.add_response(
        "get_ingestion_job", {"ingestionJob": job("IN_PROGRESS", scanned=3, new=1)}, GET_REQUEST
    )
    stub.add_response(
        "get_ingestion_job", {"ingestionJob": job("COMPLETE", seconds=72, scanned=3, new=3)}, GET_REQUEST
    )

    result = ingest.run("--stack", "dev")

    assert result.code == 0
    assert (ingest.stacks, ingest.regions) == (["dev"], ["eu-west-1"])  # the region output
    assert ingest.clock.sleeps == [FIRST, FIRST * FACTOR, FIRST * FACTOR**2]
    assert result.err_lines == [
        f"· started ingestion job {JOB} (STARTING)",
        f"· ingestion job {JOB}: STARTING — {counts(0, 0)}",
        f"· ingestion job {JOB}: IN_PROGRESS — {counts(3, 1)}",
        f"· ingestion job {JOB}: COMPLETE — {counts(3, 3)}",
    ]
    assert result.out_lines == [
        f"Ingestion job {JOB} COMPLETE in 1m12s (knowledge base {KB}, data source {DS})",
        "  documents scanned     3",
        "  indexed               3 new, 0 modified",
        "  deleted               0",
        "  failed                0",
        "  skipped               0",
        "  metadata files        0 scanned, 0 modified",
    ]


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_its_line_ended(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    stub.add_response(
        "get_ingestion_job", {"ingestionJob": job("IN_PROGRESS", scanned=4, new=1)}, GET_REQUEST
    )
    stub.add_response("get_ingestion_job", {"ingestionJob": job("COMPLETE", scanned=4, new=4)}, GET_REQUEST)

    result = ingest.run("--stack", "dev", terminal=True)

    assert result.code == 0
    started, progress, end = result.stderr.split("\n")
    assert started == f"· started ingestion job {JOB} (STARTING)"
    assert end == ""
    assert progress.split("\r")[1:] == [
        f"STARTING    [{'.' * 24}] 0/0 · new 0 · modified 0 · deleted 0 · failed 0\x1b[K",
        f"IN_PROGRESS [{'#' * 6}{'.' * 18}] 1/4 · new 1 · modified 0 · deleted 0 · failed 0\x1b[K",
        f"COMPLETE    [{'#' * 24}] 4/4 · new 4 · modified 0 · deleted 0 · failed 0\x1b[K",
    ]


def test_plain_forces_lines_on_a_terminal(ingest: Ingest) -> None:
    ingest.stubber.add_response(
        "get_ingestion_job", {"ingestionJob": job("COMPLETE", scanned=1, new=1)}, GET_REQUEST
    )
    result = ingest.run("--job-id", JOB, "--plain", terminal=True)
    assert "\r" not in result.stderr
    assert result.err_lines == [f"· ingestion job {JOB}: COMPLETE — {counts(1, 1)}"]


def test_the_bar_counts_documents_dealt_with_against_documents_scanned() -> None:
    assert processed(job("IN_PROGRESS", scanned=10, new=2, modified=1, failed=1)) == (4, 10)
    assert processed(job("FAILED", scanned=10, new=2)) == (10, 10)  # finished: nothing left to do
    assert bar_line(job("FAILED", scanned=10, new=2)).startswith(f"FAILED      [{'#' * 24}] 10/10")


def test_failed_documents_are_listed_with_their_reasons_and_exit_1(ingest: Ingest) -> None:
    reasons = ("Encountered error: the file documents/scan.pdf is larger than 50 MB.", "Another\nreason")
    ingest.stubber.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    ingest.stubber.add_response(
        "get_ingestion_job",
        {"ingestionJob": job("COMPLETE", seconds=5, scanned=3, new=1, failed=2, reasons=reasons)},
        GET_REQUEST,
    )

    result = ingest.run()

    assert result.code == 1
    assert ingest.stacks == [None]
    assert (
        result.out_lines[0] == f"Ingestion job {JOB} COMPLETE in 5 s (knowledge base {KB}, data source {DS})"
    )
    assert "  failed                2" in result.out_lines
    assert result.out_lines[-3:] == [
        "Failure reasons (2):",
        f"  - {reasons[0]}",
        "  - Another reason",
    ]
    assert result.err_lines[-1] == (
        "error: 2 documents could not be ingested (reasons above); fix or remove them in the documents "
        "bucket and run `python -m client ingest` again"
    )


def test_a_failed_job_exits_1_with_its_reasons(ingest: Ingest) -> None:
    failed = job("FAILED", seconds=3, reasons=("User: arn:aws:sts::1:assumed-role/kb is not authorized",))
    ingest.stubber.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    ingest.stubber.add_response("get_ingestion_job", {"ingestionJob": failed}, GET_REQUEST)

    result = ingest.run("--stack", "dev")

    assert result.code == 1
    assert result.out_lines[0].startswith(f"Ingestion job {JOB} FAILED in 3 s")
    assert result.out_lines[-2:] == [
        "Failure reasons (1):",
        "  - User: arn:aws:sts::1:assumed-role/kb is not authorized",
    ]
    assert result.err_lines[-1] == "error: the ingestion job FAILED (reasons above)"


def test_a_stopped_job_exits_1_and_says_how_to_finish(ingest: Ingest) -> None:
    ingest.stubber.add_response("get_ingestion_job", {"ingestionJob": job("STOPPED")}, GET_REQUEST)
    result = ingest.run("--job-id", JOB, "--stack", "prod")
    assert result.code == 1
    assert result.err_lines[-1] == (
        "error: the ingestion job was stopped before it finished; run `python -m client ingest --stack prod` "
        "to finish it"
    )


def test_a_running_job_is_waited_for_instead_of_starting_another(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_client_error(
        "start_ingestion_job",
        "ConflictException",
        "There is already an ongoing ingestion job for this data source",
        409,
        expected_params=START_REQUEST,
    )
    running = job("IN_PROGRESS", job_id=OTHER_JOB, scanned=2, new=1)
    stub.add_response("list_ingestion_jobs", {"ingestionJobSummaries": [running]}, RUNNING_FILTER)
    stub.add_response(
        "get_ingestion_job",
        {"ingestionJob": job("COMPLETE", job_id=OTHER_JOB, seconds=30, scanned=2, new=2)},
        {**IDS, "ingestionJobId": OTHER_JOB},
    )

    result = ingest.run("--stack", "dev")

    assert result.code == 0
    assert result.err_lines[0] == (
        f"· ingestion job {OTHER_JOB} of this data source is already IN_PROGRESS (started 2026-12-02 "
        "04:00:00 UTC): waiting for it instead of starting another; documents changed after it started "
        "need another run"
    )
    assert result.out_lines[0] == (
        f"Ingestion job {OTHER_JOB} COMPLETE in 30 s (knowledge base {KB}, data source {DS}, already running "
        "when asked)"
    )


def test_a_conflict_without_a_job_of_this_data_source_tries_again_with_backoff(ingest: Ingest) -> None:
    """Bedrock runs one job per knowledge base: another data source's job refuses ours too."""
    stub = ingest.stubber
    message = "Another ingestion job is running for knowledge base KB12345678"
    for _ in range(2):
        stub.add_client_error(
            "start_ingestion_job", "ConflictException", message, 409, expected_params=START_REQUEST
        )
        stub.add_response("list_ingestion_jobs", {"ingestionJobSummaries": []}, RUNNING_FILTER)
    stub.add_response("start_ingestion_job", {"ingestionJob": job("COMPLETE")}, START_REQUEST)

    result = ingest.run("--plain")

    assert result.code == 0
    assert ingest.clock.sleeps == [FIRST, FIRST * FACTOR]
    assert result.err_lines[:3] == [
        f"· Bedrock refused to start a job ({message}); no job of this data source runs, so another of "
        f"the knowledge base may: trying again in {FIRST:g} s",
        f"· Bedrock refused to start a job ({message}); no job of this data source runs, so another of "
        f"the knowledge base may: trying again in {FIRST * FACTOR:g} s",
        f"· started ingestion job {JOB} (COMPLETE)",
    ]


def test_a_conflict_that_outlasts_the_wait_is_an_error(ingest: Ingest) -> None:
    stub = ingest.stubber
    for _ in range(3):  # at 0 s, 2 s and 5 s: the end of --wait-timeout 5
        stub.add_client_error(
            "start_ingestion_job",
            "ConflictException",
            "the data source is being deleted",
            409,
            expected_params=START_REQUEST,
        )
        stub.add_response("list_ingestion_jobs", {"ingestionJobSummaries": []}, RUNNING_FILTER)
    result = ingest.run("--wait-timeout", "5")
    assert result.code == 1
    assert ingest.clock.sleeps == [FIRST, 5 - FIRST]
    assert result.err_lines[-1] == (
        "error: Bedrock still refuses to start an ingestion job and none of this data source is running: "
        "the data source is being deleted; run it again once the knowledge base's other jobs ended"
    )


def test_a_stack_without_a_knowledge_base_names_the_setting_and_calls_nothing(ingest: Ingest) -> None:
    ingest.outputs = {"apiUrl": "https://x", "region": "us-east-1"}  # knowledgeBaseEnabled off
    result = ingest.run("--stack", "prod")
    assert (result.code, ingest.regions) == (2, [])
    assert result.err_lines == [
        "error: stack 'prod' has no knowledge base (no knowledgeBaseId output): turn the "
        "knowledgeBaseEnabled setting on (`pulumi config set knowledgeBaseEnabled true --stack prod`), "
        "run `pulumi up`, then ingest; or pass --knowledge-base-id and --data-source-id"
    ]


def test_a_stack_without_outputs_is_not_deployed(ingest: Ingest) -> None:
    ingest.outputs = {}
    result = ingest.run(environ={"PULUMI_STACK": "dev"})
    assert (result.code, ingest.stacks) == (2, ["dev"])
    assert result.err_lines == ["error: stack 'dev' has no outputs: is it deployed? Run `pulumi up` first"]


def test_ids_given_need_no_stack_and_bad_ids_are_usage_errors(ingest: Ingest) -> None:
    ingest.stubber.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    result = ingest.run(
        "--knowledge-base-id", KB, "--data-source-id", DS, "--no-wait", environ={"AWS_REGION": "us-west-2"}
    )
    assert (result.code, result.out_lines, ingest.stacks, ingest.regions) == (0, [JOB], [], ["us-west-2"])
    assert result.err_lines[-1] == (
        f"· ingestion job {JOB} STARTING; check it with `python -m client ingest --job-id {JOB} "
        f"--knowledge-base-id {KB} --data-source-id {DS} --region us-west-2` or "
        f"`aws bedrock-agent get-ingestion-job --knowledge-base-id {KB} --data-source-id {DS} "
        f"--ingestion-job-id {JOB} --region us-west-2`"
    )

    bad = ingest.run("--knowledge-base-id", "kb-1", "--data-source-id", DS)
    assert (bad.code, bad.err_lines) == (
        2,
        ["error: --knowledge-base-id must be 10 letters or digits; got 'kb-1'"],
    )
    both = ingest.run("--job-id", JOB, "--no-wait")
    assert both.code == 2
    assert both.err_lines[0] == "error: argument --no-wait: not allowed with argument --job-id"


def test_access_denied_names_the_permissions(ingest: Ingest) -> None:
    ingest.stubber.add_client_error(
        "start_ingestion_job",
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: bedrock:StartIngestionJob",
        403,
        expected_params=START_REQUEST,
    )
    result = ingest.run("--stack", "dev")
    assert result.code == 1
    assert result.err_lines == [
        "error: StartIngestionJob was denied: User: arn:aws:iam::123456789012:user/dev is not authorized to "
        "perform: bedrock:StartIngestionJob; your AWS identity needs bedrock:StartIngestionJob, "
        "bedrock:GetIngestionJob and bedrock:ListIngestionJobs on the knowledge base"
    ]


def test_throttled_start_says_to_retry_and_a_missing_knowledge_base_names_the_region(ingest: Ingest) -> None:
    ingest.stubber.add_client_error(
        "start_ingestion_job", "ThrottlingException", "Rate exceeded", 429, expected_params=START_REQUEST
    )
    throttled = ingest.run()
    assert (throttled.code, throttled.err_lines) == (
        1,
        [
            "error: StartIngestionJob was throttled (ThrottlingException): Rate exceeded; "
            "wait a minute and run it again"
        ],
    )
    ingest.stubber.add_client_error(
        "start_ingestion_job",
        "ResourceNotFoundException",
        "no such knowledge base",
        404,
        expected_params=START_REQUEST,
    )
    missing = ingest.run()
    assert missing.err_lines == [
        f"error: knowledge base {KB} or its data source {DS} does not exist in eu-west-1: no such knowledge "
        "base; check the stack (--stack) and the region (--region)"
    ]


def test_throttling_while_polling_backs_off_and_the_job_is_still_reported(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    stub.add_client_error(
        "get_ingestion_job", "ThrottlingException", "Rate exceeded", 429, expected_params=GET_REQUEST
    )
    stub.add_response("get_ingestion_job", {"ingestionJob": job("COMPLETE", scanned=1, new=1)}, GET_REQUEST)

    result = ingest.run("--plain")

    assert result.code == 0
    assert ingest.clock.sleeps == [FIRST, FIRST * 2]
    assert f"· ThrottlingException while polling; asking again in {FIRST * 2:g} s" in result.err_lines


def test_an_error_while_polling_says_the_job_goes_on(ingest: Ingest) -> None:
    ingest.stubber.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    ingest.stubber.add_client_error(
        "get_ingestion_job", "AccessDeniedException", "not allowed", 403, expected_params=GET_REQUEST
    )
    result = ingest.run("--stack", "dev")
    assert result.code == 1
    assert result.err_lines[-1].startswith("error: GetIngestionJob was denied: not allowed; ")
    assert result.err_lines[-1].endswith(f"the job goes on: {CHECK_DEV}")


def test_the_wait_is_bounded_and_exits_3_with_the_job_still_running(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    for _ in range(3):
        stub.add_response("get_ingestion_job", {"ingestionJob": job("IN_PROGRESS", scanned=9)}, GET_REQUEST)

    result = ingest.run("--wait-timeout", "6", "--stack", "dev")

    assert result.code == 3
    assert ingest.clock.sleeps == [FIRST, FIRST * FACTOR, 6 - FIRST - FIRST * FACTOR]  # never past the end
    assert result.err_lines[-1] == (
        f"error: ingestion job {JOB} is still IN_PROGRESS after 6 s (--wait-timeout); it goes on: {CHECK_DEV}"
    )
    assert result.stdout == ""


def test_ctrl_c_while_waiting_says_the_job_goes_on_and_how_to_check(ingest: Ingest) -> None:
    stub = ingest.stubber
    stub.add_response("start_ingestion_job", {"ingestionJob": job("STARTING")}, START_REQUEST)
    stub.add_response("get_ingestion_job", {"ingestionJob": job("IN_PROGRESS", scanned=9)}, GET_REQUEST)
    ingest.clock.interrupt_at = 2

    result = ingest.run("--stack", "dev", terminal=True)

    assert result.code == 130
    assert result.stderr.endswith(f"\x1b[K\n\ninterrupted: ingestion job {JOB} goes on; {CHECK_DEV}\n")


def test_json_prints_the_finished_job(ingest: Ingest) -> None:
    ingest.stubber.add_response(
        "get_ingestion_job", {"ingestionJob": job("COMPLETE", scanned=1, new=1)}, GET_REQUEST
    )
    result = ingest.run("--job-id", JOB, "--json")
    assert result.code == 0
    assert '"status": "COMPLETE"' in result.stdout
    assert '"startedAt": "2026-12-02T04:00:00+00:00"' in result.stdout


def test_importing_the_client_touches_neither_botocore_nor_the_network() -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise AssertionError('network at import')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "import client.cli, client.ingest\n"
        "client.cli.build_parser().parse_args(['ingest', '--stack', 'dev'])\n"
        "assert 'botocore' not in sys.modules, 'botocore imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_stack_outputs_come_from_pulumi_stack_output_json() -> None:
    calls: list[list[str]] = []

    def run(stdout: str, code: int = 0, stderr: str = "") -> Any:
        def runner(command: list[str], timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
            calls.append(command)
            return subprocess.CompletedProcess(command, code, stdout, stderr)

        return runner

    outputs = stack_outputs_of("prod", run('{"knowledgeBaseId": "KB12345678"}'))
    assert outputs == {"knowledgeBaseId": "KB12345678"}
    assert calls == [["/bin/pulumi", "stack", "output", "--json", "--non-interactive", "--stack", "prod"]]
    with pytest.raises(DiscoveryError) as failed:
        stack_outputs_of("nope", run("", 255, "error: no stack named 'nope' found\n"))
    assert str(failed.value) == (
        "`pulumi stack output --json` for stack 'nope' failed: error: no stack named 'nope' found; "
        "pass --knowledge-base-id and --data-source-id or --stack"
    )
    with pytest.raises(DiscoveryError) as garbled:
        stack_outputs_of(None, run("warning: something\n"))
    assert str(garbled.value) == (
        "`pulumi stack output --json` printed no JSON object; pass --knowledge-base-id and --data-source-id"
    )
    with pytest.raises(DiscoveryError) as missing:
        pulumi_stack_outputs(None, hint=WITHOUT_CLI_HINT, which=lambda name: None)
    assert str(missing.value) == (
        "no stack outputs: the Pulumi CLI is not on PATH; pass --knowledge-base-id and --data-source-id "
        "or install the Pulumi CLI"
    )


def stack_outputs_of(stack: str | None, run: Any) -> dict[str, Any]:
    return pulumi_stack_outputs(stack, hint=WITHOUT_CLI_HINT, which=lambda name: "/bin/pulumi", run=run)
