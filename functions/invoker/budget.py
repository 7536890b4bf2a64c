"""Time budget and retries: one deadline per request, full-jitter exponential backoff of throttling.

All time comes from an injected monotonic ``clock`` (seconds) so tests never sleep for real.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from functions.invoker.errors import ApiError
from functions.invoker.events import Event, StreamStats

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


@dataclass(frozen=True)
class Retrying:
    """How a backend retries throttling: the policy, and injectable time and randomness."""

    policy: RetryPolicy
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    on_retry: Callable[[int, float, str], None] = lambda retry, delay, upstream: None


class RetryableThrottleError(Exception):
    """A throttling error that may still be retried (the attempt produced no answer yet)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.upstream = upstream


def deadline_exceeded() -> ApiError:
    return ApiError(504, "DEADLINE_EXCEEDED", "the agent did not answer within the time budget")


def with_retries(
    attempt: Callable[[], Iterator[Event]],
    deadline: Deadline,
    retrying: Retrying,
    stats: StreamStats,
    throttled_error: Callable[[str, int], ApiError],
) -> Iterator[Event]:
    """Run ``attempt`` until it finishes, retrying ``RetryableThrottleError`` with full jitter.

    An attempt only starts with ``policy.min_attempt_s`` of budget left; once retries or the budget
    run out, ``throttled_error(upstream, retry_after_s)`` is raised.
    """
    policy = retrying.policy
    retry = 0
    while True:
        if deadline.remaining() < policy.min_attempt_s:
            raise deadline_exceeded()
        stats.attempts += 1
        try:
            yield from attempt()
            return
        except RetryableThrottleError as throttled:
            stats.throttled += 1
            retry += 1
            delay = policy.delay(retry, retrying.rand)
            if stats.attempts >= policy.max_attempts or deadline.remaining() - delay < policy.min_attempt_s:
                raise throttled_error(throttled.upstream, policy.retry_after_s(retry)) from throttled
            retrying.on_retry(retry, delay, throttled.upstream)
            retrying.sleep(delay)
