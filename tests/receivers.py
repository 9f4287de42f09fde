"""Real HTTP receivers of webhooks for the tests: aiohttp servers on free loopback ports.

Each keeps every request it was sent (headers and body) and answers as its
`answer` says: at once with 200, after a delay, with 500 for the first n
requests, with 410, or never (it holds the request open until the sender
gives up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    url: str = ""
    delay_s: float = 0.0
    fail_first: int = 0
    status: int = 200
    never_answer: bool = False
    received: list[Received] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body))
        self._arrived.set()
        if self.never_answer:
            await asyncio.Event().wait()
        if self.delay_s:
            # Slow on purpose: answers after `delay_s` (an Event nobody sets, awaited with that timeout).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.Event().wait(), self.delay_s)
        if len(self.received) <= self.fail_first:
            return web.Response(status=500, text="not yet")
        return web.Response(status=self.status)

    def verified(self, *secrets: str) -> list[Received]:
        """Every request whose signature verifies with each of `secrets` (raises on the first that does not)."""
        for secret in secrets:
            hook = Webhook(secret)
            for item in self.received:
                hook.verify(item.body, item.headers)
        return self.received

    def unique_events(self) -> list[dict[str, Any]]:
        """The events received, each once (deduplicated by webhook-id, keeping the first), in arrival order."""
        seen: set[str] = set()
        unique = []
        for item in self.received:
            if item.headers["webhook-id"] not in seen:
                seen.add(item.headers["webhook-id"])
                unique.append(item.event)
        return unique

    async def wait_for(self, predicate: Any, timeout_s: float = 60.0) -> None:
        """Waits until `predicate(self)` holds (the timeout is a safety bound only)."""

        async def until() -> None:
            while not predicate(self):
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.1)

        await asyncio.wait_for(until(), timeout_s)


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    """Serves `receiver` on a free port of 127.0.0.1 for the duration of the block."""
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
