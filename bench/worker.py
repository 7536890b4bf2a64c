"""One measurement in a fresh interpreter: `python -m bench.worker TASK [options]` prints one JSON object.

The orchestrator (`python -m bench`) starts a worker per measurement so that nothing one measurement
imports or warms can flatter the next. Heavy imports happen inside the tasks, after the clock starts
where they are part of what is measured. The result is the last line of stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import time
import zipfile
from typing import Any


def program(stack: str, warm: int) -> dict[str, Any]:
    """Cold: import the engine and run the program once; warm: `warm` more runs in this process."""
    before = time.perf_counter()
    from offline.engine import run_program

    imported = time.perf_counter()
    run = run_program(stack)
    first = time.perf_counter()
    warm_s = []
    for _ in range(warm):
        started = time.perf_counter()
        run_program(stack)
        warm_s.append(time.perf_counter() - started)
    return {
        "import_s": imported - before,
        "first_run_s": first - imported,
        "cold_s": first - before,
        "warm_s": warm_s,
        "resources": len(run.resources),
    }


def archives() -> dict[str, Any]:
    """Each function's deployment archive: the files `package_code` selects, deflated in memory."""
    import pulumi

    from components.function import FUNCTIONS_DIR, package_code

    sizes: dict[str, Any] = {}
    for package in sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "handler.py").is_file()):
        archive = package_code(package)
        buffer, raw = io.BytesIO(), 0
        with zipfile.ZipFile(buffer, "w") as zipped:
            for name, asset in sorted(archive.assets.items()):
                if not isinstance(asset, pulumi.FileAsset):
                    raise TypeError(f"{package}: {name} is not a file asset")
                data = open(str(asset.path), "rb").read()  # noqa: SIM115 (read once)
                raw += len(data)
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                zipped.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
        sizes[package] = {"files": len(archive.assets), "raw_bytes": raw, "zip_bytes": len(buffer.getvalue())}
    return sizes


def cost(stack: str) -> dict[str, Any]:
    from offline.cost import cost_to_json, load_prices, monthly_fixed_cost, render_cost
    from offline.engine import run_program

    estimate = monthly_fixed_cost(run_program(stack), load_prices())
    return {"estimate": cost_to_json(estimate), "lines": render_cost(estimate)}


def choices(stack: str) -> dict[str, Any]:
    """The stack and cheaper/dearer variants of its costly choices, each judged by the policy pack."""
    from offline.analyzer import PolicyAnalyzer
    from offline.cost import load_prices, monthly_fixed_cost
    from offline.engine import resolve_stack_config
    from offline.preview import preview

    config = resolve_stack_config(stack)
    project = next(key.split(":", 1)[0] for key in config if key.endswith(":azCount"))
    az_count = int(config[f"{project}:azCount"])
    endpoints: list[str] = json.loads(config[f"{project}:interfaceEndpoints"])
    variants: list[tuple[str, dict[str, Any]]] = [(f"{stack} as configured", {})]
    variants += [(f"azCount {n}", {"azCount": n}) for n in range(1, az_count + 2) if n != az_count]
    variants += [
        (f"without the {name} endpoint", {"interfaceEndpoints": [e for e in endpoints if e != name]})
        for name in endpoints
    ]
    prices = load_prices()
    results = []
    with PolicyAnalyzer() as analyzer:
        for label, overrides in variants:
            result = preview(stack, overrides=overrides, analyzer=analyzer)
            estimate = monthly_fixed_cost(result.run, prices)
            results.append(
                {
                    "label": label,
                    "overrides": overrides,
                    "monthly_usd": estimate.monthly_usd,
                    "mandatory": sorted({v.policy_name for v in result.report.mandatory_violations}),
                }
            )
    return {"stack": stack, "az_count": az_count, "endpoints": endpoints, "variants": results}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    tasks = parser.add_subparsers(dest="task", required=True)
    program_task = tasks.add_parser("program")
    program_task.add_argument("--stack", default="dev")
    program_task.add_argument("--warm", type=int, default=5)
    invoker_task = tasks.add_parser("invoker")
    invoker_task.add_argument("--chunks", default="1,10,100")
    invoker_task.add_argument("--rounds", type=int, default=31)
    first_task = tasks.add_parser("stream-first-byte")
    first_task.add_argument("--requests", type=int, default=31)
    chunk_task = tasks.add_parser("stream-per-chunk")
    chunk_task.add_argument("--chunks", default="100")
    chunk_task.add_argument("--rounds", type=int, default=31)
    group_task = tasks.add_parser("action-group")
    group_task.add_argument("--rounds", type=int, default=31)
    tasks.add_parser("archives")
    cost_task = tasks.add_parser("cost")
    cost_task.add_argument("--stack", default="dev")
    choices_task = tasks.add_parser("choices")
    choices_task.add_argument("--stack", default="dev")
    args = parser.parse_args()

    result: dict[str, Any]
    if args.task == "program":
        result = program(args.stack, args.warm)
    elif args.task == "invoker":
        from bench.handlers import invoker

        result = invoker([int(n) for n in args.chunks.split(",")], args.rounds)
    elif args.task == "stream-first-byte":
        from bench.streaming import first_byte

        result = first_byte(args.requests)
    elif args.task == "stream-per-chunk":
        from bench.streaming import per_chunk

        result = per_chunk([int(n) for n in args.chunks.split(",")], args.rounds)
    elif args.task == "action-group":
        from bench.handlers import action_group

        result = action_group(args.rounds)
    elif args.task == "archives":
        result = archives()
    elif args.task == "cost":
        result = cost(args.stack)
    else:
        result = choices(args.stack)
    # The last line of stdout is the result (anything a task prints comes before it).
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()
