"""docs/observability.md and its alerts file cannot drift from the metrics the server registers.

The server's registry is built as a metrics-on server builds it (on a port
the system picks, never served); the page's table must list exactly the
`wallet_*` and `grpc_server_*` metrics it holds, and every metric named
anywhere in the page or in the alerting rules must be one of them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from server.config import Settings
from server.observability.telemetry import Telemetry

DOCS = Path(__file__).parents[2] / "docs"
OURS = re.compile(r"\b((?:wallet|grpc_server)_[a-z_]+)\b")
NOT_METRICS = {"wallet_client"}


def _registered() -> tuple[set[str], set[str]]:
    """Every metric name of ours a scrape can show, and the histograms among them."""
    telemetry = Telemetry.from_settings(replace(Settings(), metrics_addr="127.0.0.1:0"))
    try:
        assert telemetry.registry is not None and telemetry.ledger_metrics is not None
        telemetry.ledger_metrics.watch_pool(dict)
        names, histograms = set(), set()
        for family in telemetry.registry.collect():
            # prometheus-client names a counter's family without its _total suffix.
            name = f"{family.name}_total" if family.type == "counter" else family.name
            names.add(name)
            if family.type == "histogram":
                histograms.add(name)
        return {n for n in names if OURS.fullmatch(n)}, histograms
    finally:
        telemetry.stop()


def test_the_metrics_table_lists_exactly_the_metrics_the_server_registers() -> None:
    registered, _ = _registered()
    text = (DOCS / "observability.md").read_text()
    tabled = set(re.findall(r"^\| `((?:wallet|grpc_server)_[a-z_]+)` \|", text, re.MULTILINE))
    assert tabled == registered


def test_every_metric_the_page_and_the_alerting_rules_name_is_registered() -> None:
    registered, histograms = _registered()
    known = registered | {f"{h}_{suffix}" for h in histograms for suffix in ("bucket", "count", "sum")}
    for path in (DOCS / "observability.md", DOCS / "observability" / "alerts.yml"):
        named = set(OURS.findall(path.read_text())) - NOT_METRICS
        assert named - known == set(), path.name


def test_the_alerting_rules_cover_errors_latency_the_write_queue_the_pool_readiness_and_the_sinks() -> None:
    rules = (DOCS / "observability" / "alerts.yml").read_text()
    alerts = re.findall(r"^\s+- alert: (\w+)$", rules, re.MULTILINE)
    assert alerts == [
        "WalletServerErrorRatioHigh",
        "WalletLatencyP99High",
        "WalletWriteQueueWaitHigh",
        "WalletDbPoolSaturated",
        "WalletNotServing",
        "WalletSinkBehind",
        "WalletSinkNotLed",
        "WalletSinkDeliveriesFailing",
        "WalletWebhookEndpointDisabled",
    ]
    assert rules.count("        expr: ") == len(alerts)
