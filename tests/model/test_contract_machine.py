"""Goal: the real service answers every write as the contract's model says, whatever the sequence.

Method: a hypothesis `RuleBasedStateMachine` drives a real server process (on
the session's PostgreSQL) with random sequences of every write RPC (credits
and debits, alone and in batches, atomic or not; holds, captures, releases;
low-balance thresholds) on two customers: new keys, retries of earlier
requests (applied, refused or both), earlier keys with other fields,
duplicates sent concurrently, captures and releases of holds that are
active, closed, expired or another customer's, and reads in between. Each
answer (status, reason, replay flag, ids, the wallet it carries) is compared
with `tests.model.contract.ContractModel`, and so is every balance read.
Holds of one second let the expiry rule wait for them: while one is about to
lapse, waiting is the only rule allowed, so the model and the service never
disagree about which side of its expire time a call fell on.
"""

from __future__ import annotations

import concurrent.futures
import copy
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tests.faults.servers import server_process
from tests.model.calls import CURRENCY, ServiceCalls
from tests.model.contract import OK, ContractModel, EntryCall, HoldCall
from tests.waiting import eventually_blocking
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

# A hold this short lapses during the run.
SHORT_TTL_S = 1
amounts = st.integers(min_value=1, max_value=2_000)
picks = st.integers(min_value=0, max_value=1_000)


def _hold_status(status: int) -> str:
    return wallet_pb2.HoldStatus.Name(status).removeprefix("HOLD_STATUS_")  # type: ignore[arg-type]


