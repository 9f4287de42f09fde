"""What `wallet report` draws: the table per period, the metadata breakdown and the bar chart, fitted to a width."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wallet_client.cli.fit import Column, print_fitted
from wallet_client.models import LedgerSummary, MetadataBreakdown, SummaryBucket
from wallet_client.money import format_money

# How each kind of period is labelled (hour, day, ISO week, month).
_LABELS = {
    "hour": "%Y-%m-%d %H:%M",
    "day": "%Y-%m-%d %a",
    "week": "%G-W%V",
    "month": "%Y-%m",
}
CHART_WIDTH = 40
CHART_MIN_WIDTH = 10
# Columns of the `--svg` picture.
SVG_WIDTH = 100
_BAR = "█"


# A period's bucket and one value of the --by-metadata breakdown within it.
_Share = tuple[SummaryBucket, MetadataBreakdown]


def _money(summary: LedgerSummary, minor_units: int) -> str:
    return format_money(minor_units, summary.currency, summary.minor_unit_exponent)


def _label(summary: LedgerSummary, bucket: SummaryBucket, period: str) -> str:
    return bucket.start_time.astimezone(zoneinfo.ZoneInfo(summary.time_zone)).strftime(_LABELS[period])


def summary_layouts(summary: LedgerSummary, period: str) -> list[list[Column[SummaryBucket]]]:
    """Wide: a column per amount. Narrow: the closing balance under the opening one. No amount is ever left out."""

    def amount(header: str, pick: Callable[[SummaryBucket], int]) -> Column[SummaryBucket]:
        return Column(header, lambda b: _money(summary, pick(b)), right=True)

    label: Column[SummaryBucket] = Column(period.capitalize(), lambda b: _label(summary, b, period))
    entries: Column[SummaryBucket] = Column(
        "Entries", lambda b: str(b.credit_count + b.debit_count + b.expiration_count), right=True, drop=1
    )
    flows = [
        amount("Credited", lambda b: b.credited),
        amount("Debited", lambda b: b.debited),
        amount("Expired", lambda b: b.expired),
    ]
    both: Column[SummaryBucket] = Column(
        "Opening\nClosing",
        lambda b: f"{_money(summary, b.opening_balance)}\n{_money(summary, b.closing_balance)}",
        right=True,
    )
    return [
        [
            label,
            amount("Opening", lambda b: b.opening_balance),
            *flows,
            amount("Closing", lambda b: b.closing_balance),
            entries,
        ],
        [label, both, *flows, entries],
    ]


def breakdown_layouts(summary: LedgerSummary, period: str, key: str) -> list[list[Column[_Share]]]:
    """One row per period and value of the metadata key: the value (an id, often) and the amount whole."""
    return [
        [
            Column(period.capitalize(), lambda r: _label(summary, r[0], period)),
            Column(key, lambda r: r[1].value or "(none)"),
            Column("Debited", lambda r: _money(summary, r[1].amount), right=True),
            Column("Debits", lambda r: str(r[1].count), right=True, drop=1),
        ]
    ]


def print_report(console: Console, summary: LedgerSummary, period: str, by_metadata: str | None) -> None:
    """The table, the breakdown (in a table of its own, so that it is never squeezed) and the chart."""
    buckets = list(summary)
    title = f"{summary.currency} wallet of {summary.customer_id} per {period} ({summary.time_zone})"
    print_fitted(console, summary_layouts(summary, period), buckets, title)
    if by_metadata:
        shares = [(bucket, row) for bucket in buckets for row in bucket.debits_by_metadata]
        breakdown = f"Debits by {by_metadata}"
        if shares:
            print_fitted(console, breakdown_layouts(summary, period, by_metadata), shares, breakdown)
        else:
            console.print(f"{breakdown}: no debits carry this key in these periods.")
    console.print(trend_chart(summary, period, console.width), crop=False)


def trend_chart(summary: LedgerSummary, period: str, width: int = 80) -> Table:
    """Two bars per period, credits in green above debits in red, on one scale for the whole chart.

    The bars take what `width` leaves beside the labels and amounts (up to
    CHART_WIDTH, at least CHART_MIN_WIDTH); the labels and amounts are never cut.
    """
    largest = max((max(b.credited, b.debited) for b in summary), default=0)
    labels = max((cell_len(_label(summary, b, period)) for b in summary), default=0)
    amounts = max((cell_len(_money(summary, max(b.credited, b.debited))) + 1 for b in summary), default=0)
    bar_width = max(CHART_MIN_WIDTH, min(CHART_WIDTH, width - labels - amounts - 2))
    chart = Table.grid(padding=(0, 1))
    chart.title = f"Credits [green]{_BAR}[/] and debits [red]{_BAR}[/] per {period}"
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True, width=bar_width)
    chart.add_column(justify="right", no_wrap=True)
    for bucket in summary:
        bars = Text()
        for amount, style in ((bucket.credited, "green"), (bucket.debited, "red")):
            size = 0 if not amount else max(1, round(bar_width * amount / largest))
            bars.append(_BAR * size + "\n", style=style)
        bars.rstrip()
        shown = f"+{_money(summary, bucket.credited)}\n-{_money(summary, bucket.debited)}"
        chart.add_row(_label(summary, bucket, period), bars, shown)
    return chart
