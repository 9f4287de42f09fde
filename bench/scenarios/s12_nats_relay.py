"""Scenario 12: the NATS JetStream relay on a second process while scenario 1's write mix runs (#21)."""

from __future__ import annotations

from bench import sinks
from bench.context import Context
from bench.scenarios.common import Result, Scenario, server_env
from bench.scenarios.s11_webhook import TARGET, as_result, write_mix


def run(ctx: Context) -> dict[str, Result]:
    return {"12": as_result(sinks.scenario_12(ctx, write_mix(ctx), server_env(ctx.args.observability)))}


SCENARIO = Scenario("12", "NATS relay delivery under the write mix", TARGET, run)
