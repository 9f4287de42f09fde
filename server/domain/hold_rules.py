"""The rules of holds: create (reserve), capture (spend part or all), release (give back)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from server.domain.book import Draft
from server.domain.errors import (
    CaptureExceedsHold,
    HoldNotActive,
    HoldNotFound,
    IdempotencyKeyReused,
    InsufficientFunds,
)
from server.domain.holds import POOL, CaptureRequest, Hold, HoldOutcome, HoldRequest, HoldStatus, ReleaseRequest
from server.domain.model import EntryType
from server.domain.settle import close_hold, expire_lapsed

Refusal = HoldNotFound | HoldNotActive | CaptureExceedsHold | IdempotencyKeyReused | InsufficientFunds


def _status_name(status: HoldStatus) -> str:
    """The proto's name of a status, as ErrorInfo metadata shows it."""
    return f"HOLD_STATUS_{status.name}"


def create_hold(request: HoldRequest, draft: Draft) -> HoldOutcome | Refusal:
    book = draft.book
    if request.idempotency_key:
        earlier = book.holds_by_key.get(request.idempotency_key)
        if earlier is not None:
            if not request.same_parameters_as(earlier):
                return IdempotencyKeyReused(idempotency_key=request.idempotency_key, hold_id=earlier.id)
            current = draft.hold(earlier.id) or earlier
            return HoldOutcome(current, draft.wallet(earlier.currency), idempotent_replay=True)
        entry = book.entries_by_key.get(request.idempotency_key)
        if entry is not None:
            return IdempotencyKeyReused(idempotency_key=request.idempotency_key, entry_id=entry.id)
    wallet = draft.wallet(request.currency)
    if request.amount > wallet.available_balance:
        return InsufficientFunds(
            balance=wallet.balance,
            amount=request.amount,
            currency=request.currency,
            held=wallet.held_balance,
            operation="hold",
        )
    reservations = draft.take_unheld(request.currency, request.amount)
    for credit_seq, amount in reservations:
        if credit_seq != POOL:
            lot = draft.lot(credit_seq)
            draft.set_lot(replace(lot, held=lot.held + amount))
    hold = Hold(
        id=draft.new_id().replace("le_", "hd_", 1),
        customer_id=request.customer_id,
        currency=request.currency,
        amount=request.amount,
        status=HoldStatus.ACTIVE,
        captured_amount=0,
        capture_entry_id="",
        reason=request.reason,
        idempotency_key=request.idempotency_key,
        metadata=dict(request.metadata),
        created_at=draft.now,
        expire_time=draft.now + request.ttl,
        closed_at=None,
        created_by=request.created_by,
        ttl=request.ttl,
        reservations=reservations,
        created_version=wallet.version + 1,
    )
    draft.set_hold(hold)
    draft.note_hold(hold)
    draft.set_wallet(wallet._replace(held_balance=wallet.held_balance + request.amount, version=wallet.version + 1))
    return HoldOutcome(hold, draft.wallet(request.currency), idempotent_replay=False)


def _active_hold(draft: Draft, customer_id: str, hold_id: str, repeats: bool) -> Hold | HoldOutcome | Refusal:
    """The active hold, a replay of the operation that closed it (when `repeats`), or the refusal."""
    hold = draft.hold(hold_id)
    if hold is None or hold.customer_id != customer_id:
        return HoldNotFound(hold_id=hold_id)
    if hold.status is HoldStatus.ACTIVE:
        return hold
    if repeats:
        entry = draft.book.capture_entries.get(hold.capture_entry_id)
        return HoldOutcome(hold, draft.wallet(hold.currency), idempotent_replay=True, entry=entry)
    return HoldNotActive(hold_id=hold_id, status=_status_name(hold.status))


def _spending_order(draft: Draft, hold: Hold) -> list[tuple[int, int]]:
    """The hold's reservations, soonest-expiring credit first and the pool last."""

    def expiry(part: tuple[int, int]) -> tuple[int, datetime | None, int]:
        credit_seq = part[0]
        if credit_seq == POOL:
            return (1, None, 0)
        return (0, draft.lot(credit_seq).expire_time, credit_seq)

    return sorted(hold.reservations, key=expiry)


def capture_hold(request: CaptureRequest, draft: Draft) -> HoldOutcome | Refusal:
    existing = draft.hold(request.hold_id)
    repeats = (
        existing is not None
        and existing.status is HoldStatus.CAPTURED
        and existing.captured_amount == (request.amount or existing.amount)
    )
    found = _active_hold(draft, request.customer_id, request.hold_id, repeats)
    if not isinstance(found, Hold):
        return found
    hold = found
    amount = request.amount or hold.amount
    if amount > hold.amount:
        return CaptureExceedsHold(hold_id=hold.id, amount=amount, hold_amount=hold.amount)
    draws: list[tuple[int, int]] = []
    left = amount
    for credit_seq, reserved in _spending_order(draft, hold):
        take = min(reserved, left)
        if take:
            draws.append((credit_seq, take))
            left -= take
    close_hold(draft, hold, HoldStatus.CAPTURED, draft.now, counts_version=False)
    entry = draft.post(
        hold.currency,
        EntryType.DEBIT,
        amount,
        draft.now,
        draws=draws,
        reason=request.reason or hold.reason,
        metadata={**hold.metadata, **request.metadata},
        created_by=request.created_by,
        hold_id=hold.id,
    )
    captured = replace(
        hold,
        status=HoldStatus.CAPTURED,
        captured_amount=amount,
        capture_entry_id=entry.id,
        closed_at=draft.now,
        closed_version=entry.wallet_version,
    )
    draft.set_hold(captured)
    draft.note_hold(captured)
    # What the hold returns to a credit that lapsed while it was held lapses now.
    expire_lapsed(draft, draft.now, hold.currency)
    return HoldOutcome(captured, draft.wallet(hold.currency), idempotent_replay=False, entry=entry)


def release_hold(request: ReleaseRequest, draft: Draft) -> HoldOutcome | Refusal:
    existing = draft.hold(request.hold_id)
    repeats = existing is not None and existing.status is HoldStatus.RELEASED
    found = _active_hold(draft, request.customer_id, request.hold_id, repeats)
    if not isinstance(found, Hold):
        return found
    released = close_hold(draft, found, HoldStatus.RELEASED, draft.now, counts_version=True)
    expire_lapsed(draft, draft.now, found.currency)
    return HoldOutcome(released, draft.wallet(found.currency), idempotent_replay=False)
