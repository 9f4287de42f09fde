"""Scenario 4: ListLedgerEntries of one customer's whole history into a consumer process, against a
psycopg server-side cursor over the same rows; the server's memory must not grow with the history."""

from __future__ import annotations

import time

from bench import export
from bench.context import EXPORT_CUSTOMER, Context, write_profile
from bench.infra import CpuMeter, process_group
from bench.profile import PySpy
from bench.scenarios.common import Result, Scenario, ratio
from bench.scenarios.targets import Export

TARGET = Export()


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    n = ctx.mode.export_entries
    print(f"  baseline: psycopg server-side cursor over {n:,} rows ...", flush=True)
    cursor = export.export_through_cursor(ctx.db.url, EXPORT_CUSTOMER)
    print(f"  service: ListLedgerEntries of {n:,} entries into a consumer process ...", flush=True)
    server_pid = ctx.server.pid
    meter = CpuMeter({"server": lambda: process_group([server_pid]), "postgres": ctx.db.postgres_processes})
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
        write_profile(ctx, "scenario4", spy)
    complete = streamed["entries"] == n and streamed["amount_sum"] == ctx.export_balance
    growth = streamed["export_peak_rss_growth_mb"]
    per_s = streamed["entries_per_s"]
    return {
        "4": Result(
            title=f"export of {n:,} entries (entries/s)",
            target=TARGET.text,
            target_met=TARGET.met(complete, per_s, growth),
            throughput_per_s=per_s,
            p50_ms=streamed["message_gap_p50_ms"],
            p99_ms=streamed["message_gap_p99_ms"],
            baseline_per_s=cursor["entries_per_s"],
            ratio=ratio(per_s, cursor["entries_per_s"]),
            details={
                "export_peak_rss_growth_mb": growth,
                "server_cpu_us_per_entry": round(streamed["cpu"]["server_cores"] * 1e6 / per_s, 2) if per_s else None,
                "entries": n,
                "complete": complete,
                "baseline": {"kind": "psycopg server-side cursor, same rows and columns", **cursor},
                "export": streamed,
            },
            notes=[
                f"server RSS grew {growth} MB during the export (from {streamed['server_rss_start_mb']} MB)",
                "p50/p99 of scenario 4 are the gaps between consecutive stream messages at the consumer",
            ]
            + ([] if complete else ["EXPORT INCOMPLETE: entry count or amount sum differs from what was seeded"]),
        )
    }


SCENARIO = Scenario("4", "export of one customer's history", TARGET, run)
