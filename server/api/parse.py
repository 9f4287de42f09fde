"""Turns proto requests into validated domain requests, or an InvalidArgument naming every bad field.

The checks here are about shape (lengths, ranges, known codes); the rules of
the ledger (funds, idempotency) live in `server.domain.decide`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from server.config import Currency, Settings
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import (
    AMOUNT_MAX,
    CURRENCY_CODE,
    CUSTOMER_ID_LENGTH_MAX,
    ENTRY_ID_LENGTH_MAX,
    IDEMPOTENCY_KEY_LENGTH_MAX,
    METADATA_KEY_LENGTH_MAX,
    METADATA_KEYS_MAX,
    METADATA_VALUE_LENGTH_MAX,
    REASON_LENGTH_MAX,
)
from server.domain.model import EntryRequest, EntryType, HistoryQuery
from wallet.v1 import wallet_pb2

# What a caller may ask for; an expiration is written by the server only.
_REQUESTED_ENTRY_TYPES = {
    wallet_pb2.ENTRY_TYPE_CREDIT: EntryType.CREDIT,
    wallet_pb2.ENTRY_TYPE_DEBIT: EntryType.DEBIT,
}
# What a history filter may name.
_ENTRY_TYPES = {**_REQUESTED_ENTRY_TYPES, wallet_pb2.ENTRY_TYPE_EXPIRATION: EntryType.EXPIRATION}
# Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_TIMESTAMP_SECONDS_MIN = -62_135_596_800
_TIMESTAMP_SECONDS_MAX = 253_402_300_799
_LAST_MICROSECOND = datetime.max.replace(tzinfo=UTC)


def _is_id_character(character: str) -> bool:
    return not character.isspace() and not unicodedata.category(character).startswith("C")


def _is_id(value: str) -> bool:
    """No whitespace and no control, format, surrogate, private-use or unassigned characters."""
    if value.isascii():
        # The common case, decided in C: printable ASCII is exactly what is allowed, less the space.
        return value.isprintable() and " " not in value
    return all(_is_id_character(c) for c in value)


def check_customer_id(value: str, violations: list[FieldViolation], field: str = "customer_id") -> None:
    if not value:
        violations.append(FieldViolation(field, "is required"))
    elif len(value) > CUSTOMER_ID_LENGTH_MAX:
        violations.append(FieldViolation(field, f"must be at most {CUSTOMER_ID_LENGTH_MAX} characters"))
    elif not _is_id(value):
        violations.append(FieldViolation(field, "must not contain whitespace or control characters"))


def check_currency(
    value: str, currencies: Mapping[str, Currency], violations: list[FieldViolation], *, required: bool
) -> None:
    if not value:
        if required:
            violations.append(FieldViolation("currency", "is required"))
    elif not CURRENCY_CODE.fullmatch(value):
        violations.append(FieldViolation("currency", "must be an upper-case ISO 4217 code such as USD"))
    elif value not in currencies:
        supported = ", ".join(sorted(currencies))
        violations.append(FieldViolation("currency", f"{value} is not supported (supported: {supported})"))


def check_text(value: str, field: str, length_max: int, violations: list[FieldViolation]) -> None:
    if len(value) > length_max:
        violations.append(FieldViolation(field, f"must be at most {length_max} characters"))
    elif "\x00" in value:
        violations.append(FieldViolation(field, "must not contain NUL characters"))


def check_amount(amount: int, violations: list[FieldViolation]) -> None:
    if not 0 < amount <= AMOUNT_MAX:
        violations.append(FieldViolation("amount", f"must be between 1 and {AMOUNT_MAX} minor units"))


def check_metadata(metadata: Mapping[str, str], violations: list[FieldViolation]) -> None:
    if len(metadata) > METADATA_KEYS_MAX:
        violations.append(FieldViolation("metadata", f"must have at most {METADATA_KEYS_MAX} keys"))
        return
    for key, value in metadata.items():
        shown = repr(key[:METADATA_KEY_LENGTH_MAX])
        if not key:
            violations.append(FieldViolation("metadata", "keys must not be empty"))
        elif len(key) > METADATA_KEY_LENGTH_MAX:
            violations.append(
                FieldViolation("metadata", f"key {shown}… is longer than {METADATA_KEY_LENGTH_MAX} characters")
            )
        if len(value) > METADATA_VALUE_LENGTH_MAX:
            violations.append(
                FieldViolation("metadata", f"value of {shown} is longer than {METADATA_VALUE_LENGTH_MAX} characters")
            )
        if "\x00" in key or "\x00" in value:
            violations.append(FieldViolation("metadata", f"entry {shown} must not contain NUL characters"))


def check_common(
    message: wallet_pb2.CreateLedgerEntryRequest | wallet_pb2.CreateHoldRequest,
    currencies: Mapping[str, Currency],
    violations: list[FieldViolation],
) -> None:
    """The fields entries and holds share: customer, amount, currency, reason, key, metadata."""
    check_customer_id(message.customer_id, violations)
    check_amount(message.amount, violations)
    check_currency(message.currency, currencies, violations, required=True)
    check_text(message.reason, "reason", REASON_LENGTH_MAX, violations)
    check_text(message.idempotency_key, "idempotency_key", IDEMPOTENCY_KEY_LENGTH_MAX, violations)
    check_metadata(message.metadata, violations)


def _expire_time(
    request: wallet_pb2.CreateLedgerEntryRequest,
    entry_type: EntryType | None,
    settings: Settings,
    now: datetime,
    violations: list[FieldViolation],
) -> datetime | None:
    expire_time = timestamp(request, "expire_time", violations)
    if expire_time is None:
        return None
    # "In the future" is decided by the ledger, after the idempotency check: a
    # retry of a credit applied before its expire_time passed must replay.
    if entry_type is not EntryType.CREDIT:
        violations.append(FieldViolation("expire_time", "only credits expire"))
    elif expire_time > now + timedelta(days=settings.credit_expiry_max_days):
        violations.append(
            FieldViolation("expire_time", f"must be at most {settings.credit_expiry_max_days} days ahead")
        )
    return expire_time


def entry_request(
    request: wallet_pb2.CreateLedgerEntryRequest,
    settings: Settings,
    created_by: str = "",
    now: datetime | None = None,
) -> EntryRequest:
    """The validated CreateLedgerEntry request."""
    violations: list[FieldViolation] = []
    check_common(request, settings.currencies, violations)
    entry_type = _REQUESTED_ENTRY_TYPES.get(request.entry_type)
    if entry_type is None:
        violations.append(FieldViolation("entry_type", "must be ENTRY_TYPE_CREDIT or ENTRY_TYPE_DEBIT"))
    expire_time = _expire_time(request, entry_type, settings, now or datetime.now(UTC), violations)
    if violations:
        raise InvalidArgument(violations)
    assert entry_type is not None
    return EntryRequest(
        customer_id=request.customer_id,
        currency=request.currency,
        entry_type=entry_type,
        amount=request.amount,
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=dict(request.metadata),
        created_by=created_by,
        expire_time=expire_time,
    )


def timestamp(message: Any, field: str, violations: list[FieldViolation]) -> datetime | None:
    """The message's Timestamp field to the microsecond (rounded up), None when unset."""
    if not message.HasField(field):
        return None
    value: Timestamp = getattr(message, field)
    if not _TIMESTAMP_SECONDS_MIN <= value.seconds <= _TIMESTAMP_SECONDS_MAX or not 0 <= value.nanos < 10**9:
        violations.append(FieldViolation(field, "is outside the range of google.protobuf.Timestamp"))
        return None
    moment = value.ToDatetime(tzinfo=UTC)
    # Entries are stored to the microsecond. A bound between two microseconds
    # must act as the next one up: `created_at >= 5.5us` and `created_at < 5.5us`
    # mean `>= 6us` and `< 6us`, not the truncated `5us`.
    if value.nanos % 1_000 and moment < _LAST_MICROSECOND:
        moment += timedelta(microseconds=1)
    return moment


