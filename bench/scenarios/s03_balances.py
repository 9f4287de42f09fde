"""Scenario 3: GetBalances from 64 callers, against the bare grpc.aio echo answering the same calls from memory."""

from __future__ import annotations

import contextlib

from bench.context import CUSTOMERS, Context
from bench.infra import start_echo_server
from bench.scenarios.common import Result, Scenario, cpu_ms_per_call, echo_fields, echo_note, load_headline, ratio
from bench.scenarios.targets import AtLeast

TARGET = AtLeast(0.8, ">=0.8x echo")


def run(ctx: Context) -> dict[str, Result]:
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
        profile_as=ctx.profile_as("scenario3"),
    )
    vs_baseline = ratio(result.throughput_per_s, echo_result.throughput_per_s)
    vs_echo = echo_fields(result, echo_result)
    return {
        "3": Result(
            title=f"GetBalances ({ctx.args.concurrency} callers)",
            target=TARGET.text,
            target_met=TARGET.met(vs_baseline),
            **load_headline(result),
            baseline_per_s=echo_result.throughput_per_s,
            ratio=vs_baseline,
            details={
                "server_cpu_ms_per_call": cpu_ms_per_call(result),
                **vs_echo,
                "baseline": {"kind": "bare grpc.aio echo service, same proto types", **echo_result.as_dict()},
                "load": result.as_dict(),
            },
            notes=[echo_note(vs_echo, result, echo_result)],
        )
    }


SCENARIO = Scenario("3", "GetBalances", TARGET, run)
