"""A clock the test moves: webhook retries scheduled by it happen when the test advances it, not after real waits."""

from __future__ import annotations

import asyncio
import time


class ManualClock:
    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait(self, seconds: float) -> None:
        until = self._now + seconds
        while self._now < until:
            await self._moved.wait()
