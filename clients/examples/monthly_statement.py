"""A monthly usage statement per model, from the `model` metadata of the month's debits.

    WALLET_ADDR=127.0.0.1:50051 python clients/examples/monthly_statement.py [CUSTOMER_ID] [TIME_ZONE]

The API gateway tags each usage debit with the model that served it; one
SummarizeLedger call by month, grouped by that key, gives what a customer
spent on each model (the 20 largest, then "(other)", then "(none)" for
debits without a model), with the balance at the start and end of the month.
"""

from __future__ import annotations

import sys
import uuid
import zoneinfo
from datetime import datetime, timedelta

from wallet_client import WalletClient, format_money

# What the gateway charged today, in cents: (model, calls, price per call).
USAGE = [("vision-xl", 3, 40), ("chat-small", 5, 5), ("chat-large", 2, 60), ("chat-small", 4, 5)]


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The local calendar month holding `moment`: its first instant and the next month's."""
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def main(customer_id: str | None = None, time_zone: str = "UTC") -> int:
    customer_id = customer_id or f"cus_demo_{uuid.uuid4().hex[:8]}"
    start, end = month_of(datetime.now(zoneinfo.ZoneInfo(time_zone)))
    with WalletClient() as wallet:
        wallet.credit(customer_id, 1_000, "USD", reason="Prepaid credits")  # $10.00
        for model, calls, price in USAGE:
            wallet.debit(customer_id, calls * price, "USD", reason=f"{calls} calls", metadata={"model": model})
        wallet.debit(customer_id, 25, "USD", reason="Support plan")  # no model: shown as (none)
        summary = wallet.summarize(
            customer_id, "USD", start, end, period="month", time_zone=time_zone, group_by_metadata_key="model"
        )

    def money(cents: int) -> str:
        return format_money(cents, summary.currency, summary.minor_unit_exponent)

    for month in summary:
        print(f"Usage statement of {customer_id} for {start:%B %Y} ({summary.time_zone})")
        for row in month.debits_by_metadata:
            print(f"  {row.value:<12} {money(row.amount):>8}  {row.count} debit{'s' if row.count != 1 else ''}")
        print(f"  {'total':<12} {money(month.debited):>8}  {month.debit_count} debits")
        print(f"Balance: {money(month.opening_balance)} at the start, {money(month.closing_balance)} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
