"""``python -m client ingest``: index the knowledge base's documents and wait for Bedrock to finish.

The stack uploads the documents (knowledge/) to its bucket, but Bedrock only embeds them into the
vector index during an *ingestion job* of the data source (components/knowledge_base.py). This starts
one (bedrock-agent StartIngestionJob) for the stack's knowledge base and data source, read from the
stack outputs ``knowledgeBaseId`` and ``knowledgeBaseDataSourceId`` (__main__.py exports them when
``knowledgeBaseEnabled`` is on) and polls GetIngestionJob, with backoff and a bounded total wait,
showing the job's statistics. When a job of the data source already runs, Bedrock refuses another
with ConflictException: the command then waits for the running one (ListIngestionJobs filtered by
status). Ctrl-C or the end of the wait leaves the job running on AWS; the message says how to check it.

Statuses and statistics: the bedrock-agent API model (botocore data bedrock-agent/2023-06-05,
IngestionJobStatus, IngestionJobStatistics). Uses the caller's AWS credentials; nothing touches the
network at import.
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Final

from client.discovery import DiscoveryError, pulumi_stack_outputs
from client.exits import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_STILL_RUNNING, EXIT_USAGE

if TYPE_CHECKING:
    from client.cli import Console, Dependencies

RUNNING: Final = ("STARTING", "IN_PROGRESS", "STOPPING")
FINISHED: Final = ("COMPLETE", "FAILED", "STOPPED")
# IngestionJobStatistics, in the order a person reads them.
STATISTICS: Final = (
    ("numberOfDocumentsScanned", "scanned"),
    ("numberOfNewDocumentsIndexed", "new"),
    ("numberOfModifiedDocumentsIndexed", "modified"),
    ("numberOfDocumentsDeleted", "deleted"),
    ("numberOfDocumentsFailed", "failed"),
    ("numberOfDocumentsSkipped", "skipped"),
    ("numberOfMetadataDocumentsScanned", "metadata scanned"),
    ("numberOfMetadataDocumentsModified", "metadata modified"),
)
# Throttling and the service's own transient errors while polling: the job goes on, poll less often.
TRANSIENT_CODES: Final = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "InternalServerException", "ServiceUnavailable"}
)
# The knowledge base, data source and job ids: "[0-9a-zA-Z]{10}" in the API model (shape Id).
ID_PATTERN: Final = re.compile(r"[0-9a-zA-Z]{10}")
DEFAULT_WAIT_S: Final = 1800.0
MAX_WAIT_S: Final = 86_400.0
MAX_REASONS_SHOWN: Final = 20
BAR_WIDTH: Final = 24
JOB_DESCRIPTION: Final = "python -m client ingest"
WITHOUT_CLI_HINT: Final = "pass --knowledge-base-id and --data-source-id"


class IngestError(Exception):
    """A failure to report as one ``error:`` line, with the exit code it means."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """The data source to ingest, and how the user reaches it again (for the messages)."""

    knowledge_base_id: str
    data_source_id: str
    region: str | None
    stack: str | None
    given: bool = False  # the ids came from the options, not from the stack outputs

    @property
    def ids(self) -> dict[str, str]:
        return {"knowledgeBaseId": self.knowledge_base_id, "dataSourceId": self.data_source_id}

    def check_hint(self, job_id: str) -> str:
        stack = f" --stack {self.stack}" if self.stack else ""
        region = f" --region {self.region}" if self.region else ""
        where = (
            f" --knowledge-base-id {self.knowledge_base_id} --data-source-id {self.data_source_id}{region}"
            if self.given
            else stack
        )
        return (
            f"check it with `python -m client ingest --job-id {job_id}{where}` or `aws bedrock-agent "
            f"get-ingestion-job --knowledge-base-id {self.knowledge_base_id} --data-source-id "
            f"{self.data_source_id} --ingestion-job-id {job_id}{region}`"
        )


@dataclass(frozen=True)
class PollPolicy:
    """GetIngestionJob every ``first_s``, growing by ``factor`` to ``max_s``; doubled on throttling
    up to ``throttled_max_s``; never beyond the total wait."""

    first_s: float = 2.0
    factor: float = 1.5
    max_s: float = 15.0
    throttled_max_s: float = 60.0


class StillRunningError(Exception):
    def __init__(self, job: Mapping[str, Any]) -> None:
        super().__init__(job.get("status"))
        self.job = job


# --------------------------------------------------------------------------------------------------
# The command line


def add_parser(commands: Any) -> None:
    """The ``ingest`` subcommand (``commands``: the main parser's subparsers)."""
    parser = commands.add_parser(
        "ingest",
        help="index the knowledge base's documents (start an ingestion job and wait for it)",
        description=(
            "Start an ingestion job of the stack's knowledge base data source (StartIngestionJob) and wait "
            "for it, showing its progress; when a job already runs, wait for that one. Needs a stack with "
            "knowledgeBaseEnabled, deployed. Ids come from the stack outputs knowledgeBaseId and "
            "knowledgeBaseDataSourceId (`pulumi stack output`), unless given."
        ),
        epilog=(
            "Exit codes: 0 the job completed and every document was ingested; 1 the job failed, was "
            "stopped or some documents failed, or an AWS error; 2 usage or setup error (no knowledge base "
            "on the stack, no credentials, no region); 3 still running when --wait-timeout ended; 130 "
            "interrupted. The job goes on after 3 and 130."
        ),
    )
    parser.add_argument("--stack", help="Pulumi stack whose outputs to read (default: $PULUMI_STACK)")
    parser.add_argument("--knowledge-base-id", help="the knowledge base (default: output knowledgeBaseId)")
    parser.add_argument(
        "--data-source-id", help="its data source (default: output knowledgeBaseDataSourceId)"
    )
    parser.add_argument(
        "--region", help="the stack's region (default: output region, else $AWS_REGION, else the SDK's)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--job-id", help="wait for this ingestion job instead of starting one")
    which.add_argument(
        "--no-wait", action="store_true", help="start the job, print its id and return at once"
    )
    parser.add_argument(
        "--wait-timeout",
        type=_wait_seconds,
        default=DEFAULT_WAIT_S,
        help=f"stop waiting (to start, then to finish) after this many seconds; the job goes on "
        f"(default {DEFAULT_WAIT_S:g})",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="progress as plain lines when the statistics change (the default when stderr is not a terminal)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the finished job (GetIngestionJob) as JSON"
    )


def run(args: argparse.Namespace, console: Console, deps: Dependencies) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    target: Target | None = None
    job_id: str | None = args.job_id
    try:
        target = find_target(args, deps)
        client = deps.bedrock_agent(target.region)
        deadline = deps.clock() + args.wait_timeout  # for starting and waiting together
        attached = job_id is not None
        if job_id is None:
            job, attached = start_or_attach(
                client,
                target,
                console=console,
                deadline=deadline,
                clock=deps.clock,
                sleep=deps.sleep,
            )
            job_id = str(job["ingestionJobId"])
            if args.no_wait:
                console.out(job_id)
                console.err(f"· ingestion job {job_id} {job['status']}; {target.check_hint(job_id)}")
                return EXIT_OK
        else:
            job = get_job(client, target, job_id)
        progress = Progress(console.stderr, bar=not args.plain and _is_terminal(console.stderr))
        try:
            job = wait_for(
                client,
                target,
                job,
                timeout=max(0.0, deadline - deps.clock()),
                clock=deps.clock,
                sleep=deps.sleep,
                on_update=progress.update,
                on_note=progress.note,
            )
        finally:
            progress.close()
    except StillRunningError as still:
        assert target is not None
        job_id = str(still.job.get("ingestionJobId"))
        console.err(
            f"error: ingestion job {job_id} is still {still.job.get('status')} after {args.wait_timeout:g} s "
            f"(--wait-timeout); it goes on: {target.check_hint(job_id)}"
        )
        return EXIT_STILL_RUNNING
    except KeyboardInterrupt:
        console.err("")
        if target is not None and job_id is not None:
            console.err(f"interrupted: ingestion job {job_id} goes on; {target.check_hint(job_id)}")
        elif target is not None:
            console.err(
                "interrupted before Bedrock answered: a job may have started; list them with `aws "
                f"bedrock-agent list-ingestion-jobs --knowledge-base-id {target.knowledge_base_id} "
                f"--data-source-id {target.data_source_id}`"
            )
        return EXIT_INTERRUPTED
    except IngestError as error:
        console.err(f"error: {error}")
        return error.code
    except (ClientError, BotoCoreError) as error:
        message = describe_aws_error(error, target)
        if job_id is not None and target is not None:
            message += f"; the job goes on: {target.check_hint(job_id)}"
        console.err(f"error: {message}")
        return EXIT_USAGE if _is_setup_error(error) else EXIT_ERROR
    if args.json:
        console.out(json.dumps(job, default=_json_value, ensure_ascii=False, indent=2))
    else:
        for line in summary_lines(job, attached=attached):
            console.out(line)
    return finish(job, target, console)


def find_target(args: argparse.Namespace, deps: Dependencies) -> Target:
    """The ids from the options, else from the stack outputs; a stack without a knowledge base is
    named, with the setting that gives it one."""
    stack: str | None = args.stack or deps.environ.get("PULUMI_STACK")
    given = {"--knowledge-base-id": args.knowledge_base_id, "--data-source-id": args.data_source_id}
    for option, value in [*given.items(), ("--job-id", args.job_id)]:
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise IngestError(f"{option} must be 10 letters or digits; got {value!r}", EXIT_USAGE)
    environment_region = deps.environ.get("AWS_REGION") or deps.environ.get("AWS_DEFAULT_REGION")
    if None not in given.values():  # no stack needed (nor the Pulumi CLI)
        region = args.region or environment_region
        return Target(args.knowledge_base_id, args.data_source_id, region, stack, given=True)
    try:
        outputs = deps.stack_outputs(stack)
    except DiscoveryError as error:
        raise IngestError(str(error), EXIT_USAGE) from None
    where = f"stack {stack!r}" if stack else "the selected stack"
    if not outputs:
        raise IngestError(f"{where} has no outputs: is it deployed? Run `pulumi up` first", EXIT_USAGE)
    knowledge_base_id = args.knowledge_base_id or outputs.get("knowledgeBaseId")
    data_source_id = args.data_source_id or outputs.get("knowledgeBaseDataSourceId")
    if not knowledge_base_id or not data_source_id:
        flag = f" --stack {stack}" if stack else ""
        raise IngestError(
            f"{where} has no knowledge base (no knowledgeBaseId output): turn the knowledgeBaseEnabled "
            f"setting on (`pulumi config set knowledgeBaseEnabled true{flag}`), run `pulumi up`, then "
            f"ingest; or {WITHOUT_CLI_HINT}",
            EXIT_USAGE,
        )
    region = args.region or outputs.get("region") or environment_region
    return Target(str(knowledge_base_id), str(data_source_id), region, stack)


def stack_outputs(stack: str | None) -> dict[str, Any]:
    return pulumi_stack_outputs(stack, hint=WITHOUT_CLI_HINT)


def bedrock_agent_client(region: str | None) -> Any:
    """A bedrock-agent client with the caller's credentials; botocore retries throttling a few times
    (standard mode) before the command sees it."""
    import botocore.session
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=10, read_timeout=30)
    return botocore.session.get_session().create_client("bedrock-agent", region_name=region, config=config)


