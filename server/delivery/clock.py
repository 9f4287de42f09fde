"""The dispatcher's clock: the time attempts are stamped with and retries are scheduled by, and its wait.

Injectable, so tests can run the retry schedule on a clock they move.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def wait(self, seconds: float) -> None:
        """Returns once `seconds` have passed on this clock."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
