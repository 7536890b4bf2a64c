"""`python -m bench [--quick | --cost-only] [--runs N] [--json FILE]`: run every benchmark, print one table.

Each measurement runs in fresh interpreters (`bench.worker`, the preview CLI, pytest) started one
after another; process-level ones are repeated `--runs` times, interleaving the stacks, and reported
as median and min-max. Progress goes to stderr, the table and its details to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from bench.proc import REPO_ROOT, ChildRun, python, run_child
from bench.stats import summarize, summarize_iqr
from bench.table import (
    EN_DASH,
    INFO,
    MISS,
    PASS,
    SKIP,
    Row,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    render_table,
    row,
)

PREVIEW_TARGET_S = 3.0  # offline preview of dev, cold
PROGRAM_TARGET_S = 1.0  # the program alone under mocks
SUITE_TARGET_S = 60.0
INVOKER_TARGET_RATIO = 1.3  # at 100 chunks
PLAN_TARGET_RATIO = 2.0  # a step plan against a base (issue #9): at most twice one plain preview
FIRST_BYTE_TARGET_S = 0.050  # agent's first chunk -> client's first byte, loopback
STREAM_TARGET_RATIO = 1.3  # streaming renderer / bare loop, 100 chunks
IMPORT_TARGET_S = 0.3
ARCHIVE_TARGET_BYTES = 64 * 1024
HANDLER_MODULES = ("functions.invoker.handler", "functions.action_group.handler")
MINUS = "\u2212"  # spelled out for the linter
LEGEND = (
    f"median and spread (min{EN_DASH}max) over n fresh processes or runs; the handler rows: median and "
    "interquartile range of n paired rounds (the subject's and the reference's batches run back to back, "
    "so a burst from another process shifts the spread, not the median). PASS/MISS judge the median."
)
IMPORT_SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the full test suite")
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="only the idle cost of each stack and of dev's choices (no timings, no test suite)",
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per cold measurement (5)")
    parser.add_argument("--warm", type=int, default=5, help="warm program runs per process (5)")
    parser.add_argument("--rounds", type=int, default=31, help="alternating rounds per handler comparison")
    parser.add_argument("--import-runs", type=int, default=9, help="fresh processes per handler import (9)")
    parser.add_argument("--suite-runs", type=int, default=1, help="runs of the full test suite (1)")
    parser.add_argument("--stacks", default="dev,prod", help="stacks to preview and cost (dev,prod)")
    parser.add_argument("--json", default=None, help="also write every raw measurement here")
    args = parser.parse_args(argv)
    stacks = [s for s in args.stacks.split(",") if s]

    machine = machine_info()
    raw: dict[str, Any] = {"machine": machine, "args": vars(args)}
    rows: list[Row] = []

    if not args.cost_only:
        rows += timing_rows(args, stacks, raw)

    progress("idle cost of each stack, and of the choices behind dev's")
    costs = {stack: worker("cost", "--stack", stack) for stack in stacks}
    raw["cost"] = costs
    choices = worker("choices", "--stack", "dev") if "dev" in stacks else None
    raw["choices"] = choices
    rows += cost_rows(costs, choices)

    if args.quick or args.cost_only:
        reason = "--cost-only" if args.cost_only else "--quick"
        rows.append(Row("full test suite", "skipped", "", "", f"< {SUITE_TARGET_S:g} s", SKIP, reason))
    else:
        progress(f"full test suite, {args.suite_runs} run(s)")
        suites = [run_child(python("-m", "pytest")) for _ in range(args.suite_runs)]
        raw["suite"] = [{"wall_s": s.wall_s, "rc": s.returncode, "tail": s.stdout[-300:]} for s in suites]
        rows.append(
            row(
                "full test suite (python -m pytest, as make unit)",
                summarize([s.wall_s for s in suites]),
                fmt_seconds,
                limit=SUITE_TARGET_S,
                target=f"< {SUITE_TARGET_S:g} s",
                notes=f"exit {suites[-1].returncode}: {pytest_summary(suites[-1].stdout)}",
            )
        )

    machine["load_end"] = os.getloadavg()[0]
    for line in header(machine):
        print(line)
    print()
    for line in render_table(rows):
        print(line)
    print()
    print(LEGEND)
    print()
    for line in details(costs, choices):
        print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(raw, out, indent=2)
    return 0


def timing_rows(args: argparse.Namespace, stacks: list[str], raw: dict[str, Any]) -> list[Row]:
    """Every timing and size row (all but the cost rows and the test suite)."""
    rows: list[Row] = []
    progress(f"offline preview, {args.runs} cold runs per stack")
    previews: dict[str, list[ChildRun]] = {stack: [] for stack in stacks}
    for _ in range(args.runs):
        for stack in stacks:
            previews[stack].append(run_child(python("-m", "offline", "preview", "--stack", stack)))
    raw["preview"] = {
        s: [{"wall_s": r.wall_s, "max_rss_bytes": r.max_rss_bytes, "rc": r.returncode} for r in runs]
        for s, runs in previews.items()
    }
    for stack, runs in previews.items():
        codes = sorted({r.returncode for r in runs})
        exit_note = "exit 0" if codes == [0] else f"exit {codes} (see docs: not a clean pass)"
        limit = PREVIEW_TARGET_S if stack == "dev" else None
        rows.append(
            row(
                f"offline preview {stack}: process wall, cold",
                summarize([r.wall_s for r in runs]),
                fmt_seconds,
                limit=limit,
                target=f"< {PREVIEW_TARGET_S:g} s" if limit else "",
                notes=f"python -m offline preview --stack {stack}; {exit_note}",
            )
        )
        rows.append(
            row(
                f"offline preview {stack}: peak RSS",
                summarize([float(r.max_rss_bytes) for r in runs]),
                fmt_bytes,
                notes="largest process of the tree (wait4 ru_maxrss)",
            )
        )

    progress(f"step plan against HEAD, {args.runs} cold runs paired with a plain preview of dev")
    plans = [
        (
            run_child(python("-m", "offline", "preview", "--stack", "dev")),
            run_child(python("-m", "offline", "preview", "--stack", "dev", "--base", "HEAD")),
        )
        for _ in range(args.runs)
    ]
    raw["plan"] = [{"preview_s": p.wall_s, "plan_s": q.wall_s, "rc": q.returncode} for p, q in plans]
    plan_codes = sorted({q.returncode for _, q in plans})
    rows.append(
        row(
            "step plan dev --base HEAD / plain preview",
            summarize([q.wall_s / p.wall_s for p, q in plans]),
            fmt_ratio,
            limit=PLAN_TARGET_RATIO,
            target=f"≤ {fmt_ratio(PLAN_TARGET_RATIO)}",
            notes="python -m offline preview --stack dev --base HEAD (the program at HEAD unpacked and "
            "run beside the working tree, the plan, its hazard checks) over the plain preview, back to "
            f"back; plan exit {plan_codes}",
        )
    )

    progress(f"program under mocks, {args.runs} fresh processes per stack, {args.warm} warm runs each")
    programs: dict[str, list[dict[str, Any]]] = {stack: [] for stack in stacks}
    for _ in range(args.runs):
        for stack in stacks:
            programs[stack].append(worker("program", "--stack", stack, "--warm", str(args.warm)))
    raw["program"] = programs
    for stack, results in programs.items():
        engine_import = statistics.median(r["import_s"] for r in results)
        rows.append(
            row(
                f"program under mocks {stack}: cold (fresh process)",
                summarize([r["cold_s"] for r in results]),
                fmt_seconds,
                limit=PROGRAM_TARGET_S,
                target=f"< {PROGRAM_TARGET_S:g} s",
                notes=f"import offline.engine {fmt_seconds(engine_import)}, then the first run_program "
                "(which imports the pulumi_aws modules)",
            )
        )
        rows.append(
            row(
                f"program under mocks {stack}: warm (repeat run)",
                summarize([w for r in results for w in r["warm_s"]]),
                fmt_seconds,
                limit=PROGRAM_TARGET_S,
                target=f"< {PROGRAM_TARGET_S:g} s",
                notes=f"{results[0]['resources']} resources; "
                f"{args.warm} runs in each of {len(results)} processes",
            )
        )

    progress(f"invoker handler vs reference, {args.rounds} rounds per chunk count")
    invoker = worker("invoker", "--chunks", "1,10,100", "--rounds", str(args.rounds))
    raw["invoker"] = invoker
    for chunks, result in invoker.items():
        subject, reference = statistics.median(result["subject_s"]), statistics.median(result["reference_s"])
        ratios = summarize_iqr(result["ratios"])
        at_target = chunks == "100"
        rows.append(
            Row(
                f"invoker warm per request, {chunks} chunk{'s' if chunks != '1' else ''}: "
                "handler / reference",
                fmt_ratio(ratios.median),
                f"{fmt_ratio(ratios.low)}{EN_DASH}{fmt_ratio(ratios.high)} (IQR)",
                str(ratios.n),
                f"≤ {fmt_ratio(INVOKER_TARGET_RATIO)}" if at_target else "",
                (PASS if ratios.median <= INVOKER_TARGET_RATIO else MISS) if at_target else INFO,
                f"handler {fmt_seconds(subject)} vs reference {fmt_seconds(reference)} per request "
                f"(+{fmt_seconds(statistics.median(result['overheads_s']))})",
            )
        )

    progress("streaming: first byte over the loopback chain")
    first = worker("stream-first-byte", "--requests", str(args.rounds))
    raw["stream_first_byte"] = first
    delay = summarize_iqr(first["delays_s"])
    rows.append(
        Row(
            "streaming: agent's first chunk → client's first byte",
            fmt_seconds(delay.median),
            f"{fmt_seconds(delay.low)}{EN_DASH}{fmt_seconds(delay.high)} (IQR)",
            str(delay.n),
            f"≤ {fmt_seconds(FIRST_BYTE_TARGET_S)}",
            PASS if delay.median <= FIRST_BYTE_TARGET_S else MISS,
            f"loopback, real HTTP at each hop: client, API Gateway (STREAM), Runtime API, runtime loop, "
            f"handler, botocore; {first['chunks']}-chunk answers",
        )
    )
    progress(f"streaming renderer vs a bare loop, {args.rounds} rounds")
    per = worker("stream-per-chunk", "--chunks", "100", "--rounds", str(args.rounds))
    raw["stream_per_chunk"] = per
    result = per["100"]
    ratios = summarize_iqr(result["ratios"])
    rows.append(
        Row(
            "streaming warm per request, 100 chunks: renderer / bare loop",
            fmt_ratio(ratios.median),
            f"{fmt_ratio(ratios.low)}{EN_DASH}{fmt_ratio(ratios.high)} (IQR)",
            str(ratios.n),
            f"≤ {fmt_ratio(STREAM_TARGET_RATIO)}",
            PASS if ratios.median <= STREAM_TARGET_RATIO else MISS,
            f"+{fmt_seconds(result['per_chunk_overhead_s'])} per chunk (NDJSON line, the handler, the "
            "summary log line) over InvokeAgent's own parsing",
        )
    )

    progress(f"action-group handler vs the tool alone, {args.rounds} rounds")
    group = worker("action-group", "--rounds", str(args.rounds))["calculate"]
    raw["action_group"] = group
    handler = summarize_iqr(group["subject_s"])
    rows.append(
        Row(
            "action-group warm per call (calculate)",
            fmt_seconds(handler.median),
            f"{fmt_seconds(handler.low)}{EN_DASH}{fmt_seconds(handler.high)} (IQR)",
            str(handler.n),
            notes=f"the tool alone {fmt_seconds(statistics.median(group['reference_s']))}; dispatch, "
            f"response and log line +{fmt_seconds(statistics.median(group['overheads_s']))}",
        )
    )

    progress(f"handler imports, {args.import_runs} fresh processes each")
    imports: dict[str, list[float]] = {module: [] for module in HANDLER_MODULES}
    for _ in range(args.import_runs):
        for module in HANDLER_MODULES:
            done = run_child(python("-c", IMPORT_SNIPPET.format(module=module)))
            _check(done)
            imports[module].append(float(done.stdout.strip().splitlines()[-1]))
    raw["imports"] = imports
    for module, seconds in imports.items():
        rows.append(
            row(
                f"cold import {module}",
                summarize(seconds),
                fmt_seconds,
                limit=IMPORT_TARGET_S,
                target=f"< {IMPORT_TARGET_S * 1000:g} ms",
                notes="perf_counter around the import in a fresh interpreter",
            )
        )

    progress("deployment archives")
    archives = worker("archives")
    raw["archives"] = archives
    for package, sizes in archives.items():
        rows.append(
            Row(
                f"deployment archive {package}",
                fmt_bytes(sizes["zip_bytes"]),
                "",
                "1",
                f"< {fmt_bytes(ARCHIVE_TARGET_BYTES)}",
                PASS if sizes["zip_bytes"] < ARCHIVE_TARGET_BYTES else MISS,
                f"{sizes['files']} files, {fmt_bytes(sizes['raw_bytes'])} before deflate",
            )
        )
    return rows


# --------------------------------------------------------------------------------------------------
# Children


def worker(*args: str) -> dict[str, Any]:
    done = run_child(python("-m", "bench.worker", *args))
    _check(done)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _check(done: ChildRun) -> None:
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(done.argv)} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")


def pytest_summary(output: str) -> str:
    """pytest's last line, e.g. "612 passed, 3 skipped in 31.02s"."""
    for line in reversed(output.strip().splitlines()):
        if any(word in line for word in (" passed", " failed", " error", " skipped")):
            return line.strip("= ")
    return "no summary line"


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# The cost rows


