"""How tests wait: for a condition (`eventually`), never for time to pass (`move_past` moves the clock).

`eventually(predicate, timeout_s)` checks the predicate, and while it does not
hold waits a short poll interval (or less, when `wake` is set by whoever
changes what the predicate looks at) and checks again, failing with `what` once
`timeout_s` is spent. The timeout is a safety bound, never the expected wait.
With `backoff_to_s` the interval doubles up to that: a caller retrying a
refusal the contract says to retry backs off like this.
`eventually_blocking` is the same for code outside an event loop (threads,
server processes). Time-dependent behaviour (TTLs, expiry, retention) is made
to happen by moving the service's clock past the instant (`move_past`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from server.ledger.clock import Clock

POLL_S = 0.02


async def eventually(
    predicate: Callable[[], object],
    timeout_s: float,
    what: str = "the condition",
    *,
    poll_s: float = POLL_S,
    backoff_to_s: float | None = None,
    wake: asyncio.Event | None = None,
) -> None:
    """Returns once `predicate()` (a plain or an async function) returns something true; fails after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    changed = wake or asyncio.Event()
    while True:
        held = predicate()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        left = deadline - loop.time()
        assert left > 0, f"timed out after {timeout_s} s waiting for {what}"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), min(poll_s, left))
        changed.clear()
        poll_s = min(2 * poll_s, backoff_to_s) if backoff_to_s else poll_s


def eventually_blocking(
    predicate: Callable[[], bool],
    timeout_s: float,
    what: str = "the condition",
    *,
    poll_s: float = POLL_S,
    backoff_to_s: float | None = None,
) -> None:
    """`eventually` for a thread without an event loop: blocks until `predicate()` holds."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not predicate():
        left = deadline - time.monotonic()
        assert left > 0, f"timed out after {timeout_s} s waiting for {what}"
        pause.wait(min(poll_s, left))
        poll_s = min(2 * poll_s, backoff_to_s) if backoff_to_s else poll_s


def move_past(clock: Clock, moment: datetime) -> None:
    """Moves the service's clock just past `moment` (if it is not already past it)."""
    clock.advance(max(moment - clock.now(), timedelta(0)) + timedelta(milliseconds=1))
