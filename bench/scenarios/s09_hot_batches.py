"""Scenario 9: non-atomic batches of 100 debits of one hot wallet, from 8 callers; held against pgbench
applying 50 debits of one wallet per transaction (at its best client count)."""

from __future__ import annotations

from bench import pgbench, seed
from bench.context import HOT_BATCH, HOT_PGB, Context
from bench.loadgen import BATCH_ENTRIES
from bench.scenarios.batch_calls import CALLERS, batch_fields, per_call_details
from bench.scenarios.common import Result, Scenario, write_checks
from bench.scenarios.targets import AtLeast

PGBENCH_ENTRIES_PER_TRANSACTION = 50
TARGET = AtLeast(1.0, f">=1.0x pgbench {PGBENCH_ENTRIES_PER_TRANSACTION}/transaction")


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    print(f"  pgbench: {PGBENCH_ENTRIES_PER_TRANSACTION} debits of one wallet per transaction ...", flush=True)
    baseline = pgbench.best_of(
        ctx.db.url,
        pgbench.batch_script(HOT_PGB, PGBENCH_ENTRIES_PER_TRANSACTION),
        list(ctx.mode.pgbench_hot_clients),
        ctx.mode.pgbench_s,
        ctx.log_dir,
    )
    baseline_entries = baseline.best.tps * PGBENCH_ENTRIES_PER_TRANSACTION
    print(f"  service: {CALLERS} callers, batches of {BATCH_ENTRIES} debits of one wallet ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, HOT_BATCH), seed.database_now(ctx.db.url)
    spec = ctx.spec(
        "hot_batch", [ctx.server.address], processes=2, concurrency=CALLERS // 2, customer_prefix=HOT_BATCH[:-1]
    )
    result = ctx.load(spec, [ctx.server], profile_as=ctx.profile_as("scenario9"))
    fields = batch_fields(result, baseline_entries)
    checks = write_checks(ctx, HOT_BATCH, before, since, result)
    checks["ok"] = checks["ok"] and checks["rows_written"] >= result.ok_total * BATCH_ENTRIES
    return {
        "9": Result(
            title=f"batches of {BATCH_ENTRIES} debits, one hot wallet ({CALLERS} callers), entries/s",
            target=TARGET.text,
            target_met=TARGET.met(fields["ratio"]),
            **fields,
            details={
                **per_call_details(result, fields["throughput_per_s"]),
                "baseline": {
                    "kind": f"pgbench, {PGBENCH_ENTRIES_PER_TRANSACTION} debits of one wallet per transaction",
                    **baseline.as_dict(PGBENCH_ENTRIES_PER_TRANSACTION),
                },
                "load": result.as_dict(),
                "checks": checks,
            },
            notes=["throughput and baseline are entries per second; p50/p99 are per batch call"],
        )
    }


SCENARIO = Scenario("9", "batches of debits of one hot wallet", TARGET, run)
