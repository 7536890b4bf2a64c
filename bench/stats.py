"""Summaries of repeated measurements: the median and the spread (min-max), never a single run."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int

    @property
    def spread(self) -> float:
        return self.high - self.low


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no measurements to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))
