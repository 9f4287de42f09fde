"""Scenario 1: credits and debits over 10,000 customers x 2 currencies from 64 callers, against the echo
and pgbench; then (1r) the same mix paced at half pgbench's rate, its latency timed at that load."""

from __future__ import annotations

from bench import seed
from bench.context import CUSTOMERS, Context
from bench.scenarios.common import (
    Result,
    Scenario,
    cpu_ms_per_call,
    echo_fields,
    echo_note,
    echo_writes,
    load_headline,
    pgbench_mix,
    pgbench_mix_again,
    ratio,
    write_checks,
)
from bench.scenarios.targets import KeepsUp, VersusEcho

TARGET = VersusEcho(throughput=0.6)
PACED_TARGET = KeepsUp()
# The paced run offers this share of pgbench's best rate.
PACED_SHARE = 0.5


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    baseline = pgbench_mix(ctx)
    spec = ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS)
    echo = echo_writes(ctx, spec)
    print(f"  service: write mix, {ctx.args.concurrency} callers ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, "sa-%"), seed.database_now(ctx.db.url)
    result = ctx.load(spec, [ctx.server], profile_as=ctx.profile_as("scenario1"))
    vs_echo = echo_fields(result, echo)
    ctx.s1_throughput = result.throughput_per_s
    pgbench_mix_again(ctx)
    results = {
        "1": Result(
            title=f"distinct wallets, write mix ({ctx.args.concurrency} callers)",
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
                "load": result.as_dict(),
                "checks": write_checks(ctx, "sa-%", before, since, result),
            },
            notes=[echo_note(vs_echo, result, echo)],
        )
    }
    if not ctx.mode.target_rate_run:
        return results
    # The target's p99 is "at that load": offer exactly a share of the pgbench rate, paced, and time it.
    rate = round(PACED_SHARE * baseline.best.tps, 1)
    print(f"  service: write mix paced at {rate}/s ({PACED_SHARE:.0%} of pgbench) ...", flush=True)
    before, since = seed.entry_count(ctx.db.url, "sa-%"), seed.database_now(ctx.db.url)
    paced = ctx.load(
        ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS, rate=rate),
        [ctx.server],
    )
    results["1r"] = Result(
        title=f"distinct wallets, paced at {PACED_SHARE:.0%} of pgbench ({rate}/s offered)",
        target=PACED_TARGET.text,
        target_met=PACED_TARGET.met(paced.throughput_per_s, rate, paced.p99_ms),
        **load_headline(paced),
        baseline_per_s=round(baseline.best.tps, 1),
        ratio=ratio(paced.throughput_per_s, baseline.best.tps),
        details={
            "server_cpu_ms_per_call": cpu_ms_per_call(paced),
            **echo_fields(paced, echo),
            "offered_per_s": rate,
            "load": paced.as_dict(),
            "checks": write_checks(ctx, "sa-%", before, since, paced),
        },
        notes=[
            "latency timed from each call's scheduled start (open loop, no coordinated omission)",
            "vs echo: the paced rate against the echo's closed-loop rate of scenario 1",
        ],
    )
    return results


SCENARIO = Scenario("1", "write mix over distinct wallets", TARGET, run)
