"""The benchmark table: one row per measurement, its median, spread, runs, target and verdict.

Rendered as a Markdown table (padded so it also reads in a terminal) so that a run can be pasted into
docs/benchmarks.md as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.stats import Summary

PASS, MISS, INFO, SKIP = "PASS", "MISS", "—", "SKIP"
EN_DASH, TIMES = "\u2013", "\u00d7"  # spelled out for the linter
COLUMNS = ("measurement", "median", "spread", "n", "target", "result", "notes")


@dataclass(frozen=True)
class Row:
    measurement: str
    median: str
    spread: str = ""
    n: str = ""
    target: str = ""
    result: str = INFO
    notes: str = ""

    def cells(self) -> tuple[str, ...]:
        return (self.measurement, self.median, self.spread, self.n, self.target, self.result, self.notes)


def row(
    measurement: str,
    summary: Summary,
    fmt: Callable[[float], str],
    *,
    limit: float | None = None,
    target: str = "",
    notes: str = "",
) -> Row:
    """A row for a repeated measurement; PASS when the median is at most `limit`."""
    result = INFO if limit is None else verdict(summary.median, limit)
    spread = f"{fmt(summary.low)}{EN_DASH}{fmt(summary.high)}" if summary.n > 1 else ""
    return Row(measurement, fmt(summary.median), spread, str(summary.n), target, result, notes)


def verdict(value: float, limit: float) -> str:
    return PASS if value <= limit else MISS


def render_table(rows: Sequence[Row]) -> list[str]:
    table = [COLUMNS, *(r.cells() for r in rows)]
    widths = [max(len(_escape(line[i])) for line in table) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(_escape(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return [line(COLUMNS), separator, *(line(r.cells()) for r in rows)]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_bytes(size: float) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size:.0f} B"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.2f}{TIMES}"
