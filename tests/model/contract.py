"""A pure-Python model of the wallet contract: wallets, entries, holds, expiring credits, expiry and idempotency.

No database, no server: each `expect_*` says what the service must answer to
one write, given everything the model was told before, and each `record_*`
stores what it did answer (the ids only the service makes). Money is integer
minor units; one currency (the model's wallets are per customer). Which
credit money is and how it expires is `tests.model.credits`.

What it follows (README "What the service promises" and "Holds and expiring
credits", docs/holds.md, docs/errors.md):
- a credit adds, and one with an expire time (in the future, else
  INVALID_ARGUMENT, which no key keeps) is a lot that expires; a debit or a
  hold needs that much available (balance less active holds), else
  INSUFFICIENT_WALLET_FUNDS; a keyed write refused so is stored under its key
  (docs/errors.md, "A refusal stays refused"): the same request again gets
  the same refusal whatever changed meanwhile, and any other request with
  that key is IDEMPOTENCY_KEY_REUSED;
- an idempotency key is per customer and shared by entries and holds: the
  same request again replays the original (an entry with the wallet as it
  stood after it, a hold as it is now), even once its expire time has passed;
  other fields or the other kind is IDEMPOTENCY_KEY_REUSED;
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

from tests.model.credits import Parts, Wallet

OK = "OK"
# The refusals a keyed request keeps under its key (FAILED_PRECONDITION and NOT_FOUND ones of its own).
STORED_REASONS = frozenset({"INSUFFICIENT_WALLET_FUNDS", "BALANCE_OVERFLOW"})


@dataclass(frozen=True)
class EntryCall:
    customer_id: str
    kind: str  # "credit" or "debit"
    amount: int
    key: str
    reason: str = "model"
    # A credit's expire time, epoch seconds (None: it never expires); part of "the same fields".
    expire_at: float | None = None


@dataclass(frozen=True)
class HoldCall:
    customer_id: str
    amount: int
    key: str
    ttl_s: int
    reason: str = "model"


@dataclass
class StoredEntry:
    call: EntryCall
    entry_id: str
    balance_after: int
    held_after: int


@dataclass
class StoredHold:
    call: HoldCall
    hold_id: str
    reservations: Parts = ()
    status: str = "ACTIVE"  # ACTIVE, CAPTURED, RELEASED, EXPIRED
    captured_amount: int = 0
    capture_entry_id: str = ""
    # Wall-clock bounds of its expire time: not expired before `not_before`, expired after `by`.
    expires_not_before: float = 0.0
    expires_by: float = 0.0


@dataclass(frozen=True)
class Expected:
    """What the service must answer: OK or a reason; for a replay, the original's id."""

    outcome: str
    replay_of: str = ""
    # For OK: the wallet the response must carry (entries replay the one as it stood).
    balance: int | None = None
    held: int | None = None


def _after(outcome: str, wallet: Wallet, replay_of: str = "") -> Expected:
    return Expected(outcome, replay_of, wallet.balance, wallet.held)


@dataclass
class ContractModel:
    wallets: dict[str, Wallet] = field(default_factory=dict)
    entries: dict[tuple[str, str], StoredEntry] = field(default_factory=dict)
    holds_by_key: dict[tuple[str, str], StoredHold] = field(default_factory=dict)
    holds: dict[str, StoredHold] = field(default_factory=dict)
    # Refusals kept under their keys: the request refused, and the reason it got.
    refused: dict[tuple[str, str], tuple[EntryCall | HoldCall, str]] = field(default_factory=dict)

    def wallet(self, customer_id: str) -> Wallet:
        return self.wallets.setdefault(customer_id, Wallet())

    def _trial(self, customer_id: str) -> Wallet:
        """A copy of the wallet to decide a request on: `expect_*` never changes the model."""
        return copy.deepcopy(self.wallet(customer_id))

    # -- entries --------------------------------------------------------------------------------

    def _refused_before(self, call: EntryCall | HoldCall) -> Expected | None:
        stored = self.refused.get((call.customer_id, call.key))
        if stored is None:
            return None
        return Expected(stored[1]) if stored[0] == call else Expected("IDEMPOTENCY_KEY_REUSED")

    def record_refusal(self, call: EntryCall | HoldCall, reason: str) -> None:
        """The service refused `call` with `reason`; a keyed refusal of the request's own is kept."""
        if call.key and reason in STORED_REASONS:
            self.refused.setdefault((call.customer_id, call.key), (call, reason))

    @staticmethod
    def _apply_entry(wallet: Wallet, call: EntryCall, entry_id: str) -> None:
        if call.kind == "credit":
            wallet.credit(entry_id, call.amount, call.expire_at)
        else:
            wallet.debit(call.amount)

    def expect_entry(self, call: EntryCall, now: float) -> Expected:
        """What `call`, sent at `now` (never close to its expire time), must get."""
        key = (call.customer_id, call.key)
        if (again := self._refused_before(call)) is not None:
            return again
        if key in self.entries:
            stored = self.entries[key]
            if stored.call != call:
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
        return _after(OK, trial)

    def record_entry(self, call: EntryCall, entry_id: str) -> None:
        """The service applied `call` (not a replay) as `entry_id`."""
        wallet = self.wallet(call.customer_id)
        self._apply_entry(wallet, call, entry_id)
        self.entries[(call.customer_id, call.key)] = StoredEntry(call, entry_id, wallet.balance, wallet.held)

    # -- holds ----------------------------------------------------------------------------------

    def expect_hold(self, call: HoldCall) -> Expected:
        key = (call.customer_id, call.key)
        if (again := self._refused_before(call)) is not None:
            return again
        wallet = self.wallet(call.customer_id)
        if key in self.holds_by_key:
            stored = self.holds_by_key[key]
            if stored.call != call:
                return Expected("IDEMPOTENCY_KEY_REUSED")
            return _after(OK, wallet, stored.hold_id)
        if key in self.entries:
            return Expected("IDEMPOTENCY_KEY_REUSED")
        if call.amount > wallet.available:
            return Expected("INSUFFICIENT_WALLET_FUNDS")
        trial = self._trial(call.customer_id)
        trial.reserve(call.amount)
        return _after(OK, trial)

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
            return _after(OK, self.wallet(customer_id), hold.capture_entry_id)
        if hold.status != "ACTIVE":
            return Expected("HOLD_NOT_ACTIVE")
        if spend > hold.call.amount:
            return Expected("CAPTURE_EXCEEDS_HOLD")
        trial = self._trial(customer_id)
        trial.close(hold.reservations, spend)
        return _after(OK, trial)

    def record_capture(self, hold_id: str, amount: int, entry_id: str) -> None:
        hold = self.holds[hold_id]
        spend = amount or hold.call.amount
        self.wallet(hold.call.customer_id).close(hold.reservations, spend)
        hold.status, hold.captured_amount, hold.capture_entry_id = "CAPTURED", spend, entry_id

    def expect_release(self, customer_id: str, hold_id: str) -> Expected:
        hold = self.holds.get(hold_id)
        if hold is None or hold.call.customer_id != customer_id:
            return Expected("HOLD_NOT_FOUND")
        if hold.status == "RELEASED":
            return _after(OK, self.wallet(customer_id), hold.hold_id)
        if hold.status != "ACTIVE":
            return Expected("HOLD_NOT_ACTIVE")
        trial = self._trial(customer_id)
        trial.close(hold.reservations, 0)
        return _after(OK, trial)

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
