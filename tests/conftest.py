"""Suite-wide test setup: the collector's threshold, the Hypothesis profile, a summary of the cases
each property ran, and the program-run cache's monkeypatch rule.

The Pulumi SDK allocates a few hundred thousand short-lived objects per program run (outputs, tasks,
futures); at CPython's default threshold (700 allocations) the collector ran ~5300 times over
tests/program/test_agent.py and tests/offline/test_plan.py and took 11 of their 28 CPU seconds. At
50,000 it runs ~600 times for 3.5 s; memory stays a few hundred MB per worker, and cycles are still
collected.

Every Hypothesis test is marked ``property`` (``make fuzz`` selects them with ``-m property``). Its
inner test is wrapped to count the examples it really ran; the count travels in the report's
``user_properties`` (so it survives pytest-xdist) and the terminal summary prints one line per
property and the total when ``--fuzz-summary`` is given.

While a test that uses ``monkeypatch`` runs (setup, call, teardown), tests/programs.py runs the
program anew on every request instead of handing out cached runs.

``analyzer`` is one policy-pack process per test process, for every test that judges with the pack's
default config (the policy tests, the previews, the reports); a test that configures it puts the
default back (``analyzer.configure()``) before it ends.

``-n auto`` starts one worker more than there are CPUs (``PYTEST_XDIST_AUTO_NUM_WORKERS`` still
sets the number): a sixth of the suite's time is tests waiting on real clocks, browsers, subprocesses
and the pack's gRPC service, which a third worker fills on two CPUs (measured on 2 CPUs: 2 workers
83 s, 3 workers 71-75 s, 4 workers 83 s; docs/benchmarks.md).

At exit a test process freezes its heap (``gc.freeze``) before the interpreter tears it down: a
worker holds a hundred program runs and their copies, and the final collections over them took 1.4 s
of every run's wall time after the last test, for memory the process gives back anyway.
"""

from __future__ import annotations

import atexit
import gc
import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from offline.analyzer import PolicyAnalyzer
from tests import programs
from tests.fuzzing import load_profile

PROFILE = load_profile()
YOUNG_GENERATION_THRESHOLD = 50_000
_COUNT = "hypothesis_examples"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-summary", action="store_true", help="print the examples each Hypothesis test ran"
    )


@pytest.fixture(scope="session")
def analyzer() -> Iterator[PolicyAnalyzer]:
    with PolicyAnalyzer() as running:
        yield running


@pytest.hookimpl(optionalhook=True, wrapper=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> Generator[None, int, int]:
    cpus = yield  # xdist's count: PYTEST_XDIST_AUTO_NUM_WORKERS when set, else the usable CPUs
    return cpus if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") else cpus + 1


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    atexit.register(gc.freeze)  # runs after every exit handler registered later (last in, first out)
    config.addinivalue_line("markers", "property: a Hypothesis property-based test (make fuzz runs these)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, object]:
    programs.fresh_runs_only("monkeypatch" in getattr(item, "fixturenames", ()))
    try:
        return (yield)
    finally:
        programs.fresh_runs_only(False)


# node id -> (examples run, outcome), filled on the controller from every worker's reports.
_RESULTS: dict[str, tuple[int, str]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _hypothesis_of(item) is not None:
            item.add_marker(pytest.mark.property)


def _hypothesis_of(item: pytest.Item) -> Any:
    test = getattr(item, "obj", None)
    return getattr(test, "hypothesis", None) if getattr(test, "is_hypothesis_test", False) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    handle = _hypothesis_of(item)
    if handle is None:
        return (yield)
    inner: Callable[..., Any] = handle.inner_test
    count = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return inner(*args, **kwargs)

    handle.inner_test = counted  # Hypothesis' documented hook for wrapping the inner test
    try:
        return (yield)
    finally:
        handle.inner_test = inner
        item.user_properties.append((_COUNT, count[0]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _COUNT and isinstance(value, int):
            _RESULTS[report.nodeid] = (value, report.outcome)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = _RESULTS
    if not config.getoption("--fuzz-summary") or not results:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"property-based cases (Hypothesis profile {PROFILE!r})")
    width = max(len(nodeid) for nodeid in results)
    for nodeid, (count, outcome) in sorted(results.items()):
        write(f"{nodeid:<{width}}  {count:>8}  {outcome}")
    total = sum(count for count, _ in results.values())
    failed = sum(1 for _, outcome in results.values() if outcome != "passed")
    write(f"{'total: ' + str(len(results)) + ' properties':<{width}}  {total:>8}  {failed} failed")
