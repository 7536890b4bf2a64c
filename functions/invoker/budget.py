"""Time budget and retry policy: one deadline per request, full-jitter exponential backoff.

All time comes from an injected monotonic ``clock`` (seconds) so tests never sleep for real.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Time kept back from both deadlines for serialising the response, logging and API Gateway's own
# round trip: answering at 28 s of a 29 s integration timeout still reaches the client as our JSON.
SAFETY_MARGIN_MS: Final = 1_000


@dataclass(frozen=True)
class Deadline:
    clock: Callable[[], float]
    at: float  # in ``clock`` seconds

    def remaining(self) -> float:
        return self.at - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


def request_deadline(
    clock: Callable[[], float],
    started: float,
    lambda_remaining_ms: int | None,
    api_deadline_ms: int,
    margin_ms: int = SAFETY_MARGIN_MS,
) -> Deadline:
    """The earlier of the API Gateway deadline and the Lambda deadline, minus the safety margin.

    ``started`` is the ``clock`` reading at the start of the invocation; the Lambda's remaining time
    is read once, at that moment, so both deadlines are measured from the same instant.
    """
    budget_ms = api_deadline_ms
    if lambda_remaining_ms is not None:
        budget_ms = min(budget_ms, lambda_remaining_ms)
    return Deadline(clock=clock, at=started + (budget_ms - margin_ms) / 1000)


@dataclass(frozen=True)
class RetryPolicy:
    """Throttling retries: at most ``max_attempts`` calls, sleeping ``U(0, min(cap, base*2**n))``.

    An attempt only starts with at least ``min_attempt_s`` of budget left: a call that cannot finish
    before the deadline only burns agent quota.
    """

    max_attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    min_attempt_s: float = 1.0

    def ceiling(self, retry: int) -> float:
        """Upper bound of the sleep before retry number ``retry`` (1-based)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))

    def delay(self, retry: int, rand: Callable[[], float]) -> float:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
        return rand() * self.ceiling(retry)

    def retry_after_s(self, retry: int) -> int:
        """``Retry-After`` for the client once we give up: the next ceiling, whole seconds, >= 1."""
        return max(1, math.ceil(self.ceiling(retry)))
