"""How the contract's state machine calls the service and compares each answer with the model.

Time: the server runs in its own process on real time, so the machine keeps
every call away from the instants at which something of the run falls due
(a hold's expire time, known within the call's round trip, and a credit's,
known exactly since the machine chose it): before a rule decides and sends
anything, it waits past every such instant less than `SAFETY_MARGIN_S`
ahead, and the model is told once the instant has surely passed
(`_clear_of_expiry`). So no call falls on an uncertain side. Waiting inside
the rules rather than in preconditions keeps which rules may run a function
of what hypothesis drew, never of the clock (hypothesis replays a prefix
and must find the same choices).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections import Counter
from dataclasses import replace
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from tests.e2e.helpers import error_reason
from tests.model import exercised
from tests.model.contract import ContractModel
from tests.model.records import OK, EntryCall, Expected, HoldCall, Posted, ReversalCall
from tests.model.reversals import expect_reversal, record_reversal
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

CURRENCY = "USD"
# The calls keep this far from an expire time that falls during the run.
SAFETY_MARGIN_S = 0.5
# What falls due further ahead than this (an hour's hold or credit) never does during a run.
HORIZON_S = 60.0
# The run's time goes to waiting for expire times: once an example, or the whole run, has waited this long,
# what would fall due within it is made to fall due in an hour instead (per example, so that several
# examples see expiry; per run, so that the test stays short). The machine's class holds the run's total.
WAIT_BUDGET_EXAMPLE_S = 1.5
WAIT_BUDGET_RUN_S = 7.0


def _nanoseconds(instant: float) -> int:
    """The machine's instants are whole milliseconds: exact in a Timestamp and in the database."""
    return round(instant * 1000) * 1_000_000


