"""Scenario 5: scenario 1's write mix over two server processes on one database, callers split between them."""

from __future__ import annotations

import contextlib

from bench import seed
from bench.context import CUSTOMERS, Context
from bench.infra import start_wallet_server
from bench.scenarios.common import (
    Result,
    Scenario,
    cpu_ms_per_call,
    load_headline,
    pgbench_mix,
    pgbench_mix_again,
    ratio,
    write_checks,
)
from bench.scenarios.targets import AtLeast

# As fast as one server (scenario 1), allowing 3% for noise.
TARGET = AtLeast(0.97, "correct, >= scenario 1")


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    baseline = pgbench_mix(ctx)
    with contextlib.ExitStack() as local:
        print("  starting a second server process on the same database ...", flush=True)
        second = start_wallet_server(local, ctx.db.url, ctx.log_dir, "wallet-server-2", ctx.server_env)
        print(
            f"  service: write mix over 2 servers, {ctx.args.concurrency} callers split between them ...",
            flush=True,
        )
        before, since = seed.entry_count(ctx.db.url, "sb-%"), seed.database_now(ctx.db.url)
        result = ctx.load(
            ctx.spec("write_mix", [ctx.server.address, second.address], customer_prefix="sb-", customers=CUSTOMERS),
            [ctx.server, second],
        )
    pgbench_mix_again(ctx)
    vs_one = ratio(result.throughput_per_s, ctx.s1_throughput)
    return {
        "5": Result(
            title=f"write mix, 2 server processes ({ctx.args.concurrency} callers)",
            target=TARGET.text,
            target_met=TARGET.met(vs_one),
            **load_headline(result),
            baseline_per_s=round(baseline.best.tps, 1),
            ratio=ratio(result.throughput_per_s, baseline.best.tps),
            details={
                "server_cpu_ms_per_call": cpu_ms_per_call(result),
                "vs_one_server": vs_one,
                "baseline": {"kind": "pgbench, one entry per transaction (as scenario 1)", **baseline.as_dict()},
                "load": result.as_dict(),
                "checks": write_checks(ctx, "sb-%", before, since, result),
            },
            notes=[f"throughput vs one server (scenario 1): {vs_one}x ({TARGET.ratio} allows for noise)"],
        )
    }


SCENARIO = Scenario("5", "write mix over two server processes", TARGET, run)
