"""Builds the request messages; the one place that knows the proto field names. Shared by both clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from wallet.v1 import wallet_pb2
from wallet_client.models import EntryType, EventType, HoldStatus, Period


def new_idempotency_key() -> str:
    """A key for one logical write, made once and reused by every retry of it."""
    return str(uuid.uuid4())


def balances_request(customer_id: str, as_of: datetime | None = None) -> wallet_pb2.GetBalancesRequest:
    message = wallet_pb2.GetBalancesRequest(customer_id=customer_id)
    if as_of is not None:
        message.as_of.FromDatetime(_aware(as_of, "as_of"))
    return message


def summary_request(
    customer_id: str,
    currency: str,
    start_time: datetime,
    end_time: datetime,
    period: Period | None,
    time_zone: str,
    group_by_metadata_key: str | None,
) -> wallet_pb2.SummarizeLedgerRequest:
    message = wallet_pb2.SummarizeLedgerRequest(
        customer_id=customer_id,
        currency=currency,
        period=period.to_proto() if period is not None else wallet_pb2.PERIOD_UNSPECIFIED,
        time_zone=time_zone,
        group_by_metadata_key=group_by_metadata_key or "",
    )
    message.start_time.FromDatetime(_aware(start_time, "start_time"))
    message.end_time.FromDatetime(_aware(end_time, "end_time"))
    return message


def _minor_units(amount: int) -> int:
    # bool is an int subclass and Decimal/float would be silently truncated: refuse both here.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount must be an int of minor units, not {type(amount).__name__}")
    return amount


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment


def entry_request(
    customer_id: str,
    entry_type: EntryType,
    amount: int,
    currency: str,
    reason: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None,
    expire_time: datetime | None = None,
) -> wallet_pb2.CreateLedgerEntryRequest:
    if entry_type is EntryType.EXPIRATION:
        raise ValueError("expiration entries are written by the service; they cannot be requested")
    message = wallet_pb2.CreateLedgerEntryRequest(
        customer_id=customer_id,
        amount=_minor_units(amount),
        currency=currency,
        entry_type=entry_type.to_proto(),
        reason=reason,
        idempotency_key=idempotency_key,
        metadata=dict(metadata or {}),
    )
    if expire_time is not None:
        message.expire_time.FromDatetime(_aware(expire_time, "expire_time"))
    return message


def reversal_request(
    customer_id: str,
    entry_id: str,
    amount: int,
    reason: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None,
) -> wallet_pb2.ReverseLedgerEntryRequest:
    """`amount` 0 asks for everything reversible now."""
    return wallet_pb2.ReverseLedgerEntryRequest(
        customer_id=customer_id,
        entry_id=entry_id,
        amount=_minor_units(amount),
        reason=reason,
        idempotency_key=idempotency_key,
        metadata=dict(metadata or {}),
    )


def hold_request(
    customer_id: str,
    amount: int,
    currency: str,
    ttl: timedelta | None,
    reason: str,
    idempotency_key: str,
    metadata: Mapping[str, str] | None,
) -> wallet_pb2.CreateHoldRequest:
    message = wallet_pb2.CreateHoldRequest(
        customer_id=customer_id,
        currency=currency,
        amount=_minor_units(amount),
        reason=reason,
        idempotency_key=idempotency_key,
        metadata=dict(metadata or {}),
    )
    if ttl is not None:
        # Unset means the server's default (15 minutes); a zero or negative ttl is refused here.
        if ttl <= timedelta(0):
            raise ValueError("ttl must be positive; None means the service's default")
        message.ttl.FromTimedelta(ttl)
    return message


def capture_request(
    customer_id: str, hold_id: str, amount: int, reason: str, metadata: Mapping[str, str] | None
) -> wallet_pb2.CaptureHoldRequest:
    return wallet_pb2.CaptureHoldRequest(
        customer_id=customer_id,
        hold_id=hold_id,
        amount=_minor_units(amount),
        reason=reason,
        metadata=dict(metadata or {}),
    )


def release_request(customer_id: str, hold_id: str) -> wallet_pb2.ReleaseHoldRequest:
    return wallet_pb2.ReleaseHoldRequest(customer_id=customer_id, hold_id=hold_id)


def get_hold_request(customer_id: str, hold_id: str) -> wallet_pb2.GetHoldRequest:
    return wallet_pb2.GetHoldRequest(customer_id=customer_id, hold_id=hold_id)


def list_holds_request(
    customer_id: str, currency: str | None, status: HoldStatus | None, page_size: int, page_token: str
) -> wallet_pb2.ListHoldsRequest:
    return wallet_pb2.ListHoldsRequest(
        customer_id=customer_id,
        currency=currency or "",
        status=status.to_proto() if status is not None else wallet_pb2.HOLD_STATUS_UNSPECIFIED,
        page_size=page_size,
        page_token=page_token,
    )


def threshold_request(customer_id: str, currency: str, threshold: int) -> wallet_pb2.SetLowBalanceThresholdRequest:
    return wallet_pb2.SetLowBalanceThresholdRequest(
        customer_id=customer_id, currency=currency, threshold=_minor_units(threshold)
    )


def watch_request(
    customer_id: str, event_types: Iterable[EventType], start_after_cursor: str, from_oldest: bool
) -> wallet_pb2.WatchEventsRequest:
    return wallet_pb2.WatchEventsRequest(
        customer_id=customer_id,
        event_types=[t.to_proto() for t in event_types],
        start_after_cursor=start_after_cursor,
        from_oldest=from_oldest,
    )


@dataclass(frozen=True)
class HistoryFilter:
    """The filters of `iter_entries`; `start_after_id` and `limit` move as entries arrive.

    `limit` None (or 0) means every matching entry.
    """

    customer_id: str
    currency: str | None = None
    entry_type: EntryType | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    start_after_id: str | None = None
    limit: int | None = None
    newest_first: bool = False

    def __post_init__(self) -> None:
        for name in ("created_after", "created_before"):
            value = getattr(self, name)
            if value is not None:
                _aware(value, name)
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")
        if self.limit == 0:
            # 0 means "no limit" on the wire; None says so without a special case later.
            object.__setattr__(self, "limit", None)

    def to_proto(self) -> wallet_pb2.ListLedgerEntriesRequest:
        message = wallet_pb2.ListLedgerEntriesRequest(
            customer_id=self.customer_id,
            currency=self.currency or "",
            entry_type=self.entry_type.to_proto() if self.entry_type else wallet_pb2.ENTRY_TYPE_UNSPECIFIED,
            start_after_id=self.start_after_id or "",
            limit=self.limit or 0,
            newest_first=self.newest_first,
        )
        if self.created_after is not None:
            message.created_after.FromDatetime(self.created_after)
        if self.created_before is not None:
            message.created_before.FromDatetime(self.created_before)
        return message

    def after(self, last_id: str, received: int) -> HistoryFilter | None:
        """The query resumed after entry `last_id`, `received` entries fewer; None when none are left."""
        if self.limit is None:
            return replace(self, start_after_id=last_id)
        if received >= self.limit:
            return None
        return replace(self, start_after_id=last_id, limit=self.limit - received)
