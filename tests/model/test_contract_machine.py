"""Goal: the real service answers every write as the contract's model says, whatever the sequence.

Method: a hypothesis `RuleBasedStateMachine` drives a real server process (on
the session's PostgreSQL) with random sequences of every write RPC (credits,
expiring or not, and debits, alone and in batches, atomic or not; holds,
captures, releases; refunds and reclaims; low-balance thresholds) on two
customers: new keys, retries of earlier requests (applied, refused or both,
before and after their credit's expire time), earlier keys with other
fields, duplicates sent concurrently, credits whose expire time has passed,
captures and releases of holds that are active, closed, expired or another
customer's, reversals of any entry (or of none), and reads in between. Each
answer (status, reason, replay flag, ids, the wallet it carries, a
reversal's original) is compared with `tests.model.contract.ContractModel`,
and so is every balance read and what history shows each credit lost to
expiry and each entry to reversals.
Holds of one second and credits expiring one or two seconds ahead fall due
during the run, while partly spent and partly held (and a reservation that
outlives its credit gives money back to it once lapsed): every rule first
waits past whatever is about to fall due, so the model and the service never
disagree about which side of an expire time a call fell on, and waiting is
what the run's time goes to, within budgets (`tests.model.calls`). The entry
rules are in `tests.model.entry_rules`. `pytest -rP` shows how often each
expiry situation came up (`EXERCISED`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.faults.servers import server_process
from tests.model import exercised
from tests.model.calls import CURRENCY, SAFETY_MARGIN_S
from tests.model.contract import ContractModel
from tests.model.entry_rules import EntryRules, amounts, picks
from tests.model.exercised import EXERCISED
from tests.model.records import OK, EntryCall, HoldCall, ReversalCall, StoredHold
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

# A hold this short lapses during the run.
SHORT_TTL_S = 1


def _hold_status(status: int) -> str:
    return wallet_pb2.HoldStatus.Name(status).removeprefix("HOLD_STATUS_")  # type: ignore[arg-type]


class ContractMachine(EntryRules, RuleBasedStateMachine):
    address = ""

    def __init__(self) -> None:
        super().__init__()
        run = uuid.uuid4().hex[:10]
        self.customers = [f"cus_model_{run}_a", f"cus_model_{run}_b"]
        self.model = ContractModel()
        self.channel = grpc.insecure_channel(self.address)
        self.stub = wallet_pb2_grpc.WalletServiceStub(self.channel)
        self.sent_entries: list[EntryCall] = []
        self.sent_holds: list[HoldCall] = []
        self.sent_reversals: list[ReversalCall] = []
        self.keys = 0
        self.thresholds: dict[str, int] = {}
        self.instants: list[float] = []
        self.settled_at = 0.0
        self.started_at = float(int(time.time()))
        self.waited = 0.0

    def teardown(self) -> None:
        self.channel.close()

    # -- rules ----------------------------------------------------------------------------------

    @rule(who=picks, amount=amounts, short=st.booleans())
    def new_hold(self, who: int, amount: int, short: bool) -> None:
        ttl = SHORT_TTL_S if short and self._may_fall_due_soon() else 3_600
        self._send_hold(HoldCall(self.customers[who % 2], amount, self._key(), ttl))

    @rule(who=picks, percent=st.integers(min_value=0, max_value=100), how=st.sampled_from(["debit", "hold", "short"]))
    def spend_part_of_what_is_available(self, who: int, percent: int, how: str) -> None:
        """A debit or a hold of part of what is available (none for 0 %), drawn on the soonest-expiring credits.

        So credits lapse partly spent and partly held: random amounts seldom
        fit what is left, and a debit that fits often takes a credit whole.
        """
        if percent == 0:
            return
        self._clear_of_expiry()
        customer = self.customers[who % 2]
        amount = max(1, self.model.wallet(customer).available * percent // 100)
        if how == "debit":
            self._send_entry(EntryCall(customer, "debit", amount, self._key()))
        else:
            short = how == "short" and self._may_fall_due_soon()
            self._send_hold(HoldCall(customer, amount, self._key(), SHORT_TTL_S if short else 3_600))

    @rule(
        who=picks,
        amount=amounts,
        expiry=st.sampled_from(["in 1 s", "in 1.5 s"]),
        spend=st.integers(min_value=0, max_value=100),
        hold=st.integers(min_value=0, max_value=100),
        how=st.sampled_from(["hold", "short"]),
    )
    def a_credit_that_lapses_partly_spent_and_held(
        self, who: int, amount: int, expiry: str, spend: int, hold: int, how: str
    ) -> None:
        """A credit due in the run, then a debit and a hold taking parts of what is available (its money first).

        The state each wait is worth waiting for, made in one step: a random
        sequence seldom builds it before its time comes.
        """
        self._send_entry(self._new_entry(who, amount, False, expiry))
        self.spend_part_of_what_is_available(who, spend, "debit")
        self.spend_part_of_what_is_available(who, hold, how)

    @rule(who=picks, threshold=st.integers(min_value=0, max_value=5_000))
    def set_a_low_balance_threshold(self, who: int, threshold: int) -> None:
        self._clear_of_expiry()
        customer = self.customers[who % 2]
        request = wallet_pb2.SetLowBalanceThresholdRequest(customer_id=customer, currency=CURRENCY, threshold=threshold)
        outcome, response = self._call(self.stub.SetLowBalanceThreshold, request)
        assert outcome == OK, outcome
        model = self.model.wallet(customer)
        self.thresholds[customer] = threshold
        assert (response.wallet.balance, response.wallet.held_balance, response.wallet.low_balance_threshold) == (
            model.balance,
            model.held,
            threshold,
        ), response.wallet

    def _pick_hold(self, pick: int) -> StoredHold | None:
        """Half the time an active hold (closing one is what gives money back to a lapsed credit), else any."""
        holds = list(self.model.holds.values())
        active = self.model.active_holds()
        among = active if pick % 2 and active else holds
        return among[pick // 2 % len(among)] if among else None

    @precondition(lambda self: bool(self.sent_holds))
    @rule(pick=picks, who=picks, percent=st.integers(min_value=0, max_value=150))
    def capture(self, pick: int, who: int, percent: int) -> None:
        """0 % is the whole hold (amount 0); above 100 % the capture exceeds it. A part spent leaves the rest
        to go back, to a lapsed credit too."""
        self._clear_of_expiry()
        if (hold := self._pick_hold(pick)) is None:
            return
        amount = hold.call.amount * percent // 100
        # Mostly its own customer; sometimes the other one, who must not find it.
        customer = hold.call.customer_id if who % 4 else self._other(hold.call.customer_id)
        expected = self.model.expect_capture(customer, hold.hold_id, amount)
        exercised.closing(self.model, "a capture", hold, expected)
        request = wallet_pb2.CaptureHoldRequest(customer_id=customer, hold_id=hold.hold_id, amount=amount)
        outcome, response = self._call(self.stub.CaptureHold, request)
        self._check(expected, outcome, response, response.entry.id if response else "")
        if outcome == OK:
            assert _hold_status(response.hold.status) == "CAPTURED", response.hold
            if not expected.replay_of:
                self.model.record_capture(hold.hold_id, amount, response.entry.id)

    @precondition(lambda self: bool(self.sent_holds))
    @rule(pick=picks)
    def release(self, pick: int) -> None:
        self._clear_of_expiry()
        if (hold := self._pick_hold(pick)) is None:
            return
        expected = self.model.expect_release(hold.call.customer_id, hold.hold_id)
        exercised.closing(self.model, "a release", hold, expected)
        request = wallet_pb2.ReleaseHoldRequest(customer_id=hold.call.customer_id, hold_id=hold.hold_id)
        outcome, response = self._call(self.stub.ReleaseHold, request)
        self._check(expected, outcome, response, response.hold.id if response else "")
        if outcome == OK:
            assert _hold_status(response.hold.status) == "RELEASED", response.hold
            if not expected.replay_of:
                self.model.record_release(hold.hold_id)

    # Not "something is pending": what is depends on the waiting budgets, hence on the clock.
    @precondition(lambda self: bool(self.sent_entries or self.sent_holds))
    @rule()
    def let_time_pass(self) -> None:
        """Waits past the next instants at which something falls due, if any is left, then tells the model.

        What falls due within a margin of the first is waited for too: one
        wait rather than several, when the run's time goes mostly to waiting.
        """
        if pending := self._pending():
            cutoff = max(time.time(), min(pending)[0]) + SAFETY_MARGIN_S
            self._wait_past([window for window in pending if window[0] <= cutoff])

    @rule()
    def read_balances(self) -> None:
        self._compare_balances()

    @rule()
    def read_history(self) -> None:
        self._compare_history()

    @invariant()
    def the_model_stays_consistent(self) -> None:
        for wallet in self.model.wallets.values():
            wallet.check()


@pytest.fixture(scope="module")
def service_address(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_process(database_url, tmp_path_factory.mktemp("contract") / "server.log") as server:
        yield server.address


def test_the_service_answers_every_sequence_of_writes_as_the_contract_model_does(service_address: str) -> None:
    ContractMachine.address = service_address
    ContractMachine.waited_in_run = 0.0
    run_state_machine_as_test(
        ContractMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"waited {ContractMachine.waited_in_run:.1f} s; exercised:", *sorted(EXERCISED.items()), sep="\n  ")
