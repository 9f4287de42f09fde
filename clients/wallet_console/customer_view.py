"""What a customer's page shows, read from the service: wallets, chart, holds and a page of history.

The reads run side by side. The history is one page (newest first, from a
cursor, filtered); the chart's own failure (an unknown time zone, say) is
shown in the chart's place without hiding the rest of the page.
"""

from __future__ import annotations

import asyncio
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from wallet_client import AsyncWalletClient, Balances, Hold, HoldStatus, LedgerEntry, LedgerSummary, WalletError
from wallet_console import chart, format
from wallet_console.history_filters import HistoryQuery, QueryError
from wallet_console.settings import ConsoleSettings

# How many periods the chart shows, the current one included.
PERIODS = {"day": 30, "week": 12, "month": 12}
ACTION_FORMS = ("credit", "debit", "hold", "threshold")


@dataclass(frozen=True)
class ChartQuery:
    currency: str = ""
    period: str = "day"
    time_zone: str = "UTC"
    key: str = ""

    def params(self) -> dict[str, str]:
        """The chart's choices as the page's query string keeps them (the defaults left out)."""
        shown = {"chart_currency": self.currency, "period": self.period, "tz": self.time_zone, "key": self.key}
        return {k: v for k, v in shown.items() if v and (k, v) not in (("period", "day"), ("tz", "UTC"))}

    @classmethod
    def of(cls, params: Mapping[str, str]) -> ChartQuery:
        period = params.get("period", "day")
        return cls(
            currency=params.get("chart_currency", "").strip().upper(),
            period=period if period in PERIODS else "day",
            time_zone=params.get("tz", "").strip() or "UTC",
            key=params.get("key", "").strip(),
        )


@dataclass
class Forms:
    """The action forms' values (each with its idempotency key, fixed now) and any error to show by one."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, default_currency: str) -> Forms:
        values = {
            name: {"idempotency_key": f"console-{uuid.uuid4()}", "currency": default_currency, "ttl": "15m"}
            for name in ACTION_FORMS
        }
        return cls(values=values)

    def reverse(self, entry_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """The Reverse form of one entry: what was sent and its errors if it was just refused, else a fresh key."""
        sent = self.values.get("reverse", {})
        if sent.get("entry_id") == entry_id:
            return sent, self.errors.get("reverse", {})
        return {"idempotency_key": f"console-{uuid.uuid4()}"}, {}

    def reverse_orphan(self, shown: list[LedgerEntry]) -> str:
        """The id of a refused Reverse form whose entry is not on the page shown (it is then drawn on its own)."""
        entry_id = self.values.get("reverse", {}).get("entry_id", "")
        return entry_id if entry_id and all(e.id != entry_id for e in shown) else ""


@dataclass
class CustomerView:
    customer_id: str
    balances: Balances
    history: list[LedgerEntry]
    more_after: str
    holds: list[Hold]
    summary: LedgerSummary | None
    chart_svg: str
    chart_error: str
    history_query: HistoryQuery
    chart_query: ChartQuery
    history_error: str = ""

    @property
    def currencies(self) -> list[str]:
        return [w.currency for w in self.balances]

    def money(self, minor_units: int, currency: str, signed: str = "") -> Markup:
        exponents = {w.currency: w.minor_unit_exponent for w in self.balances}
        return format.money(minor_units, currency, exponents.get(currency, format.FALLBACK_EXPONENT), signed=signed)

    def page_query(self) -> str:
        """The query string of this page of history (a Reverse form carries it, to come back to it if refused)."""
        return urlencode({**self.history_query.params(after=self.history_query.after), **self.chart_query.params()})

    def more_query(self) -> str:
        """The query string of the next page of history, the chart's choices kept."""
        return urlencode({**self.history_query.params(after=self.more_after), **self.chart_query.params()})

    def breakdown(self) -> list[Any]:
        return chart.periods_with_breakdown(self.summary, self.chart_query.period) if self.summary else []


async def _history(
    client: AsyncWalletClient, customer_id: str, query: HistoryQuery, page: int
) -> tuple[list[LedgerEntry], str, str]:
    try:
        filters = query.filters()
    except QueryError as error:
        return [], "", str(error)
    if query.after:
        filters["start_after_id"] = query.after
    found = [e async for e in client.iter_entries(customer_id, limit=page + 1, **filters)]
    more_after = found[page - 1].id if len(found) > page else ""
    return found[:page], more_after, ""


async def _holds(client: AsyncWalletClient, customer_id: str, limit: int) -> list[Hold]:
    found: list[Hold] = []
    async for one in client.list_holds(customer_id):
        found.append(one)
        if len(found) >= limit:
            break
    active = sorted((h for h in found if h.status is HoldStatus.ACTIVE), key=lambda h: h.expire_time)
    return active + [h for h in found if h.status is not HoldStatus.ACTIVE]


async def _summary(client: AsyncWalletClient, customer_id: str, query: ChartQuery) -> tuple[LedgerSummary | None, str]:
    now = datetime.now(UTC)
    try:
        summary = await client.summarize(
            customer_id,
            query.currency,
            chart_start(now, query.period, query.time_zone),
            # The end of the current period, not this host's "now": an entry the service stamped a moment
            # ahead of this clock (another host's, a skew of seconds) still shows in today's bar.
            chart_start(now, query.period, query.time_zone, periods=0),
            period=query.period,
            time_zone=query.time_zone,
            group_by_metadata_key=query.key or None,
        )
    except WalletError as error:
        return None, error.message
    return summary, ""


def chart_start(now: datetime, period: str, time_zone: str, periods: int | None = None) -> datetime:
    """The start of a period: local midnight, Monday or the 1st, `periods` - 1 periods ago (PERIODS[period] by
    default; 0 gives the start of the next period, where the chart ends)."""
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")  # the service names the bad zone in its answer
    today = now.astimezone(zone).date()
    count = PERIODS[period] if periods is None else periods
    if period == "day":
        first = today - timedelta(days=count - 1)
    elif period == "week":
        first = today - timedelta(days=today.weekday(), weeks=count - 1)
    else:
        months = today.year * 12 + today.month - 1 - (count - 1)
        first = date(months // 12, months % 12 + 1, 1)
    return datetime.combine(first, time(), tzinfo=zone)


async def load(
    client: AsyncWalletClient, customer_id: str, params: Mapping[str, str], settings: ConsoleSettings
) -> CustomerView:
    """Everything the page shows; WalletError when the customer cannot be read at all."""
    balances = await client.get_balances(customer_id)
    history_query, chart_query = HistoryQuery.of(params), ChartQuery.of(params)
    currencies = [w.currency for w in balances]
    if chart_query.currency not in currencies:
        busiest = max(balances, key=lambda w: (w.version, -currencies.index(w.currency)))
        chart_query = ChartQuery(busiest.currency, chart_query.period, chart_query.time_zone, chart_query.key)
    (history, more_after, history_error), holds, (summary, chart_error) = await asyncio.gather(
        _history(client, customer_id, history_query, settings.history_page),
        _holds(client, customer_id, settings.holds_shown),
        _summary(client, customer_id, chart_query),
    )
    return CustomerView(
        customer_id=customer_id,
        balances=balances,
        history=history,
        more_after=more_after,
        holds=holds,
        summary=summary,
        chart_svg=chart.svg(summary, chart_query.period) if summary else "",
        chart_error=chart_error,
        history_query=history_query,
        chart_query=chart_query,
        history_error=history_error,
    )
