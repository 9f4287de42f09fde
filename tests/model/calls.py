"""How the contract's state machine calls the service and compares each answer with the model."""

from __future__ import annotations

import time
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration

from tests.e2e.helpers import error_reason
from tests.model.contract import OK, ContractModel, EntryCall, Expected, HoldCall
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

CURRENCY = "USD"
# The calls keep this far from a short hold's expire time.
SAFETY_MARGIN_S = 0.5


class ServiceCalls:
    """Sends writes and reads for the state machine; `model`, `stub`, `customers` are the machine's."""

    model: ContractModel
    stub: wallet_pb2_grpc.WalletServiceStub
    customers: list[str]
    sent_entries: list[EntryCall]
    sent_holds: list[HoldCall]
    thresholds: dict[str, int]
    keys: int

    # -- helpers --------------------------------------------------------------------------------

    def _key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def _lapsing_soon(self) -> bool:
        now = time.time()
        return any(h.expires_not_before - SAFETY_MARGIN_S <= now for h in self.model.active_holds())

    def _entry_request(self, call: EntryCall) -> wallet_pb2.CreateLedgerEntryRequest:
        entry_type = wallet_pb2.ENTRY_TYPE_CREDIT if call.kind == "credit" else wallet_pb2.ENTRY_TYPE_DEBIT
        return wallet_pb2.CreateLedgerEntryRequest(
            customer_id=call.customer_id,
            amount=call.amount,
            currency=CURRENCY,
            entry_type=entry_type,
            reason=call.reason,
            idempotency_key=call.key,
        )

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
        expected = self.model.expect_entry(call)
        outcome, response = self._call(self.stub.CreateLedgerEntry, self._entry_request(call))
        self._check(expected, outcome, response, response.entry.id if response else "")
        if outcome == OK and not expected.replay_of:
            self.model.record_entry(call, response.entry.id)
        elif outcome != OK:
            self.model.record_refusal(call, outcome)
        self.sent_entries.append(call)

    def _send_hold(self, call: HoldCall) -> None:
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

    def _compare_balances(self) -> None:
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
