"""The wallet's own Prometheus metrics: what the ledger applied, and how its write path and pool are doing.

Every label takes a value from a small fixed set (a configured currency, an
entry type, a hold outcome, a pool state); none takes a customer id, an
idempotency key or anything else a caller chooses freely.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from server.domain.decide import BatchDecision, Request
from server.domain.events import Event
from server.domain.holds import CaptureRequest, HoldOutcome, HoldRequest, HoldStatus, ReleaseRequest
from server.domain.model import Applied

# Requests per write transaction: one under light load, up to WALLET_WRITE_BATCH_MAX (200) under heavy load.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Waiting for a batch and running one: both sit well under a millisecond when idle, seconds when stuck.
# From a change to its event leaving for a watcher: tens of milliseconds normally, seconds for a watcher far behind.
DELIVERY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
WRITE_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LedgerMetrics:
    """wallet_* metrics on one registry; the ledger and its write coalescer record into it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.entries = Counter(
            "wallet_entries_total", "Ledger entries applied (committed).", ("currency", "entry_type"), registry=registry
        )
        self.replays = Counter(
            "wallet_idempotent_replays_total",
            "Writes answered with the outcome of an earlier identical request (idempotent_replay).",
            registry=registry,
        )
        self.holds = Counter(
            "wallet_holds_total",
            "Holds created, captured, released and expired (committed; replays not counted).",
            ("outcome",),
            registry=registry,
        )
        self.export_entries = Counter(
            "wallet_export_entries_total", "Entries streamed by ListLedgerEntries.", registry=registry
        )
        self.batch_size = Histogram(
            "wallet_write_batch_size",
            "Requests carried by one write transaction.",
            buckets=BATCH_SIZE_BUCKETS,
            registry=registry,
        )
        self.queue_seconds = Histogram(
            "wallet_write_queue_seconds",
            "Time a write request waited in the queue until a transaction took it.",
            buckets=WRITE_BUCKETS_S,
            registry=registry,
        )
        self.transaction_seconds = Histogram(
            "wallet_write_transaction_seconds",
            "Duration of one write transaction (a coalesced batch), from taking the requests to their outcomes.",
            buckets=WRITE_BUCKETS_S,
            registry=registry,
        )
        self.watchers = Gauge(
            "wallet_event_watchers", "WatchEvents streams open on this process, at scrape time.", registry=registry
        )
        self.events_delivered = Counter(
            "wallet_events_delivered_total",
            "Events handed to WatchEvents streams (once per watcher).",
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "wallet_event_delivery_seconds",
            "Time from a change (its event's occurred_at) to its event being handed to a watcher's stream.",
            buckets=DELIVERY_BUCKETS_S,
            registry=registry,
        )
        self._queued = Gauge(
            "wallet_write_queue_depth", "Write requests waiting for a transaction, at scrape time.", registry=registry
        )
        self._registry = registry
        self._entry_children: dict[tuple[str, str], Any] = {}

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """Reads the write queue's depth at each scrape (free between scrapes)."""
        self._queued.set_function(depth)

    def watch_watchers(self, count: Callable[[], int]) -> None:
        """Reads the number of open watches at each scrape."""
        self.watchers.set_function(count)

    def delivered(self, events: Sequence[Event], now: datetime) -> None:
        """Counts events handed to one watcher's stream, and how long after their changes (by the service's `now`)."""
        for event in events:
            self.delivery_seconds.observe(max(0.0, (now - event.occurred_at).total_seconds()))
        self.events_delivered.inc(len(events))

    def watch_pool(self, stats: Callable[[], dict[str, int]]) -> None:
        """Reads the connection pool's statistics at each scrape."""
        self._registry.register(_PoolCollector(stats))

    def batch_committed(self, requests: Sequence[Request], decision: BatchDecision) -> None:
        """Counts what a committed (or rolled back, replay-only) write batch applied."""
        tally = Tally((entry.currency, entry.entry_type.value) for entry in decision.entries)
        for key, count in tally.items():
            child = self._entry_children.get(key)
            if child is None:
                child = self._entry_children[key] = self.entries.labels(*key)
            child.inc(count)
        replays = 0
        for request, outcome in zip(requests, decision.outcomes, strict=True):
            if isinstance(outcome, Applied | HoldOutcome):
                if outcome.idempotent_replay:
                    replays += 1
                elif isinstance(outcome, HoldOutcome):
                    self.holds.labels(_hold_outcome(request)).inc()
        if replays:
            self.replays.inc(replays)
        expired = sum(1 for hold in decision.holds.values() if hold.status is HoldStatus.EXPIRED)
        if expired:
            self.holds.labels("expired").inc(expired)

    def exported(self, entries: int) -> None:
        self.export_entries.inc(entries)


def _hold_outcome(request: Request) -> str:
    if isinstance(request, HoldRequest):
        return "created"
    if isinstance(request, CaptureRequest):
        return "captured"
    assert isinstance(request, ReleaseRequest)
    return "released"


class _PoolCollector(Collector):
    """wallet_db_pool_connections{state}, from psycopg_pool's get_stats() at scrape time."""

    def __init__(self, stats: Callable[[], dict[str, int]]) -> None:
        self._stats = stats

    def _read(self) -> dict[str, int]:
        # The scrape runs on the endpoint's thread while the event loop updates the pool's
        # counters; a copy that races a new counter key fails, and a second read succeeds.
        for _ in range(3):
            try:
                return self._stats()
            except RuntimeError:
                continue
        return {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        stats = self._read()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        family = GaugeMetricFamily(
            "wallet_db_pool_connections",
            "Database connections of this process's pool: in use, idle, and calls waiting for one.",
            labels=("state",),
        )
        family.add_metric(("in_use",), size - idle)
        family.add_metric(("idle",), idle)
        family.add_metric(("waiting",), stats.get("requests_waiting", 0))
        yield family
        yield GaugeMetricFamily(
            "wallet_db_pool_max_connections",
            "The most connections the pool may open (WALLET_DB_POOL_SIZE).",
            value=stats.get("pool_max", 0),
        )
