"""The per-RPC Prometheus metrics, under the names go-grpc-prometheus settled on.

Labels hold only the method's identity and the status code, never anything
from the request. The children of each method are looked up once, when the
call scope wraps its handler, so a call pays a few counter increments and
one histogram observation, not a label lookup each.
"""

from __future__ import annotations

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

# Server-side latency of a call: from a fraction of a millisecond (a coalesced
# balance read) to the seconds a call may wait for a batch or a lock.
HANDLING_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

UNARY = "unary"
SERVER_STREAM = "server_stream"


class RpcMetrics:
    """grpc_server_* and wallet_refusals_total on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("grpc_type", "grpc_service", "grpc_method")
        self.started = Counter("grpc_server_started_total", "RPCs started on the server.", labels, registry=registry)
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, whatever their status code.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, as the server saw it.",
            labels,
            buckets=HANDLING_BUCKETS_S,
            registry=registry,
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent_total", "Stream messages sent by the server.", labels, registry=registry
        )
        self.refusals = Counter(
            "wallet_refusals_total",
            "Refused requests, by the ErrorInfo reason the caller received.",
            ("reason",),
            registry=registry,
        )

    def for_method(self, full_method: str, grpc_type: str) -> MethodMetrics:
        """The bound children of one method, e.g. `/wallet.v1.WalletService/GetBalances`."""
        service, _, method = full_method.lstrip("/").rpartition("/")
        return MethodMetrics(self, (grpc_type, service, method))


class MethodMetrics:
    """One method's counters and histogram, bound once; `handled` children are bound per code on first use."""

    __slots__ = ("_handled", "_labels", "_rpc", "msg_sent", "seconds", "started")

    def __init__(self, rpc: RpcMetrics, labels: tuple[str, str, str]) -> None:
        self._rpc = rpc
        self._labels = labels
        self.started = rpc.started.labels(*labels)
        self.seconds = rpc.handling_seconds.labels(*labels)
        self.msg_sent = rpc.msg_sent.labels(*labels)
        self._handled: dict[grpc.StatusCode, Counter] = {}

    def ended(self, code: grpc.StatusCode, duration_s: float, reason: str) -> None:
        """Counts a finished call under its code (and its refusal reason, if any)."""
        handled = self._handled.get(code)
        if handled is None:
            handled = self._handled[code] = self._rpc.handled.labels(*self._labels, code.name)
        handled.inc()
        self.seconds.observe(duration_s)
        if reason:
            self._rpc.refusals.labels(reason).inc()
