"""Scenario 2: 64 callers debiting one hot wallet, against the echo and pgbench (one entry, and batches of
entries, per transaction)."""

from __future__ import annotations

from bench import pgbench, seed
from bench.context import HOT_PGB, HOT_SVC, Context
from bench.scenarios.common import (
    Result,
    Scenario,
    cpu_ms_per_call,
    echo_fields,
    echo_note,
    echo_writes,
    load_headline,
    ratio,
    write_checks,
)
from bench.scenarios.targets import VersusEcho

TARGET = VersusEcho(throughput=0.8)


def run(ctx: Context) -> dict[str, Result]:
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
        measured = pgbench.run_pgbench(
            ctx.db.url,
            pgbench.batch_script(HOT_PGB, batch),
            baseline.best.clients,
            ctx.mode.pgbench_s,
            ctx.log_dir,
        )
        batches[str(batch)] = {
            "clients": measured.clients,
            "tps": measured.tps,
            "entries_per_s": round(measured.tps * batch, 1),
        }
    spec = ctx.spec("hot_debit", [ctx.server.address], customer_prefix=HOT_SVC[:-1])
    echo = echo_writes(ctx, spec)
    print(f"  service: {ctx.args.concurrency} callers debiting one wallet ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, HOT_SVC), seed.database_now(ctx.db.url)
    result = ctx.load(spec, [ctx.server], profile_as=ctx.profile_as("scenario2"))
    vs_echo = echo_fields(result, echo)
    print("  pgbench: best client count again, after the service's load ...", flush=True)
    pgbench.again_after(baseline, ctx.db.url, pgbench.hot_script(HOT_PGB), ctx.mode.pgbench_s, ctx.log_dir)
    return {
        "2": Result(
            title=f"one hot wallet, debits ({ctx.args.concurrency} callers)",
            target=TARGET.text,
            target_met=TARGET.met(vs_echo["vs_echo"], vs_echo["cpu_vs_echo"], result.p99_ms),
            **load_headline(result),
            baseline_per_s=round(baseline.best.tps, 1),
            ratio=ratio(result.throughput_per_s, baseline.best.tps),
            details={
                "server_cpu_ms_per_call": cpu_ms_per_call(result),
                **vs_echo,
                "baseline": {"kind": "pgbench, one entry per transaction", **baseline.as_dict()},
                "echo": {"kind": "bare grpc.aio echo service, same load, same proto types", **echo.as_dict()},
                "pgbench_batched_entries_per_s": batches,
                "load": result.as_dict(),
                "checks": write_checks(ctx, HOT_SVC, before, since, result),
            },
            notes=[
                echo_note(vs_echo, result, echo),
                *(
                    f"pgbench with {b} debits per transaction: {v['entries_per_s']:,.0f} entries/s"
                    for b, v in batches.items()
                ),
            ],
        )
    }


SCENARIO = Scenario("2", "one hot wallet, debits", TARGET, run)
