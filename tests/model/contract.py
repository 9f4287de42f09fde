"""A pure-Python model of the wallet contract: wallets, entries, holds, expiring credits, expiry and idempotency.

No database, no server: each `expect_*` says what the service must answer to
one write, given everything the model was told before, and each `record_*`
stores what it did answer (the ids only the service makes). Money is integer
minor units; one currency (the model's wallets are per customer). Which
credit money is and how it expires is `tests.model.credits`, the calls and
records are `tests.model.records`, reversals are `tests.model.reversals`.

What it follows (README "What the service promises" and "Holds and expiring
credits", docs/holds.md, docs/errors.md):
- a credit adds, and one with an expire time (in the future, else
  INVALID_ARGUMENT, which no key keeps) is a lot that expires; a debit or a
  hold needs that much available (balance less active holds), else
  INSUFFICIENT_WALLET_FUNDS; a keyed write refused so is stored under its key
  (docs/errors.md, "A refusal stays refused"): the same request again gets
  the same refusal whatever changed meanwhile, and any other request with
  that key is IDEMPOTENCY_KEY_REUSED;
- an idempotency key is per customer and shared by entries, holds and
  reversals: the same request again replays the original (an entry with the
  wallet as it stood after it, a hold as it is now), even once its expire
  time has passed; other fields or another kind is IDEMPOTENCY_KEY_REUSED;
- a capture spends up to its hold (0: all of it), more is CAPTURE_EXCEEDS_HOLD;
  a release gives it back; a closed hold refuses HOLD_NOT_ACTIVE unless the
  call repeats what closed it (a replay); another customer's hold is
  HOLD_NOT_FOUND; a capture's or a release's wallet is the one left once what
  it gave back to a lapsed credit has expired;
- time (`settle`): a hold past its expire time is expired, released, and
  refused like any closed hold; a credit past its expire time loses its
  unheld remainder.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tests.model.credits import POOL, Wallet
from tests.model.records import (
    OK,
    STORED_REASONS,
    EntryCall,
    Expected,
    HoldCall,
    KeyedCall,
    Posted,
    StoredEntry,
    StoredHold,
    after,
)


@dataclass
class ContractModel:
    wallets: dict[str, Wallet] = field(default_factory=dict)
    entries: dict[tuple[str, str], StoredEntry] = field(default_factory=dict)
    holds_by_key: dict[tuple[str, str], StoredHold] = field(default_factory=dict)
    holds: dict[str, StoredHold] = field(default_factory=dict)
    # Refusals kept under their keys: the request refused, and the reason it got.
    refused: dict[tuple[str, str], tuple[KeyedCall, str]] = field(default_factory=dict)
    # Every entry written that the model was told of, by id (reversals name them).
    posted: dict[str, Posted] = field(default_factory=dict)

    def wallet(self, customer_id: str) -> Wallet:
        return self.wallets.setdefault(customer_id, Wallet())

    def _trial(self, customer_id: str) -> Wallet:
        """A copy of the wallet to decide a request on: `expect_*` never changes the model."""
        return copy.deepcopy(self.wallet(customer_id))

    # -- entries --------------------------------------------------------------------------------

    def refused_before(self, call: KeyedCall) -> Expected | None:
        stored = self.refused.get((call.customer_id, call.key))
        if stored is None:
            return None
        return Expected(stored[1]) if stored[0] == call else Expected("IDEMPOTENCY_KEY_REUSED")

    def record_refusal(self, call: KeyedCall, reason: str) -> None:
        """The service refused `call` with `reason`; a keyed refusal of the request's own is kept."""
        if call.key and reason in STORED_REASONS:
            self.refused.setdefault((call.customer_id, call.key), (call, reason))

    @staticmethod
    def _apply_entry(wallet: Wallet, call: EntryCall, entry_id: str) -> Posted:
        if call.kind == "credit":
            wallet.credit(entry_id, call.amount, call.expire_at)
            return Posted(call.customer_id, "credit", call.amount, POOL if call.expire_at is None else entry_id)
        return Posted(call.customer_id, "debit", call.amount, draws=wallet.debit(call.amount))

    def expect_entry(self, call: EntryCall, now: float) -> Expected:
        """What `call`, sent at `now` (never close to its expire time), must get."""
        key = (call.customer_id, call.key)
        if (again := self.refused_before(call)) is not None:
            return again
        if key in self.entries:
            stored = self.entries[key]
            if stored.call != call:  # another entry's fields, or a reversal's
                return Expected("IDEMPOTENCY_KEY_REUSED")
            return Expected(OK, stored.entry_id, stored.balance_after, stored.held_after)
        if key in self.holds_by_key:
            return Expected("IDEMPOTENCY_KEY_REUSED")
        # Decided after the key (a retry of a credit applied in time replays); never stored.
        if call.expire_at is not None and call.expire_at <= now:
            return Expected("INVALID_ARGUMENT")
        trial = self._trial(call.customer_id)
        if call.kind == "debit" and call.amount > trial.available:
            return Expected("INSUFFICIENT_WALLET_FUNDS")
        self._apply_entry(trial, call, "trial")
        return after(OK, trial)

    def record_entry(self, call: EntryCall, entry_id: str) -> None:
        """The service applied `call` (not a replay) as `entry_id`."""
        wallet = self.wallet(call.customer_id)
        self.posted[entry_id] = self._apply_entry(wallet, call, entry_id)
        self.entries[(call.customer_id, call.key)] = StoredEntry(call, entry_id, wallet.balance, wallet.held)

    # -- holds ----------------------------------------------------------------------------------

    def expect_hold(self, call: HoldCall) -> Expected:
        key = (call.customer_id, call.key)
        if (again := self.refused_before(call)) is not None:
            return again
        wallet = self.wallet(call.customer_id)
        if key in self.holds_by_key:
            stored = self.holds_by_key[key]
            if stored.call != call:
                return Expected("IDEMPOTENCY_KEY_REUSED")
            return after(OK, wallet, stored.hold_id)
        if key in self.entries:
            return Expected("IDEMPOTENCY_KEY_REUSED")
        if call.amount > wallet.available:
            return Expected("INSUFFICIENT_WALLET_FUNDS")
        trial = self._trial(call.customer_id)
        trial.reserve(call.amount)
        return after(OK, trial)

    def record_hold(self, call: HoldCall, hold_id: str, sent_at: float, answered_at: float) -> None:
        reservations = self.wallet(call.customer_id).reserve(call.amount)
        hold = StoredHold(call, hold_id, reservations, expires_not_before=sent_at + call.ttl_s)
        hold.expires_by = answered_at + call.ttl_s
        self.holds_by_key[(call.customer_id, call.key)] = hold
        self.holds[hold_id] = hold

    def expect_capture(self, customer_id: str, hold_id: str, amount: int) -> Expected:
        hold = self.holds.get(hold_id)
        if hold is None or hold.call.customer_id != customer_id:
            return Expected("HOLD_NOT_FOUND")
        spend = amount or hold.call.amount
        if hold.status == "CAPTURED" and hold.captured_amount == spend:
            return after(OK, self.wallet(customer_id), hold.capture_entry_id)
        if hold.status != "ACTIVE":
            return Expected("HOLD_NOT_ACTIVE")
        if spend > hold.call.amount:
            return Expected("CAPTURE_EXCEEDS_HOLD")
        trial = self._trial(customer_id)
        trial.close(hold.reservations, spend)
        return after(OK, trial)

    def record_capture(self, hold_id: str, amount: int, entry_id: str) -> None:
        hold = self.holds[hold_id]
        spend = amount or hold.call.amount
        draws = self.wallet(hold.call.customer_id).close(hold.reservations, spend)
        hold.status, hold.captured_amount, hold.capture_entry_id = "CAPTURED", spend, entry_id
        self.posted[entry_id] = Posted(hold.call.customer_id, "debit", spend, draws=draws)

    def expect_release(self, customer_id: str, hold_id: str) -> Expected:
        hold = self.holds.get(hold_id)
        if hold is None or hold.call.customer_id != customer_id:
            return Expected("HOLD_NOT_FOUND")
        if hold.status == "RELEASED":
            return after(OK, self.wallet(customer_id), hold.hold_id)
        if hold.status != "ACTIVE":
            return Expected("HOLD_NOT_ACTIVE")
        trial = self._trial(customer_id)
        trial.close(hold.reservations, 0)
        return after(OK, trial)

    def record_release(self, hold_id: str) -> None:
        hold = self.holds[hold_id]
        self.wallet(hold.call.customer_id).close(hold.reservations, 0)
        hold.status = "RELEASED"

    # -- time -----------------------------------------------------------------------------------

    def active_holds(self) -> list[StoredHold]:
        return [hold for hold in self.holds.values() if hold.status == "ACTIVE"]

    def settle(self, now: float) -> None:
        """Time has surely passed `now`: holds and credits whose expire time came before it have expired.

        The service posts them in time order; whatever the order, each lapsed
        credit ends with nothing left but what active holds still reserve, so
        the model need not know which came first.
        """
        for hold in self.active_holds():
            if hold.expires_by < now:
                self.wallet(hold.call.customer_id).close(hold.reservations, 0)
                hold.status = "EXPIRED"
        for wallet in self.wallets.values():
            wallet.lapse(now)
