"""What scenarios 8 and 9 share: BatchCreateLedgerEntries measured in entries per second."""

from __future__ import annotations

from typing import Any

from bench.loadgen import BATCH_ENTRIES, LoadResult

CALLERS = 8


def batch_fields(result: LoadResult, baseline_per_s: float | None) -> dict[str, Any]:
    """The headline (for `Result(**...)`) and the per-call figures of a load of batch calls."""
    entries_per_s = round(result.throughput_per_s * BATCH_ENTRIES, 1)
    return {
        "throughput_per_s": entries_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "baseline_per_s": round(baseline_per_s, 1) if baseline_per_s else None,
        "ratio": round(entries_per_s / baseline_per_s, 3) if baseline_per_s else None,
    }


def per_call_details(result: LoadResult, entries_per_s: float | None) -> dict[str, Any]:
    cores = result.cpu.get("server_cores")
    return {
        "calls_per_s": result.throughput_per_s,
        "server_cpu_ms_per_entry": round(cores * 1000 / entries_per_s, 4) if cores and entries_per_s else None,
    }