# --------------------------------------------------------------------------------------------------
# The job


def start_or_attach(
    client: Any,
    target: Target,
    *,
    console: Console,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    policy: PollPolicy | None = None,
) -> tuple[dict[str, Any], bool]:
    """Start a job; when one of the data source already runs (ConflictException), that one. Returns
    (job, attached). Bedrock also refuses a job while another data source of the knowledge base is
    being ingested (one job per knowledge base at a time): then it tries again, with backoff, until
    ``deadline``."""
    from botocore.exceptions import ClientError

    policy = policy or PollPolicy()
    interval = policy.first_s
    while True:
        try:
            # One token per attempt: botocore's own retries of the call resend it (no second job); an
            # attempt Bedrock refused created nothing.
            response = client.start_ingestion_job(
                **target.ids, clientToken=str(uuid.uuid4()), description=JOB_DESCRIPTION
            )
        except ClientError as error:
            if _code(error) != "ConflictException":
                raise
            running = running_job(client, target)
            if running is not None:
                console.err(
                    f"· ingestion job {running['ingestionJobId']} of this data source is already "
                    f"{running['status']} (started {_when(running.get('startedAt'))}): waiting for it "
                    "instead of starting another; documents changed after it started need another run"
                )
                return dict(running), True
            remaining = deadline - clock()
            if remaining <= 0:
                raise IngestError(
                    "Bedrock still refuses to start an ingestion job and none of this data source is "
                    f"running: {_message(error)}; run it again once the knowledge base's other jobs ended"
                ) from None
            console.err(
                f"· Bedrock refused to start a job ({_message(error)}); no job of this data source runs, "
                f"so another of the knowledge base may: trying again in {min(interval, remaining):g} s"
            )
            sleep(min(interval, remaining))
            interval = min(policy.max_s, interval * policy.factor)
            continue
        job: dict[str, Any] = response["ingestionJob"]
        console.err(f"· started ingestion job {job['ingestionJobId']} ({job['status']})")
        return job, False


