"""Turns the hold RPCs' proto requests into validated domain requests (see `server.api.parse`)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from server.api.parse import check_common, check_customer_id, check_metadata, check_text, currency_filter
from server.config import Settings
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.holds import CaptureRequest, HoldQuery, HoldRequest, HoldStatus, ReleaseRequest
from server.domain.limits import (
    AMOUNT_MAX,
    HOLD_ID_LENGTH_MAX,
    HOLD_PAGE_SIZE_DEFAULT,
    HOLD_PAGE_SIZE_MAX,
    REASON_LENGTH_MAX,
)
from wallet.v1 import wallet_pb2

_STATUSES = {
    wallet_pb2.HOLD_STATUS_ACTIVE: HoldStatus.ACTIVE,
    wallet_pb2.HOLD_STATUS_CAPTURED: HoldStatus.CAPTURED,
    wallet_pb2.HOLD_STATUS_RELEASED: HoldStatus.RELEASED,
    wallet_pb2.HOLD_STATUS_EXPIRED: HoldStatus.EXPIRED,
}


def _raise_if(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument(violations)


def _ttl(request: wallet_pb2.CreateHoldRequest, settings: Settings, violations: list[FieldViolation]) -> timedelta:
    """The hold's ttl to the millisecond; unset or 0 means the configured default."""
    ttl = request.ttl
    if ttl.seconds < 0 or ttl.nanos < 0:
        violations.append(FieldViolation("ttl", "must not be negative"))
        return timedelta(0)
    if ttl.nanos > 999_999_999:
        violations.append(FieldViolation("ttl", "is not a valid google.protobuf.Duration (nanos over 999,999,999)"))
        return timedelta(0)
    if ttl.seconds == 0 and ttl.nanos == 0:
        return timedelta(seconds=settings.hold_ttl_default_s)
    if ttl.seconds > settings.hold_ttl_max_s:
        violations.append(FieldViolation("ttl", f"must be at most {settings.hold_ttl_max_s:.0f} seconds"))
        return timedelta(0)
    milliseconds = ttl.seconds * 1_000 + ttl.nanos // 1_000_000
    if milliseconds == 0 or milliseconds > settings.hold_ttl_max_s * 1_000:
        violations.append(FieldViolation("ttl", "must be between 1 millisecond and the configured maximum"))
    return timedelta(milliseconds=milliseconds)


def hold_request(request: wallet_pb2.CreateHoldRequest, settings: Settings, created_by: str = "") -> HoldRequest:
    violations: list[FieldViolation] = []
    check_common(request, settings.currencies, violations)
    ttl = _ttl(request, settings, violations)
    _raise_if(violations)
    return HoldRequest(
        customer_id=request.customer_id,
        currency=request.currency,
        amount=request.amount,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=dict(request.metadata),
        ttl=ttl,
        created_by=created_by,
    )


def check_hold_id(value: str, violations: list[FieldViolation]) -> None:
    if not value:
        violations.append(FieldViolation("hold_id", "is required"))
    elif len(value) > HOLD_ID_LENGTH_MAX:
        violations.append(FieldViolation("hold_id", f"must be at most {HOLD_ID_LENGTH_MAX} characters"))


def capture_request(request: wallet_pb2.CaptureHoldRequest, created_by: str = "") -> CaptureRequest:
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    check_hold_id(request.hold_id, violations)
    if not 0 <= request.amount <= AMOUNT_MAX:
        violations.append(FieldViolation("amount", f"must be between 0 (the whole hold) and {AMOUNT_MAX}"))
    check_text(request.reason, "reason", REASON_LENGTH_MAX, violations)
    check_metadata(request.metadata, violations)
    _raise_if(violations)
    return CaptureRequest(
        customer_id=request.customer_id,
        hold_id=request.hold_id,
        amount=request.amount,
        reason=request.reason,
        metadata=dict(request.metadata),
        created_by=created_by,
    )


def hold_ref(request: wallet_pb2.ReleaseHoldRequest | wallet_pb2.GetHoldRequest) -> ReleaseRequest:
    """The (customer_id, hold_id) of a release or a read."""
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    check_hold_id(request.hold_id, violations)
    _raise_if(violations)
    return ReleaseRequest(customer_id=request.customer_id, hold_id=request.hold_id)


def _filters(query: HoldQuery | wallet_pb2.ListHoldsRequest) -> str:
    """What a token is bound to: the customer and the filters (AIP-158: a token is only good for its query)."""
    if isinstance(query, HoldQuery):
        return f"{query.customer_id}\x1f{query.currency or ''}\x1f{query.status.value if query.status else ''}"
    status = _STATUSES.get(query.status)
    return f"{query.customer_id}\x1f{query.currency}\x1f{status.value if status else ''}"


def page_token(query: HoldQuery, created_at: datetime, hold_id: str) -> str:
    """An opaque token for the page after the hold at (created_at, hold_id), good only for the same query."""
    text = f"{created_at.isoformat()}\x1e{hold_id}\x1e{_filters(query)}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def _position(request: wallet_pb2.ListHoldsRequest, violations: list[FieldViolation]) -> tuple[datetime, str] | None:
    token = request.page_token
    if not token:
        return None
    try:
        created_at, hold_id, filters = base64.urlsafe_b64decode(token.encode()).decode().split("\x1e")
        moment = datetime.fromisoformat(created_at)
        if not hold_id or "\x00" in hold_id or moment.tzinfo is None:
            raise ValueError(token)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        violations.append(FieldViolation("page_token", "is not a token this service returned"))
        return None
    if filters != _filters(request):
        violations.append(FieldViolation("page_token", "was returned for another customer or other filters"))
        return None
    return moment, hold_id


def hold_query(request: wallet_pb2.ListHoldsRequest, settings: Settings) -> HoldQuery:
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    currency = currency_filter(request.currency, settings.currencies, violations)
    status = _STATUSES.get(request.status)
    if request.status != wallet_pb2.HOLD_STATUS_UNSPECIFIED and status is None:
        violations.append(FieldViolation("status", "is not a known HoldStatus"))
    if not 0 <= request.page_size <= HOLD_PAGE_SIZE_MAX:
        violations.append(FieldViolation("page_size", f"must be between 0 (the default) and {HOLD_PAGE_SIZE_MAX}"))
    before = _position(request, violations)
    _raise_if(violations)
    return HoldQuery(
        customer_id=request.customer_id,
        currency=currency,
        status=status,
        page_size=request.page_size or HOLD_PAGE_SIZE_DEFAULT,
        before=before,
    )
