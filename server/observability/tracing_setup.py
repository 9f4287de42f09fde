"""The tracer provider of one server, built from the standard OTEL_* settings, or none at all.

Tracing is off unless configured (`Settings.traces_exporter`, from
OTEL_TRACES_EXPORTER or an OTLP endpoint). When it is on, spans are batched
and sent from the SDK's own thread; sampling follows OTEL_TRACES_SAMPLER and
OTEL_TRACES_SAMPLER_ARG (the SDK reads them; its default samples everything,
and a sampled caller's traceparent is always followed). The OTLP exporters
come with the `otlp` extra; `console` prints spans to stdout, for trying it out.

The provider belongs to the server, not to the process: it is not installed
globally, so that several servers (tests) can each have their own, and its
`shutdown()` sends what is left when the server stops.
"""

from __future__ import annotations

import importlib

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from server.config import ConfigError, Settings


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider that exports as configured; None when tracing is off."""
    if settings.traces_exporter == "none":
        return None
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    return provider


def _exporter(settings: Settings) -> SpanExporter:
    if settings.traces_exporter == "console":
        return ConsoleSpanExporter()
    transport = "grpc" if settings.otlp_protocol == "grpc" else "http"
    module = f"opentelemetry.exporter.otlp.proto.{transport}.trace_exporter"
    try:
        exporter_class = importlib.import_module(module).OTLPSpanExporter
    except ImportError as error:
        raise ConfigError(
            "OTLP trace export needs the exporter: pip install 'customer-wallet[otlp]'"
            " (or set OTEL_TRACES_EXPORTER=console or none)"
        ) from error
    # Endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_* (the exporter reads them).
    exporter: SpanExporter = exporter_class()
    return exporter
