"""What the service shows of itself: Prometheus metrics, OpenTelemetry traces (docs/observability.md).

One job per module. Nothing here decides anything about money; the layers
call in at their edges (the call scope, the coalescer, the ledger's batch).
"""
