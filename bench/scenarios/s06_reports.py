"""Scenario 6: SummarizeLedger over a year of one customer's entries (by day; by month with a breakdown by
a metadata key) and GetBalances as_of at many instants of it."""

from __future__ import annotations

from bench import reports
from bench.context import REPORT_CUSTOMER, Context
from bench.scenarios.common import Result, Scenario
from bench.scenarios.targets import Reports

TARGET = Reports()


def run(ctx: Context) -> dict[str, Result]:
    assert ctx.server is not None
    n = ctx.mode.report_entries
    print(f"  service: SummarizeLedger and GetBalances as_of over a year of {n:,} entries ...", flush=True)
    start, entries = ctx.report_year
    measured = reports.measure(ctx.server.address, REPORT_CUSTOMER, start, entries, n)
    day, month, as_of = measured["year_by_day_s"], measured["year_by_month_with_breakdown_s"], measured["as_of_ms"]
    day_median, month_median = day[len(day) // 2], month[len(month) // 2]
    return {
        "6": Result(
            title=f"reports over a year of {n:,} entries (as_of ms)",
            target=TARGET.text,
            target_met=TARGET.met(day_median, month_median, as_of["p99"]),
            p50_ms=as_of["p50"],
            p99_ms=as_of["p99"],
            details={
                "year_by_day_median_s": day_median,
                "year_by_month_with_breakdown_median_s": month_median,
                "reports": measured,
            },
            notes=[
                f"year by day (365 buckets): median {day_median:.3f} s of {day};"
                f" by month with a breakdown by model: median {month_median:.3f} s of {month};"
                f" GetBalances as_of at {as_of['points']} instants: p50 {as_of['p50']} ms,"
                f" p99 {as_of['p99']} ms, max {as_of['max']} ms"
            ],
        )
    }


SCENARIO = Scenario("6", "reports over a year of entries", TARGET, run)
