"""The benchmark's scenarios, one module each: a name, its target as data, and a run giving typed results.

`SCENARIOS` is the registry by key (what `--scenarios` names); a run goes
through the keys in the order asked for (by default 1 to 12).
"""

from __future__ import annotations

from bench.scenarios import (
    s01_write_mix,
    s02_hot_wallet,
    s03_balances,
    s04_export,
    s05_two_servers,
    s06_reports,
    s07_events,
    s08_batch_credits,
    s09_hot_batches,
    s10_observability,
    s11_webhook,
    s12_nats_relay,
)
from bench.scenarios.common import Result, Scenario

SCENARIOS: dict[str, Scenario] = {
    module.SCENARIO.key: module.SCENARIO
    for module in (
        s01_write_mix,
        s02_hot_wallet,
        s03_balances,
        s04_export,
        s05_two_servers,
        s06_reports,
        s07_events,
        s08_batch_credits,
        s09_hot_batches,
        s10_observability,
        s11_webhook,
        s12_nats_relay,
    )
}

__all__ = ["SCENARIOS", "Result", "Scenario"]
