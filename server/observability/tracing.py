"""Spans of the service, through the OpenTelemetry API only: one per RPC, one per write transaction.

A server span follows OpenTelemetry's RPC conventions (`rpc.system`,
`rpc.service`, `rpc.method`, `rpc.grpc.status_code`) and continues the
caller's W3C traceparent from the call metadata (through the global
propagator, so OTEL_PROPAGATORS applies). A coalesced batch gets one span of
its own, linked to the span of each request it carried (`batches`). What the
database round trips of a batch did is recorded as events on its span
(`batches.event`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

# The codes OpenTelemetry's RPC conventions count as a server's own failure; the rest are the caller's.
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
# The only metadata the propagators read; other keys (authorization!) are never copied.
_PROPAGATION_KEYS = frozenset({"traceparent", "tracestate", "baggage"})

INSTRUMENTATION_NAME = "customer-wallet"
_NO_PARENT = otel_context.Context()


class MethodTracer:
    """Starts and ends the server spans of one method; attributes built once."""

    __slots__ = ("_attributes", "_name", "_tracer")

    def __init__(self, tracer: trace.Tracer, full_method: str) -> None:
        self._tracer = tracer
        self._name = full_method.lstrip("/")
        service, _, method = self._name.rpartition("/")
        self._attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}

    def start(self, metadata: Sequence[tuple[str, Any]] | None) -> tuple[Span, object]:
        """Starts the call's span as the current one; returns it with the token that `end` detaches."""
        carrier = {key: value for key, value in metadata or () if key in _PROPAGATION_KEYS}
        # Without a caller's context the call starts a trace of its own, whatever the handler task inherited.
        parent = get_global_textmap().extract(carrier) if carrier else _NO_PARENT
        span = self._tracer.start_span(self._name, context=parent, kind=SpanKind.SERVER, attributes=self._attributes)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        return span, token

    @staticmethod
    def end(span: Span, token: object | None, code: grpc.StatusCode, reason: str) -> None:
        """Ends the span with the call's code; restores the context `start` replaced, given its token."""
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if reason:
                span.set_attribute("wallet.error_reason", reason)
            if code in _SERVER_ERRORS:
                span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()


def log_ids(span: Span) -> str:
    """The span's ids as JSON members for the access log line (`, "trace_id": ..., "span_id": ...`)."""
    ids = span.get_span_context()
    return f', "trace_id": "{ids.trace_id:032x}", "span_id": "{ids.span_id:016x}"'
