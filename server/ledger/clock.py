"""The service's one clock: what "now" is for every batch, expiry, TTL and retention.

The time itself is the database's (`clock_timestamp()` when a batch has its
locks, `now()` for the expirer's and the pruner's scans), so that server
processes on several hosts agree (both spelled once in SQL,
`server.store.service_time`); checks at the edge (how far ahead an
`expire_time` may be, whether `as_of` is in the future) read this host's
clock. `Clock` adds one offset to both. It is zero in production; tests move
it forward (`advance`) to make holds, credits and events come due without
waiting for real time to pass. It never moves back, and `created_at` would
not decrease along a customer's history even if it did: each entry is
stamped no earlier than the one before it (`server.domain.book`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Real time plus an offset that only moves forward."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        """How far ahead of real time the service's time runs; the store adds it to the database's clock."""
        return self._offset

    def now(self) -> datetime:
        """The service's time on this host."""
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        """Moves the service's time forward by `by` at once (tests only)."""
        if by < timedelta(0):
            raise ValueError("the clock never moves back")
        self._offset += by
