"""Metrics of the event sinks: deliveries by sink and outcome, how far behind each sink is, endpoints disabled.

`sink` is `webhook` or `nats`; no label takes an endpoint id or URL (those are
unbounded), so a sink's figures cover all its endpoints. Only the process
that leads a sink delivers for it; the others report an age of 0.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from server.observability.ledger_metrics import DELIVERY_BUCKETS_S

SINKS = ("webhook", "nats")


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "wallet_sink_deliveries_total",
            "Attempts to deliver an event to a sink, by outcome: delivered, failed (retried), gave_up.",
            ("sink", "outcome"),
            registry=registry,
        )
        self.latency = Histogram(
            "wallet_sink_delivery_seconds",
            "From an event's change to its delivery (acknowledged by the sink).",
            ("sink",),
            buckets=DELIVERY_BUCKETS_S,
            registry=registry,
        )
        self.oldest_age = Gauge(
            "wallet_sink_oldest_undelivered_age_seconds",
            "Age of the oldest event this process has yet to deliver to the sink (0 when caught up or not leading).",
            ("sink",),
            registry=registry,
        )
        # Set (to 0 or 1) only for the sinks this process runs: a sink nobody leads has no 1 anywhere.
        self.leading = Gauge(
            "wallet_sink_leading",
            "1 while this process leads the sink (delivers for it), 0 while it waits to take over.",
            ("sink",),
            registry=registry,
        )
        self.endpoints_disabled = Counter(
            "wallet_webhook_endpoints_disabled_total",
            "Webhook endpoints disabled, by reason: gone (410), retries_exhausted.",
            ("reason",),
            registry=registry,
        )
        for sink in SINKS:
            self.latency.labels(sink)
            for outcome in ("delivered", "failed", "gave_up"):
                self.deliveries.labels(sink, outcome)
        for reason in ("gone", "retries_exhausted"):
            self.endpoints_disabled.labels(reason)

    def track_age(self, sink: str, age_s: Callable[[], float]) -> None:
        self.oldest_age.labels(sink).set_function(age_s)

    def leader_changed(self, sink: str) -> Callable[[bool], None]:
        gauge = self.leading.labels(sink)
        gauge.set(0)
        return lambda leading: gauge.set(1 if leading else 0)
