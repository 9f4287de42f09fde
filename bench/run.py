"""`python -m bench`: start everything, run the scenarios against their baselines, stop everything.

Scenarios 1-3 are held against a bare grpc.aio echo service (bench/echo_server.py) driven
by the same load generator with the same load in the same run ("vs echo"); scenarios 1
and 2 also keep their pgbench ratio.

Modes: `quick` runs every scenario briefly (under 3 minutes), `full` is the
run whose results are committed, `profile` runs scenarios 1-4 with py-spy
attached to the server and writes flame graphs and text summaries.
Results go to bench/results/latest.json (and `<mode>.json`); the profile mode
writes bench/results/profile/ and profile.json instead.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import batches, export, pgbench, reports, seed
from bench.events import EventWatcher
from bench.infra import (
    REPO,
    CpuMeter,
    Database,
    ServerProcess,
    fresh_database,
    process_group,
    start_echo_server,
    start_wallet_server,
    stop_process,
)
from bench.loadgen import Hooks, LoadResult, LoadSpec, run_load
from bench.observability import VARIANTS, scenario_10
from bench.profile import PySpy, flamegraph_svg, summarise
from bench.report import describe_machine, table, write_json

logger = logging.getLogger("bench")

RESULTS = REPO / "bench" / "results"
CUSTOMERS = 10_000
HOT_SVC = "hot-svc-1"
HOT_PGB = "hot-pgb-1"
EXPORT_CUSTOMER = "export-1"
REPORT_CUSTOMER = "report-1"
# CPU used outside the benchmark's own processes above which a measurement is flagged as noisy
# (the kernel's loopback work alone accounts for up to about 0.3 core).
NOISE_CORES = 0.5


@dataclass(frozen=True)
class Mode:
    warmup_s: float
    duration_s: float
    pgbench_s: int
    pgbench_mix_clients: tuple[int, ...]
    pgbench_hot_clients: tuple[int, ...]
    pgbench_batches: tuple[int, ...]
    export_entries: int
    target_rate_run: bool = True
    scenarios: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
    # Scenario 6: one customer's year of entries, summarised and read as of instants.
    report_entries: int = 1_000_000


MODES = {
    "quick": Mode(
        warmup_s=1.0,
        duration_s=5.0,
        pgbench_s=3,
        pgbench_mix_clients=(4, 8, 16),
        pgbench_hot_clients=(1, 4, 16),
        pgbench_batches=(10,),
        export_entries=250_000,
        report_entries=250_000,
    ),
    "full": Mode(
        warmup_s=5.0,
        duration_s=30.0,
        pgbench_s=10,
        pgbench_mix_clients=(2, 4, 8, 16, 32, 64),
        pgbench_hot_clients=(1, 2, 4, 8, 16, 32, 64),
        pgbench_batches=(10, 50),
        export_entries=1_000_000,
    ),
    "profile": Mode(
        warmup_s=3.0,
        duration_s=20.0,
        pgbench_s=5,
        pgbench_mix_clients=(8,),
        pgbench_hot_clients=(4,),
        pgbench_batches=(),
        export_entries=250_000,
        target_rate_run=False,
        scenarios=("1", "2", "3", "4"),
    ),
}


class Interrupted(Exception):
    """SIGTERM arrived: unwind like Ctrl-C so that every process is stopped."""


@dataclass
class Context:
    args: argparse.Namespace
    mode: Mode
    db: Database
    stack: contextlib.ExitStack
    log_dir: Path
    server: ServerProcess | None = None
    results: dict[str, Any] = field(default_factory=dict)
    pgbench_mix: pgbench.PgbenchBest | None = None
    # The echo baseline of each write load (by LoadSpec.kind), run at most once per run.
    echo_writes: dict[str, LoadResult] = field(default_factory=dict)
    s1_throughput: float | None = None

    def spec(self, kind: str, targets: list[str], **overrides: Any) -> LoadSpec:
        values: dict[str, Any] = {
            "kind": kind,
            "targets": tuple(targets),
            "processes": self.args.client_processes,
            "concurrency": self.args.concurrency // self.args.client_processes,
            "warmup_s": self.mode.warmup_s,
            "duration_s": self.mode.duration_s,
            "max_requests": self.args.max_requests,
        }
        values.update(overrides)
        return LoadSpec(**values)

    def load(self, spec: LoadSpec, servers: list[ServerProcess], profile_as: str | None = None) -> LoadResult:
        """Runs one load with CPU accounting (and py-spy on the first server when profiling)."""
        hooks = _Measure(self, servers, profile_as, spec.duration_s)
        result = run_load(spec, hooks)
        result.cpu = hooks.cpu
        hooks.finish()
        return result


def _write_profile(ctx: Context, name: str, spy: PySpy) -> None:
    out_dir = ctx.args.profile_dir
    title = f"wallet server during {name}"
    (out_dir / f"{name}.summary.txt").write_text(summarise(spy.output, title))
    (out_dir / f"{name}.flamegraph.svg").write_text(flamegraph_svg(spy.output, title))
    print(f"  profile: {out_dir.relative_to(REPO)}/{name}.{{collapsed.txt,summary.txt,flamegraph.svg}}")


class _Measure(Hooks):
    def __init__(self, ctx: Context, servers: list[ServerProcess], profile_as: str | None, duration_s: float):
        self._ctx = ctx
        self._client_pids: list[int] = []
        server_pids = [s.pid for s in servers]
        self._meter = CpuMeter(
            {
                "server": lambda: process_group(server_pids),
                "clients": lambda: process_group(self._client_pids),
                "postgres": ctx.db.postgres_processes,
            }
        )
        self._profile_as = profile_as
        self._duration_s = duration_s
        self._spy: PySpy | None = None
        self._server_pid = server_pids[0] if server_pids else None
        self.cpu: dict[str, float] = {}

    def window_started(self, pids: list[int]) -> None:
        self._client_pids = pids
        self._meter.start()
        if self._profile_as and self._server_pid:
            out = self._ctx.args.profile_dir / f"{self._profile_as}.collapsed.txt"
            self._spy = PySpy(self._server_pid, self._duration_s, out, native=self._ctx.args.native)

    def window_ended(self) -> None:
        self.cpu = self._meter.stop()

    def finish(self) -> None:
        if self._spy is None or self._profile_as is None:
            return
        self._spy.wait()
        _write_profile(self._ctx, self._profile_as, self._spy)


def _ratio(value: float | None, baseline: float | None) -> float | None:
    if not value or not baseline:
        return None
    return round(value / baseline, 3)


def _cpu_ms_per_call(result: LoadResult) -> float | None:
    """Server CPU time per completed call: what a call costs the server, whatever else ran."""
    cores = result.cpu.get("server_cores")
    return round(cores * 1000 / result.throughput_per_s, 3) if cores and result.throughput_per_s else None


def _load_fields(result: LoadResult) -> dict[str, Any]:
    return {
        "throughput_per_s": result.throughput_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "server_cpu_ms_per_call": _cpu_ms_per_call(result),
    }


def _echo_writes(ctx: Context, spec: LoadSpec) -> LoadResult:
    """The bare grpc.aio echo under the very load `spec` puts on the service, once per run and load kind.

    Lazily, like `_pgbench_mix`: scenario 1 and 1r share the write mix's, scenario 2 has the hot wallet's.
    """
    if spec.kind not in ctx.echo_writes:
        print(f"  echo baseline: bare grpc.aio CreateLedgerEntry from memory ({spec.kind}) ...", flush=True)
        with contextlib.ExitStack() as local:
            echo = start_echo_server(local, ctx.log_dir)
            ctx.echo_writes[spec.kind] = ctx.load(dataclasses.replace(spec, targets=(echo.address,)), [echo])
    return ctx.echo_writes[spec.kind]


def _echo_fields(result: LoadResult, echo: LoadResult) -> dict[str, Any]:
    """The service against the echo baseline in the same run: throughput and server CPU per call."""
    cpu, echo_cpu = _cpu_ms_per_call(result), _cpu_ms_per_call(echo)
    return {
        "echo_per_s": echo.throughput_per_s,
        "vs_echo": _ratio(result.throughput_per_s, echo.throughput_per_s),
        "echo_cpu_ms_per_call": echo_cpu,
        "cpu_vs_echo": _ratio(cpu, echo_cpu),
    }


def _echo_note(fields: dict[str, Any], result: LoadResult, echo: LoadResult) -> str:
    return (
        f"echo baseline {echo.throughput_per_s:,.1f}/s (p50 {echo.p50_ms} ms, p99 {echo.p99_ms} ms):"
        f" {fields['vs_echo']}x;"
        f" server CPU per call: service {_cpu_ms_per_call(result)} ms, echo {fields['echo_cpu_ms_per_call']} ms"
        f" ({fields['cpu_vs_echo']}x)"
    )


def _echo_write_target_met(fields: dict[str, Any], result: LoadResult, throughput: float) -> bool | None:
    """At least `throughput` x echo, p99 under 25 ms, server CPU per call at most 1.3x the echo's."""
    if fields["vs_echo"] is None or fields["cpu_vs_echo"] is None:
        return None
    return fields["vs_echo"] >= throughput and result.p99_ms < 25.0 and fields["cpu_vs_echo"] <= 1.3


