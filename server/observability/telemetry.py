"""One server's observability, built from its settings: metrics and their endpoint, tracer and its exporter.

Each part is None when switched off, and the code that records checks for
None once per method or batch, so a part that is off costs nothing per call.
Every server has a registry of its own (not prometheus-client's global one):
two servers in one process (tests) count separately, and a scrape shows
exactly one server's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Gauge, GCCollector, PlatformCollector, ProcessCollector

from server.config import Settings
from server.observability.endpoint import MetricsEndpoint
from server.observability.ledger_metrics import LedgerMetrics
from server.observability.rpc_metrics import RpcMetrics
from server.observability.sink_metrics import SinkMetrics
from server.observability.tracing import INSTRUMENTATION_NAME
from server.observability.tracing_setup import tracer_provider as configured_tracer_provider


@dataclass
class Telemetry:
    registry: CollectorRegistry | None = None
    rpc_metrics: RpcMetrics | None = None
    ledger_metrics: LedgerMetrics | None = None
    sink_metrics: SinkMetrics | None = None
    endpoint: MetricsEndpoint | None = None
    tracer_provider: TracerProvider | None = None
    tracer: Tracer | None = None
    # 1 while the health service says SERVING (the database answers), else 0.
    serving: Gauge | None = None

    @classmethod
    def from_settings(cls, settings: Settings, tracer_provider: TracerProvider | None = None) -> Telemetry:
        """Binds the metrics address now (so a taken one fails the start); `tracer_provider` overrides OTEL_*."""
        telemetry = cls()
        if settings.metrics_addr:
            registry = telemetry.registry = CollectorRegistry()
            # The library's process, platform and garbage collector metrics.
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
            telemetry.rpc_metrics = RpcMetrics(registry)
            telemetry.ledger_metrics = LedgerMetrics(registry)
            telemetry.sink_metrics = SinkMetrics(registry)
            telemetry.serving = Gauge(
                "wallet_serving",
                "1 while the server reports SERVING (its database answers), else 0.",
                registry=registry,
            )
            telemetry.endpoint = MetricsEndpoint(settings.metrics_addr, registry)
        provider = tracer_provider if tracer_provider is not None else configured_tracer_provider(settings)
        if provider is not None:
            telemetry.tracer_provider = provider
            telemetry.tracer = provider.get_tracer(INSTRUMENTATION_NAME)
        return telemetry

    def start(self) -> None:
        if self.endpoint is not None:
            self.endpoint.start()

    def stop(self) -> None:
        """Stops serving metrics and sends the spans not yet exported."""
        if self.endpoint is not None:
            self.endpoint.stop()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
