"""The background expirer: posts what fell due for wallets nobody reads or writes.

Reads and writes already settle their own customer before answering, so the
expirer is not what makes expiry exact; it makes the stored ledger (and
reports, and events) catch up for idle wallets. It wakes every `interval_s`,
asks the database who has something due (at most `batch_max` customers) and
settles them through the ordinary write path; it also removes the events and
the stored refusals older than their retention periods. `interval_s` 0 switches it off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from server.domain.errors import WalletError

logger = logging.getLogger(__name__)


class Expirer:
    """Runs the three calls it is given: who has something due, settle them, prune what is past its retention."""

    def __init__(
        self,
        due_customers: Callable[[int], Awaitable[list[str]]],
        settle: Callable[[Sequence[str]], Awaitable[None]],
        prune: Callable[[int], Awaitable[int]],
        *,
        interval_s: float,
        batch_max: int,
    ) -> None:
        self._due_customers = due_customers
        self._settle = settle
        self._prune = prune
        self._interval_s = interval_s
        self._batch_max = batch_max
        self._task: asyncio.Task[None] | None = None
        # Checked by the loop too, so a swallowed cancellation cannot keep it alive (see server.app).
        self._stopping = False

    def start(self) -> None:
        if self._interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Settles up to `batch_max` customers with something due, prunes old events and refusals; returns how many."""
        customers = await self._due_customers(self._batch_max)
        if customers:
            await self._settle(customers)
        await self._prune(10 * self._batch_max)
        return len(customers)

    async def _run(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._interval_s)
            try:
                # A full batch means more may be waiting: go again without sleeping.
                while await self.run_once() == self._batch_max:
                    pass
            except WalletError as error:
                logger.warning("expirer: %s", error.reason)
            except Exception:
                logger.exception("expirer failed; retrying at the next interval")
