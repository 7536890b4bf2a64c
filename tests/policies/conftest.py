"""Each test judges small graphs through the session's policy-pack process (`analyzer`, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from offline.analyzer import PolicyAnalyzer
from offline.model import PolicyReport
from tests.policies.baseline import Baseline, build
from tests.policies.builder import Graph


@dataclass(frozen=True)
class Outcome:
    report: PolicyReport

    def __post_init__(self) -> None:
        crashed = [v for v in self.report.violations if "internal error in rule" in v.message]
        assert not crashed, f"a rule crashed: {crashed}"
        # One fault, one violation: a rule reports each resource at most once (its findings as lines).
        keys = [(v.policy_name, v.urn) for v in self.report.violations]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"several violations of one rule on one resource: {repeated}"

    def fired(self, rule: str) -> set[str]:
        """URNs the rule reported (a stack-level finding without a resource has URN '')."""
        return {v.urn for v in self.report.violations if v.policy_name == rule}

    def messages(self, rule: str, urn: str | None = None) -> list[str]:
        """The rule's findings (one per line of each violation), on `urn` or anywhere."""
        return [
            line
            for v in self.report.violations
            if v.policy_name == rule and urn in (None, v.urn)
            for line in v.message.splitlines()
        ]

    @property
    def rules(self) -> set[str]:
        return {v.policy_name for v in self.report.violations}


Judge = Callable[..., Outcome]


@pytest.fixture
def judge(analyzer: PolicyAnalyzer) -> Judge:
    """`judge(graph)` -> Outcome; `judge(graph, preview=True)` sends every reference as unknown."""

    def run(graph: Graph, *, preview: bool = False) -> Outcome:
        return Outcome(analyzer.analyze(graph.snapshots(preview=preview)))

    return run


@pytest.fixture
def base() -> Baseline:
    return build()
