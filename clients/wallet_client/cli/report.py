"""`wallet report`: a wallet's credits, debits and expirations per period, as a table and a bar chart.

On a terminal the table comes first and the chart of credits (green) and
debits (red) per period under it, so the trend shows at a glance; `--svg`
saves the same picture. `--format csv` and `--format json` are for
spreadsheets and scripts (amounts in minor units, times in ISO 8601 UTC).
"""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from wallet_client.cli import arguments, display, report_view
from wallet_client.cli.arguments import CustomerArg
from wallet_client.cli.context import Options, explained_errors
from wallet_client.models import LedgerSummary, Period, SummaryBucket


class ReportPeriod(enum.StrEnum):
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"


class ReportFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# How far back a report reaches without --since: a screenful of periods.
_DEFAULT_SPANS = {
    ReportPeriod.hour: timedelta(hours=24),
    ReportPeriod.day: timedelta(days=30),
    ReportPeriod.week: timedelta(weeks=12),
    ReportPeriod.month: timedelta(days=365),
}


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as error:
        message = f"{name!r} is not an IANA time zone such as Europe/Berlin"
        raise typer.BadParameter(message, param_hint="--time-zone") from error


def _local_time(text: str | None, option: str, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """A date or time given to `option`; without an offset it is a wall-clock time in the report's zone."""
    if arguments.parse_time(text, option) is None:
        return None
    assert text is not None
    given = datetime.fromisoformat(text)
    return given if given.tzinfo else given.replace(tzinfo=zone)


def report(
    ctx: typer.Context,
    customer_id: CustomerArg,
    currency: Annotated[str, typer.Option(help="The wallet to report on, e.g. USD.")],
    period: Annotated[ReportPeriod, typer.Option(help="One row per hour, day, ISO week or month.")] = ReportPeriod.day,
    since: Annotated[
        str | None,
        typer.Option(help="From this date or time on (default: 30 days, 24 hours, 12 weeks or a year back)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date or time, exclusive (default: now).")] = None,
    time_zone: Annotated[
        str, typer.Option("--time-zone", help="IANA zone the periods (and dates without an offset) are local to.")
    ] = "UTC",
    by_metadata: Annotated[
        str | None, typer.Option("--by-metadata", help="Also break each period's debits down by this metadata key.")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="table (with a chart), csv or json.")] = (
        ReportFormat.table
    ),
    svg: Annotated[Path | None, typer.Option("--svg", help="Also save the table and chart as an SVG picture.")] = None,
) -> None:
    """Sum a wallet's credits, debits and expirations per period, with the balance at each period's start and end."""
    opts: Options = ctx.obj
    zone = _zone(time_zone)
    end = _local_time(until, "--until", zone) or datetime.now(UTC)
    start = _local_time(since, "--since", zone) or end - _DEFAULT_SPANS[period]
    attempt = display.Attempt()
    with opts.client() as client, explained_errors(opts, attempt):
        summary = client.summarize(
            customer_id,
            currency.upper(),
            start,
            end,
            period=Period(period.value),
            time_zone=time_zone,
            group_by_metadata_key=by_metadata,
        )
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(summary_json(summary), ensure_ascii=False))
    elif fmt is ReportFormat.csv:
        write_csv(summary, by_metadata)
    else:
        report_view.print_report(Console(soft_wrap=True), summary, period.value, by_metadata)
        if svg is not None:
            # Drawn at a width of its own, whatever the terminal's: the same picture from any terminal or a pipe.
            picture = Console(width=report_view.SVG_WIDTH, record=True, file=io.StringIO(), force_terminal=True)
            report_view.print_report(picture, summary, period.value, by_metadata)
            picture.save_svg(str(svg), title=f"wallet report {customer_id} {summary.currency}")
            typer.echo(f"Saved {svg}", err=True)


def _bucket_fields(bucket: SummaryBucket) -> dict[str, Any]:
    return {
        "start_time": bucket.start_time.isoformat(),
        "end_time": bucket.end_time.isoformat(),
        "opening_balance": bucket.opening_balance,
        "credited": bucket.credited,
        "debited": bucket.debited,
        "expired": bucket.expired,
        "closing_balance": bucket.closing_balance,
        "credit_count": bucket.credit_count,
        "debit_count": bucket.debit_count,
        "expiration_count": bucket.expiration_count,
    }


def summary_json(summary: LedgerSummary) -> dict[str, Any]:
    return {
        "customer_id": summary.customer_id,
        "currency": summary.currency,
        "time_zone": summary.time_zone,
        "minor_unit_exponent": summary.minor_unit_exponent,
        "buckets": [
            {
                **_bucket_fields(bucket),
                "debits_by_metadata": [
                    {"value": r.value, "amount": r.amount, "count": r.count} for r in bucket.debits_by_metadata
                ],
            }
            for bucket in summary
        ],
    }


def write_csv(summary: LedgerSummary, by_metadata: str | None) -> None:
    """One row per period; with a breakdown, one row per period and value (the period's columns repeated)."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    columns = list(_bucket_fields(summary.buckets[0]))
    extra = ["metadata_value", "metadata_amount", "metadata_count"] if by_metadata else []
    writer.writerow(columns + extra)
    for bucket in summary:
        fields = list(_bucket_fields(bucket).values())
        if not by_metadata:
            writer.writerow(fields)
            continue
        for row in bucket.debits_by_metadata or ():
            writer.writerow([*fields, row.value, row.amount, row.count])
        if not bucket.debits_by_metadata:
            writer.writerow([*fields, "", "", ""])
