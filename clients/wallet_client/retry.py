"""When to send a call again, and how long to wait first; shared by the blocking and asyncio clients.

A retry re-sends the very same request message, so a write keeps its
idempotency key and the server applies it at most once. Reads retry only
UNAVAILABLE (the server said it did not serve the call). Writes also retry
DEADLINE_EXCEEDED, ABORTED and CANCELLED (a server shutting down): the outcome
is unknown or the call never ran, and only the key
makes a second attempt safe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from wallet_client.rpc_errors import from_rpc_error

READ_RETRY_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})
# CANCELLED here is the server's doing (a call caught by its shutdown before any
# handler ran); a caller's own cancellation raises CancelledError or stops the call.
WRITE_RETRY_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total time.

    The n-th retry waits a random time in [0, min(max_backoff_s,
    initial_backoff_s * multiplier**(n-1))]; random so that many clients cut
    off by the same outage do not come back at the same instant.
    """

    max_attempts: int = 5
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 3.0
    multiplier: float = 2.0
    # No new attempt starts after this long since the first one began.
    total_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff_s < 0 or self.max_backoff_s < 0 or self.multiplier < 1:
            raise ValueError("backoff must be non-negative and multiplier at least 1")

    def backoff_s(self, retry_number: int, rng: random.Random | None = None) -> float:
        """The wait before retry number `retry_number` (1 for the first retry)."""
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (retry_number - 1))
        return (rng or random).uniform(0, ceiling)


NO_RETRY = RetryPolicy(max_attempts=1)


class RetryBudget:
    """The attempts of one logical call: counts them, and says whether and when to try again."""

    def __init__(
        self,
        policy: RetryPolicy,
        retry_codes: frozenset[grpc.StatusCode],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.retry_codes = retry_codes
        self._clock = clock
        self._started = clock()
        self.attempts = 0

    def start_attempt(self) -> None:
        self.attempts += 1

    def attempt_timeout(self, call_timeout_s: float | None) -> float:
        """Starts a unary attempt; returns its deadline: the per-call one, cut to the time budget left."""
        self.start_attempt()
        left = self.policy.total_timeout_s - (self._clock() - self._started)
        if call_timeout_s is None:
            return max(left, 0.001)
        return max(min(call_timeout_s, left), 0.001)

    def delay_before_retry(self, code: grpc.StatusCode | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the error must be raised."""
        if code not in self.retry_codes or self.attempts >= self.policy.max_attempts:
            return None
        delay = self.policy.backoff_s(self.attempts)
        if self._clock() - self._started + delay >= self.policy.total_timeout_s:
            return None
        return delay

    def delay_or_raise(self, error: grpc.RpcError, idempotency_key: str | None = None) -> float:
        """Seconds to wait before sending the call that failed with `error` again.

        Raises the WalletError of `error` instead when the call must not be sent again.
        """
        delay = self.delay_before_retry(error.code())
        if delay is None:
            raise from_rpc_error(error, idempotency_key=idempotency_key, attempts=self.attempts) from error
        return delay

    def progressed(self) -> None:
        """A stream delivered data: its next failure starts a fresh run of attempts."""
        self.attempts = 0
        self._started = self._clock()
