"""The server's event sinks, built from its settings: the webhook dispatcher and its admin, the NATS relay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from server.config import Settings
from server.delivery.clock import Clock
from server.delivery.render import event_renderer
from server.delivery.webhook_dispatcher import WebhookDispatcher
from server.ledger.events_feed import EventFeed
from server.ledger.webhooks import WebhookAdmin
from server.observability.sink_metrics import SinkMetrics
from server.store.secret_box import secret_box

if TYPE_CHECKING:
    from server.delivery.nats_relay import NatsRelay


class Sinks:
    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        feed: EventFeed,
        settings: Settings,
        metrics: SinkMetrics | None,
        *,
        clock: Clock | None = None,
    ) -> None:
        box = secret_box(settings.webhook_secret_key, settings.data_dir)
        render = event_renderer(settings.currencies)
        self.dispatcher = WebhookDispatcher(pool, feed, box, settings, render, metrics=metrics, clock=clock)
        self.webhooks = WebhookAdmin(
            pool, box, allow_private=settings.webhook_allow_private_urls, on_change=self.dispatcher.endpoints_changed
        )
        self.relay: NatsRelay | None = None
        if settings.nats_url:
            # Imported only when configured: the NATS client and its aiohttp cost every server start a fifth
            # of a second otherwise.
            from server.delivery.nats_relay import NatsRelay

            self.relay = NatsRelay(pool, feed, settings, render, metrics=metrics)

        # WALLET_SINKS=off: this process serves the API (endpoints included) but delivers nothing;
        # a `python -m server sinks` process does (docs/webhooks.md).
        self._deliver = settings.sinks_enabled

    def start(self) -> None:
        if not self._deliver:
            return
        self.dispatcher.start()
        if self.relay is not None:
            self.relay.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
        await self.dispatcher.stop()
