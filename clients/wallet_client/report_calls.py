"""The report RPC of wallet.v1.WalletService, described once for both clients (see `wallet_client.calls`).

Balances as of an instant are `get_balances(..., as_of=...)` in `wallet_client.calls`.
"""

from __future__ import annotations

from datetime import datetime

from wallet_client.calls import UnaryCall
from wallet_client.models import LedgerSummary, Period
from wallet_client.requests import summary_request
from wallet_client.retry import READ_RETRY_CODES


def summarize(
    customer_id: str,
    currency: str,
    start_time: datetime,
    end_time: datetime,
    *,
    period: Period | str | None = None,
    time_zone: str = "UTC",
    group_by_metadata_key: str | None = None,
    timeout_s: float | None = None,
) -> UnaryCall[LedgerSummary]:
    """Credits, debits and expirations of one wallet in [start_time, end_time), per `period` local to `time_zone`.

    `period` is "hour", "day", "week" (ISO, from Monday) or "month"; None
    gives one bucket for the whole range. Times must be timezone-aware;
    `time_zone` is an IANA name such as "Europe/Berlin". With
    `group_by_metadata_key`, each bucket's debits are broken down by that
    key's value: the 20 largest, then "(other)", then "(none)".
    """
    chosen = Period(period) if period is not None else None
    request = summary_request(customer_id, currency, start_time, end_time, chosen, time_zone, group_by_metadata_key)
    return UnaryCall("SummarizeLedger", request, READ_RETRY_CODES, LedgerSummary.from_proto, timeout_s)
