"""Webhooks for every active endpoint, from the process that leads them: one worker per endpoint.

The leading process (`server.delivery.leader`, an advisory lock) looks at the
endpoints every second, or at once when this process changed one, starts a
worker for each new active endpoint and stops the workers of endpoints
deleted or disabled. Workers share nothing but the event feed: one slow or
dead endpoint delays no other, and no write ever waits for a webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.delivery.clock import Clock, SystemClock
from server.delivery.leader import WEBHOOK_LOCK, lead_while_holding
from server.delivery.webhook_worker import DispatchContext, EndpointWorker
from server.domain.events import Event
from server.domain.limits import WEBHOOK_ENDPOINTS_PAGE
from server.ledger.events_feed import EventFeed
from server.observability.sink_metrics import SinkMetrics
from server.store import webhooks as store
from server.store.secret_box import SecretBox

logger = logging.getLogger(__name__)

REFRESH_S = 1.0


class WebhookDispatcher:
    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        feed: EventFeed,
        box: SecretBox,
        settings: Settings,
        render: Callable[[Event], bytes],
        *,
        metrics: SinkMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._pool = pool
        self._context = DispatchContext(
            pool=pool,
            feed=feed,
            box=box,
            render=render,
            clock=clock or SystemClock(),
            retry_first_s=settings.webhook_retry_first_s,
            retry_for_s=settings.webhook_retry_for_s,
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.webhook_allow_private_urls,
            metrics=metrics,
            rng=random.Random(secrets.randbits(64)),
        )
        self._changed = asyncio.Event()
        self._workers: dict[str, tuple[EndpointWorker, asyncio.Task[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._metrics = metrics
        self._leading: Callable[[bool], None] = lambda _: None

    def start(self) -> None:
        if self._metrics is not None:
            self._metrics.track_age("webhook", self.oldest_pending_age_s)
            self._leading = self._metrics.leader_changed("webhook")
        if self._task is None:
            self._task = asyncio.create_task(
                lead_while_holding(
                    self._pool, WEBHOOK_LOCK, self._lead, name="webhook dispatcher", leading=self._leading
                )
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def endpoints_changed(self) -> None:
        self._changed.set()

    def oldest_pending_age_s(self) -> float:
        pending = [w.pending_since for w, _ in self._workers.values() if w.pending_since is not None]
        if not pending:
            return 0.0
        return max(0.0, (datetime.now(UTC) - min(pending)).total_seconds())

    async def _lead(self) -> None:
        try:
            while True:
                self._changed.clear()
                try:
                    await self._refresh()
                except Exception as error:
                    logger.warning("webhook dispatcher: reading endpoints failed (%s)", type(error).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), REFRESH_S)
        finally:
            workers = [task for _, task in self._workers.values()]
            self._workers.clear()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _refresh(self) -> None:
        active = {}
        after = ""
        async with self._pool.connection() as conn:
            while True:
                page = await store.list_endpoints(conn, after, WEBHOOK_ENDPOINTS_PAGE, active_only=True)
                active.update({e.id: e for e in page})
                if len(page) < WEBHOOK_ENDPOINTS_PAGE:
                    break
                after = page[-1].id
        for endpoint_id in list(self._workers):
            worker, task = self._workers[endpoint_id]
            if endpoint_id not in active or task.done():
                if not task.done():
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                elif not task.cancelled() and task.exception() is not None:
                    logger.error("webhook %s: worker failed", endpoint_id, exc_info=task.exception())
                del self._workers[endpoint_id]
        for endpoint_id, endpoint in active.items():
            if endpoint_id not in self._workers:
                worker = EndpointWorker(endpoint, self._context)
                self._workers[endpoint_id] = (worker, asyncio.create_task(worker.run()))