class ContractMachine(ServiceCalls, RuleBasedStateMachine):
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
        self.keys = 0
        self.thresholds: dict[str, int] = {}

    def teardown(self) -> None:
        self.channel.close()

    # -- rules ----------------------------------------------------------------------------------

    @precondition(lambda self: not self._lapsing_soon())
    @rule(who=picks, amount=amounts, debit=st.booleans())
    def new_entry(self, who: int, amount: int, debit: bool) -> None:
        customer = self.customers[who % 2]
        self._send_entry(EntryCall(customer, "debit" if debit else "credit", amount, self._key()))

    @precondition(lambda self: not self._lapsing_soon())
    @rule(who=picks, amount=amounts, short=st.booleans())
    def new_hold(self, who: int, amount: int, short: bool) -> None:
        ttl = SHORT_TTL_S if short else 3_600
        self._send_hold(HoldCall(self.customers[who % 2], amount, self._key(), ttl))

    @precondition(lambda self: not self._lapsing_soon() and bool(self.sent_entries or self.sent_holds))
    @rule(pick=picks)
    def retry_an_earlier_request(self, pick: int) -> None:
        earlier: list[EntryCall | HoldCall] = [*self.sent_entries, *self.sent_holds]
        call = earlier[pick % len(earlier)]
        if isinstance(call, EntryCall):
            self._send_entry(call)
        else:
            self._send_hold(call)

    @precondition(lambda self: not self._lapsing_soon() and bool(self.sent_entries or self.sent_holds))
    @rule(pick=picks, amount=amounts, as_hold=st.booleans())
    def reuse_an_earlier_key_with_other_fields(self, pick: int, amount: int, as_hold: bool) -> None:
        earlier: list[EntryCall | HoldCall] = [*self.sent_entries, *self.sent_holds]
        original = earlier[pick % len(earlier)]
        if as_hold:
            self._send_hold(HoldCall(original.customer_id, amount, original.key, 3_600, reason="other"))
        else:
            self._send_entry(EntryCall(original.customer_id, "credit", amount, original.key, reason="other"))

    @precondition(lambda self: not self._lapsing_soon())
    @rule(who=picks, amount=amounts, debit=st.booleans())
    def the_same_new_entry_sent_twice_at_once(self, who: int, amount: int, debit: bool) -> None:
        call = EntryCall(self.customers[who % 2], "debit" if debit else "credit", amount, self._key())
        expected = self.model.expect_entry(call)
        request = self._entry_request(call)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda _: self._call(self.stub.CreateLedgerEntry, request), range(2)))
        assert [outcome for outcome, _ in answers] == [expected.outcome] * 2, (expected, answers)
        if expected.outcome == OK:
            responses = [response for _, response in answers]
            assert len({r.entry.id for r in responses}) == 1, responses
            assert sorted(r.idempotent_replay for r in responses) == [False, True], responses
            first = next(r for r in responses if not r.idempotent_replay)
            self._check(expected, OK, first, first.entry.id)
            self.model.record_entry(call, first.entry.id)
        else:
            self.model.record_refusal(call, expected.outcome)
        self.sent_entries.append(call)

    @precondition(lambda self: not self._lapsing_soon())
    @rule(
        atomic=st.booleans(),
        items=st.lists(st.tuples(picks, amounts, st.booleans(), st.none() | picks), min_size=1, max_size=5),
    )
    def batch_of_entries(self, atomic: bool, items: list[tuple[int, int, bool, int | None]]) -> None:
        """New entries, and earlier ones again (retried whole), in one BatchCreateLedgerEntries call."""
        calls: list[EntryCall] = []
        for who, amount, debit, earlier in items:
            if earlier is not None and self.sent_entries:
                call = self.sent_entries[earlier % len(self.sent_entries)]
            else:
                call = EntryCall(self.customers[who % 2], "debit" if debit else "credit", amount, self._key())
            if all((c.customer_id, c.key) != (call.customer_id, call.key) for c in calls):
                calls.append(call)
        # Each entry is decided as its own call would be, in order: on a copy, for the atomic case.
        trial = copy.deepcopy(self.model)
        expectations = []
        for call in calls:
            expected = trial.expect_entry(call)
            expectations.append(expected)
            if expected.outcome == OK and not expected.replay_of:
                trial.record_entry(call, f"trial-{call.key}")
            elif expected.outcome != OK:
                trial.record_refusal(call, expected.outcome)
        request = wallet_pb2.BatchCreateLedgerEntriesRequest(
            requests=[self._entry_request(call) for call in calls], atomic=atomic
        )
        outcome, response = self._call(self.stub.BatchCreateLedgerEntries, request)
        refusals = [e.outcome for e in expectations if e.outcome != OK]
        if atomic and refusals:
            assert outcome == refusals[0], (outcome, expectations)
            # Only the refused entry's key keeps its refusal; the others stay unused.
            first = next(c for c, e in zip(calls, expectations, strict=True) if e.outcome != OK)
            self.model.record_refusal(first, refusals[0])
            self.sent_entries.extend(calls)
            return
        assert outcome == OK, (outcome, expectations)
        assert len(response.results) == len(calls)
        for call, expected, result in zip(calls, expectations, response.results, strict=True):
            if result.WhichOneof("outcome") == "error":
                assert result.error.reason == expected.outcome, (call, expected, result)
                self.model.record_refusal(call, result.error.reason)
                continue
            self._check(expected, OK, result.response, result.response.entry.id)
            if not expected.replay_of:
                self.model.record_entry(call, result.response.entry.id)
        self.sent_entries.extend(calls)

    @precondition(lambda self: not self._lapsing_soon())
    @rule(who=picks, threshold=st.integers(min_value=0, max_value=5_000))
    def set_a_low_balance_threshold(self, who: int, threshold: int) -> None:
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

    @precondition(lambda self: not self._lapsing_soon() and bool(self.model.holds))
    @rule(pick=picks, who=picks, amount=st.integers(min_value=0, max_value=2_500))
    def capture(self, pick: int, who: int, amount: int) -> None:
        holds = list(self.model.holds.values())
        hold = holds[pick % len(holds)]
        # Mostly its own customer; sometimes the other one, who must not find it.
        customer = (
            hold.call.customer_id if who % 4 else self.customers[(self.customers.index(hold.call.customer_id) + 1) % 2]
        )
        expected = self.model.expect_capture(customer, hold.hold_id, amount)
        request = wallet_pb2.CaptureHoldRequest(customer_id=customer, hold_id=hold.hold_id, amount=amount)
        outcome, response = self._call(self.stub.CaptureHold, request)
        self._check(expected, outcome, response, response.entry.id if response else "")
        if outcome == OK:
            assert _hold_status(response.hold.status) == "CAPTURED", response.hold
            if not expected.replay_of:
                self.model.record_capture(hold.hold_id, amount, response.entry.id)

    @precondition(lambda self: not self._lapsing_soon() and bool(self.model.holds))
    @rule(pick=picks)
    def release(self, pick: int) -> None:
        holds = list(self.model.holds.values())
        hold = holds[pick % len(holds)]
        expected = self.model.expect_release(hold.call.customer_id, hold.hold_id)
        request = wallet_pb2.ReleaseHoldRequest(customer_id=hold.call.customer_id, hold_id=hold.hold_id)
        outcome, response = self._call(self.stub.ReleaseHold, request)
        self._check(expected, outcome, response, response.hold.id if response else "")
        if outcome == OK:
            assert _hold_status(response.hold.status) == "RELEASED", response.hold
            if not expected.replay_of:
                self.model.record_release(hold.hold_id)

    @precondition(lambda self: any(h.call.ttl_s == SHORT_TTL_S for h in self.model.active_holds()))
    @rule()
    def let_the_short_holds_lapse(self) -> None:
        short = [h for h in self.model.active_holds() if h.call.ttl_s == SHORT_TTL_S]
        # Waiting for time itself (the server runs in its own process, on its own clock): past the latest
        # expire time the service can have given them.
        latest = max(h.expires_by for h in short) + 0.05
        eventually_blocking(lambda: time.time() >= latest, SHORT_TTL_S + 30, "the short holds' expire time")
        self.model.expire_holds(time.time())

    @precondition(lambda self: not self._lapsing_soon())
    @rule()
    def read_balances(self) -> None:
        self._compare_balances()

    @invariant()
    def nothing_is_held_beyond_the_balance(self) -> None:
        for wallet in self.model.wallets.values():
            assert 0 <= wallet.held <= wallet.balance


@pytest.fixture(scope="module")
def service_address(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_process(database_url, tmp_path_factory.mktemp("contract") / "server.log") as server:
        yield server.address


def test_the_service_answers_every_sequence_of_writes_as_the_contract_model_does(service_address: str) -> None:
    ContractMachine.address = service_address
    run_state_machine_as_test(
        ContractMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
