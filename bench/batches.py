"""Scenarios 8 and 9: BatchCreateLedgerEntries, in entries per second, against pgbench.

8: non-atomic batches of 100 credits, each over 100 distinct customers of
10,000, from 8 concurrent callers; held against pgbench's single-entry rate
on distinct wallets (scenario 1's baseline, at its best client count).
Target: at least 3x.

9: non-atomic batches of 100 debits of one hot wallet, from 8 callers; held
against pgbench applying 50 debits of one wallet per transaction (at its
best client count). Target: at least 1x.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench import pgbench, seed
from bench.loadgen import BATCH_ENTRIES, LoadResult

if TYPE_CHECKING:
    from bench.run import Context

CALLERS = 8
BATCH_PREFIX = "sc-"
HOT_BATCH = "hot-bat-1"
PGBENCH_ENTRIES_PER_TRANSACTION = 50


def _fields(result: LoadResult, baseline_per_s: float | None) -> dict[str, Any]:
    entries_per_s = round(result.throughput_per_s * BATCH_ENTRIES, 1)
    cores = result.cpu.get("server_cores")
    return {
        "throughput_per_s": entries_per_s,
        "calls_per_s": result.throughput_per_s,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "server_cpu_ms_per_entry": round(cores * 1000 / entries_per_s, 4) if cores and entries_per_s else None,
        "baseline_per_s": round(baseline_per_s, 1) if baseline_per_s else None,
        "ratio": round(entries_per_s / baseline_per_s, 3) if baseline_per_s else None,
    }


def scenario_8(ctx: Context) -> None:
    # Imported here: bench.run imports this module.
    from bench.run import CUSTOMERS, _pgbench_mix, _write_checks

    assert ctx.server is not None
    seed.seed_customers(ctx.db.url, BATCH_PREFIX, CUSTOMERS)
    baseline = _pgbench_mix(ctx)
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
    result = ctx.load(spec, [ctx.server], profile_as="scenario8" if ctx.args.profile else None)
    fields = _fields(result, baseline.best.tps)
    checks = _write_checks(ctx, like, before, since, result)
    checks["ok"] = checks["ok"] and checks["rows_written"] >= result.ok_total * BATCH_ENTRIES
    ctx.results["scenarios"]["8"] = {
        "title": f"batches of {BATCH_ENTRIES} credits, distinct customers ({CALLERS} callers), entries/s",
        **fields,
        "target": ">=3.0x pgbench single-entry",
        "target_met": None if fields["ratio"] is None else fields["ratio"] >= 3.0,
        "baseline": {"kind": "pgbench, one entry per transaction, distinct wallets", **baseline.as_dict()},
        "load": result.as_dict(),
        "checks": checks,
        "notes": ["throughput and baseline are entries per second; p50/p99 are per batch call"],
    }


def scenario_9(ctx: Context) -> None:
    from bench.run import HOT_PGB, _write_checks

    assert ctx.server is not None
    seed.seed_customers(ctx.db.url, HOT_BATCH[:-1], 1, seed.HOT_START_BALANCE)
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
    result = ctx.load(spec, [ctx.server], profile_as="scenario9" if ctx.args.profile else None)
    fields = _fields(result, baseline_entries)
    checks = _write_checks(ctx, HOT_BATCH, before, since, result)
    checks["ok"] = checks["ok"] and checks["rows_written"] >= result.ok_total * BATCH_ENTRIES
    ctx.results["scenarios"]["9"] = {
        "title": f"batches of {BATCH_ENTRIES} debits, one hot wallet ({CALLERS} callers), entries/s",
        **fields,
        "target": f">=1.0x pgbench {PGBENCH_ENTRIES_PER_TRANSACTION}/transaction",
        "target_met": None if fields["ratio"] is None else fields["ratio"] >= 1.0,
        "baseline": {
            "kind": f"pgbench, {PGBENCH_ENTRIES_PER_TRANSACTION} debits of one wallet per transaction",
            **baseline.as_dict(PGBENCH_ENTRIES_PER_TRANSACTION),
        },
        "load": result.as_dict(),
        "checks": checks,
        "notes": ["throughput and baseline are entries per second; p50/p99 are per batch call"],
    }
