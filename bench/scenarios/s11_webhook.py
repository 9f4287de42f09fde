"""Scenario 11: webhook delivery to one endpoint taking every event while scenario 1's write mix runs (#21)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import sinks
from bench.context import CUSTOMERS, Context
from bench.loadgen import LoadSpec
from bench.scenarios.common import Result, Scenario, server_env
from bench.scenarios.targets import Delivery

TARGET = Delivery()
_HEADLINE = (
    "title",
    "throughput_per_s",
    "p50_ms",
    "p99_ms",
    "baseline_per_s",
    "ratio",
    "target",
    "target_met",
    "notes",
)


def write_mix(ctx: Context) -> Callable[[list[str]], LoadSpec]:
    """Scenario 1's load against the given servers."""
    return lambda targets: ctx.spec("write_mix", targets, customer_prefix="sa-", customers=CUSTOMERS)


def as_result(entry: dict[str, Any]) -> Result:
    """A sinks scenario's entry (bench/sinks.py) as a typed result, its delivery judged against the one target."""
    delivery = entry["events"]
    return Result(
        title=entry["title"],
        target=TARGET.text,
        target_met=TARGET.met(delivery["events"], delivery.get("delivery_p50_ms"), delivery.get("delivery_p99_ms")),
        throughput_per_s=entry["throughput_per_s"],
        p50_ms=entry["p50_ms"],
        p99_ms=entry["p99_ms"],
        details={k: v for k, v in entry.items() if k not in _HEADLINE},
        notes=list(entry["notes"]),
    )


def run(ctx: Context) -> dict[str, Result]:
    return {"11": as_result(sinks.scenario_11(ctx, write_mix(ctx), server_env(ctx.args.observability)))}


SCENARIO = Scenario("11", "webhook delivery under the write mix", TARGET, run)
