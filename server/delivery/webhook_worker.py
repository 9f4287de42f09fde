"""Delivers one endpoint's events, in order per customer, resuming exactly from its stored position.

The worker reads the events after its position in batches. A batch's events
are split by customer into lanes; each lane sends its events one after the
other (the next only once the previous is delivered), and up to WEBHOOK_LANES_MAX lanes
run at once. A failed attempt is logged at once with the time of the next one,
then retried with exponential backoff and jitter; an event still not delivered
`retry_for_s` after its first attempt, or any answer 410 Gone, disables the
endpoint. Once every event of the batch is delivered, the successful attempts
are logged and the position moves past the batch in one transaction: a crash
before that sends the batch again (receivers deduplicate by `webhook-id`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.delivery.clock import Clock
from server.delivery.http_sender import Answer, Sender
from server.domain.cursors import cursor_of
from server.domain.events import Event
from server.domain.limits import WEBHOOK_LANES_MAX, WEBHOOK_READ_BATCH_MAX
from server.domain.webhooks import DeliveryAttempt, Signing, WebhookEndpoint, retry_delay_s
from server.ledger.events_feed import EventFeed
from server.observability.sink_metrics import SinkMetrics
from server.store import events
from server.store import webhooks as store
from server.store.secret_box import SecretBox

logger = logging.getLogger(__name__)

# With nothing of its types in the stream, the position is saved at most this often.
IDLE_SAVE_S = 5.0
# How often the endpoint's log drops the attempts at events that retention removed.
PRUNE_S = 600.0
DB_RETRY_S = 1.0


@dataclass(frozen=True)
class DispatchContext:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    feed: EventFeed
    box: SecretBox
    render: Callable[[Event], bytes]
    clock: Clock
    retry_first_s: float
    retry_for_s: float
    timeout_s: float
    allow_private: bool
    metrics: SinkMetrics | None
    rng: random.Random


class EndpointDisabled(Exception):
    pass


class EndpointWorker:
    def __init__(self, endpoint: WebhookEndpoint, context: DispatchContext) -> None:
        self.endpoint = endpoint
        self._ctx = context
        self._types = sorted(endpoint.event_types, key=lambda t: t.value)
        self._delivered: list[DeliveryAttempt] = []
        # When the oldest event this worker holds undelivered occurred (None: caught up).
        self.pending_since: datetime | None = None

    async def run(self) -> None:
        sender = Sender(self.endpoint.url, allow_private=self._ctx.allow_private, timeout_s=self._ctx.timeout_s)
        try:
            async with self._ctx.feed.watching():
                await self._follow(sender)
        except EndpointDisabled:
            pass
        finally:
            self.pending_since = None
            await sender.close()

    async def _follow(self, sender: Sender) -> None:
        feed = self._ctx.feed
        position = self.endpoint.last_delivered_position
        saved_at = pruned_at = self._ctx.clock.now()
        await self._prune()
        while not feed.stopping:
            await feed.wait_beyond(position)
            upto = feed.last_position
            # Behind from now at least (say, while the database does not answer), until a batch says since when.
            self.pending_since = self.pending_since or datetime.now(UTC)
            try:
                batch, end, history, signing = await self._read(position, upto)
            except Exception as error:
                logger.warning("webhook %s: reading events failed (%s)", self.endpoint.id, type(error).__name__)
                await asyncio.sleep(DB_RETRY_S)
                continue
            if batch:
                self.pending_since = min(self.pending_since, batch[0].occurred_at)
                await self._deliver(batch, history, signing, sender)
            elif self._ctx.clock.now() - saved_at < IDLE_SAVE_S:
                self.pending_since = None
                position = end  # nothing of its types: saved later, or with the next batch
                continue
            await self._save(end)
            self.pending_since = None
            position = end
            saved_at = self._ctx.clock.now()
            if saved_at - pruned_at >= PRUNE_S:
                pruned_at = saved_at
                await self._prune()

    async def _read(
        self, position: int, upto: int
    ) -> tuple[list[Event], int, dict[int, tuple[int, datetime]], Signing]:
        async with self._ctx.pool.connection() as conn:
            batch = await events.read_events(
                conn, after=position, upto=upto, customer_id="", types=self._types, limit=WEBHOOK_READ_BATCH_MAX
            )
            end = batch[-1].position if len(batch) == WEBHOOK_READ_BATCH_MAX else upto
            history = await store.attempts_so_far(conn, self.endpoint.id, position, end) if batch else {}
            sealed = await store.sealed_secrets(conn, self.endpoint.id)
        if sealed is None:
            raise EndpointDisabled  # deleted meanwhile
        current, previous, until = sealed
        still = previous is not None and until is not None and until.timestamp() > self._ctx.clock.now()
        signing = Signing(self._ctx.box.open(current), self._ctx.box.open(previous) if still and previous else None)
        return batch, end, history, signing

    async def _prune(self) -> None:
        try:
            async with self._ctx.pool.connection() as conn:
                await store.prune_deliveries(conn, self.endpoint.id)
        except Exception as error:  # the next pass tries again
            logger.warning("webhook %s: pruning its log failed (%s)", self.endpoint.id, type(error).__name__)

    async def _save(self, end: int) -> None:
        while True:
            try:
                async with self._ctx.pool.connection() as conn, conn.transaction():
                    await store.record_attempts(conn, self._delivered)
                    await store.advance_endpoint(conn, self.endpoint.id, end)
                self._delivered = []
                return
            except Exception as error:
                logger.warning("webhook %s: saving the position failed (%s)", self.endpoint.id, type(error).__name__)
                await asyncio.sleep(DB_RETRY_S)

    async def _deliver(
        self, batch: list[Event], history: dict[int, tuple[int, datetime]], signing: Signing, sender: Sender
    ) -> None:
        lanes: dict[str, list[Event]] = {}
        for event in batch:
            lanes.setdefault(event.customer_id, []).append(event)
        slots = asyncio.Semaphore(WEBHOOK_LANES_MAX)

        async def lane(events_of_customer: list[Event]) -> None:
            async with slots:
                for event in events_of_customer:
                    await self._deliver_one(event, history.get(event.position), signing, sender)

        tasks = [asyncio.create_task(lane(events_of_customer)) for events_of_customer in lanes.values()]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _deliver_one(
        self, event: Event, prior: tuple[int, datetime] | None, signing: Signing, sender: Sender
    ) -> None:
        clock, ctx = self._ctx.clock, self._ctx
        attempt, first = (prior[0], prior[1].timestamp()) if prior else (0, None)
        body = ctx.render(event)
        message_id = cursor_of(event.position)
        while True:
            attempt += 1
            now = clock.now()
            first = now if first is None else first
            answer = await sender.post(message_id, body, signing, now)
            attempted_at = datetime.fromtimestamp(now, UTC)
            if answer.delivered:
                self._delivered.append(self._attempt(event, attempt, answer, attempted_at, None))
                if ctx.metrics is not None:
                    ctx.metrics.deliveries.labels("webhook", "delivered").inc()
                    ctx.metrics.latency.labels("webhook").observe(max(0.0, clock.now() - event.occurred_at.timestamp()))
                return
            delay = retry_delay_s(attempt, ctx.retry_first_s, ctx.rng)
            gone = answer.http_status == 410
            if gone or now + delay - first > ctx.retry_for_s:
                reason = (
                    f"answered 410 Gone to {message_id}"
                    if gone
                    else f"{message_id} not delivered within {ctx.retry_for_s:g} s of its first attempt"
                    f" (last: {answer.error})"
                )
                await self._give_up(self._attempt(event, attempt, answer, attempted_at, None), reason, gone)
                raise EndpointDisabled(reason)
            next_at = datetime.fromtimestamp(now + delay, UTC)
            await self._log_failure(self._attempt(event, attempt, answer, attempted_at, next_at))
            await clock.wait(delay)

    def _attempt(
        self, event: Event, attempt: int, answer: Answer, attempted_at: datetime, next_at: datetime | None
    ) -> DeliveryAttempt:
        return DeliveryAttempt(
            self.endpoint.id,
            event.position,
            attempt,
            answer.http_status,
            answer.error,
            attempted_at,
            answer.duration_ms,
            next_at,
            answer.delivered,
        )

    async def _log_failure(self, attempt: DeliveryAttempt) -> None:
        if self._ctx.metrics is not None:
            self._ctx.metrics.deliveries.labels("webhook", "failed").inc()
        try:
            async with self._ctx.pool.connection() as conn:
                await store.record_attempts(conn, [attempt])
        except Exception as error:  # the log is for people; the retry goes on without it
            logger.warning("webhook %s: logging an attempt failed (%s)", self.endpoint.id, type(error).__name__)

    async def _give_up(self, attempt: DeliveryAttempt, reason: str, gone: bool) -> None:
        logger.warning("webhook %s disabled: %s", self.endpoint.id, reason)
        if self._ctx.metrics is not None:
            self._ctx.metrics.deliveries.labels("webhook", "gave_up").inc()
            self._ctx.metrics.endpoints_disabled.labels("gone" if gone else "retries_exhausted").inc()
        while True:
            try:
                async with self._ctx.pool.connection() as conn, conn.transaction():
                    await store.record_attempts(conn, [*self._delivered, attempt])
                    await store.disable_endpoint(conn, self.endpoint.id, reason)
                self._delivered = []
                return
            except Exception as error:
                logger.warning("webhook %s: disabling failed (%s)", self.endpoint.id, type(error).__name__)
                await asyncio.sleep(DB_RETRY_S)
