"""Resource graphs as JSON files: recorded program states for plan fixtures and the real engine's plan.

`python -m offline.snapshots record --stack dev [--set key=value ...] OUT.json` records the working
tree's program state (assets fingerprinted), so a test can keep a design's graph after the program
has moved on (tests/offline/fixtures/).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from offline.engine import run_program
from offline.model import ProviderSnapshot, ResourceSnapshot
from offline.plan import fingerprint_assets

_TUPLES = {"dependencies", "aliases", "replace_on_changes", "ignore_changes"}


def dump(resources: Iterable[ResourceSnapshot]) -> list[dict[str, Any]]:
    return [asdict(resource) for resource in resources]


def load(items: Sequence[dict[str, Any]]) -> list[ResourceSnapshot]:
    known = {f.name for f in fields(ResourceSnapshot)}
    resources = []
    for item in items:
        values = {key: value for key, value in item.items() if key in known}
        for key in _TUPLES & set(values):
            values[key] = tuple(values[key])
        values["property_dependencies"] = {
            k: tuple(v) for k, v in values.get("property_dependencies", {}).items()
        }
        if values.get("provider"):
            values["provider"] = ProviderSnapshot(**values["provider"])
        resources.append(ResourceSnapshot(**values))
    return resources


def read(path: Path) -> list[ResourceSnapshot]:
    return load(json.loads(path.read_text(encoding="utf-8")))


def write(path: Path, resources: Iterable[ResourceSnapshot]) -> None:
    """One resource a line: small files whose diffs still read resource by resource."""
    lines = [json.dumps(item, sort_keys=True, default=str, separators=(",", ":")) for item in dump(resources)]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.snapshots")
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="record the working tree's program state")
    record.add_argument("--stack", default="dev")
    record.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a config override")
    record.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    write(args.out, fingerprint_assets(run_program(args.stack, overrides).resources))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