def _write_checks(ctx: Context, like: str, before: int, since: Any, result: LoadResult) -> dict[str, Any]:
    """The ledger's invariants (the service's own verifier), and acknowledged calls vs rows written."""
    checks: dict[str, Any] = seed.check_consistency(ctx.db.url)
    checks["entries_per_transaction_estimate"] = seed.entries_per_transaction(ctx.db.url, like, since)
    written = seed.entry_count(ctx.db.url, like) - before
    checks["rows_written"] = written
    checks["calls_acknowledged"] = result.ok_total
    checks["ok"] = not checks["problems"] and written >= result.ok_total
    return checks


def _pgbench_mix_again(ctx: Context) -> None:
    """Once per run (after scenario 1, or 5 without 1), so that both report the same baseline."""
    assert ctx.pgbench_mix is not None
    if any(run.when == "after" for run in ctx.pgbench_mix.runs):
        return
    print("  pgbench: best client count again, after the service's load ...", flush=True)
    pgbench.again_after(
        ctx.pgbench_mix, ctx.db.url, pgbench.mix_script("pd-", CUSTOMERS), ctx.mode.pgbench_s, ctx.log_dir
    )


def _pgbench_mix(ctx: Context) -> pgbench.PgbenchBest:
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


def scenario_1(ctx: Context) -> None:
    assert ctx.server is not None
    baseline = _pgbench_mix(ctx)
    spec = ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS)
    echo = _echo_writes(ctx, spec)
    print(f"  service: write mix, {ctx.args.concurrency} callers ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, "sa-%"), seed.database_now(ctx.db.url)
    result = ctx.load(spec, [ctx.server], profile_as="scenario1" if ctx.args.profile else None)
    vs_echo = _echo_fields(result, echo)
    ctx.s1_throughput = result.throughput_per_s
    _pgbench_mix_again(ctx)
    ratio = _ratio(result.throughput_per_s, baseline.best.tps)
    entry: dict[str, Any] = {
        "title": f"distinct wallets, write mix ({ctx.args.concurrency} callers)",
        **_load_fields(result),
        "baseline_per_s": round(baseline.best.tps, 1),
        "ratio": ratio,
        **vs_echo,
        "target": ">=0.6x echo, p99<25ms, CPU/call<=1.3x echo",
        "target_met": _echo_write_target_met(vs_echo, result, 0.6),
        "baseline": {"kind": "pgbench, one entry per transaction", **baseline.as_dict()},
        "echo": {"kind": "bare grpc.aio echo service, same load, same proto types", **echo.as_dict()},
        "load": result.as_dict(),
        "checks": _write_checks(ctx, "sa-%", before, since, result),
        "notes": [_echo_note(vs_echo, result, echo)],
    }
    ctx.results["scenarios"]["1"] = entry
    if not ctx.mode.target_rate_run:
        return
    # The target's p99 is "at that load": offer exactly half the pgbench rate, paced, and time it.
    rate = round(0.5 * baseline.best.tps, 1)
    print(f"  service: write mix paced at {rate}/s (50% of pgbench) ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, "sa-%"), seed.database_now(ctx.db.url)
    paced = ctx.load(
        ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS, rate=rate),
        [ctx.server],
    )
    ratio = _ratio(paced.throughput_per_s, baseline.best.tps)
    paced_vs_echo = _echo_fields(paced, echo)
    ctx.results["scenarios"]["1r"] = {
        "title": f"distinct wallets, paced at 50% of pgbench ({rate}/s offered)",
        **_load_fields(paced),
        "baseline_per_s": round(baseline.best.tps, 1),
        "ratio": ratio,
        **paced_vs_echo,
        "offered_per_s": rate,
        "target": "keeps up, p99<25ms",
        "target_met": paced.throughput_per_s >= 0.97 * rate and paced.p99_ms < 25.0,
        "load": paced.as_dict(),
        "checks": _write_checks(ctx, "sa-%", before, since, paced),
        "notes": [
            "latency timed from each call's scheduled start (open loop, no coordinated omission)",
            "vs echo: the paced rate against the echo's closed-loop rate of scenario 1",
        ],
    }


def scenario_2(ctx: Context) -> None:
    assert ctx.server is not None
    print("  pgbench: debits of one hot wallet ...", flush=True)
    baseline = pgbench.best_of(
        ctx.db.url,
        pgbench.hot_script(HOT_PGB),
        list(ctx.mode.pgbench_hot_clients),
        ctx.mode.pgbench_s,
        ctx.log_dir,
    )
    batches = {}
    for batch in ctx.mode.pgbench_batches:
        run = pgbench.run_pgbench(
            ctx.db.url,
            pgbench.batch_script(HOT_PGB, batch),
            baseline.best.clients,
            ctx.mode.pgbench_s,
            ctx.log_dir,
        )
        batches[str(batch)] = {
            "clients": run.clients,
            "tps": run.tps,
            "entries_per_s": round(run.tps * batch, 1),
        }
    spec = ctx.spec("hot_debit", [ctx.server.address], customer_prefix=HOT_SVC[:-1])
    echo = _echo_writes(ctx, spec)
    print(f"  service: {ctx.args.concurrency} callers debiting one wallet ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, HOT_SVC), seed.database_now(ctx.db.url)
    result = ctx.load(spec, [ctx.server], profile_as="scenario2" if ctx.args.profile else None)
    vs_echo = _echo_fields(result, echo)
    print("  pgbench: best client count again, after the service's load ...", flush=True)
    pgbench.again_after(baseline, ctx.db.url, pgbench.hot_script(HOT_PGB), ctx.mode.pgbench_s, ctx.log_dir)
    ratio = _ratio(result.throughput_per_s, baseline.best.tps)
    ctx.results["scenarios"]["2"] = {
        "title": f"one hot wallet, debits ({ctx.args.concurrency} callers)",
        **_load_fields(result),
        "baseline_per_s": round(baseline.best.tps, 1),
        "ratio": ratio,
        **vs_echo,
        "target": ">=0.8x echo, p99<25ms, CPU/call<=1.3x echo",
        "target_met": _echo_write_target_met(vs_echo, result, 0.8),
        "baseline": {"kind": "pgbench, one entry per transaction", **baseline.as_dict()},
        "echo": {"kind": "bare grpc.aio echo service, same load, same proto types", **echo.as_dict()},
        "pgbench_batched_entries_per_s": batches,
        "load": result.as_dict(),
        "checks": _write_checks(ctx, HOT_SVC, before, since, result),
        "notes": [
            _echo_note(vs_echo, result, echo),
            *(
                f"pgbench with {b} debits per transaction: {v['entries_per_s']:,.0f} entries/s"
                for b, v in batches.items()
            ),
        ],
    }


def scenario_3(ctx: Context) -> None:
    assert ctx.server is not None
    print("  echo baseline: bare grpc.aio GetBalances from memory ...", flush=True)
    with contextlib.ExitStack() as local:
        echo = start_echo_server(local, ctx.log_dir)
        echo_result = ctx.load(
            ctx.spec("get_balances", [echo.address], customer_prefix="sa-", customers=CUSTOMERS), [echo]
        )
    print("  service: GetBalances ...", flush=True)
    result = ctx.load(
        ctx.spec("get_balances", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS),
        [ctx.server],
        profile_as="scenario3" if ctx.args.profile else None,
    )
    ratio = _ratio(result.throughput_per_s, echo_result.throughput_per_s)
    vs_echo = _echo_fields(result, echo_result)
    ctx.results["scenarios"]["3"] = {
        "title": f"GetBalances ({ctx.args.concurrency} callers)",
        **_load_fields(result),
        "baseline_per_s": echo_result.throughput_per_s,
        "ratio": ratio,
        **vs_echo,
        "target": ">=0.8x echo",
        "target_met": None if ratio is None else ratio >= 0.8,
        "baseline": {"kind": "bare grpc.aio echo service, same proto types", **echo_result.as_dict()},
        "load": result.as_dict(),
        "notes": [_echo_note(vs_echo, result, echo_result)],
    }


def scenario_7(ctx: Context) -> None:
    """Event delivery: a watcher of every customer while the write mix of scenario 1 runs."""
    assert ctx.server is not None
    print(f"  service: write mix, {ctx.args.concurrency} callers, with a watcher of every customer ...", flush=True)
    watcher = EventWatcher(ctx.server.address)
    watcher.start()
    watcher.measure_from_now()
    result = ctx.load(
        ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS), [ctx.server]
    )
    delivery = watcher.stop()
    met = delivery["events"] > 0 and delivery["delivery_p50_ms"] <= 100 and delivery["delivery_p99_ms"] <= 500
    ctx.results["scenarios"]["7"] = {
        "title": "events delivered to a watcher of every customer, under the write mix",
        **_load_fields(result),
        "baseline_per_s": None,
        "ratio": None,
        "target": "delivery p50<=100ms, p99<=500ms",
        "target_met": met,
        "events": delivery,
        "load": result.as_dict(),
        "notes": [
            f"{delivery['events']} events, {delivery.get('events_per_s')}/s; delivery p50"
            f" {delivery.get('delivery_p50_ms')} ms, p99 {delivery.get('delivery_p99_ms')} ms,"
            f" max {delivery.get('delivery_max_ms')} ms (from the change's clock to arrival)"
        ],
    }


def scenario_4(ctx: Context, expected_balance: int) -> None:
    assert ctx.server is not None
    n = ctx.mode.export_entries
    print(f"  baseline: psycopg server-side cursor over {n:,} rows ...", flush=True)
    cursor = export.export_through_cursor(ctx.db.url, EXPORT_CUSTOMER)
    print(f"  service: ListLedgerEntries of {n:,} entries into a consumer process ...", flush=True)
    server_pid = ctx.server.pid
    meter = CpuMeter(
        {
            "server": lambda: process_group([server_pid]),
            "postgres": ctx.db.postgres_processes,
        }
    )
    spy = None
    if ctx.args.profile:
        spy = PySpy(ctx.server.pid, None, ctx.args.profile_dir / "scenario4.collapsed.txt", native=ctx.args.native)
        time.sleep(0.5)
    meter.start()
    streamed = export.export_through_service(ctx.server.address, ctx.server.pid, EXPORT_CUSTOMER)
    streamed["cpu"] = meter.stop()
    # The consumer lives and exits inside the window, unseen by the meter: it measures its own CPU.
    streamed["cpu"]["clients_cores"] = streamed["consumer_cores"]
    if spy is not None:
        spy.stop()
        _write_profile(ctx, "scenario4", spy)
    complete = streamed["entries"] == n and streamed["amount_sum"] == expected_balance
    growth = streamed["export_peak_rss_growth_mb"]
    ratio = _ratio(streamed["entries_per_s"], cursor["entries_per_s"])
    ctx.results["scenarios"]["4"] = {
        "title": f"export of {n:,} entries (entries/s)",
        "throughput_per_s": streamed["entries_per_s"],
        "p50_ms": streamed["message_gap_p50_ms"],
        "p99_ms": streamed["message_gap_p99_ms"],
        "baseline_per_s": cursor["entries_per_s"],
        "ratio": ratio,
        "export_peak_rss_growth_mb": growth,
        "server_cpu_us_per_entry": round(streamed["cpu"]["server_cores"] * 1e6 / streamed["entries_per_s"], 2)
        if streamed["entries_per_s"]
        else None,
        "target": ">=100k/s, RSS +<50MB",
        "target_met": complete and streamed["entries_per_s"] >= 100_000 and growth < 50,
        "entries": n,
        "complete": complete,
        "baseline": {"kind": "psycopg server-side cursor, same rows and columns", **cursor},
        "export": streamed,
        "notes": [
            f"server RSS grew {growth} MB during the export (from {streamed['server_rss_start_mb']} MB)",
            "p50/p99 of scenario 4 are the gaps between consecutive stream messages at the consumer",
        ]
        + ([] if complete else ["EXPORT INCOMPLETE: entry count or amount sum differs from what was seeded"]),
    }


def scenario_5(ctx: Context) -> None:
    assert ctx.server is not None
    baseline = _pgbench_mix(ctx)
    with contextlib.ExitStack() as local:
        print("  starting a second server process on the same database ...", flush=True)
        second = start_wallet_server(local, ctx.db.url, ctx.log_dir, "wallet-server-2", _server_env(ctx))
        print(
            f"  service: write mix over 2 servers, {ctx.args.concurrency} callers split between them ...",
            flush=True,
        )
        before, since = seed.entry_count(ctx.db.url, "sb-%"), seed.database_now(ctx.db.url)
        result = ctx.load(
            ctx.spec("write_mix", [ctx.server.address, second.address], customer_prefix="sb-", customers=CUSTOMERS),
            [ctx.server, second],
        )
    _pgbench_mix_again(ctx)
    ratio = _ratio(result.throughput_per_s, baseline.best.tps)
    vs_one = _ratio(result.throughput_per_s, ctx.s1_throughput)
    ctx.results["scenarios"]["5"] = {
        "title": f"write mix, 2 server processes ({ctx.args.concurrency} callers)",
        **_load_fields(result),
        "baseline_per_s": round(baseline.best.tps, 1),
        "ratio": ratio,
        "vs_one_server": vs_one,
        "target": "correct, >= scenario 1",
        "target_met": None if vs_one is None else (vs_one >= 0.97),
        "baseline": {"kind": "pgbench, one entry per transaction (as scenario 1)", **baseline.as_dict()},
        "load": result.as_dict(),
        "checks": _write_checks(ctx, "sb-%", before, since, result),
        "notes": [f"throughput vs one server (scenario 1): {vs_one}x (0.97 allows for noise)"],
    }


def scenario_6(ctx: Context, seeded: tuple[Any, int]) -> None:
    assert ctx.server is not None
    n = ctx.mode.report_entries
    print(f"  service: SummarizeLedger and GetBalances as_of over a year of {n:,} entries ...", flush=True)
    measured = reports.measure(ctx.server.address, REPORT_CUSTOMER, seeded[0], seeded[1], n)
    day, month, as_of = measured["year_by_day_s"], measured["year_by_month_with_breakdown_s"], measured["as_of_ms"]
    day_median, month_median = day[len(day) // 2], month[len(month) // 2]
    ctx.results["scenarios"]["6"] = {
        "title": f"reports over a year of {n:,} entries (as_of ms)",
        "p50_ms": as_of["p50"],
        "p99_ms": as_of["p99"],
        "year_by_day_median_s": day_median,
        "year_by_month_with_breakdown_median_s": month_median,
        "target": "day<1s, month+breakdown<2s, as_of<10ms",
        "target_met": day_median < 1.0 and month_median < 2.0 and as_of["p99"] < 10.0,
        "reports": measured,
        "notes": [
            f"year by day (365 buckets): median {day_median:.3f} s of {day};"
            f" by month with a breakdown by model: median {month_median:.3f} s of {month};"
            f" GetBalances as_of at {as_of['points']} instants: p50 {as_of['p50']} ms,"
            f" p99 {as_of['p99']} ms, max {as_of['max']} ms"
        ],
    }


def _scenario_10(ctx: Context) -> None:
    print("  the write mix against one server per observability variant ...", flush=True)
    ctx.results["scenarios"]["10"] = scenario_10(
        ctx.db.url,
        ctx.log_dir,
        _server_env(ctx),
        lambda targets: ctx.spec("write_mix", targets, customer_prefix="sa-", customers=CUSTOMERS),
        ctx.load,
    )


def _server_env(ctx: Context) -> dict[str, str]:
    """The servers' settings: WALLET_* of this environment, then the chosen observability variant.

    Never the fixed metrics port: a developer's `make run` may hold it, and scenario 5's two servers would collide.
    """
    inherited = {k: v for k, v in os.environ.items() if k.startswith("WALLET_") and k != "WALLET_LISTEN_ADDR"}
    return {**inherited, **VARIANTS[ctx.args.observability]}


def _effective_settings(env: dict[str, str]) -> dict[str, Any]:
    from server.config import Settings

    settings = Settings.from_env({**env, "DATABASE_URL": "x"})
    values = dataclasses.asdict(settings)
    values.pop("database_url", None)
    values["currencies"] = sorted(values["currencies"])
    return values


def _seed_all(ctx: Context) -> tuple[int, tuple[Any, int]]:
    print("seeding: 3 x 10,000 customers x 2 wallets, 2 hot wallets", flush=True)
    for prefix in ("pd-", "sa-", "sb-"):
        seed.seed_customers(ctx.db.url, prefix, CUSTOMERS)
    for hot in (HOT_SVC, HOT_PGB):
        seed.seed_customers(ctx.db.url, hot[:-1], 1, seed.HOT_START_BALANCE)
    balance = 0
    if "4" in ctx.args.scenarios and ctx.mode.export_entries:
        print(f"seeding: {ctx.mode.export_entries:,} ledger entries of one customer", flush=True)
        balance = seed.seed_history(ctx.db.url, EXPORT_CUSTOMER, ctx.mode.export_entries)
    year: tuple[Any, int] = (None, 0)
    if "6" in ctx.args.scenarios:
        print(f"seeding: a year of {ctx.mode.report_entries:,} ledger entries of one customer", flush=True)
        year = reports.seed_year(ctx.db.url, REPORT_CUSTOMER, ctx.mode.report_entries)
    seed.vacuum_analyze(ctx.db.url)
    return balance, year


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = MODES[args.mode]
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        log_dir = Path(tempfile.mkdtemp(prefix="wallet-bench-logs-", dir=args.tmp_dir))
        stack.callback(lambda: None if args.keep_logs else shutil.rmtree(log_dir, ignore_errors=True))
        print(f"starting PostgreSQL ({'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'embedded'}) ...")
        db = stack.enter_context(fresh_database(args.tmp_dir))
        ctx = Context(args=args, mode=mode, db=db, stack=stack, log_dir=log_dir)
        env = _server_env(ctx)
        ctx.results = {
            "mode": args.mode,
            "machine": describe_machine(db.url, db.kind),
            "config": {
                "client_processes": args.client_processes,
                "concurrency": args.concurrency,
                "warmup_s": mode.warmup_s,
                "duration_s": mode.duration_s,
                "pgbench_seconds_per_try": mode.pgbench_s,
                "customers": CUSTOMERS,
                "server_env": env,
                "server_settings": _effective_settings(env),
            },
            "scenarios": {},
        }
        expected_balance, year = _seed_all(ctx)
        print("starting the wallet server ...", flush=True)
        ctx.server = start_wallet_server(stack, db.url, log_dir, "wallet-server", env)
        scenarios: dict[str, Callable[[], None]] = {
            "1": lambda: scenario_1(ctx),
            "2": lambda: scenario_2(ctx),
            "3": lambda: scenario_3(ctx),
            "4": lambda: scenario_4(ctx, expected_balance),
            "5": lambda: scenario_5(ctx),
            "6": lambda: scenario_6(ctx, year),
            "7": lambda: scenario_7(ctx),
            "8": lambda: batches.scenario_8(ctx),
            "9": lambda: batches.scenario_9(ctx),
            "10": lambda: _scenario_10(ctx),
        }
        for key in args.scenarios:
            print(f"scenario {key}:", flush=True)
            t0 = time.monotonic()
            scenarios[key]()
            if ctx.server.proc.poll() is not None:
                raise RuntimeError(f"the wallet server died during scenario {key}:\n{ctx.server.log_tail()}")
            for k in (key, f"{key}r"):
                if k in ctx.results["scenarios"]:
                    entry = ctx.results["scenarios"][k]
                    entry["scenario_wall_s"] = round(time.monotonic() - t0, 1)
                    measured = [
                        ("", entry.get("load", entry.get("export", {}))),
                        ("echo baseline ", entry.get("echo", {})),
                        ("baseline ", entry.get("baseline", {})),  # scenario 3's is the echo's load
                    ]
                    for what, part in measured:
                        cpu = part.get("cpu", {})
                        outside = cpu.get("other_processes_cores", 0) + cpu.get("unattributed_cores", 0)
                        if outside > NOISE_CORES:
                            entry["notes"].append(
                                f"{what}noisy: {outside:.2f} of {cpu['machine_busy_cores']} busy cores were outside"
                                " the benchmark's processes (other sessions' processes, kernel)"
                            )
        stop_process(ctx.server.proc)
        ctx.results["server_log"] = _scan_logs(log_dir)
        if args.keep_logs:
            print(f"logs kept in {log_dir}")
    ctx.results["total_wall_s"] = round(time.monotonic() - started, 1)
    return ctx.results


def _scan_logs(log_dir: Path) -> dict[str, Any]:
    """Warnings and errors the servers logged (a clean run has none)."""
    found: dict[str, Any] = {"warnings": 0, "errors": 0, "first": []}
    for path in sorted(log_dir.glob("wallet-server*.log")):
        with open(path, errors="replace") as log:
            for line in log:
                if " WARNING " in line:
                    level = "warnings"
                elif " ERROR " in line or line.startswith("Traceback"):
                    level = "errors"
                else:
                    continue
                found[level] += 1
                if len(found["first"]) < 10:
                    found["first"].append(f"{path.name}: {line.strip()[:300]}")
    return found


def _on_sigterm(signum: int, frame: object) -> None:
    raise Interrupted()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--scenarios", help="comma-separated subset of 1-10 (default: the mode's)")
    parser.add_argument("--concurrency", type=int, default=64, help="callers in all, split over the processes")
    parser.add_argument("--client-processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="bound per load process")
    parser.add_argument("--tmp-dir", default=None, help="where the throwaway PostgreSQL lives (default: $TMPDIR)")
    parser.add_argument("--no-native", dest="native", action="store_false", help="profile without C frames")
    parser.add_argument("--keep-logs", action="store_true", help="keep server and pgbench logs")
    parser.add_argument("--output", type=Path, default=None, help="results file (default: per mode)")
    parser.add_argument(
        "--observability",
        choices=sorted(VARIANTS),
        default="metrics",
        help="metrics/tracing of the servers of scenarios 1-5 (default: metrics, as shipped); scenario 10 runs all",
    )
    args = parser.parse_args(argv)
    mode = MODES[args.mode]
    args.scenarios = args.scenarios.split(",") if args.scenarios else list(mode.scenarios)
    unknown = set(args.scenarios) - {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
    if unknown or args.concurrency < args.client_processes or args.client_processes < 1:
        parser.error(f"bad --scenarios {sorted(unknown)} or --concurrency/--client-processes")
    args.profile = args.mode == "profile"
    args.profile_dir = RESULTS / "profile"
    if args.profile:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        results = run(args)
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted: everything started was stopped", file=sys.stderr)
        return 130
    if args.output:
        paths = [args.output]
    elif args.profile:
        paths = [RESULTS / "profile.json"]
    else:
        paths = [RESULTS / "latest.json", RESULTS / f"{args.mode}.json"]
    write_json(results, paths)
    print()
    print(table(results))
    print("results: " + ", ".join(str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p) for p in paths))
    print(f"total time: {results['total_wall_s']:.0f}s")
    failed_checks = [k for k, s in results["scenarios"].items() if not s.get("checks", {"ok": True})["ok"]]
    if failed_checks:
        print(f"CONSISTENCY CHECK FAILED in scenario(s) {failed_checks}", file=sys.stderr)
        return 1
    return 0