def running_job(client: Any, target: Target) -> dict[str, Any] | None:
    """The newest job of the data source that is starting, running or stopping, if any."""
    response = client.list_ingestion_jobs(
        **target.ids,
        filters=[{"attribute": "STATUS", "operator": "EQ", "values": list(RUNNING)}],
        sortBy={"attribute": "STARTED_AT", "order": "DESCENDING"},
        maxResults=10,
    )
    summaries: list[dict[str, Any]] = response.get("ingestionJobSummaries", [])
    return summaries[0] if summaries else None


def get_job(client: Any, target: Target, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = client.get_ingestion_job(**target.ids, ingestionJobId=job_id)["ingestionJob"]
    return job


def wait_for(
    client: Any,
    target: Target,
    job: dict[str, Any],
    *,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_update: Callable[[Mapping[str, Any]], None],
    on_note: Callable[[str], None],
    policy: PollPolicy | None = None,
) -> dict[str, Any]:
    """Poll until the job finishes; StillRunningError when ``timeout`` seconds pass first."""
    from botocore.exceptions import ClientError

    policy = policy or PollPolicy()
    deadline = clock() + timeout
    interval = policy.first_s
    on_update(job)
    while job.get("status") not in FINISHED:
        remaining = deadline - clock()
        if remaining <= 0:
            raise StillRunningError(job)
        sleep(min(interval, remaining))
        try:
            job = get_job(client, target, str(job["ingestionJobId"]))
        except ClientError as error:
            if _code(error) not in TRANSIENT_CODES:
                raise
            interval = min(policy.throttled_max_s, interval * 2)
            on_note(f"{_code(error)} while polling; asking again in {interval:g} s")
            continue
        interval = min(policy.max_s, interval * policy.factor)
        on_update(job)
    return job


def finish(job: Mapping[str, Any], target: Target | None, console: Console) -> int:
    """The exit code, and the one error line when the job did not ingest everything."""
    status = job.get("status")
    failed = _statistics(job)["numberOfDocumentsFailed"]
    rerun = "python -m client ingest" + (f" --stack {target.stack}" if target and target.stack else "")
    if status == "COMPLETE" and not failed:
        return EXIT_OK
    if status == "COMPLETE":
        console.err(
            f"error: {_count(failed, 'document')} could not be ingested (reasons above); fix or remove "
            f"them in the documents bucket and run `{rerun}` again"
        )
    elif status == "STOPPED":
        console.err(f"error: the ingestion job was stopped before it finished; run `{rerun}` to finish it")
    else:
        console.err(f"error: the ingestion job {status} (reasons above)")
    return EXIT_ERROR


# --------------------------------------------------------------------------------------------------
# Output


class Progress:
    """The job's status and statistics on stderr: a bar redrawn in place on a terminal, else one plain
    line each time something changes."""

    def __init__(self, stream: IO[str], *, bar: bool) -> None:
        self._stream = stream
        self._bar = bar
        self._drawn = False
        self._last: tuple[Any, ...] | None = None

    def update(self, job: Mapping[str, Any]) -> None:
        stats = _statistics(job)
        state = (job.get("status"), *stats.values())
        if self._bar:
            self._stream.write("\r" + bar_line(job) + "\x1b[K")
            self._drawn = True
        elif state != self._last:
            self._stream.write(plain_line(job) + "\n")
        self._last = state
        self._stream.flush()

    def note(self, text: str) -> None:
        self._end_line()
        self._stream.write(f"· {text}\n")
        self._stream.flush()

    def close(self) -> None:
        self._end_line()

    def _end_line(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def processed(job: Mapping[str, Any]) -> tuple[int, int]:
    """(documents dealt with, documents scanned): the bar's fraction while the job runs.

    ``numberOfDocumentsScanned`` includes unchanged documents, which no other statistic counts
    (botocore's bedrock-agent model, IngestionJobStatistics), so while a re-run over an unchanged
    corpus runs the bar stays at 0/N; a finished job shows N/N.
    """
    stats = _statistics(job)
    done = sum(
        stats[key]
        for key in (
            "numberOfNewDocumentsIndexed",
            "numberOfModifiedDocumentsIndexed",
            "numberOfDocumentsFailed",
            "numberOfDocumentsSkipped",
        )
    )
    scanned = stats["numberOfDocumentsScanned"]
    if job.get("status") in FINISHED:
        return scanned, scanned
    return min(done, scanned), scanned


def bar_line(job: Mapping[str, Any]) -> str:
    done, scanned = processed(job)
    filled = BAR_WIDTH if job.get("status") == "COMPLETE" else (BAR_WIDTH * done // scanned if scanned else 0)
    stats = _statistics(job)
    return (
        f"{job.get('status', '?'):<11} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{scanned} "
        f"· new {stats['numberOfNewDocumentsIndexed']}"
        f" · modified {stats['numberOfModifiedDocumentsIndexed']}"
        f" · deleted {stats['numberOfDocumentsDeleted']} · failed {stats['numberOfDocumentsFailed']}"
    )


def plain_line(job: Mapping[str, Any]) -> str:
    stats = _statistics(job)
    counts = ", ".join(f"{label} {stats[key]}" for key, label in STATISTICS)
    return f"· ingestion job {job.get('ingestionJobId')}: {job.get('status')} — {counts}"


def summary_lines(job: Mapping[str, Any], *, attached: bool) -> list[str]:
    """What happened, for stdout: status and duration, each count, and every failure reason."""
    stats = _statistics(job)
    took = _duration(job.get("startedAt"), job.get("updatedAt"))
    lines = [
        f"Ingestion job {job.get('ingestionJobId')} {job.get('status')}{took} "
        f"(knowledge base {job.get('knowledgeBaseId')}, data source {job.get('dataSourceId')}"
        + (", already running when asked)" if attached else ")"),
        f"  documents scanned     {stats['numberOfDocumentsScanned']}",
        f"  indexed               {stats['numberOfNewDocumentsIndexed']} new, "
        f"{stats['numberOfModifiedDocumentsIndexed']} modified",
        f"  deleted               {stats['numberOfDocumentsDeleted']}",
        f"  failed                {stats['numberOfDocumentsFailed']}",
        f"  skipped               {stats['numberOfDocumentsSkipped']}",
        f"  metadata files        {stats['numberOfMetadataDocumentsScanned']} scanned, "
        f"{stats['numberOfMetadataDocumentsModified']} modified",
    ]
    reasons: list[str] = list(job.get("failureReasons") or [])
    if reasons:
        lines.append(f"Failure reasons ({len(reasons)}):")
        lines += [f"  - {' '.join(reason.split())}" for reason in reasons[:MAX_REASONS_SHOWN]]
        if len(reasons) > MAX_REASONS_SHOWN:
            lines.append(f"  … and {len(reasons) - MAX_REASONS_SHOWN} more (--json shows them all)")
    return lines


def describe_aws_error(error: Exception, target: Target | None) -> str:
    """One sentence that says what went wrong and what to do."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE, run `aws sso login` or export AWS_ACCESS_KEY_ID"
    if isinstance(error, NoRegionError):
        return "no region: pass --region or set AWS_REGION"
    if not isinstance(error, ClientError):
        return f"could not reach Bedrock: {error}"
    code, message = _code(error), _message(error)
    operation = error.operation_name
    if code == "AccessDeniedException":
        return (
            f"{operation} was denied: {message}; your AWS identity needs bedrock:StartIngestionJob, "
            "bedrock:GetIngestionJob and bedrock:ListIngestionJobs on the knowledge base"
        )
    if code in ("ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"):
        return f"{operation} was throttled ({code}): {message}; wait a minute and run it again"
    if code == "ResourceNotFoundException" and target is not None:
        region = f" in {target.region}" if target.region else ""
        return (
            f"knowledge base {target.knowledge_base_id} or its data source {target.data_source_id} does not "
            f"exist{region}: {message}; check the stack (--stack) and the region (--region)"
        )
    return f"{operation} failed ({code}): {message}"


def _is_setup_error(error: Exception) -> bool:
    from botocore.exceptions import NoCredentialsError, NoRegionError, ParamValidationError

    return isinstance(error, NoCredentialsError | NoRegionError | ParamValidationError)


def _statistics(job: Mapping[str, Any]) -> dict[str, int]:
    given: Mapping[str, Any] = job.get("statistics") or {}
    return {key: int(given.get(key) or 0) for key, _ in STATISTICS}


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or "no message"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if isinstance(value, datetime) else "earlier"


def _duration(started: Any, ended: Any) -> str:
    if not isinstance(started, datetime) or not isinstance(ended, datetime):
        return ""
    seconds = max(0, round((ended - started).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds} s"
    return f" in {text}"


def _json_value(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _wait_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_WAIT_S:g} seconds")
    return value