def cost_rows(costs: dict[str, dict[str, Any]], choices: dict[str, Any] | None) -> list[Row]:
    """One row per stack: its idle total as `bench.worker cost` got it from offline.cost (the model the
    preview prints); dev's judged against the variants of its choices."""
    rows = []
    for stack, result in costs.items():
        total = result["estimate"]["monthly_usd"]
        if stack == "dev" and choices is not None:
            verdict, notes = judge_dev_cost(choices)
            rows.append(
                Row(f"idle cost {stack}", f"${total:,.2f}/month", "", "1", "lowest passing", verdict, notes)
            )
        else:
            rows.append(
                Row(f"idle cost {stack}", f"${total:,.2f}/month", "", "1", "", INFO, item_summary(result))
            )
    return rows


def judge_dev_cost(choices: dict[str, Any]) -> tuple[str, str]:
    """PASS when no variant of dev's choices is cheaper and meets the mandatory policies dev meets."""
    base, *variants = choices["variants"]
    allowed = set(base["mandatory"])
    cheaper = [
        v for v in variants if v["monthly_usd"] < base["monthly_usd"] and set(v["mandatory"]) <= allowed
    ]
    prefix = "" if not allowed else f"dev itself fails {', '.join(sorted(allowed))}; "
    if not cheaper:
        return PASS, prefix + "no cheaper variant passes the mandatory policies (see below)"
    best = min(cheaper, key=lambda v: v["monthly_usd"])
    saving = base["monthly_usd"] - best["monthly_usd"]
    return (
        MISS,
        prefix + f"{best['label']} also passes, at ${best['monthly_usd']:,.2f} ({MINUS}${saving:,.2f})",
    )


