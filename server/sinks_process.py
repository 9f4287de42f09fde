"""`python -m server sinks`: a process that only delivers events (webhooks, the NATS relay), serving no API.

Delivery then has a CPU (and event loop) of its own instead of sharing the
API server's: run it beside servers started with WALLET_SINKS=off. Any number
may run; one leads each sink at a time (server/delivery/leader.py). It serves
its metrics on WALLET_METRICS_ADDR and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace

from server.config import Settings
from server.delivery.sinks import Sinks
from server.ledger.events_feed import EventFeed
from server.observability.telemetry import Telemetry
from server.store.db import create_pool

logger = logging.getLogger("wallet.sinks")


async def run_sinks(settings: Settings, database_url: str) -> None:
    telemetry = Telemetry.from_settings(settings)
    pool = create_pool(settings, database_url)
    await pool.open(wait=False)
    feed = EventFeed(pool)
    sinks = Sinks(pool, feed, replace(settings, sinks_enabled=True), telemetry.sink_metrics)
    telemetry.start()
    feed.start()
    sinks.start()
    logger.info("delivering events (webhooks%s)", ", NATS relay" if settings.nats_url else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await sinks.stop()
    await feed.stop()
    await pool.close()
    await asyncio.to_thread(telemetry.stop)
    logger.info("stopped")
