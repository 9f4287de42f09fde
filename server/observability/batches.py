"""What a coalescer reports about its batches: queue waits, sizes, durations, and a span per batch.

Requests of many callers share one transaction, so no caller's trace can
simply contain it. Each batch instead gets a span of its own, linked to the
span of every sampled request it carried (each link says how long that
request waited in the queue), and each of those requests' spans gets an
event naming the batch that carried it. The batch span's parent is the first sampled
request's span, so a trace viewer shows it inside at least that trace; a
batch none of whose requests is sampled is not traced at all.

OpenTelemetry API only, no gRPC: the ledger imports this module.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, Tracer

from server.observability.ledger_metrics import LedgerMetrics


class Ticket:
    """A queued request as the observer saw it enter: when, and the span of its call (if traced)."""

    __slots__ = ("enqueued_at", "span")

    def __init__(self, enqueued_at: float, span: Span | None) -> None:
        self.enqueued_at = enqueued_at
        self.span = span


class BatchObserver:
    """Observes one coalescer; `metrics` only for the write coalescer, `tracer` only when tracing is on."""

    def __init__(self, span_name: str, *, tracer: Tracer | None, metrics: LedgerMetrics | None) -> None:
        self._span_name = span_name
        self._tracer = tracer
        self._metrics = metrics

    def enqueued(self) -> Ticket:
        span = trace.get_current_span() if self._tracer is not None else None
        return Ticket(time.perf_counter(), span)

    @contextlib.contextmanager
    def batch(self, tickets: Sequence[Ticket]) -> Iterator[None]:
        """Around applying one batch: records its size and waits, and makes its span current."""
        started = time.perf_counter()
        waits_s = [started - ticket.enqueued_at for ticket in tickets]
        metrics = self._metrics
        if metrics is not None:
            metrics.batch_size.observe(len(tickets))
            for wait_s in waits_s:
                metrics.queue_seconds.observe(wait_s)
        span = self._start_span(tickets, waits_s) if self._tracer is not None else None
        try:
            if span is None:
                yield
            else:
                with trace.use_span(span, end_on_exit=True):
                    yield
        finally:
            if metrics is not None:
                metrics.transaction_seconds.observe(time.perf_counter() - started)

    def _start_span(self, tickets: Sequence[Ticket], waits_s: list[float]) -> Span | None:
        assert self._tracer is not None
        sampled = [
            (t.span, wait_s)
            for t, wait_s in zip(tickets, waits_s, strict=True)
            if t.span is not None and t.span.get_span_context().trace_flags.sampled
        ]
        if not sampled:
            return None
        # Links only to sampled spans: an unsampled one exists nowhere to link to, and a link each
        # for the hundreds of requests of a batch made every traced batch a large span to export
        # (measured: tracing at 1% cost the write mix 15-30% with them, docs/observability.md).
        links = [Link(span.get_span_context(), {"wallet.queue_seconds": wait_s}) for span, wait_s in sampled]
        parent = trace.set_span_in_context(NonRecordingSpan(sampled[0][0].get_span_context()))
        batch = self._tracer.start_span(
            self._span_name,
            context=parent,
            links=links,
            attributes={"wallet.batch_size": len(tickets), "wallet.batch_sampled_requests": len(sampled)},
        )
        batch_ids = batch.get_span_context()
        for span, wait_s in sampled:
            # A caller that gave up has ended its span; only live ones take the event.
            if span.is_recording():
                span.add_event(
                    "carried by batch",
                    {
                        "wallet.batch.trace_id": f"{batch_ids.trace_id:032x}",
                        "wallet.batch.span_id": f"{batch_ids.span_id:016x}",
                        "wallet.batch_size": len(tickets),
                        "wallet.queue_seconds": wait_s,
                    },
                )
        return batch


def event(name: str, **attributes: str | int) -> None:
    """Records `name` on the current span if it records (a batch's database round trips)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, attributes)
