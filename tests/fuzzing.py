"""Hypothesis profiles for the property-based tests, and the case counts ``make fuzz`` reports.

- ``ci`` (the default): few examples per property and a fixed seed (``derandomize``), so ``make test``
  stays within its minute and gives the same answer on every run; no example database is written.
- ``fuzz`` (``make fuzz``, ``HYPOTHESIS_PROFILE=fuzz``): ``FUZZ_EXAMPLES`` examples per property
  (default 3000), random seeds, Hypothesis' example database so a failure replays on the next run.

Properties state their size relative to the profile with ``examples(fraction)``: expensive ones run
a fraction of the profile's count, never fewer than one.
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

CI_EXAMPLES: Final = 60
DEFAULT_FUZZ_EXAMPLES: Final = 3_000
PROFILE_ENV: Final = "HYPOTHESIS_PROFILE"

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_FUZZ_EXAMPLES)),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def load_profile() -> str:
    name = os.environ.get(PROFILE_ENV, "ci")
    settings.load_profile(name)
    return name


def examples(fraction: float) -> settings:
    """Settings running ``fraction`` of the loaded profile's examples (at least 1)."""
    loaded = settings.default
    assert loaded is not None  # a profile is always loaded (Hypothesis' own "default" at worst)
    return settings(max_examples=max(1, round(loaded.max_examples * fraction)))
