"""The spending chart: SummarizeLedger's periods as an SVG bar chart, drawn on the server.

Per period five bars side by side (credited, debited, expired, refunded,
reclaimed: SummarizeLedger counts reversals apart from credits and debits) on
one scale, and the closing balance as a line on a scale of its own (its axis on
the right). Each period is a focusable group whose <title> gives its numbers,
so hovering or tabbing to a bar shows them, with or without scripts.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from markupsafe import Markup

from wallet_client import LedgerSummary, SummaryBucket
from wallet_client.money import format_money

TOP, BOTTOM = 16, 28


@dataclass(frozen=True)
class Layout:
    """One drawing of the chart: the wide one for desks, the narrow one (same text size) for phones."""

    name: str
    width: int
    height: int
    side: int  # room for each axis's labels
    labels: int  # period labels shown at most


WIDE = Layout("wide", 1000, 300, 80, 10)
NARROW = Layout("narrow", 380, 260, 64, 4)
SERIES = (
    ("credited", "Credited"),
    ("debited", "Debited"),
    ("expired", "Expired"),
    ("refunded", "Refunded"),
    ("reclaimed", "Reclaimed"),
)
LABELS = {"day": "%b %d", "week": "W%V", "month": "%b %Y", "hour": "%H:%M"}


@dataclass(frozen=True)
class Bar:
    series: str
    x: float
    y: float
    width: float
    height: float


def _nice(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _label(summary: LedgerSummary, bucket: SummaryBucket, period: str) -> str:
    local = bucket.start_time.astimezone(zoneinfo.ZoneInfo(summary.time_zone))
    return local.strftime(LABELS.get(period, "%Y-%m-%d"))


def _money(summary: LedgerSummary, minor: int) -> str:
    return format_money(minor, summary.currency, summary.minor_unit_exponent)


def bucket_words(summary: LedgerSummary, bucket: SummaryBucket, label: str) -> str:
    flows = ", ".join(f"{name} {_money(summary, getattr(bucket, key))}" for key, name in SERIES)
    return f"{label}: {flows}; closing balance {_money(summary, bucket.closing_balance)}"


def svg(summary: LedgerSummary, period: str) -> Markup:
    """Both drawings; the page's style shows the one that suits the screen."""
    return _svg(summary, period, WIDE) + _svg(summary, period, NARROW)


def _svg(summary: LedgerSummary, period: str, layout: Layout) -> Markup:
    buckets = list(summary)
    WIDTH, HEIGHT, LEFT, RIGHT = layout.width, layout.height, layout.side, layout.side
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    flow_top = _nice(max((max(getattr(b, key) for key, _ in SERIES) for b in buckets), default=0))
    balance_top = _nice(max((b.closing_balance for b in buckets), default=0))
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(slot * 0.8 / len(SERIES), 1.0)
    parts = [
        f'<svg class="chart {layout.name}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title-{layout.name}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title-{layout.name}">{Markup.escape(_title(summary, period))}</title>',
    ]
    for tick in range(5):
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        left = Markup.escape(_money(summary, flow_top * tick // 4))
        right = Markup.escape(_money(summary, balance_top * tick // 4))
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{left}</text>')
        parts.append(f'<text class="axis balance" x="{LEFT + plot_w + 6}" y="{y + 4:.1f}">{right}</text>')
    every = max(1, -(-len(buckets) // layout.labels))
    points = []
    for index, bucket in enumerate(buckets):
        x0 = LEFT + slot * index + slot * 0.1
        label = _label(summary, bucket, period)
        words = Markup.escape(bucket_words(summary, bucket, label))
        parts.append(f'<g class="bucket" tabindex="0" data-words="{words}"><title>{words}</title>')
        slot_left = LEFT + slot * index
        parts.append(f'<rect class="hit" x="{slot_left:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}"/>')
        for n, (key, _) in enumerate(SERIES):
            amount = getattr(bucket, key)
            height = plot_h * amount / flow_top if amount else 0
            parts.append(
                f'<rect class="bar {key}" x="{x0 + n * bar_w:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar_w:.1f}" height="{height:.1f}"/>'
            )
        parts.append("</g>")
        middle = LEFT + slot * (index + 0.5)
        points.append(f"{middle:.1f},{TOP + plot_h - plot_h * bucket.closing_balance / balance_top:.1f}")
        if index % every == 0:
            parts.append(
                f'<text class="axis" x="{middle:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{Markup.escape(label)}</text>'
            )
    if points:
        parts.append(f'<polyline class="closing" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _title(summary: LedgerSummary, period: str) -> str:
    return (
        f"{summary.currency} credited, debited, expired, refunded and reclaimed per {period} ({summary.time_zone}), "
        "with the closing balance as a line"
    )


def periods_with_breakdown(summary: LedgerSummary, period: str) -> list[tuple[str, SummaryBucket]]:
    return [(_label(summary, b, period), b) for b in summary if b.debits_by_metadata]
