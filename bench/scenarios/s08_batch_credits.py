"""Scenario 8: non-atomic batches of 100 credits, each over 100 distinct customers of 10,000, from 8
concurrent callers; held against pgbench's single-entry rate on distinct wallets (scenario 1's baseline,
at its best client count)."""

from __future__ import annotations

from bench import seed
from bench.context import BATCH_PREFIX, CUSTOMERS, Context
from bench.loadgen import BATCH_ENTRIES
from bench.scenarios.batch_calls import CALLERS, batch_fields, per_call_details
from bench.scenarios.common import Result, Scenario, pgbench_mix, write_checks
from bench.scenarios.targets import AtLeast

TARGET = AtLeast(3.0, ">=3.0x pgbench single-entry")


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    baseline = pgbench_mix(ctx)
    print(f"  service: {CALLERS} callers, batches of {BATCH_ENTRIES} credits over distinct customers ...", flush=True)
    like = f"{BATCH_PREFIX}%"
    before, since = seed.entry_count(ctx.db.url, like), seed.database_now(ctx.db.url)
    spec = ctx.spec(
        "batch_credits",
        [ctx.server.address],
        processes=2,
        concurrency=CALLERS // 2,
        customer_prefix=BATCH_PREFIX,
        customers=CUSTOMERS,
    )
    result = ctx.load(spec, [ctx.server], profile_as=ctx.profile_as("scenario8"))
    fields = batch_fields(result, baseline.best.tps)
    checks = write_checks(ctx, like, before, since, result)
    checks["ok"] = checks["ok"] and checks["rows_written"] >= result.ok_total * BATCH_ENTRIES
    return {
        "8": Result(
            title=f"batches of {BATCH_ENTRIES} credits, distinct customers ({CALLERS} callers), entries/s",
            target=TARGET.text,
            target_met=TARGET.met(fields["ratio"]),
            **fields,
            details={
                **per_call_details(result, fields["throughput_per_s"]),
                "baseline": {"kind": "pgbench, one entry per transaction, distinct wallets", **baseline.as_dict()},
                "load": result.as_dict(),
                "checks": checks,
            },
            notes=["throughput and baseline are entries per second; p50/p99 are per batch call"],
        )
    }


SCENARIO = Scenario("8", "batches of credits over distinct customers", TARGET, run)
