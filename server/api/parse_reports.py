"""Turns the report requests (GetBalances as of an instant, SummarizeLedger) into validated domain values.

As in `server.api.parse`, every bad field is named in one InvalidArgument.
The buckets of a summary are computed here, from the domain's calendar
(`server.domain.periods`), so a range cut into too many is refused before
anything is read.
"""

from __future__ import annotations

import functools
import zoneinfo
from datetime import UTC, datetime

from server.api.parse import check_currency, check_customer_id, check_text, timestamp
from server.config import Settings
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import METADATA_KEY_LENGTH_MAX, TIME_ZONE_LENGTH_MAX
from server.domain.periods import Period, bucket_bounds
from server.domain.reports import SummaryQuery
from wallet.v1 import wallet_pb2

_PERIODS = {
    wallet_pb2.PERIOD_UNSPECIFIED: Period.WHOLE,
    wallet_pb2.PERIOD_HOUR: Period.HOUR,
    wallet_pb2.PERIOD_DAY: Period.DAY,
    wallet_pb2.PERIOD_WEEK: Period.WEEK,
    wallet_pb2.PERIOD_MONTH: Period.MONTH,
}
DEFAULT_TIME_ZONE = "UTC"
# The machine's own zone is not a name a caller can mean: the answer would change with the server.
_NOT_ZONES = {"localtime"}


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(violations)


def balances_query(request: wallet_pb2.GetBalancesRequest, now: datetime | None = None) -> tuple[str, datetime | None]:
    """The customer, and the instant to read the wallets at (None: now)."""
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    as_of = timestamp(request, "as_of", violations)
    if as_of is not None and as_of > (now or datetime.now(UTC)):
        violations.append(FieldViolation("as_of", "must not be in the future"))
    _raise_if(violations)
    return request.customer_id, as_of


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _zone(name: str, violations: list[FieldViolation]) -> zoneinfo.ZoneInfo | None:
    if len(name) > TIME_ZONE_LENGTH_MAX or name not in _known_zones():
        shown = name[:TIME_ZONE_LENGTH_MAX].replace("\x00", "\\0")
        violations.append(FieldViolation("time_zone", f"{shown!r} is not an IANA time zone such as Europe/Berlin"))
        return None
    return zoneinfo.ZoneInfo(name)


def summary_query(request: wallet_pb2.SummarizeLedgerRequest, settings: Settings) -> SummaryQuery:
    """The validated SummarizeLedger request, with the instants that cut its range into buckets."""
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    check_currency(request.currency, settings.currencies, violations, required=True)
    start = timestamp(request, "start_time", violations)
    end = timestamp(request, "end_time", violations)
    for name, value in (("start_time", start), ("end_time", end)):
        if value is None and not any(v.field == name for v in violations):
            violations.append(FieldViolation(name, "is required"))
    if start is not None and end is not None and end <= start:
        violations.append(FieldViolation("end_time", "must be after start_time"))
    period = _PERIODS.get(request.period)
    if period is None:
        violations.append(FieldViolation("period", "is not a known Period"))
    time_zone = request.time_zone or DEFAULT_TIME_ZONE
    zone = _zone(time_zone, violations)
    key = request.group_by_metadata_key
    check_text(key, "group_by_metadata_key", METADATA_KEY_LENGTH_MAX, violations)
    _raise_if(violations)
    assert start is not None and end is not None and period is not None and zone is not None
    return SummaryQuery(
        customer_id=request.customer_id,
        currency=request.currency,
        bounds=tuple(bucket_bounds(start, end, period, zone)),
        time_zone=time_zone,
        group_by_metadata_key=key or None,
    )
