"""Scenario 7: event delivery to a watcher of every customer while scenario 1's write mix runs."""

from __future__ import annotations

from bench.context import CUSTOMERS, Context
from bench.events import EventWatcher
from bench.scenarios.common import Result, Scenario, cpu_ms_per_call, load_headline
from bench.scenarios.targets import Delivery

TARGET = Delivery()


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    print(f"  service: write mix, {ctx.args.concurrency} callers, with a watcher of every customer ...", flush=True)
    watcher = EventWatcher(ctx.server.address)
    watcher.start()
    watcher.measure_from_now()
    result = ctx.load(
        ctx.spec("write_mix", [ctx.server.address], customer_prefix="sa-", customers=CUSTOMERS), [ctx.server]
    )
    delivery = watcher.stop()
    return {
        "7": Result(
            title="events delivered to a watcher of every customer, under the write mix",
            target=TARGET.text,
            target_met=TARGET.met(delivery["events"], delivery.get("delivery_p50_ms"), delivery.get("delivery_p99_ms")),
            **load_headline(result),
            details={"server_cpu_ms_per_call": cpu_ms_per_call(result), "events": delivery, "load": result.as_dict()},
            notes=[
                f"{delivery['events']} events, {delivery.get('events_per_s')}/s; delivery p50"
                f" {delivery.get('delivery_p50_ms')} ms, p99 {delivery.get('delivery_p99_ms')} ms,"
                f" max {delivery.get('delivery_max_ms')} ms (from the change's clock to arrival)"
            ],
        )
    }


SCENARIO = Scenario("7", "event delivery under the write mix", TARGET, run)
