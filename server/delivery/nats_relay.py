"""Every event to NATS JetStream, exactly once in the stream, in order per customer, resumable after any crash.

The process that leads the relay (`server.delivery.leader`) reads the events
after the relay's position (`sink_positions`, sink `nats`) in batches of up to
NATS_RELAY_BATCH_MAX, publishes them in stream order on one connection (pipelined, each
awaiting its publish acknowledgement), and moves the position past the batch
only once every message of it was acknowledged. Each message carries
`Nats-Msg-Id` = the event's cursor: after a crash (or a lost acknowledgement)
the unacknowledged tail is published again, and the stream's duplicate window
drops what it already stored, so the stream holds every event exactly once.
The stream is created when missing, with subjects `wallet.events.>` and a
duplicate window of WALLET_NATS_DUPLICATE_WINDOW_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import nats
import psycopg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.delivery.leader import NATS_LOCK, lead_while_holding
from server.domain.cursors import cursor_of
from server.domain.events import Event
from server.domain.limits import NATS_RELAY_BATCH_MAX
from server.ledger.events_feed import EventFeed
from server.observability.sink_metrics import SinkMetrics
from server.store import events
from server.store import webhooks as store

logger = logging.getLogger(__name__)

SINK = "nats"
SUBJECT_PREFIX = "wallet.events"
ACK_TIMEOUT_S = 10.0
DUPLICATE_WINDOW_MIN_S = 120.0


def subject_of(event: Event) -> str:
    """`wallet.events.<type in lower case>`, e.g. wallet.events.balance_low."""
    return f"{SUBJECT_PREFIX}.{event.event_type.value}"


class NatsRelay:
    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        feed: EventFeed,
        settings: Settings,
        render: Callable[[Event], bytes],
        *,
        metrics: SinkMetrics | None = None,
    ) -> None:
        assert settings.nats_url
        self._pool = pool
        self._feed = feed
        self._servers = [s.strip() for s in settings.nats_url.split(",") if s.strip()]
        self._stream = settings.nats_stream
        self._window_s = settings.nats_duplicate_window_s
        self._render = render
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None
        self.pending_since: datetime | None = None

    def start(self) -> None:
        if self._task is not None:
            return
        if self._metrics is None:
            job = lead_while_holding(self._pool, NATS_LOCK, self._lead, name="nats relay")
        else:
            self._metrics.track_age(SINK, self.oldest_pending_age_s)
            leading = self._metrics.leader_changed(SINK)
            job = lead_while_holding(self._pool, NATS_LOCK, self._lead, name="nats relay", leading=leading)
        self._task = asyncio.create_task(job)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def oldest_pending_age_s(self) -> float:
        since = self.pending_since
        return 0.0 if since is None else max(0.0, (datetime.now(UTC) - since).total_seconds())

    async def _lead(self) -> None:
        nc = await nats.connect(
            servers=self._servers,
            name="wallet-relay",
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
        )
        try:
            js = nc.jetstream(timeout=ACK_TIMEOUT_S)
            await self._ensure_stream(js)
            async with self._feed.watching():
                await self._relay(js)
        finally:
            self.pending_since = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 5)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            info = await js.stream_info(self._stream)
        except NotFoundError:
            await js.add_stream(name=self._stream, subjects=[f"{SUBJECT_PREFIX}.>"], duplicate_window=self._window_s)
            logger.info("nats relay: created stream %s", self._stream)
            return
        window = info.config.duplicate_window or 0
        if window < DUPLICATE_WINDOW_MIN_S:
            logger.warning(
                "nats relay: stream %s has a duplicate window of %ss; under %ss a restart may store duplicates",
                self._stream,
                window,
                DUPLICATE_WINDOW_MIN_S,
            )

    async def _start_position(self) -> int:
        """The stored position; on the very first run, just before the oldest event retained (every event)."""
        async with self._pool.connection() as conn:
            stored = await store.sink_position(conn, SINK)
            if stored is not None:
                return stored
            last, oldest = await events.stream_bounds(conn)
            start = last if oldest is None else oldest - 1
            await store.set_sink_position(conn, SINK, start)
            return start

    async def _relay(self, js: JetStreamContext) -> None:
        position = await self._start_position()
        while not self._feed.stopping:
            await self._feed.wait_beyond(position)
            # Behind from now at least, until the batch read says since when.
            self.pending_since = self.pending_since or datetime.now(UTC)
            upto = self._feed.last_position
            async with self._pool.connection() as conn:
                batch = await events.read_events(
                    conn, after=position, upto=upto, customer_id="", types=[], limit=NATS_RELAY_BATCH_MAX
                )
            end = batch[-1].position if len(batch) == NATS_RELAY_BATCH_MAX else upto
            if batch:
                self.pending_since = min(self.pending_since, batch[0].occurred_at)
                await self._publish(js, batch)
            async with self._pool.connection() as conn:
                await store.set_sink_position(conn, SINK, end)
            self.pending_since = None
            position = end

    async def _publish(self, js: JetStreamContext, batch: list[Event]) -> None:
        """Publishes the batch in order and returns once JetStream acknowledged every message (raises otherwise)."""
        acks = []
        for event in batch:
            headers = {"Nats-Msg-Id": cursor_of(event.position), "Wallet-Customer-Id": event.customer_id}
            acks.append(
                await js.publish_async(subject_of(event), self._render(event), headers=headers, stream=self._stream)
            )
        try:
            await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_S)
        except BaseException:
            for ack in acks:
                ack.cancel()
            if self._metrics is not None:
                self._metrics.deliveries.labels(SINK, "failed").inc(len(batch))
            raise
        if self._metrics is not None:
            now = datetime.now(UTC)
            self._metrics.deliveries.labels(SINK, "delivered").inc(len(batch))
            for event in batch:
                self._metrics.latency.labels(SINK).observe(max(0.0, (now - event.occurred_at).total_seconds()))
