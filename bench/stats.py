"""Summaries of repeated measurements: the median and a spread (min-max or IQR), never a single run."""

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
    """Median and min-max."""
    if not values:
        raise ValueError("no measurements to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def summarize_iqr(values: Sequence[float]) -> Summary:
    """Median and interquartile range: for many samples of which a few were disturbed."""
    if len(values) < 2:
        return summarize(values)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Summary(statistics.median(values), q1, q3, len(values))