class ServiceCalls:
    """Sends writes and reads for the state machine; `model`, `stub`, `customers` are the machine's."""

    model: ContractModel
    stub: wallet_pb2_grpc.WalletServiceStub
    customers: list[str]
    sent_entries: list[EntryCall]
    sent_holds: list[HoldCall]
    sent_reversals: list[ReversalCall]
    thresholds: dict[str, int]
    keys: int
    # Every expire time of a credit sent (applied or not: a retry may apply it), and when the model was
    # last told that time had passed (`ContractModel.settle`).
    instants: list[float]
    settled_at: float
    # Seconds waited in this example, and in the whole run (a class attribute the test resets).
    waited: float
    waited_in_run: float = 0.0

    # -- helpers --------------------------------------------------------------------------------

    def _key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def _other(self, customer: str) -> str:
        return self.customers[(self.customers.index(customer) + 1) % 2]

    def _pending(self) -> list[tuple[float, float]]:
        """The windows (not before, surely by) in which what is still to fall due during the run does."""
        horizon = time.time() + HORIZON_S
        holds = [(h.expires_not_before, h.expires_by) for h in self.model.active_holds() if h.expires_by < horizon]
        credits = [(t, t) for t in self.instants if self.settled_at <= t < horizon]
        return holds + credits

    def _may_fall_due_soon(self) -> bool:
        """Whether the waiting budgets allow something new to fall due during the run."""
        return self.waited < WAIT_BUDGET_EXAMPLE_S and type(self).waited_in_run < WAIT_BUDGET_RUN_S

    def _wait_past(self, due: list[tuple[float, float]]) -> None:
        """Waits for time itself (the server runs on its own clock) past `due`, then tells the model."""
        latest = max(by for _, by in due) + 0.05
        started = time.monotonic()
        eventually_blocking(lambda: time.time() >= latest, HORIZON_S, "the expire times falling due")
        self.waited += time.monotonic() - started
        type(self).waited_in_run += time.monotonic() - started
        self.settled_at = time.time()
        exercised.lapsing(self.model, self.settled_at)
        self.model.settle(self.settled_at)

    def _clear_of_expiry(self) -> None:
        """Waits past whatever falls due within the margin (again, if more comes within it meanwhile)."""
        while due := [w for w in self._pending() if w[0] - SAFETY_MARGIN_S <= time.time()]:
            self._wait_past(due)

    def _entry_request(self, call: EntryCall) -> wallet_pb2.CreateLedgerEntryRequest:
        entry_type = wallet_pb2.ENTRY_TYPE_CREDIT if call.kind == "credit" else wallet_pb2.ENTRY_TYPE_DEBIT
        request = wallet_pb2.CreateLedgerEntryRequest(
            customer_id=call.customer_id,
            amount=call.amount,
            currency=CURRENCY,
            entry_type=entry_type,
            reason=call.reason,
            idempotency_key=call.key,
        )
        if call.expire_at is not None:
            request.expire_time.FromNanoseconds(_nanoseconds(call.expire_at))
        return request

    def _hold_request(self, call: HoldCall) -> wallet_pb2.CreateHoldRequest:
        return wallet_pb2.CreateHoldRequest(
            customer_id=call.customer_id,
            currency=CURRENCY,
            amount=call.amount,
            reason=call.reason,
            idempotency_key=call.key,
            ttl=Duration(seconds=call.ttl_s),
        )

    def _call(self, method: Any, request: Any) -> tuple[str, Any]:
        try:
            return OK, method(request, timeout=30)
        except grpc.RpcError as error:
            return error_reason(error) or error.code().name, None

    def _check(self, expected: Expected, outcome: str, response: Any, answered_id: str) -> None:
        assert outcome == expected.outcome, (expected, outcome)
        if outcome != OK:
            return
        assert response.idempotent_replay == bool(expected.replay_of), (expected, response)
        if expected.replay_of:
            assert answered_id == expected.replay_of, (expected, answered_id)
        assert (response.wallet.balance, response.wallet.held_balance) == (expected.balance, expected.held), (
            expected,
            response.wallet,
        )

    def _send_entry(self, call: EntryCall) -> None:
        self._clear_of_expiry()
        now = time.time()
        expected = self.model.expect_entry(call, now)
        exercised.entry(self.model, call, expected, now)
        outcome, response = self._call(self.stub.CreateLedgerEntry, self._entry_request(call))
        self._check(expected, outcome, response, response.entry.id if response else "")
        if outcome == OK and not expected.replay_of:
            self.model.record_entry(call, response.entry.id)
        elif outcome != OK:
            self.model.record_refusal(call, outcome)
        self.sent_entries.append(call)

    def _send_hold(self, call: HoldCall) -> None:
        self._clear_of_expiry()
        expected = self.model.expect_hold(call)
        sent_at = time.time()
        outcome, response = self._call(self.stub.CreateHold, self._hold_request(call))
        answered_at = time.time()
        self._check(expected, outcome, response, response.hold.id if response else "")
        if outcome == OK and not expected.replay_of:
            self.model.record_hold(call, response.hold.id, sent_at, answered_at)
        elif outcome != OK:
            self.model.record_refusal(call, outcome)
        self.sent_holds.append(call)

    def _send_reversal(self, call: ReversalCall, at_once: int = 1) -> None:
        """Sends `call`; `at_once` copies at the same time: one decides, the others replay it and show the same."""
        self._clear_of_expiry()
        expected = expect_reversal(self.model, call)
        exercised.reversal(self.model, call, expected)
        request = wallet_pb2.ReverseLedgerEntryRequest(
            customer_id=call.customer_id,
            entry_id=call.entry_id,
            amount=call.amount,
            reason=call.reason,
            idempotency_key=call.key,
        )
        with concurrent.futures.ThreadPoolExecutor(max_workers=at_once) as pool:
            answers = list(pool.map(lambda _: self._call(self.stub.ReverseLedgerEntry, request), range(at_once)))
        # Replays last: the first answer is the one that decided (or, for a retry, a replay like the others).
        answers.sort(key=lambda answer: answer[1] is not None and answer[1].idempotent_replay)
        outcome, first = answers[0]
        self._check(expected, outcome, first, first.entry.id if first else "")
        for other, response in answers[1:]:
            again = replace(expected, replay_of=first.entry.id) if outcome == OK else expected
            self._check(again, other, response, response.entry.id if response else "")
        if outcome == OK and not expected.replay_of:
            record_reversal(self.model, call, first.entry.id)
        elif outcome != OK:
            self.model.record_refusal(call, outcome)
        for _, response in answers if outcome == OK else []:
            # The original as it stands now, replay or not.
            assert response.original.reversed_amount == self.model.posted[call.entry_id].reversed, response
        self.sent_reversals.append(call)

    def _compare_balances(self) -> None:
        self._clear_of_expiry()
        for customer in self.customers:
            response = self.stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer), timeout=30)
            wallet = next(w for w in response.wallets if w.currency == CURRENCY)
            model = self.model.wallet(customer)
            assert (wallet.balance, wallet.held_balance, wallet.available_balance) == (
                model.balance,
                model.held,
                model.available,
            ), (customer, wallet, model)
            if customer in self.thresholds:
                assert wallet.low_balance_threshold == self.thresholds[customer], (customer, wallet)

    def _compare_history(self) -> None:
        """What each credit lost to expirations, and each entry to reversals, in history, is what the model says."""
        self._clear_of_expiry()
        for customer in self.customers:
            request = wallet_pb2.ListLedgerEntriesRequest(customer_id=customer, currency=CURRENCY)
            entries = [e for batch in self.stub.ListLedgerEntries(request, timeout=30) for e in batch.entries]
            wallet = self.model.wallet(customer)
            expired: Counter[str] = Counter()
            for entry in entries:
                if (known := self.model.posted.get(entry.id)) is not None:
                    assert entry.reversed_amount == known.reversed, (entry, known)
                if entry.entry_type == wallet_pb2.ENTRY_TYPE_EXPIRATION:
                    lot = wallet.lots[entry.expired_entry_id]
                    # Nothing is written when nothing remains; never before the credit's expire time.
                    assert entry.amount > 0, entry
                    assert entry.created_at.ToNanoseconds() >= _nanoseconds(lot.expire_at), (entry, lot)
                    expired[entry.expired_entry_id] += entry.amount
                    # Told to the model, so that a reversal may name it.
                    self.model.posted.setdefault(entry.id, Posted(customer, "expiration", entry.amount))
            assert expired == Counter({lot.entry_id: lot.expired for lot in wallet.lots.values()}), (customer, expired)
            assert (entries[-1].after_balance if entries else 0) == wallet.balance, (customer, entries[-1:])