def item_summary(result: dict[str, Any]) -> str:
    return "; ".join(
        f"{item['description']} ${item['monthly_usd']:,.2f}"
        for item in result["estimate"]["items"]
        if item["monthly_usd"] is not None
    )


def details(costs: dict[str, dict[str, Any]], choices: dict[str, Any] | None) -> list[str]:
    lines: list[str] = []
    for index, (stack, result) in enumerate(costs.items()):
        rendered: list[str] = result["lines"]
        if index:  # the per-use formulas are the same for every stack: print them once
            rendered = rendered[: next(i for i, line in enumerate(rendered) if "Per use" in line)]
        lines += [f"Stack {stack}:", *rendered, ""]
    if choices is not None:
        lines += choice_lines(choices)
    return lines


def choice_lines(choices: dict[str, Any]) -> list[str]:
    base, *variants = choices["variants"]
    lines = [f"The cost of each choice of {choices['stack']} (every variant judged by the policy pack):"]

    def describe(variant: dict[str, Any]) -> str:
        delta = variant["monthly_usd"] - base["monthly_usd"]
        sign = "+" if delta >= 0 else MINUS
        new = sorted(set(variant["mandatory"]) - set(base["mandatory"]))
        verdict = f"fails {', '.join(new)}" if new else "passes the mandatory policies"
        return (
            f"    {variant['label']}: ${variant['monthly_usd']:,.2f} ({sign}${abs(delta):,.2f}) — {verdict}"
        )

    lines.append(f"    {base['label']}: ${base['monthly_usd']:,.2f}")
    lines += [describe(v) for v in variants]
    lines.append(
        "    KMS keys: priced in each stack's section above (rotation adds to a key's price from its second "
        "year); the logs key is not optional in the program (every log group is encrypted with it); "
        "log-group-kms-encryption is advisory, kms-key-rotation is mandatory for any key the stack creates"
    )
    return lines


# --------------------------------------------------------------------------------------------------
# The machine


def machine_info() -> dict[str, Any]:
    cpu = _first_value("/proc/cpuinfo", "model name") or platform.processor() or "unknown"
    memory_kib = _first_value("/proc/meminfo", "MemTotal")
    return {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(int(memory_kib.split()[0]) / 1024 / 1024, 1) if memory_kib else None,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_start": os.getloadavg()[0],
    }


def header(machine: dict[str, Any]) -> list[str]:
    dirty = " with uncommitted changes in the checkout" if machine["dirty"] else ""
    # The benchmark itself keeps about one CPU busy: the load before it started tells about the others.
    busy = machine["load_start"] >= 0.5 * (machine["cpus"] or 1)
    return [
        f"Benchmarks — {machine['when']}, commit {machine['commit']}{dirty}",
        f"Machine: {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
        f"Python {machine['python']}, {machine['system']}",
        f"Load average (1 min): {machine['load_start']:.1f} at start, {machine['load_end']:.1f} at end"
        + (" — other processes were active: read medians and spreads, not single runs" if busy else ""),
    ]


def _first_value(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as source:
            for line in source:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        return ""
    return ""


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
    return done.stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
