"""WatchEvents and SetLowBalanceThreshold at the edge: their requests in, events out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from server.api.parse import check_currency, check_customer_id
from server.api.render import entry_to_proto, hold_to_proto, timestamp, wallet_to_proto
from server.config import Currency
from server.domain.cursors import cursor_of, position_of
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.events import Event, EventType, ThresholdRequest, WatchQuery
from server.domain.limits import AMOUNT_MAX
from wallet.v1 import wallet_pb2

EVENT_TYPE_TO_PROTO = {
    EventType.ENTRY_CREATED: wallet_pb2.EVENT_TYPE_ENTRY_CREATED,
    EventType.HOLD_CREATED: wallet_pb2.EVENT_TYPE_HOLD_CREATED,
    EventType.HOLD_CAPTURED: wallet_pb2.EVENT_TYPE_HOLD_CAPTURED,
    EventType.HOLD_RELEASED: wallet_pb2.EVENT_TYPE_HOLD_RELEASED,
    EventType.HOLD_EXPIRED: wallet_pb2.EVENT_TYPE_HOLD_EXPIRED,
    EventType.BALANCE_LOW: wallet_pb2.EVENT_TYPE_BALANCE_LOW,
    EventType.BALANCE_RECOVERED: wallet_pb2.EVENT_TYPE_BALANCE_RECOVERED,
}
_EVENT_TYPES = {proto: domain for domain, proto in EVENT_TYPE_TO_PROTO.items()}


def event_types(values: Iterable[wallet_pb2.EventType.ValueType], violations: list[FieldViolation]) -> set[EventType]:
    """The event types of an `event_types` filter (a watch's, a webhook endpoint's); unknown numbers are named."""
    types: set[EventType] = set()
    for value in values:
        if value not in _EVENT_TYPES:
            violations.append(FieldViolation("event_types", f"{value} is not a known event type"))
        else:
            types.add(_EVENT_TYPES[value])
    return types


def watch_query(request: wallet_pb2.WatchEventsRequest) -> WatchQuery:
    violations: list[FieldViolation] = []
    if request.customer_id:
        check_customer_id(request.customer_id, violations)
    types = event_types(request.event_types, violations)
    start_after: int | None = None
    if request.start_after_cursor:
        start_after = position_of(request.start_after_cursor)
        if start_after is None:
            violations.append(FieldViolation("start_after_cursor", "is not a cursor this service issued"))
        if request.from_oldest:
            violations.append(FieldViolation("from_oldest", "must not be set with start_after_cursor"))
    if violations:
        raise InvalidArgument(violations)
    return WatchQuery(request.customer_id, frozenset(types), start_after, request.from_oldest)


def threshold_request(
    request: wallet_pb2.SetLowBalanceThresholdRequest, currencies: Mapping[str, Currency]
) -> ThresholdRequest:
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    check_currency(request.currency, currencies, violations, required=True)
    if not 0 <= request.threshold <= AMOUNT_MAX:
        violations.append(FieldViolation("threshold", f"must be between 0 and {AMOUNT_MAX} minor units"))
    if violations:
        raise InvalidArgument(violations)
    return ThresholdRequest(request.customer_id, request.currency, request.threshold)


def event_to_proto(event: Event, currencies: Mapping[str, Currency]) -> wallet_pb2.WalletEvent:
    return wallet_pb2.WalletEvent(
        cursor=cursor_of(event.position),
        event_type=EVENT_TYPE_TO_PROTO[event.event_type],
        customer_id=event.customer_id,
        currency=event.currency,
        occurred_at=timestamp(event.occurred_at),
        wallet=wallet_to_proto(event.wallet, currencies),
        entry=None if event.entry is None else entry_to_proto(event.entry),
        hold=None if event.hold is None else hold_to_proto(event.hold),
        threshold=event.threshold,
    )
