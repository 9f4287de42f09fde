"""The contract machine's rules for entries: credits (expiring or not) and debits, alone, twice at once, in batches;
and reversals of them (refunds, reclaims).

A mixin of `tests.model.test_contract_machine.ContractMachine`: hypothesis
collects rules from every class of the machine. Every rule first waits past
whatever of the run is about to fall due (`ServiceCalls._clear_of_expiry`).
"""

from __future__ import annotations

import concurrent.futures
import copy
import math
import time

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from tests.model.calls import ServiceCalls
from tests.model.records import OK, EntryCall, HoldCall, KeyedCall, ReversalCall
from wallet.v1 import wallet_pb2

amounts = st.integers(min_value=1, max_value=2_000)
picks = st.integers(min_value=0, max_value=1_000)
# When a credit expires: never; within the run, 1-2 s ahead (so that the run waits for it and the service posts
# its expiration); or at one of two instants an hour or two ahead, shared by every such credit of
# a run, so that equal expire times (spent oldest first) and later ones are common.
expiries = st.sampled_from(["never", "in 1 s", "in 1.5 s", "in an hour", "in two hours"])
SOON_S = {"in 1 s": 1.0, "in 1.5 s": 1.5}
FAR_S = {"in an hour": 3_600.0, "in two hours": 7_200.0}


class EntryRules(ServiceCalls):
    started_at: float

    def _expire_at(self, expiry: str, debit: bool) -> float | None:
        """The instant a new credit expires at (whole milliseconds, see `calls._nanoseconds`)."""
        if debit or expiry == "never":
            return None
        if expiry in FAR_S or not self._may_fall_due_soon():
            return self.started_at + FAR_S.get(expiry, FAR_S["in an hour"])
        # On a half-second grid, so that credits made close together often expire at the same instant.
        instant = math.ceil((time.time() + SOON_S[expiry]) * 2) / 2
        self.instants.append(instant)
        return instant

    def _new_entry(self, who: int, amount: int, debit: bool, expiry: str) -> EntryCall:
        # Waiting comes first: a wait after choosing an instant 1 s ahead could take the call up to it.
        self._clear_of_expiry()
        kind = "debit" if debit else "credit"
        return EntryCall(self.customers[who % 2], kind, amount, self._key(), expire_at=self._expire_at(expiry, debit))

    @rule(who=picks, amount=amounts, debit=st.booleans(), expiry=expiries)
    def new_entry(self, who: int, amount: int, debit: bool, expiry: str) -> None:
        self._send_entry(self._new_entry(who, amount, debit, expiry))

    @rule(who=picks, amount=amounts)
    def a_credit_that_expired_already(self, who: int, amount: int) -> None:
        """INVALID_ARGUMENT, which its key does not keep: it is a new call that may be retried."""
        instant = math.floor(time.time() - 1)
        self._send_entry(EntryCall(self.customers[who % 2], "credit", amount, self._key(), expire_at=instant))

    def _earlier(self) -> list[KeyedCall]:
        return [*self.sent_entries, *self.sent_holds, *self.sent_reversals]

    @precondition(lambda self: bool(self.sent_entries or self.sent_holds))
    @rule(pick=picks)
    def retry_an_earlier_request(self, pick: int) -> None:
        """Also a credit whose expire time has passed since: applied, it replays; never applied, it is refused."""
        earlier = self._earlier()
        call = earlier[pick % len(earlier)]
        if isinstance(call, EntryCall):
            self._send_entry(call)
        elif isinstance(call, HoldCall):
            self._send_hold(call)
        else:
            self._send_reversal(call)

    @precondition(lambda self: bool(self.sent_entries or self.sent_holds))
    @rule(pick=picks, amount=amounts, as_hold=st.booleans())
    def reuse_an_earlier_key_with_other_fields(self, pick: int, amount: int, as_hold: bool) -> None:
        earlier = self._earlier()
        original = earlier[pick % len(earlier)]
        if as_hold:
            self._send_hold(HoldCall(original.customer_id, amount, original.key, 3_600, reason="other"))
        else:
            self._send_entry(EntryCall(original.customer_id, "credit", amount, original.key, reason="other"))

    @rule(who=picks, amount=amounts, debit=st.booleans(), expiry=expiries)
    def the_same_new_entry_sent_twice_at_once(self, who: int, amount: int, debit: bool, expiry: str) -> None:
        call = self._new_entry(who, amount, debit, expiry)
        expected = self.model.expect_entry(call, time.time())
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

    @rule(
        atomic=st.booleans(),
        items=st.lists(st.tuples(picks, amounts, st.booleans(), expiries, st.none() | picks), min_size=1, max_size=5),
    )
    def batch_of_entries(self, atomic: bool, items: list[tuple[int, int, bool, str, int | None]]) -> None:
        """New entries, and earlier ones again (retried whole), in one BatchCreateLedgerEntries call."""
        self._clear_of_expiry()
        calls: list[EntryCall] = []
        for who, amount, debit, expiry, earlier in items:
            if earlier is not None and self.sent_entries:
                call = self.sent_entries[earlier % len(self.sent_entries)]
            else:
                call = self._new_entry(who, amount, debit, expiry)
            if all((c.customer_id, c.key) != (call.customer_id, call.key) for c in calls):
                calls.append(call)
        # Each entry is decided as its own call would be, in order: on a copy, for the atomic case.
        trial = copy.deepcopy(self.model)
        expectations = []
        now = time.time()
        for call in calls:
            expected = trial.expect_entry(call, now)
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

    # A deterministic precondition (what was sent, not what applied): see `tests.model.calls`.
    @precondition(lambda self: bool(self.sent_entries))
    @rule(
        pick=picks,
        percent=st.integers(min_value=0, max_value=120),
        whose=st.sampled_from(["its customer's", "its customer's", "its customer's", "the other's", "no entry"]),
        twice=st.booleans(),
    )
    def reverse_an_earlier_entry(self, pick: int, percent: int, whose: str, twice: bool) -> None:
        """A refund or a reclaim of part (0 %: all that is reversible) of an entry the model knows: half the time a
        debit (a refund gives money back, to lapsed credits too), else any (credits, captures, reversals,
        expirations); as its customer's, the other customer's, or naming no entry. Sometimes sent twice at once,
        then again: the replays show what the first answer showed."""
        self._clear_of_expiry()
        posted = list(self.model.posted.items())
        debits = [(entry_id, p) for entry_id, p in posted if p.kind == "debit"]
        among = debits if pick % 2 and debits else posted
        if whose == "no entry":
            self._send_reversal(ReversalCall(self.customers[pick % 2], "le_nothing", 0, self._key()))
            return
        if not among:
            return  # nothing applied yet to reverse
        entry_id, original = among[pick // 2 % len(among)]
        customer = original.customer_id if whose == "its customer's" else self._other(original.customer_id)
        call = ReversalCall(customer, entry_id, original.amount * percent // 100, self._key())
        self._send_reversal(call, at_once=2 if twice else 1)
        if twice:
            self._send_reversal(call)
