"""The reference stack passes every rule, also during preview when references are unknown."""

from __future__ import annotations

from tests.policies.baseline import Baseline
from tests.policies.conftest import Judge


def test_compliant_stack_has_no_violations(judge: Judge, base: Baseline) -> None:
    outcome = judge(base.graph)
    assert outcome.report.violations == ()


def test_preview_with_unknown_references_has_no_violations(judge: Judge, base: Baseline) -> None:
    outcome = judge(base.graph, preview=True)
    assert outcome.report.violations == ()
