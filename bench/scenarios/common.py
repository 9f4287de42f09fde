"""What the scenarios share: their result's shape, the registry entry, and the baselines several of them use."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import pgbench, seed
from bench.context import CUSTOMERS, Context
from bench.infra import start_echo_server
from bench.loadgen import LoadResult, LoadSpec
from bench.observability import VARIANTS
from bench.sinks import SINK_ENV


@dataclass
class Result:
    """One entry of the results: the headline every scenario has (the table's columns), then its own details.

    `as_dict` is what bench/results/*.json hold: the headline, `details` merged in, the notes last.
    """

    title: str
    target: str
    target_met: bool | None
    throughput_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    baseline_per_s: float | None = None
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        headline = {
            "title": self.title,
            "throughput_per_s": self.throughput_per_s,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "baseline_per_s": self.baseline_per_s,
            "ratio": self.ratio,
            "target": self.target,
            "target_met": self.target_met,
        }
        return {**headline, **self.details, "notes": list(self.notes)}


@dataclass(frozen=True)
class Scenario:
    """A scenario of the registry: its key (`--scenarios`), a name, its target, and how to run it.

    `run` returns the results it produced by key (scenario 1 also gives "1r", its paced run).
    """

    key: str
    name: str
    target: Any
    run: Callable[[Context], dict[str, Result]]


def ratio(value: float | None, baseline: float | None) -> float | None:
    if not value or not baseline:
        return None
    return round(value / baseline, 3)


def cpu_ms_per_call(result: LoadResult) -> float | None:
    """Server CPU time per completed call: what a call costs the server, whatever else ran."""
    cores = result.cpu.get("server_cores")
    return round(cores * 1000 / result.throughput_per_s, 3) if cores and result.throughput_per_s else None


def load_headline(result: LoadResult) -> dict[str, Any]:
    """The headline of a load: throughput and latency (for `Result(**...)`)."""
    return {"throughput_per_s": result.throughput_per_s, "p50_ms": result.p50_ms, "p99_ms": result.p99_ms}


def echo_writes(ctx: Context, spec: LoadSpec) -> LoadResult:
    """The bare grpc.aio echo under the very load `spec` puts on the service, once per run and load kind.

    Lazily, like `pgbench_mix`: scenario 1 and 1r share the write mix's, scenario 2 has the hot wallet's.
    """
    if spec.kind not in ctx.echo_writes:
        print(f"  echo baseline: bare grpc.aio CreateLedgerEntry from memory ({spec.kind}) ...", flush=True)
        with contextlib.ExitStack() as local:
            echo = start_echo_server(local, ctx.log_dir)
            ctx.echo_writes[spec.kind] = ctx.load(dataclasses.replace(spec, targets=(echo.address,)), [echo])
    return ctx.echo_writes[spec.kind]


def echo_fields(result: LoadResult, echo: LoadResult) -> dict[str, Any]:
    """The service against the echo baseline in the same run: throughput and server CPU per call."""
    cpu, echo_cpu = cpu_ms_per_call(result), cpu_ms_per_call(echo)
    return {
        "echo_per_s": echo.throughput_per_s,
        "vs_echo": ratio(result.throughput_per_s, echo.throughput_per_s),
        "echo_cpu_ms_per_call": echo_cpu,
        "cpu_vs_echo": ratio(cpu, echo_cpu),
    }


def echo_note(fields: dict[str, Any], result: LoadResult, echo: LoadResult) -> str:
    return (
        f"echo baseline {echo.throughput_per_s:,.1f}/s (p50 {echo.p50_ms} ms, p99 {echo.p99_ms} ms):"
        f" {fields['vs_echo']}x;"
        f" server CPU per call: service {cpu_ms_per_call(result)} ms, echo {fields['echo_cpu_ms_per_call']} ms"
        f" ({fields['cpu_vs_echo']}x)"
    )


def write_checks(ctx: Context, like: str, before: int, since: Any, result: LoadResult) -> dict[str, Any]:
    """The ledger's invariants (the service's own verifier), and acknowledged calls vs rows written."""
    checks: dict[str, Any] = seed.check_consistency(ctx.db.url, like)
    checks["entries_per_transaction_estimate"] = seed.entries_per_transaction(ctx.db.url, like, since)
    written = seed.entry_count(ctx.db.url, like) - before
    checks["rows_written"] = written
    checks["calls_acknowledged"] = result.ok_total
    checks["ok"] = not checks["problems"] and written >= result.ok_total
    return checks


def pgbench_mix(ctx: Context) -> pgbench.PgbenchBest:
    """pgbench's credits and debits over the `pd-` customers at its best client count, once per run."""
    if ctx.pgbench_mix is None:
        print("  pgbench: credits/debits over 10,000 customers x 2 currencies ...", flush=True)
        ctx.pgbench_mix = pgbench.best_of(
            ctx.db.url,
            pgbench.mix_script("pd-", CUSTOMERS),
            list(ctx.mode.pgbench_mix_clients),
            ctx.mode.pgbench_s,
            ctx.log_dir,
        )
    return ctx.pgbench_mix


def pgbench_mix_again(ctx: Context) -> None:
    """Once per run (after scenario 1, or 5 without 1), so that both report the same baseline."""
    assert ctx.pgbench_mix is not None
    if any(run.when == "after" for run in ctx.pgbench_mix.runs):
        return
    print("  pgbench: best client count again, after the service's load ...", flush=True)
    pgbench.again_after(
        ctx.pgbench_mix, ctx.db.url, pgbench.mix_script("pd-", CUSTOMERS), ctx.mode.pgbench_s, ctx.log_dir
    )


def server_env(observability: str) -> dict[str, str]:
    """The servers' settings: WALLET_* of this environment, then the chosen observability variant.

    Never the fixed metrics port: a developer's `make run` may hold it, and scenario 5's two servers would collide.
    """
    inherited = {k: v for k, v in os.environ.items() if k.startswith("WALLET_") and k != "WALLET_LISTEN_ADDR"}
    return {**inherited, **SINK_ENV, **VARIANTS[observability]}
