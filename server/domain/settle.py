"""What falls due with time: holds that expire and expiring credits whose remainder lapses.

Due, said once here (`hold_is_due`, `lot_is_due`) and once in SQL
(`server.store.due`, for the statements that ask whether anything is due;
a test checks that the two agree): an active hold whose `expire_time` has
come, and a lot whose `expire_time` has come while some of its money is
neither spent nor held. Nothing here waits for a background job. Every write batch settles each of its
customers by the batch's clock before deciding anything, and every read
settles a customer with something due before answering, so from an
`expire_time` on no caller can see or spend money that has expired.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from server.domain.book import Draft
from server.domain.holds import POOL, Hold, HoldStatus
from server.domain.model import EntryType, Lot


def hold_is_due(hold: Hold, now: datetime) -> bool:
    """Whether the hold must be closed as expired before anyone is answered at `now`."""
    return hold.status is HoldStatus.ACTIVE and hold.expire_time <= now


def lot_is_due(lot: Lot, now: datetime) -> bool:
    """Whether the lot's unheld remainder must be posted as expired before anyone is answered at `now`."""
    return lot.available > 0 and lot.expire_time <= now


def return_reservations(draft: Draft, hold: Hold) -> None:
    """Gives a closing hold's reservations back to their lots (the pool needs no bookkeeping)."""
    for credit_seq, amount in hold.reservations:
        if credit_seq != POOL:
            lot = draft.lot(credit_seq)
            draft.set_lot(replace(lot, held=lot.held - amount))


def close_hold(draft: Draft, hold: Hold, status: HoldStatus, at: datetime, *, counts_version: bool) -> Hold:
    """Closes an active hold: its amount leaves the held balance and its reservations return.

    A release or an expiry counts one version of the wallet; a capture does not
    (its debit entry does).
    """
    assert hold.status is HoldStatus.ACTIVE
    wallet = draft.wallet(hold.currency)
    version = wallet.version + (1 if counts_version else 0)
    draft.set_wallet(wallet._replace(held_balance=wallet.held_balance - hold.amount, version=version))
    return_reservations(draft, hold)
    closed = replace(hold, status=status, closed_at=at, closed_version=version)
    draft.set_hold(closed)
    if status is not HoldStatus.CAPTURED:
        # A capture's event follows its debit's, once the hold names that entry.
        draft.note_hold(closed)
    return closed


def expire_lapsed(draft: Draft, at: datetime, currency: str | None = None) -> None:
    """Posts an expiration for the unheld money left in every lot that lapsed by `at`."""
    lapsed = [lot for lot in draft.lots_of(currency) if lot_is_due(lot, at)]
    for lot in lapsed:
        draft.post(
            lot.currency,
            EntryType.EXPIRATION,
            lot.available,
            at,
            draws=[(lot.credit_seq, lot.available)],
            reason="Credit expired",
            expired_entry_id=lot.credit_id,
        )


def settle(draft: Draft) -> None:
    """Posts, in time order, everything of the customer that fell due by the draft's clock.

    At each instant that something falls due, holds expiring then are closed
    first; then every lapsed lot's unheld money expires at that instant. So
    money a hold returns to a credit that lapsed while it was held expires at
    the hold's own expiry.

    A lot's own expire time is visited even when all its money is held as
    the settlement begins (so it is not due yet): a hold that expired before
    it, in this same settlement, gives the money back, which then lapses at
    the lot's time.
    """
    now = draft.now
    due_holds = [hold for hold in draft.book.holds.values() if hold_is_due(hold, now)]
    instants = {hold.expire_time for hold in due_holds}
    instants.update(lot.expire_time for lot in draft.book.lots.values() if lot.expire_time <= now)
    for instant in sorted(instants):
        for hold in sorted(due_holds, key=lambda h: h.id):
            if hold.expire_time == instant:
                close_hold(draft, hold, HoldStatus.EXPIRED, hold.expire_time, counts_version=True)
        expire_lapsed(draft, instant)
