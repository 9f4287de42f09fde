"""The caller's trace context, sent with every call so that the server's span continues the caller's trace.

Through OpenTelemetry's global propagator (W3C `traceparent`/`tracestate`
and `baggage` unless OTEL_PROPAGATORS says otherwise). A caller without an
active span sends nothing extra; a caller that never set up OpenTelemetry
pays for one context lookup per call.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.propagate import inject


def call_metadata(metadata: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...] | None:
    """`metadata` plus the current trace context; None when both are empty (what grpc expects)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    if not carrier:
        return tuple(metadata) or None
    return (*metadata, *carrier.items())
