"""What metrics and traces cost: scenario 1's write mix against servers that differ only in observability.

`VARIANTS` are server environments: everything off; metrics on (the shipped
default, on a port the system picks) with tracing off; and metrics plus
tracing at 1% head sampling, spans printed by the console exporter into the
server's log (no collector is needed, and the SDK's batching thread does the
same work it does for OTLP, minus the network). Scenario 10
(bench/scenarios/s10_observability.py) runs the same load against one server
of each.
"""

from __future__ import annotations

_OFF = {"WALLET_METRICS_ADDR": "", "OTEL_TRACES_EXPORTER": "none"}
VARIANTS: dict[str, dict[str, str]] = {
    "off": _OFF,
    "metrics": {**_OFF, "WALLET_METRICS_ADDR": "127.0.0.1:0"},
    "tracing": {
        "WALLET_METRICS_ADDR": "127.0.0.1:0",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
    },
}