def currency_filter(value: str, currencies: Mapping[str, Currency], violations: list[FieldViolation]) -> str | None:
    """An optional currency filter: empty means all."""
    check_currency(value, currencies, violations, required=False)
    return value or None


def history_query(request: wallet_pb2.ListLedgerEntriesRequest, currencies: Mapping[str, Currency]) -> HistoryQuery:
    """The validated ListLedgerEntries request (start_after_id is checked against the ledger later)."""
    violations: list[FieldViolation] = []
    check_customer_id(request.customer_id, violations)
    check_currency(request.currency, currencies, violations, required=False)
    entry_type = _ENTRY_TYPES.get(request.entry_type)
    if request.entry_type != wallet_pb2.ENTRY_TYPE_UNSPECIFIED and entry_type is None:
        violations.append(FieldViolation("entry_type", "is not a known EntryType"))
    created_after = timestamp(request, "created_after", violations)
    created_before = timestamp(request, "created_before", violations)
    if created_after and created_before and created_after > created_before:
        violations.append(FieldViolation("created_before", "must not be earlier than created_after"))
    if len(request.start_after_id) > ENTRY_ID_LENGTH_MAX or not _is_id(request.start_after_id):
        violations.append(FieldViolation("start_after_id", "is not an entry id"))
    if request.limit < 0:
        violations.append(FieldViolation("limit", "must not be negative (0 means no limit)"))
    if violations:
        raise InvalidArgument(violations)
    return HistoryQuery(
        customer_id=request.customer_id,
        currency=request.currency or None,
        entry_type=entry_type,
        created_after=created_after,
        created_before=created_before,
        start_after_id=request.start_after_id or None,
        limit=request.limit,
        newest_first=request.newest_first,
    )
